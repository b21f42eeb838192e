// SPDX-License-Identifier: MPL-2.0

//! The wall-clock time of a frame, for records that dashboards line up across cameras: the
//! sender's NTP time when `rtspsrc add-reference-timestamp-meta=true` attached it (a
//! `GstReferenceTimestampMeta` of `timestamp/x-ntp`), a Unix reference timestamp
//! (`timestamp/x-unix`), else the pipeline clock at the frame's running time, mapped to the
//! system's real-time clock.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use gst::prelude::*;

/// Seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix).
const NTP_TO_UNIX_SECONDS: i64 = 2_208_988_800;

fn now_unix_ns() -> Option<i64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
}

/// How far the system's real-time clock is ahead of a pipeline clock, per (clock, base time),
/// shared by every element of the process. Measured by each element on its own it jitters by
/// the time between two clock reads, so `alsexport` and `alspublish` wrote the same frame a
/// millisecond apart; from one shared offset, a frame's time is a function of its timestamps.
/// Every call measures again, and only a change beyond [`CLOCK_STEP_NS`] (the system clock set
/// or stepped by NTP, a pipeline clock that drifts) replaces the shared value, so records
/// follow the real time without two elements ever disagreeing by the jitter.
static CLOCK_OFFSETS: Mutex<Vec<(usize, u64, i64)>> = Mutex::new(Vec::new());
const REMEMBERED_OFFSETS: usize = 64;
const CLOCK_STEP_NS: i64 = 20_000_000;

fn realtime_offset(clock: &gst::Clock, base: gst::ClockTime) -> Option<i64> {
    let key = (clock.as_ptr() as usize, base.nseconds());
    let measured = now_unix_ns()? - clock.time().nseconds() as i64;
    let mut offsets = CLOCK_OFFSETS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = offsets.iter_mut().find(|(c, b, _)| (*c, *b) == key) {
        if (entry.2 - measured).abs() > CLOCK_STEP_NS {
            entry.2 = measured;
        }
        return Some(entry.2);
    }
    if offsets.len() >= REMEMBERED_OFFSETS {
        offsets.remove(0);
    }
    offsets.push((key.0, key.1, measured));
    Some(measured)
}

/// Now, for records that are not frames.
pub(crate) fn emitted() -> (Option<i64>, &'static str) {
    (now_unix_ns(), "emitted")
}

/// The frame's UTC time in nanoseconds since the Unix epoch, and where it came from.
pub(crate) fn frame_utc(
    element: &gst::Element,
    segment: &gst::Segment,
    buffer: &gst::BufferRef,
) -> (Option<i64>, &'static str) {
    for meta in buffer.iter_meta::<gst::ReferenceTimestampMeta>() {
        let reference = meta.reference();
        let Some(name) = reference.structure(0).map(|s| s.name().to_string()) else {
            continue;
        };
        let ns = meta.timestamp().nseconds() as i64;
        match name.as_str() {
            "timestamp/x-ntp" => return (Some(ns - NTP_TO_UNIX_SECONDS * 1_000_000_000), "ntp"),
            "timestamp/x-unix" => return (Some(ns), "unix"),
            _ => {}
        }
    }
    let running = segment
        .downcast_ref::<gst::ClockTime>()
        .zip(buffer.pts())
        .and_then(|(segment, pts)| segment.to_running_time(pts));
    // Before PLAYING the base time is not (or no longer) the one the frames run against.
    let playing = element.current_state() == gst::State::Playing;
    if let (true, Some(clock), Some(base), Some(running)) =
        (playing, element.clock(), element.base_time(), running)
        && let Some(offset) = realtime_offset(&clock, base)
    {
        let captured = (base + running).nseconds() as i64;
        return (Some(captured + offset), "clock");
    }
    (now_unix_ns(), "emitted")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two elements of one pipeline, asked at different moments about one frame, give the
    /// same nanosecond.
    #[test]
    fn every_element_gives_a_frame_the_same_time() {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(
            "videotestsrc is-live=true ! identity name=first ! fakesink name=second",
        )
        .unwrap()
        .downcast::<gst::Bin>()
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let (_, state, _) = pipeline.state(gst::ClockTime::from_seconds(5));
        assert_eq!(state, gst::State::Playing);
        let first = pipeline.by_name("first").unwrap();
        let second = pipeline.by_name("second").unwrap();
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        let mut buffer = gst::Buffer::new();
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(40));
        let (a, source) = frame_utc(&first, segment.upcast_ref(), &buffer);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (b, _) = frame_utc(&second, segment.upcast_ref(), &buffer);
        assert_eq!(source, "clock");
        assert_eq!(a, b);
        // And it is the real time of the frame: near now (the pipeline started just now).
        let now = now_unix_ns().unwrap();
        assert!((now - a.unwrap()).abs() < 2_000_000_000, "{a:?} vs {now}");
        pipeline.set_state(gst::State::Null).unwrap();
    }

    /// The sender's NTP time (rtspsrc's reference timestamp) wins over the clock, in Unix time;
    /// a Unix reference is taken as it is; other references are ignored.
    #[test]
    fn reference_timestamps_give_the_senders_time() {
        gst::init().unwrap();
        let element = gst::ElementFactory::make("identity").build().unwrap();
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        // 2026-12-03T12:00:00Z in NTP seconds.
        let unix_s: u64 = 1_796_299_200;
        let ntp = gst::ClockTime::from_seconds(unix_s + NTP_TO_UNIX_SECONDS as u64)
            + gst::ClockTime::from_mseconds(250);
        let with = |reference: &str, at: gst::ClockTime| {
            let mut buffer = gst::Buffer::new();
            gst::ReferenceTimestampMeta::add(
                buffer.get_mut().unwrap(),
                &gst::Caps::new_empty_simple(reference),
                at,
                gst::ClockTime::NONE,
            );
            frame_utc(&element, segment.upcast_ref(), &buffer)
        };
        let expected = (unix_s * 1_000_000_000 + 250_000_000) as i64;
        assert_eq!(with("timestamp/x-ntp", ntp), (Some(expected), "ntp"));
        let unix = gst::ClockTime::from_nseconds(expected as u64);
        assert_eq!(with("timestamp/x-unix", unix), (Some(expected), "unix"));
        // Not playing and no known reference: the time it was written.
        let (_, source) = with("timestamp/x-ptp", unix);
        assert_eq!(source, "emitted");
    }
}
