// SPDX-License-Identifier: MPL-2.0

//! The relay's outage scenario, shared by its test and its bench: a relay of a source that
//! serves a clip, two viewers (decoded frames and raw RTP), the source killed and started
//! again, then Ctrl-C. Each step waits for what the viewers see (so many annotated frames,
//! so many frames of the card), never for a guessed time: a slow machine takes longer, and
//! sees the same thing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::{FPS, Logged, clip, init, scratch, serve_clip_on};

/// One decoded frame at the viewer: when it arrived, how varied its luma is (a status card
/// is nearly flat) and how many pixels have the overlay's yellow (face box, brows).
pub struct Seen {
    pub at: Instant,
    pub luma_spread: f64,
    pub yellow: usize,
    pub size: (u32, u32),
}

impl Seen {
    /// A live frame with the overlay drawn on it.
    pub fn annotated(&self) -> bool {
        self.luma_spread > 25.0 && self.yellow > 30
    }

    /// The status card (flat but for its text).
    pub fn card(&self) -> bool {
        self.luma_spread < 25.0
    }
}

/// How long any one step may take before the scenario fails: long enough for a machine
/// whose cores are taken by others, short enough that a relay that never gets there fails.
pub const STEP: Duration = Duration::from_secs(90);

/// What one run of the scenario left behind.
pub struct Outage {
    pub seen: Vec<Seen>,
    /// Per frame at the RTP viewer (the packet with the marker bit), its RTP timestamp.
    pub rtp: Vec<u32>,
    pub jsonl: PathBuf,
    /// The relay's log.
    pub log: String,
    /// When the relay reported the source lost, and when the test started it again: between
    /// the two (less the frames in flight at the loss) the viewers can only get the card.
    pub lost: Instant,
    pub restarted: Instant,
    /// When the relay reported it stopped (Ctrl-C).
    pub stopped: Instant,
}

impl Outage {
    /// The frames the viewer got while the source was away, leaving out the half second
    /// after the loss was reported (frames in flight).
    pub fn outage_frames(&self) -> Vec<&Seen> {
        let from = self.lost + Duration::from_millis(500);
        self.seen
            .iter()
            .filter(|s| s.at > from && s.at < self.restarted)
            .collect()
    }

    pub fn outage_seconds(&self) -> f64 {
        self.restarted
            .duration_since(self.lost + Duration::from_millis(500))
            .as_secs_f64()
    }
}

/// Runs the scenario; `live_frames` annotated frames are awaited from each connection and
/// `card_frames` frames of the card during the outage.
pub fn run(name: &str, live_frames: usize, card_frames: usize) -> Outage {
    let dir = scratch(name);
    let clip = clip();
    let registry = dir.join("registry.bin");
    let source_port = super::free_port();
    let source_url = format!("rtsp://127.0.0.1:{source_port}/stream");
    let jsonl = dir.join("relay.jsonl");
    let jsonl_arg = format!("--jsonl={}", jsonl.display());
    let (relay, relay_port) = Logged::serving(
        |port| {
            [
                "relay",
                &source_url,
                "--address=127.0.0.1",
                &format!("--port={port}"),
                "--width=384",
                "--height=240",
                &format!("--fps={FPS}"),
                &jsonl_arg,
                "--source-timeout=2",
                "--min-backoff=0.25",
                "--max-backoff=1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        },
        &registry,
        &[],
    );
    let url = format!("rtsp://127.0.0.1:{relay_port}/als");
    let (viewer, seen) = viewer(&url);
    let (rtp_viewer, rtp) = rtp_viewer(&url);
    let annotated_since = |since: Instant| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.at > since && s.annotated())
            .count()
    };

    let started = Instant::now();
    let source = serve_clip_on(&clip, &registry, source_port);
    relay.wait_for("source connected", 1, STEP);
    wait_until(&relay, "annotated frames of the first connection", || {
        annotated_since(started) >= live_frames
    });
    source.signal(libc::SIGKILL);
    drop(source);
    let lost = relay.wait_for("source lost", 1, STEP);
    let card_from = lost + Duration::from_millis(500);
    wait_until(&relay, "frames of the card", || {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.at > card_from)
            .count()
            >= card_frames
    });
    let restarted = Instant::now();
    let source = serve_clip_on(&clip, &registry, source_port);
    relay.wait_for("source connected", 2, STEP);
    wait_until(&relay, "annotated frames of the second connection", || {
        annotated_since(restarted) >= live_frames
    });
    // The RTP viewer reads the same stream; it too has had frames of both connections.
    wait_until(&relay, "frames at the RTP viewer", || {
        rtp.lock().unwrap().len() >= 2 * live_frames
    });
    relay.signal(libc::SIGINT);
    let stopped = relay.wait_for("stopped", 1, STEP);
    let _ = viewer.set_state(gst::State::Null);
    let _ = rtp_viewer.set_state(gst::State::Null);
    drop(source);
    let log = relay.log();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let rtp = std::mem::take(&mut *rtp.lock().unwrap());
    Outage {
        seen,
        rtp,
        jsonl,
        log,
        lost,
        restarted,
        stopped,
    }
}

