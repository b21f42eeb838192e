// SPDX-License-Identifier: MPL-2.0

//! Labelled synthetic subjects for training and testing the classifier: the face photo's mouth
//! and jaw deformed over time in the orofacial tasks of the Toronto NeuroFace protocol, with a
//! "typical" profile (fast, wide, symmetric, regular) and an "impaired" one (slower, smaller,
//! asymmetric, irregular). Every subject differs in placement, size, roll, brightness, noise
//! and timing, drawn from its seed, so a classifier must learn the motion, not the picture.
//! The motion is invented; these subjects stand for no patient and no disease.

use std::f64::consts::TAU;

use super::{JAW_CENTRE, JAW_SIGMA, Photo, remap_and_place};

pub const WIDTH: usize = 640;
pub const HEIGHT: usize = 480;
pub const FPS: u32 = 30;

/// The mouth corners (MediaPipe landmarks 61 and 291) in the photo's pixels, and how far
/// around them a smile pulls the skin.
const MOUTH_CORNERS: [(f64, f64); 2] = [(205.0, 146.0), (242.0, 146.0)];
const CORNER_SIGMA: f64 = 9.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Typical,
    Impaired,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Typical => "typical",
            Profile::Impaired => "impaired",
        }
    }
}

/// The tasks, after the Toronto NeuroFace protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Maximum jaw opening: slow open, close.
    OpenJaw,
    /// Lip spreading (smile): the corners pulled out and up.
    Spread,
    /// Repeated "pa": fast small openings.
    Pa,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::OpenJaw, Task::Spread, Task::Pa];

    pub fn name(self) -> &'static str {
        match self {
            Task::OpenJaw => "open",
            Task::Spread => "spread",
            Task::Pa => "pa",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Task::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One synthetic person: a profile and everything drawn from the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Subject {
    pub profile: Profile,
    pub seed: u64,
    centre: (f64, f64),
    scale: f64,
    roll_degrees: f64,
    brightness: f64,
    noise: f64,
    phase_seconds: f64,
    /// Peak displacement in photo pixels.
    amplitude: f64,
    /// Repetitions per second of "pa"; the slower tasks go at a third of it.
    rate_hz: f64,
    /// How much less the right side moves: 0 symmetric, 1 not at all.
    asymmetry: f64,
    /// Cycle-to-cycle timing jitter, as a fraction of a cycle.
    irregularity: f64,
}

impl Subject {
    pub fn new(profile: Profile, seed: u64) -> Self {
        let mut rng = SplitMix(seed ^ 0x0005_EED0_FA15);
        let mut draw = |lo: f64, hi: f64| lo + (hi - lo) * rng.next_unit();
        let (amplitude, rate_hz, asymmetry, irregularity) = match profile {
            Profile::Typical => (
                draw(7.0, 9.5),
                draw(2.0, 2.6),
                draw(0.0, 0.08),
                draw(0.0, 0.03),
            ),
            Profile::Impaired => (
                draw(2.5, 4.5),
                draw(0.9, 1.4),
                draw(0.3, 0.55),
                draw(0.1, 0.2),
            ),
        };
        Self {
            profile,
            seed,
            centre: (320.0 + draw(-60.0, 60.0), 240.0 + draw(-35.0, 35.0)),
            scale: draw(1.05, 1.65),
            roll_degrees: draw(-12.0, 12.0),
            brightness: draw(-25.0, 25.0),
            noise: draw(0.0, 3.0),
            phase_seconds: draw(0.0, 1.0),
            amplitude,
            rate_hz,
            asymmetry,
            irregularity,
        }
    }

    /// A one-line description of the drawn parameters, for manifests and logs.
    pub fn describe(&self) -> String {
        format!(
            "{} seed={} amplitude={:.2}px rate={:.2}Hz asymmetry={:.2} irregularity={:.2} \
             scale={:.2} roll={:.1}deg brightness={:+.0} noise={:.1}",
            self.profile.name(),
            self.seed,
            self.amplitude,
            self.rate_hz,
            self.asymmetry,
            self.irregularity,
            self.scale,
            self.roll_degrees,
            self.brightness,
            self.noise
        )
    }

    /// How far into its movement the task is at `frame`, 0 (rest) to 1 (peak).
    pub fn movement(&self, task: Task, frame: usize) -> f64 {
        let t = frame as f64 / FPS as f64 + self.phase_seconds;
        let rate = match task {
            Task::Pa => self.rate_hz,
            Task::OpenJaw | Task::Spread => self.rate_hz / 3.0,
        };
        // Irregular speakers drift in and out of rhythm: a slow wobble of the phase.
        let jitter = self.irregularity * (TAU * 0.7 * t + self.seed as f64).sin();
        (1.0 - (TAU * (rate * t + jitter)).cos()) / 2.0
    }

    /// Displacement of photo pixel (x, y) at movement `m`.
    fn displacement(&self, task: Task, m: f64, x: f64, y: f64) -> (f64, f64) {
        // The right side of the face (larger x in the photo) moves less.
        let side = |x: f64, centre: f64| {
            let right = 1.0 / (1.0 + (-(x - centre) / 6.0).exp());
            1.0 - self.asymmetry * right
        };
        match task {
            Task::OpenJaw | Task::Pa => {
                let dx = (x - JAW_CENTRE.0) / JAW_SIGMA.0;
                let dy = (y - JAW_CENTRE.1) / JAW_SIGMA.1;
                let bump = (-(dx * dx + dy * dy) / 2.0).exp();
                let reach = if task == Task::OpenJaw { 1.4 } else { 0.8 };
                (
                    0.0,
                    reach * self.amplitude * m * bump * side(x, JAW_CENTRE.0),
                )
            }
            Task::Spread => {
                let mid = (MOUTH_CORNERS[0].0 + MOUTH_CORNERS[1].0) / 2.0;
                MOUTH_CORNERS
                    .iter()
                    .enumerate()
                    .fold((0.0, 0.0), |(sx, sy), (i, &(cx, cy))| {
                        let r2 = ((x - cx).powi(2) + (y - cy).powi(2)) / CORNER_SIGMA.powi(2);
                        let pull = self.amplitude * 0.6 * m * (-r2 / 2.0).exp() * side(cx, mid);
                        let outward = if i == 0 { -1.0 } else { 1.0 };
                        (sx + outward * pull, sy - 0.5 * pull)
                    })
            }
        }
    }

    /// The photo's pixels a task moves: 5 sigma around its bumps.
    fn moving_box(&self, task: Task) -> (f64, f64, f64, f64) {
        match task {
            Task::OpenJaw | Task::Pa => (
                JAW_CENTRE.0 - 5.0 * JAW_SIGMA.0,
                JAW_CENTRE.0 + 5.0 * JAW_SIGMA.0,
                JAW_CENTRE.1 - 5.0 * JAW_SIGMA.1,
                JAW_CENTRE.1 + 5.0 * JAW_SIGMA.1,
            ),
            Task::Spread => (
                MOUTH_CORNERS[0].0 - 5.0 * CORNER_SIGMA,
                MOUTH_CORNERS[1].0 + 5.0 * CORNER_SIGMA,
                MOUTH_CORNERS[0].1 - 5.0 * CORNER_SIGMA,
                MOUTH_CORNERS[1].1 + 5.0 * CORNER_SIGMA,
            ),
        }
    }

    /// Frame `frame` of this subject doing `task`, as packed RGB of [`WIDTH`] x [`HEIGHT`].
    pub fn render(&self, photo: &Photo, task: Task, frame: usize) -> opencv::Result<Vec<u8>> {
        let m = self.movement(task, frame);
        let (rows, cols) = (photo.height, photo.width);
        let mut map_x = Vec::with_capacity(rows * cols);
        let mut map_y = Vec::with_capacity(rows * cols);
        // Beyond 5 sigma of the mouth the displacement is below 4e-6 of a pixel: skip it.
        let (x0, x1, y0, y1) = self.moving_box(task);
        for y in 0..rows {
            for x in 0..cols {
                let (fx, fy) = (x as f64, y as f64);
                let (dx, dy) = if (x0..=x1).contains(&fx) && (y0..=y1).contains(&fy) {
                    self.displacement(task, m, fx, fy)
                } else {
                    (0.0, 0.0)
                };
                map_x.push((fx - dx) as f32);
                map_y.push((fy - dy) as f32);
            }
        }
        let mut rgb = remap_and_place(
            photo,
            &map_x,
            &map_y,
            self.centre,
            self.roll_degrees,
            self.scale,
            (WIDTH, HEIGHT),
        )?;
        let mut noise = SplitMix(self.seed.wrapping_mul(0x9E37_79B9) ^ frame as u64);
        for v in &mut rgb {
            // Two uniforms make a rough bell of standard deviation `noise`.
            let n = (noise.next_unit() + noise.next_unit() - 1.0) * self.noise * 2.45;
            *v = (*v as f64 + self.brightness + n).round().clamp(0.0, 255.0) as u8;
        }
        Ok(rgb)
    }
}

/// Subjects `0..count` alternating typical and impaired, seeds derived from `seed`.
pub fn cohort(count: usize, seed: u64) -> Vec<Subject> {
    (0..count)
        .map(|i| {
            let profile = if i % 2 == 0 {
                Profile::Typical
            } else {
                Profile::Impaired
            };
            Subject::new(profile, seed.wrapping_mul(1000).wrapping_add(i as u64))
        })
        .collect()
}

/// SplitMix64: a small, well-mixed generator, so the clips need no random-number crate and
/// stay the same on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::photo;

    #[test]
    fn subjects_are_deterministic_and_differ() {
        let a = Subject::new(Profile::Typical, 7);
        assert_eq!(a, Subject::new(Profile::Typical, 7));
        assert_ne!(a, Subject::new(Profile::Typical, 8));
        let p = photo();
        assert_eq!(
            a.render(&p, Task::Pa, 4).unwrap(),
            a.render(&p, Task::Pa, 4).unwrap()
        );
        assert_eq!(a.render(&p, Task::Pa, 4).unwrap().len(), WIDTH * HEIGHT * 3);
    }

    #[test]
    fn impaired_moves_less_slower_and_lopsided() {
        for seed in 0..20 {
            let typical = Subject::new(Profile::Typical, seed);
            let impaired = Subject::new(Profile::Impaired, seed);
            assert!(impaired.amplitude < typical.amplitude);
            assert!(impaired.rate_hz < typical.rate_hz);
            assert!(impaired.asymmetry > typical.asymmetry);
            // The right corner of an impaired smile moves less than the left.
            let left = impaired.displacement(Task::Spread, 1.0, 205.0, 146.0);
            let right = impaired.displacement(Task::Spread, 1.0, 242.0, 146.0);
            assert!(right.0.abs() < 0.8 * left.0.abs(), "{left:?} {right:?}");
        }
    }

    #[test]
    fn pa_repeats_at_the_subject_rate() {
        let s = Subject::new(Profile::Typical, 3);
        let frames = 300;
        let m: Vec<f64> = (0..frames).map(|f| s.movement(Task::Pa, f)).collect();
        let peaks = (1..frames - 1)
            .filter(|&i| m[i] > m[i - 1] && m[i] >= m[i + 1] && m[i] > 0.5)
            .count();
        let expected = s.rate_hz * frames as f64 / FPS as f64;
        assert!(
            (peaks as f64 - expected).abs() <= 1.5,
            "{peaks} peaks, {expected}"
        );
    }

    #[test]
    fn nothing_moves_outside_the_moving_box() {
        let s = Subject::new(Profile::Typical, 2);
        for task in Task::ALL {
            let (x0, x1, y0, y1) = s.moving_box(task);
            for (x, y) in [
                (x0 - 1.0, (y0 + y1) / 2.0),
                (x1 + 1.0, y0),
                ((x0 + x1) / 2.0, y1 + 1.0),
            ] {
                let (dx, dy) = s.displacement(task, 1.0, x, y);
                assert!(dx.abs() < 1e-4 && dy.abs() < 1e-4, "{task:?} at ({x}, {y})");
            }
        }
    }

    #[test]
    fn a_cohort_alternates_profiles() {
        let c = cohort(4, 1);
        assert_eq!(c[0].profile, Profile::Typical);
        assert_eq!(c[1].profile, Profile::Impaired);
        assert_ne!(c[0].seed, c[2].seed);
    }
}
