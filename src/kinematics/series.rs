// SPDX-License-Identifier: MPL-2.0

//! A measure over time: smoothed, differentiated by the frames' own timestamps (so the frame
//! rate and dropped frames do not change velocities), and summarised over a window.
//!
//! Smoothing: a critically damped second-order low-pass (two first-order exponential stages
//! with time constant `tau`), each step weighted by the real time since the previous frame,
//! `alpha = 1 - exp(-dt / tau)`. Velocity is the difference of successive smoothed values
//! over their time difference, and acceleration likewise from velocities. The filter delays
//! the signal by about `2 * tau` and attenuates a sinusoid by a known factor
//! ([`Smoother::gain`]), which the amplitude statistic divides back out.

/// A smoothed sample of one measure.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// Seconds, from the buffer's timestamp.
    pub t: f64,
    pub value: f64,
    /// Per second; NaN on the first sample after a restart.
    pub velocity: f64,
    /// Per second squared; NaN on the first two samples after a restart.
    pub acceleration: f64,
}

/// The smoothing and differentiation of one measure.
#[derive(Clone, Debug)]
pub struct Smoother {
    tau: f64,
    stages: Option<(f64, f64)>,
    last: Option<Sample>,
}

impl Smoother {
    /// A smoother with time constant `tau` seconds (0: no smoothing).
    pub fn new(tau: f64) -> Self {
        Self {
            tau: tau.max(0.0),
            stages: None,
            last: None,
        }
    }

    /// Forgets the past (a gap, a seek, a new face).
    pub fn reset(&mut self) {
        self.stages = None;
        self.last = None;
    }

    /// The smoothed sample for `value` at `t` seconds. Samples whose time does not move
    /// forward restart the smoother.
    pub fn push(&mut self, t: f64, value: f64) -> Sample {
        if !value.is_finite() || !t.is_finite() {
            self.reset();
            return Sample {
                t,
                value: f64::NAN,
                ..Default::default()
            };
        }
        if self.last.is_some_and(|s| t <= s.t) {
            self.reset();
        }
        let (a, b) = match (self.stages, self.last) {
            (Some((a, b)), Some(last)) => {
                let alpha = if self.tau > 0.0 {
                    1.0 - (-(t - last.t) / self.tau).exp()
                } else {
                    1.0
                };
                let a = a + alpha * (value - a);
                (a, b + alpha * (a - b))
            }
            _ => (value, value),
        };
        self.stages = Some((a, b));
        // Derivatives that need samples from before a restart are unknown: NaN.
        let sample = match self.last {
            Some(last) => {
                let dt = t - last.t;
                let velocity = (b - last.value) / dt;
                Sample {
                    t,
                    value: b,
                    velocity,
                    acceleration: (velocity - last.velocity) / dt,
                }
            }
            None => Sample {
                t,
                value: b,
                velocity: f64::NAN,
                acceleration: f64::NAN,
            },
        };
        self.last = Some(sample);
        sample
    }

    /// How much the filter shrinks a sinusoid of `frequency` Hz sampled every `dt` seconds
    /// (both stages: the square of one stage's gain).
    pub fn gain(&self, frequency: f64, dt: f64) -> f64 {
        if self.tau <= 0.0 || dt <= 0.0 {
            return 1.0;
        }
        let alpha = 1.0 - (-dt / self.tau).exp();
        let w = std::f64::consts::TAU * frequency * dt;
        let (re, im) = (1.0 - (1.0 - alpha) * w.cos(), (1.0 - alpha) * w.sin());
        alpha * alpha / (re * re + im * im)
    }
}

/// What a window of samples says about a repeated movement.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub samples: usize,
    /// Smallest and largest smoothed value, and their difference.
    pub min: f64,
    pub max: f64,
    pub range: f64,
    /// Peak speed while the measure grows (opening) and while it shrinks (closing), per
    /// second, both positive.
    pub peak_opening_speed: f64,
    pub peak_closing_speed: f64,
    /// Cycles per second, from the peaks; 0 with fewer than two peaks.
    pub rate: f64,
    /// Coefficient of variation of the peak-to-peak intervals (0 = perfectly regular).
    pub cycle_variability: f64,
    /// Median peak-to-trough amplitude of the cycles, with the filter's attenuation at
    /// `rate` divided back out.
    pub amplitude: f64,
    pub mean: f64,
}

