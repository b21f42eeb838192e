// SPDX-License-Identifier: MPL-2.0

//! `als-rtsp` against a real RTSP source on 127.0.0.1 (`als-rtsp serve`, a process the test
//! stops and restarts) with a real RTSP viewer in the test: annotated frames arrive, the
//! source's loss is reported and covered with a status card, and the relay reconnects.
//! Every way a connection ends (the source lost or silent, Ctrl-C, SIGTERM) leaves its
//! summary in the JSON Lines.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    BIN, FPS, Logged, clip, free_ports, heavy, init, scratch, serve_clip, serve_clip_on, summaries,
    wait_for_jsonl,
};
use gst::prelude::*;

/// One decoded frame at the viewer: when it arrived, how varied its luma is (a status card
/// is nearly flat) and how many pixels have the overlay's yellow (face box, brows).
struct Seen {
    at: Instant,
    luma_spread: f64,
    yellow: usize,
    size: (u32, u32),
}

fn viewer(url: &str) -> (gst::Element, Arc<Mutex<Vec<Seen>>>) {
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
fn rtp_viewer(url: &str) -> (gst::Element, Arc<Mutex<Vec<u32>>>) {
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

/// The relay's JSON Lines records, split into connections (a new connection restarts the
/// timestamps).
fn connections(jsonl: &Path) -> Vec<Vec<serde_json::Value>> {
    let mut out: Vec<Vec<serde_json::Value>> = Vec::new();
    let mut last = None;
    for line in std::fs::read_to_string(jsonl).expect("JSON Lines").lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
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

#[test]
fn relay_serves_annotated_frames_and_survives_the_source_going_away() {
    let _turn = heavy();
    let dir = scratch("relay");
    let clip = clip();
    let registry = dir.join("registry.bin");
    let (source_port, relay_port) = free_ports();
    let source_url = format!("rtsp://127.0.0.1:{source_port}/stream");
    let jsonl = dir.join("relay.jsonl");
    let relay = Logged::spawn(
        &[
            "relay",
            &source_url,
            "--address=127.0.0.1",
            &format!("--port={relay_port}"),
            "--width=384",
            "--height=240",
            &format!("--fps={FPS}"),
            &format!("--jsonl={}", jsonl.display()),
            "--source-timeout=2",
            "--min-backoff=0.25",
            "--max-backoff=1",
        ],
        &registry,
    );
    relay.wait_for("serving", 1, Duration::from_secs(30));
    let (viewer, seen) = viewer(&format!("rtsp://127.0.0.1:{relay_port}/als"));
    let (rtp_viewer, rtp_frames) = rtp_viewer(&format!("rtsp://127.0.0.1:{relay_port}/als"));

    let serve = |_: ()| {
        Logged::spawn(
            &[
                "serve",
                &clip.display().to_string(),
                &format!("--port={source_port}"),
            ],
            &registry,
        )
    };
    let source = serve(());
    relay.wait_for("source connected", 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(5));
    source.signal(libc::SIGKILL);
    drop(source);
    let lost = relay.wait_for("source lost", 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let source = serve(());
    let back = relay.wait_for("source connected", 2, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(5));
    relay.signal(libc::SIGINT);
    let stopped = relay.wait_for("stopped", 1, Duration::from_secs(20));
    let _ = viewer.set_state(gst::State::Null);
    let _ = rtp_viewer.set_state(gst::State::Null);
    drop(source);

    let seen = seen.lock().unwrap();
    let log = relay.log();
    // While the source was away the viewer kept getting frames: the flat status card. The
    // edges are left out: frames in flight when the loss was reported, and the first live
    // frames, which reach the viewer before the relay's report of them.
    let (from, to) = (
        lost + Duration::from_millis(500),
        back - Duration::from_millis(500),
    );
    let outage: Vec<&Seen> = seen.iter().filter(|s| s.at > from && s.at < to).collect();
    let outage_s = to.duration_since(from).as_secs_f64();
    assert!(
        outage.len() as f64 >= 0.5 * FPS as f64 * outage_s,
        "{} frames in {outage_s:.1} s of outage\n{log}",
        outage.len()
    );
    assert!(
        outage.iter().all(|s| s.luma_spread < 25.0),
        "outage frames are the card"
    );

    // The viewer gets the served size (the 4:3 source with borders), the elements measured the
    // source's own 320x240 frames.
    assert!(
        seen.iter().all(|s| s.size == (384, 240)),
        "served sizes {:?}",
        seen.iter()
            .map(|s| s.size)
            .collect::<std::collections::BTreeSet<_>>()
    );
    let sizes: std::collections::BTreeSet<(u64, u64)> = connections(&jsonl)
        .iter()
        .flatten()
        .filter_map(|r| Some((r["width"].as_u64()?, r["height"].as_u64()?)))
        .collect();
    assert_eq!(sizes, [(320, 240)].into(), "measured frame sizes\n{log}");

    // The second viewer got the same stream, its frames' RTP timestamps always increasing (at
    // 90 kHz), through the bursts of the source and its loss and return.
    let rtp = rtp_frames.lock().unwrap();
    assert!(rtp.len() >= seen.len() / 2, "{} RTP frames", rtp.len());
    // Frames of a burst used to be stamped microseconds apart; now at least half a frame
    // interval (less a tick of rounding) separates any two.
    let half_interval = 90_000 / FPS as i32 / 2 - 2;
    let too_close: Vec<(u32, u32)> = rtp
        .windows(2)
        .filter(|w| (w[1].wrapping_sub(w[0]) as i32) < half_interval)
        .map(|w| (w[0], w[1]))
        .collect();
    assert!(
        too_close.is_empty(),
        "RTP timestamps not increasing by half a frame: {too_close:?}"
    );

    // Every frame the relay analysed reached the viewer, annotated.
    let annotated = seen
        .iter()
        .filter(|s| s.at < stopped && s.luma_spread > 25.0 && s.yellow > 30)
        .count();
    let conns = connections(&jsonl);
    assert_eq!(conns.len(), 2, "two connections in the JSON Lines\n{log}");
    // The source's end and Ctrl-C each closed a connection with its summary.
    let (after, summarised) = summaries(&jsonl);
    assert_eq!(summarised.len(), 2, "two summaries\n{log}");
    assert_eq!(after, 0, "no frame line after the last summary");
    let analysed: usize = conns.iter().map(Vec::len).sum();
    assert!(
        annotated as f64 >= 0.95 * analysed as f64,
        "{annotated} annotated frames seen of {analysed} analysed\n{log}"
    );
    eprintln!(
        "relay: {annotated} annotated frames seen of {analysed} analysed (connections: {:?}); \
         {} card frames in {outage_s:.1} s of outage",
        conns.iter().map(Vec::len).collect::<Vec<_>>(),
        outage.len()
    );
    for (i, records) in conns.iter().enumerate() {
        // No frame of the source lost inside a connection: timestamps step by one frame.
        let pts: Vec<u64> = records
            .iter()
            .filter_map(|r| r["pts_ns"].as_u64())
            .collect();
        // And each analysed once, whatever the number of viewers.
        assert!(
            pts.windows(2).all(|w| w[1] > w[0]),
            "connection {i}: a frame analysed twice"
        );
        let span = (pts[pts.len() - 1] - pts[0]) as f64 * FPS as f64 / 1e9 + 1.0;
        assert!(
            pts.len() as f64 >= 0.95 * span && pts.len() as f64 >= 3.0 * FPS as f64,
            "connection {i}: {} frames over {span:.0} frame times",
            pts.len()
        );
        // One face, one id, all along.
        let mut ids: Vec<u64> = records
            .iter()
            .flat_map(|r| r["faces"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f["id"].as_u64())
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), 1, "connection {i}: face ids {ids:?}");
    }
}

#[test]
fn bad_sources_ports_and_files_fail_with_a_message() {
    let dir = scratch("bad");
    let registry = dir.join("registry.bin");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("GST_REGISTRY", &registry)
            .output()
            .expect("als-rtsp runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (out.status.code(), stderr)
    };
    let (relay_port, unreachable_port) = free_ports();
    let port = relay_port.to_string();
    let (code, stderr) = run(&["relay", "nosuch://camera", "--port", &port]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("nosuch://camera"), "{stderr}");

    let (code, stderr) = run(&["relay", "/no/such/file.mp4", "--port", &port]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("/no/such/file.mp4"), "{stderr}");

    let unreachable = format!("rtsp://127.0.0.1:{unreachable_port}/stream");
    let (code, stderr) = run(&[
        "relay",
        &unreachable,
        "--port",
        &port,
        "--max-attempts=2",
        "--min-backoff=0.1",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("source unreachable") && stderr.contains("giving up"),
        "{stderr}"
    );

    // Giving up after the very first attempt exits instead of hanging.
    let (code, stderr) = run(&["relay", &unreachable, "--port", &port, "--max-attempts=1"]);
    assert_eq!(code, Some(1), "{stderr}");

    // What reconnecting cannot cure stops the relay before it starts.
    let corrupt = dir.join("corrupt.onnx");
    std::fs::write(&corrupt, b"not a model").expect("write");
    let (code, stderr) = run(&[
        "relay",
        &unreachable,
        "--port",
        &port,
        &format!("--model={}", corrupt.display()),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("corrupt.onnx"), "{stderr}");
    let (code, stderr) = run(&[
        "relay",
        &unreachable,
        "--port",
        &port,
        "--jsonl=/no/such/folder/out.jsonl",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("/no/such/folder/out.jsonl"), "{stderr}");

    let busy = TcpListener::bind("127.0.0.1:0").expect("listener");
    let busy_port = busy.local_addr().expect("address").port().to_string();
    let (code, stderr) = run(&["serve", "/no/such/file.mp4", "--port", &busy_port]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read /no/such/file.mp4"), "{stderr}");
    let clip = dir.join("not-a-video.mp4");
    std::fs::write(&clip, b"not a video").expect("write");
    let (code, stderr) = run(&[
        "serve",
        &clip.display().to_string(),
        "--address=127.0.0.1",
        "--port",
        &busy_port,
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("could not serve"), "{stderr}");
}

#[test]
fn the_pipelines_script_runs_the_relay_and_passes_on_its_failure() {
    let dir = scratch("script");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/rtsp-to-annotated-rtsp.sh");
    let out = Command::new(script)
        .args([
            "nosuch://camera",
            &dir.join("out.jsonl").display().to_string(),
            "--port=1",
        ])
        .env("ALS_RTSP", BIN)
        .env("GST_REGISTRY", dir.join("registry.bin"))
        .output()
        .expect("script runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no GStreamer source can read \"nosuch://camera\""),
        "{stderr}"
    );
}

/// A relay of `source_port` writing `jsonl`, on a free port, with `extra` options.
fn summarising_relay(source_port: u16, jsonl: &Path, registry: &Path, extra: &[&str]) -> Logged {
    let source = format!("rtsp://127.0.0.1:{source_port}/stream");
    let jsonl = format!("--jsonl={}", jsonl.display());
    Logged::serving(
        |port| {
            [
                "relay",
                &source,
                &format!("--port={port}"),
                "--width=320",
                "--height=240",
                &format!("--fps={FPS}"),
                &jsonl,
                "--source-timeout=2",
                "--min-backoff=0.25",
                "--max-backoff=1",
            ]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
        },
        registry,
        &[],
    )
    .0
}

/// Waits for the `n`th connection to deliver frames into `jsonl`.
fn wait_for_frames(relay: &Logged, jsonl: &Path, n: usize) {
    relay.wait_for("source connected", n, Duration::from_secs(30));
    wait_for_jsonl(jsonl, Duration::from_secs(30), "frames", |frames, _| {
        frames >= 2 * FPS as usize
    });
}

/// The `n`th summary line arrives, closing a connection whose frame lines it counts.
fn assert_summary(jsonl: &Path, n: usize, relay: &Logged, case: &str) {
    wait_for_jsonl(jsonl, Duration::from_secs(20), case, |_, s| s.len() >= n);
    let (_, summaries) = summaries(jsonl);
    assert_eq!(summaries.len(), n, "{case}: summaries\n{}", relay.log());
    let (frame_lines, summary) = &summaries[n - 1];
    assert!(
        *frame_lines >= 2 * FPS as usize,
        "{case}: {frame_lines} frames"
    );
    assert_eq!(
        summary["frames"].as_u64(),
        Some(*frame_lines as u64),
        "{case}: the summary counts its connection's frames: {summary}"
    );
}

#[test]
fn the_summary_is_written_when_the_source_is_lost_or_silent_and_on_ctrl_c() {
    let _turn = heavy();
    let dir = scratch("stops");
    let clip = clip();
    let registry = dir.join("registry.bin");
    let jsonl = dir.join("relay.jsonl");
    let (source, source_port) = serve_clip(&clip, &registry);
    // RTP over UDP: there the source's loss is an error of the source (over the RTSP TCP
    // connection rtspsrc ends the stream itself, and its EOS runs through the analysis).
    let mut relay = summarising_relay(source_port, &jsonl, &registry, &["--udp"]);

    // The source goes away (its process killed): the connection ends with its summary.
    wait_for_frames(&relay, &jsonl, 1);
    source.signal(libc::SIGKILL);
    drop(source);
    relay.wait_for("source lost", 1, Duration::from_secs(15));
    assert!(
        !relay.log().contains("the source ended its stream"),
        "the loss came as an error:\n{}",
        relay.log()
    );
    assert_summary(&jsonl, 1, &relay, "source lost");

    // The source stops sending but keeps the connection (its process stopped): the relay's
    // timeout ends the connection, again with its summary.
    let source = serve_clip_on(&clip, &registry, source_port);
    wait_for_frames(&relay, &jsonl, 2);
    source.signal(libc::SIGSTOP);
    relay.wait_for("no frame for", 1, Duration::from_secs(15));
    assert_summary(&jsonl, 2, &relay, "source timeout");
    drop(source);

    // Ctrl-C: the summary before the relay exits.
    let _source = serve_clip_on(&clip, &registry, source_port);
    wait_for_frames(&relay, &jsonl, 3);
    relay.signal(libc::SIGINT);
    let status = relay.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", relay.log());
    assert_summary(&jsonl, 3, &relay, "Ctrl-C");
    let (after, _) = summaries(&jsonl);
    assert_eq!(after, 0, "no frame line after the last summary");
}

#[test]
fn the_summary_is_written_on_sigterm() {
    let _turn = heavy();
    let dir = scratch("sigterm");
    let clip = clip();
    let registry = dir.join("registry.bin");
    let jsonl = dir.join("relay.jsonl");
    let (_source, source_port) = serve_clip(&clip, &registry);
    let mut relay = summarising_relay(source_port, &jsonl, &registry, &[]);
    wait_for_frames(&relay, &jsonl, 1);
    relay.signal(libc::SIGTERM);
    let status = relay.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", relay.log());
    assert_summary(&jsonl, 1, &relay, "SIGTERM");
}
