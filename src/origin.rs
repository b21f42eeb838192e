// SPDX-License-Identifier: MPL-2.0

//! The wall-clock time of a frame, for records that dashboards line up across cameras: the
//! sender's NTP time when `rtspsrc add-reference-timestamp-meta=true` attached it (a
//! `GstReferenceTimestampMeta` of `timestamp/x-ntp`), a Unix reference timestamp
//! (`timestamp/x-unix`), else the pipeline clock at the frame's running time, mapped to the
//! system's real-time clock.

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
    if let (true, Some(clock), Some(base), Some(running), Some(now_unix)) = (
        playing,
        element.clock(),
        element.base_time(),
        running,
        now_unix_ns(),
    ) {
        let captured = (base + running).nseconds() as i64;
        let now = clock.time().nseconds() as i64;
        return (Some(now_unix - (now - captured)), "clock");
    }
    (now_unix_ns(), "emitted")
}
