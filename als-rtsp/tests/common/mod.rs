// SPDX-License-Identifier: MPL-2.0

//! What the relay's test files share: scratch folders, free ports, a test clip, the `als-rtsp`
//! processes with their logs, and the JSON Lines reader.
#![allow(dead_code)]

pub mod outage;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use als_synthetic::Photo;
use als_synthetic::subjects::{HEIGHT, Profile, Subject, Task, WIDTH};
use gst::prelude::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_als-rtsp");
pub const FPS: u64 = 15;
pub const CLIP_FRAMES: usize = 300;

pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("als-rtsp-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Two distinct free ports (both held while asked, so they differ). Another process may take
/// one before the relay binds it: [`Logged::serving`] retries on a new port then.
pub fn free_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (a, b) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("address").port();
    (port(&a), port(&b))
}

pub fn free_port() -> u16 {
    free_ports().0
}

pub fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer");
        gstals::plugin_register_static().expect("plugin");
    });
}

/// The tests that run a source, a relay and its analysis take both cores of a small machine:
/// they take turns, so that none misses its frames because of another.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The test clip (made once per test binary): 20 s of a synthetic subject saying "pa",
/// 320x240 at 15 fps, H.264 in MP4.
pub fn clip() -> PathBuf {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = scratch("clip").join("clip.mp4");
        make_clip(&path);
        path
    })
    .clone()
}

pub fn make_clip(path: &Path) {
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
pub struct Logged {
    pub child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Logged {
    pub fn spawn(args: &[&str], registry: &Path) -> Self {
        Self::spawn_with_env(args, registry, &[])
    }

    pub fn spawn_with_env(args: &[&str], registry: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env("GST_REGISTRY", registry)
            .envs(env.iter().copied())
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

    /// `als-rtsp` with `args(port)`, on a free port: started again on another port while the
    /// one it got was taken meanwhile. Returns once it says it is serving.
    pub fn serving(
        args: impl Fn(u16) -> Vec<String>,
        registry: &Path,
        env: &[(&str, &str)],
    ) -> (Self, u16) {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let args = args(port);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut process = Self::spawn_with_env(&args, registry, env);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if process.is_serving() {
                    return (process, port);
                }
                if let Ok(Some(_)) = process.child.try_wait() {
                    // The reader thread may still be collecting the last lines.
                    std::thread::sleep(Duration::from_millis(200));
                    last = process.log();
                    assert!(
                        last.contains("could not serve"),
                        "als-rtsp {args:?} stopped:\n{last}"
                    );
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "als-rtsp {args:?} did not serve:\n{}",
                    process.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("no free port to serve on:\n{last}");
    }

    /// When the `n`th line containing `text` arrived, waiting up to `timeout` for it.
    pub fn wait_for(&self, text: &str, n: usize, timeout: Duration) -> Instant {
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

    /// Whether it said it serves (the line with the URL; warnings about serving come
    /// before the server is up).
    pub fn is_serving(&self) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|(_, l)| l.starts_with("als-rtsp: serving ") && l.contains("://"))
    }

    /// How many lines so far contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, l)| l.contains(text))
            .count()
    }

    pub fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits up to `timeout` for the process to exit (and its last lines to be read).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        // A stopped process (SIGSTOP) still dies of SIGKILL.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `als-rtsp serve` of `clip` on a free port: the stand-in camera.
pub fn serve_clip(clip: &Path, registry: &Path) -> (Logged, u16) {
    let clip = clip.display().to_string();
    Logged::serving(
        |port| vec!["serve".into(), clip.clone(), format!("--port={port}")],
        registry,
        &[],
    )
}

/// `als-rtsp serve` of `clip` on `port` again (the relay knows that one), retried while the
/// port is still held by the process before.
pub fn serve_clip_on(clip: &Path, registry: &Path, port: u16) -> Logged {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut source = Logged::spawn(
            &[
                "serve",
                &clip.display().to_string(),
                &format!("--port={port}"),
            ],
            registry,
        );
        loop {
            if source.is_serving() {
                return source;
            }
            if let Ok(Some(_)) = source.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            Instant::now() < deadline,
            "the source did not serve on {port} again:\n{}",
            source.log()
        );
        let _ = source.wait_exit(Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The relay's JSON Lines (none when the file is not there yet).
pub fn records(jsonl: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(jsonl)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("valid JSON"))
        .collect()
}

/// The frame lines since the last summary line, and the summary lines so far.
pub fn summaries(jsonl: &Path) -> (usize, Vec<(usize, serde_json::Value)>) {
    let mut frames = 0;
    let mut out = Vec::new();
    for record in records(jsonl) {
        if record.get("frame").is_some() {
            frames += 1;
        } else if let Some(summary) = record.get("summary") {
            // Each with the frame lines of its connection.
            out.push((frames, summary.clone()));
            frames = 0;
        }
    }
    (frames, out)
}

/// Waits up to `timeout` for `done` to hold for the JSON Lines' [`summaries`].
pub fn wait_for_jsonl(
    jsonl: &Path,
    timeout: Duration,
    what: &str,
    done: impl Fn(usize, &[(usize, serde_json::Value)]) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let (frames, summaries) = summaries(jsonl);
        if done(frames, &summaries) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} in {} within {timeout:?}: {frames} frame lines since the last of {} \
             summaries",
            jsonl.display(),
            summaries.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