/// The statistics of `samples` (in time order), smoothed by `smoother`'s settings. Peaks are
/// local maxima that rise above the lowest value since the previous peak by a quarter of the
/// window's range and at least `min_rise`, so a still face's jitter is not a repetition.
pub fn stats(samples: &[Sample], smoother: &Smoother, min_rise: f64) -> Stats {
    let n = samples.len();
    if n == 0 {
        return Stats::default();
    }
    let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = hi - lo;
    let threshold = (range / 4.0).max(min_rise);
    let mut peaks: Vec<(f64, f64)> = Vec::new(); // (time, peak - preceding trough)
    let mut trough = values[0];
    let mut rising = false;
    for i in 1..n {
        let v = values[i];
        trough = trough.min(v);
        let next = values.get(i + 1).copied().unwrap_or(f64::NEG_INFINITY);
        if v >= values[i - 1] && v > next && v - trough >= threshold && threshold > 0.0 {
            if rising || peaks.is_empty() {
                peaks.push((peak_time(samples, i), v - trough));
            }
            trough = v;
            rising = false;
        } else if v < values[i - 1] {
            rising = true;
        }
    }
    let intervals: Vec<f64> = peaks.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let (rate, cycle_variability) = if intervals.is_empty() {
        (0.0, 0.0)
    } else {
        let mean = intervals.iter().sum::<f64>() / intervals.len() as f64;
        let var =
            intervals.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / intervals.len() as f64;
        (1.0 / mean, var.sqrt() / mean)
    };
    // The first peak's trough may be a partial cycle; the median of the rest is robust.
    let mut amplitudes: Vec<f64> = peaks.iter().skip(1).map(|p| p.1).collect();
    if amplitudes.is_empty() {
        amplitudes = peaks.iter().map(|p| p.1).collect();
    }
    amplitudes.sort_by(f64::total_cmp);
    let median = amplitudes
        .get(amplitudes.len() / 2)
        .copied()
        .unwrap_or(range);
    let dt = (samples[n - 1].t - samples[0].t) / (n.max(2) - 1) as f64;
    let gain = if rate > 0.0 {
        smoother.gain(rate, dt)
    } else {
        1.0
    };
    Stats {
        samples: n,
        min: lo,
        max: hi,
        range,
        peak_opening_speed: samples.iter().map(|s| s.velocity).fold(0.0, f64::max),
        peak_closing_speed: samples.iter().map(|s| -s.velocity).fold(0.0, f64::max),
        rate,
        cycle_variability,
        amplitude: median / gain,
        mean: values.iter().sum::<f64>() / n as f64,
    }
}

