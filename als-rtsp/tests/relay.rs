// SPDX-License-Identifier: MPL-2.0

//! `als-rtsp` against a real RTSP source on 127.0.0.1 (`als-rtsp serve`, a process the test
//! stops and restarts) with a real RTSP viewer in the test: annotated frames arrive, the
//! source's loss is reported and covered with a status card, and the relay reconnects.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstals::synthetic::Photo;
use gstals::synthetic::subjects::{HEIGHT, Profile, Subject, Task, WIDTH};

const BIN: &str = env!("CARGO_BIN_EXE_als-rtsp");
const FPS: u64 = 15;
const CLIP_FRAMES: usize = 300;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("als-rtsp-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Two distinct free ports (both held while asked, so they differ).
fn free_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (a, b) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("address").port();
    (port(&a), port(&b))
}

fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer");
        gstals::plugin_register_static().expect("plugin");
    });
}

/// 20 s of a synthetic subject saying "pa", 320x240 at 15 fps, H.264 in MP4.
fn make_clip(path: &Path) {
    init();
    let photo = Photo::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../third_party/photos/astronaut.png"
    )))
    .expect("the face photo (scripts/fetch-face-photo.sh)");
    let subject = Subject::new(Profile::Typical, 11);
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width={WIDTH},height={HEIGHT},\
         framerate={FPS}/1 ! videoconvert ! videoscale ! video/x-raw,format=I420,width=320,\
         height=240 ! x264enc speed-preset=ultrafast key-int-max=15 ! mp4mux ! \
         filesink location=\"{}\"",
        path.display()
    ))
    .expect("encoder");
    let src = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("src"))
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    pipeline.set_state(gst::State::Playing).expect("plays");
    let frame = gst::ClockTime::SECOND / FPS;
    for i in 0..CLIP_FRAMES {
        // The subject's motion at 30 fps, every second frame: the same speech at 15 fps.
        let rgb = subject.render(&photo, Task::Pa, i * 2).expect("renders");
        let mut buffer = gst::Buffer::from_mut_slice(rgb);
        let b = buffer.get_mut().expect("writable");
        b.set_pts(frame * i as u64);
        b.set_duration(frame);
        src.push_buffer(buffer).expect("push");
    }
    src.end_of_stream().expect("eos");
    let bus = pipeline.bus().expect("bus");
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("encoding ends");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    pipeline.set_state(gst::State::Null).expect("stops");
}

/// A child process whose stderr lines are collected with the time they arrived.
struct Logged {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Logged {
    fn spawn(args: &[&str], registry: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env("GST_REGISTRY", registry)
            .stderr(Stdio::piped())
            .spawn()
            .expect("als-rtsp starts");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        Self { child, lines }
    }

    /// When the `n`th line containing `text` arrived, waiting up to `timeout` for it.
    fn wait_for(&self, text: &str, n: usize, timeout: Duration) -> Instant {
        let start = Instant::now();
        loop {
            if let Some((t, _)) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, l)| l.contains(text))
                .nth(n - 1)
            {
                return *t;
            }
            assert!(
                start.elapsed() < timeout,
                "no {n}x {text:?} within {timeout:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn signal(&self, signal: i32) {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One decoded frame at the viewer: when it arrived, how varied its luma is (a status card
/// is nearly flat) and how many pixels have the overlay's yellow (face box, brows).
struct Seen {
    at: Instant,
    luma_spread: f64,
    yellow: usize,
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
    let dir = scratch("relay");
    let clip = dir.join("clip.mp4");
    make_clip(&clip);
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
            "--width=320",
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

    // Every frame the relay analysed reached the viewer, annotated.
    let annotated = seen
        .iter()
        .filter(|s| s.at < stopped && s.luma_spread > 25.0 && s.yellow > 30)
        .count();
    let conns = connections(&jsonl);
    assert_eq!(conns.len(), 2, "two connections in the JSON Lines\n{log}");
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