fn wait_until(relay: &Logged, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + STEP;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "no {what} within {STEP:?}; the relay's log:\n{}",
            relay.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn viewer(url: &str) -> (gst::Element, Arc<Mutex<Vec<Seen>>>) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc location={url} protocols=tcp latency=100 ! rtph264depay ! avdec_h264 ! \
         videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false"
    ))
    .expect("viewer");
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("out"))
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let size = sample
                    .caps()
                    .and_then(|c| gst_video::VideoInfo::from_caps(c).ok())
                    .map_or((0, 0), |i| (i.width(), i.height()));
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let px: Vec<&[u8]> = map.chunks_exact(3).collect();
                let luma: Vec<f64> = px
                    .iter()
                    .map(|p| 0.3 * p[0] as f64 + 0.59 * p[1] as f64 + 0.11 * p[2] as f64)
                    .collect();
                let mean = luma.iter().sum::<f64>() / luma.len() as f64;
                let var = luma.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / luma.len() as f64;
                let yellow = px
                    .iter()
                    .filter(|p| p[0] > 200 && (150..=240).contains(&p[1]) && p[2] < 90)
                    .count();
                out.lock().unwrap().push(Seen {
                    at: Instant::now(),
                    luma_spread: var.sqrt(),
                    yellow,
                    size,
                });
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline
        .set_state(gst::State::Playing)
        .expect("viewer plays");
    (pipeline, seen)
}

/// A second viewer that looks at the RTP packets themselves: per frame (the packets up to one
/// with the marker bit) its RTP timestamp.
pub fn rtp_viewer(url: &str) -> (gst::Element, Arc<Mutex<Vec<u32>>>) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc location={url} protocols=tcp latency=100 ! appsink name=rtp sync=false"
    ))
    .expect("RTP viewer");
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("rtp"))
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    let frames = Arc::new(Mutex::new(Vec::new()));
    let out = frames.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                if map.len() >= 12 && map[1] & 0x80 != 0 {
                    let timestamp = u32::from_be_bytes([map[4], map[5], map[6], map[7]]);
                    out.lock().unwrap().push(timestamp);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline
        .set_state(gst::State::Playing)
        .expect("RTP viewer plays");
    (pipeline, frames)
}

/// The relay's JSON Lines frame records, split into connections (a new connection restarts
/// the timestamps).
pub fn connections(jsonl: &Path) -> Vec<Vec<serde_json::Value>> {
    let mut out: Vec<Vec<serde_json::Value>> = Vec::new();
    let mut last = None;
    for record in super::records(jsonl) {
        let Some(pts) = record["pts_ns"].as_u64() else {
            continue;
        };
        if last.is_none_or(|l| pts < l) {
            out.push(Vec::new());
        }
        last = Some(pts);
        out.last_mut().expect("a connection").push(record);
    }
    out
}

/// The source frames a connection's records span (first to last timestamp), of which each
/// record is one.
pub fn span_frames(records: &[serde_json::Value]) -> f64 {
    let pts: Vec<u64> = records
        .iter()
        .filter_map(|r| r["pts_ns"].as_u64())
        .collect();
    match (pts.first(), pts.last()) {
        (Some(first), Some(last)) => (last - first) as f64 * FPS as f64 / 1e9 + 1.0,
        _ => 0.0,
    }
}