/// The time of the peak at sample `i`, between frames: the vertex of the parabola through
/// it and its neighbours, so the rate is not limited to whole frame intervals.
fn peak_time(samples: &[Sample], i: usize) -> f64 {
    let (Some(a), Some(c)) = (i.checked_sub(1).map(|j| samples[j]), samples.get(i + 1)) else {
        return samples[i].t;
    };
    let b = samples[i];
    let (ta, tc) = (a.t - b.t, c.t - b.t);
    // y = p t^2 + q t + r through (ta, a), (0, b), (tc, c); vertex at -q / 2p.
    let (da, dc) = (a.value - b.value, c.value - b.value);
    let denominator = ta * tc * (ta - tc);
    if denominator == 0.0 {
        return b.t;
    }
    let p = (tc * da - ta * dc) / denominator;
    let q = (ta * ta * dc - tc * tc * da) / denominator;
    if p >= 0.0 {
        return b.t;
    }
    b.t + (-q / (2.0 * p)).clamp(ta, tc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value(t)` sampled at `fps` for `seconds`, smoothed with `tau`.
    fn run(
        fps: f64,
        seconds: f64,
        tau: f64,
        value: impl Fn(f64) -> f64,
    ) -> (Vec<Sample>, Smoother) {
        let mut smoother = Smoother::new(tau);
        let samples = (0..(fps * seconds) as usize)
            .map(|i| {
                let t = i as f64 / fps;
                smoother.push(t, value(t))
            })
            .collect();
        (samples, smoother)
    }

    fn jaw(rate: f64, amplitude: f64) -> impl Fn(f64) -> f64 {
        move |t| 1.0 + amplitude / 2.0 * (1.0 - (std::f64::consts::TAU * rate * t).cos())
    }

    #[test]
    fn rate_and_amplitude_of_a_known_movement() {
        for (rate, amplitude) in [(1.0, 0.3), (2.5, 0.2), (5.0, 0.1)] {
            let (samples, smoother) = run(30.0, 6.0, 0.02, jaw(rate, amplitude));
            let s = stats(&samples[15..], &smoother, 0.01);
            assert!((s.rate / rate - 1.0).abs() < 0.05, "rate {rate}: {s:?}");
            assert!(
                (s.amplitude / amplitude - 1.0).abs() < 0.10,
                "amplitude {amplitude}: {s:?}"
            );
            assert!(s.cycle_variability < 0.05, "{s:?}");
        }
    }

    #[test]
    fn velocities_do_not_depend_on_the_frame_rate_or_dropped_frames() {
        let motion = jaw(2.0, 0.3);
        let (at25, sm) = run(25.0, 4.0, 0.02, &motion);
        let (at30, _) = run(30.0, 4.0, 0.02, &motion);
        let a = stats(&at25[10..], &sm, 0.01);
        let b = stats(&at30[10..], &sm, 0.01);
        for (x, y) in [
            (a.peak_opening_speed, b.peak_opening_speed),
            (a.peak_closing_speed, b.peak_closing_speed),
        ] {
            assert!((x / y - 1.0).abs() < 0.05, "{a:?} vs {b:?}");
        }
        // The true peak speed of the sinusoid is pi * rate * amplitude.
        let truth = std::f64::consts::PI * 2.0 * 0.3;
        assert!((b.peak_opening_speed / truth - 1.0).abs() < 0.15, "{b:?}");
        // Every third frame dropped: the same speeds.
        let mut smoother = Smoother::new(0.02);
        let dropped: Vec<Sample> = (0..120)
            .filter(|i| i % 3 != 2)
            .map(|i| smoother.push(i as f64 / 30.0, motion(i as f64 / 30.0)))
            .collect();
        let c = stats(&dropped[7..], &smoother, 0.01);
        assert!(
            (c.peak_opening_speed / b.peak_opening_speed - 1.0).abs() < 0.10,
            "{c:?}"
        );
    }

    #[test]
    fn irregular_repetition_shows_in_the_variability_and_bad_samples_restart() {
        // Cycles of 0.4, 0.4, 0.6 and 0.6 s: peak-to-peak intervals of 0.4, 0.5, 0.6, 0.5 s.
        let periods = [0.4, 0.4, 0.6, 0.6];
        let mut smoother = Smoother::new(0.02);
        let mut samples = Vec::new();
        let (mut t, mut start, mut k) = (0.0, 0.0, 0);
        while t < 8.0 {
            if t - start >= periods[k % 4] {
                start += periods[k % 4];
                k += 1;
            }
            let phase = (t - start) / periods[k % 4];
            samples.push(smoother.push(t, 0.5 * (1.0 - (std::f64::consts::TAU * phase).cos())));
            t += 1.0 / 30.0;
        }
        let s = stats(&samples[10..], &smoother, 0.01);
        assert!((s.rate - 2.0).abs() < 0.15, "{s:?}");
        assert!(s.cycle_variability > 0.1, "{s:?}");

        let mut smoother = Smoother::new(0.05);
        smoother.push(0.0, 1.0);
        smoother.push(0.1, 2.0);
        let restarted = smoother.push(0.05, 5.0);
        assert_eq!(restarted.value, 5.0);
        assert!(restarted.velocity.is_nan() && restarted.acceleration.is_nan());
        let nan = smoother.push(0.2, f64::NAN);
        assert!(nan.value.is_nan());
        assert_eq!(stats(&[], &smoother, 0.01), Stats::default());

        // Jitter of a few thousandths around a still value is no repetition.
        let mut smoother = Smoother::new(0.03);
        let still: Vec<Sample> = (0..90)
            .map(|i| {
                smoother.push(
                    i as f64 / 30.0,
                    0.7 + 0.004 * ((i * 7919) % 13) as f64 / 13.0,
                )
            })
            .collect();
        let s = stats(&still, &smoother, 0.01);
        assert_eq!((s.rate, s.cycle_variability), (0.0, 0.0), "{s:?}");
        assert!(s.range < 0.005);
    }
}
