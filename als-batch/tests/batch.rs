// SPDX-License-Identifier: MPL-2.0

//! `als-batch` on folders of synthetic face clips mixed with broken files: outputs, the
//! summary CSV, exit codes, `--resume`, Ctrl-C, `--shard`, bad arguments, colliding names,
//! and publishing to a broker (Mosquitto from `tests/support`) that may be down.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use als_synthetic::Photo;
use gst::prelude::*;

#[path = "../../tests/support/mosquitto.rs"]
mod mosquitto;
use als_synthetic::subjects::{self, FPS, HEIGHT, Task, WIDTH};

/// Frames per test clip (one second).
const FRAMES: usize = 30;
const CLIPS: usize = 4;

/// This test run's folder; those of earlier runs, whose process is gone, are removed.
fn root() -> PathBuf {
    static CLEANED: OnceLock<()> = OnceLock::new();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    CLEANED.get_or_init(|| {
        for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("als-batch-test-")
                .and_then(|p| p.parse::<i32>().ok());
            // SAFETY: signal 0 only asks whether the process exists.
            if pid.is_some_and(|pid| unsafe { libc::kill(pid, 0) } != 0) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    base.join(format!("als-batch-test-{}", std::process::id()))
}

fn scratch(name: &str) -> PathBuf {
    let dir = root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Encodes synthetic subject `index` doing "pa" as a 320x240 H.264 MP4.
fn encode_clip(path: &Path, photo: &Photo, index: usize) {
    let subject = &subjects::cohort(CLIPS, 7)[index];
    let pipeline = gst::parse::launch(
        "appsrc name=src format=time ! videoconvert ! videoscale ! \
         video/x-raw,format=I420,width=320,height=240 ! x264enc speed-preset=fast ! mp4mux ! \
         filesink name=sink",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline
        .by_name("sink")
        .unwrap()
        .set_property("location", path.to_str().unwrap());
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let info =
        gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, WIDTH as u32, HEIGHT as u32)
            .fps(gst::Fraction::new(FPS as i32, 1))
            .build()
            .unwrap();
    src.set_caps(Some(&info.to_caps().unwrap()));
    pipeline.set_state(gst::State::Playing).unwrap();
    let duration = gst::ClockTime::SECOND / FPS as u64;
    for f in 0..FRAMES {
        let mut buffer = gst::Buffer::from_mut_slice(subject.render(photo, Task::Pa, f).unwrap());
        let b = buffer.get_mut().unwrap();
        b.set_pts(duration * f as u64);
        b.set_duration(duration);
        src.push_buffer(buffer).unwrap();
    }
    src.end_of_stream().unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("encoding ends");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
}

fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().unwrap();
        gstals::plugin_register_static().unwrap();
    });
}

/// The test clips, made once per test run.
fn clip(index: usize) -> &'static Path {
    static CLIP_PATHS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    &CLIP_PATHS.get_or_init(|| {
        init();
        let photo = Photo::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../third_party/photos/astronaut.png"
        )))
        .unwrap();
        let dir = scratch("clips");
        (0..CLIPS)
            .map(|i| {
                let path = dir.join(format!("clip{i}.mp4"));
                encode_clip(&path, &photo, i);
                path
            })
            .collect()
    })[index]
}

fn put(dir: &Path, rel: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, contents).unwrap();
    path
}

fn put_clip(dir: &Path, rel: &str, index: usize) -> PathBuf {
    put(dir, rel, &std::fs::read(clip(index)).unwrap())
}

fn command(args: &[&Path], extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_als-batch"));
    command
        .args(args)
        .args(extra)
        // A registry of the test's own: a stale user cache cannot interfere.
        .env("GST_REGISTRY", root().join("registry.bin"))
        // Never the real home's spool; the broker tests give each their own.
        .env("XDG_STATE_HOME", root().join("state"))
        .env_remove("ALS_MQTT_PASSWORD");
    command
}

fn wait(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("als-batch ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn als_batch(input: &Path, output: &Path, extra: &[&str]) -> Output {
    als_batch_with_state(&root().join("state"), input, output, extra)
}

/// `als-batch` with `XDG_STATE_HOME` (where the default spool is) set to `state`.
fn als_batch_with_state(state: &Path, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let child = command(&[input, output], extra)
        .env("XDG_STATE_HOME", state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("als-batch starts");
    let out = wait(child, Duration::from_secs(300));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn summary(path: &Path) -> HashMap<String, HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("summary readable");
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row: HashMap<String, String> = headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            (row["file"].clone(), row)
        })
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn assert_no_part_files(dir: &Path) {
    let parts: Vec<PathBuf> = files_under(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "left over: {parts:?}");
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// Frame records and the summary record of a JSON Lines file.
fn records(path: &Path) -> (usize, Option<serde_json::Value>) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let frames = lines.iter().filter(|l| l.get("frame").is_some()).count();
    (frames, lines.last().and_then(|l| l.get("summary")).cloned())
}

fn assert_good_row(row: &HashMap<String, String>) {
    let number = |key: &str| -> f64 {
        row[key]
            .parse()
            .unwrap_or_else(|_| panic!("{key} in {row:?}"))
    };
    assert_eq!(row["status"], "ok", "{row:?}");
    assert_eq!(number("frames"), FRAMES as f64, "{row:?}");
    assert!(number("frames_with_face") > 0.0, "{row:?}");
    assert!(number("frames_classified") > 0.0, "{row:?}");
    assert!(
        (number("duration_s") - FRAMES as f64 / FPS as f64).abs() < 0.05,
        "{row:?}"
    );
    let means = number("mean_p_typical") + number("mean_p_impaired");
    assert!((means - 1.0).abs() < 1e-3, "{row:?}");
    assert!(
        ["typical", "impaired"].contains(&row["label"].as_str()),
        "{row:?}"
    );
}

#[test]
fn good_videos_are_summarised_broken_ones_reported_and_resume_skips_the_done() {
    let dir = scratch("mixed");
    let (input, output) = (dir.join("in"), dir.join("out"));
    put_clip(&input, "a clip.mp4", 0);
    put_clip(&input, "sub/b.mp4", 1);
    // Random bytes, nothing, the first half of an MP4 (its index is at the end), not a video.
    let mut state = 12345u64;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect();
    put(&input, "broken.mp4", &noise);
    put(&input, "empty.mkv", b"");
    let whole = std::fs::read(clip(2)).unwrap();
    put(&input, "sub/truncated.mp4", &whole[..whole.len() / 2]);
    put(&input, "notes.txt", b"not a video");

    let out = als_batch(&input, &output, &["--jobs", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let rows = summary(&output.join("summary.csv"));
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(!rows.contains_key("notes.txt"));
    for bad in ["broken.mp4", "empty.mkv", "sub/truncated.mp4"] {
        assert!(
            rows[bad]["status"].starts_with("error: "),
            "{bad}: {:?}",
            rows[bad]
        );
        assert!(rows[bad]["frames"].is_empty());
        assert!(stderr(&out).contains(bad), "{}", stderr(&out));
    }
    for (file, jsonl) in [("a clip.mp4", "a clip.jsonl"), ("sub/b.mp4", "sub/b.jsonl")] {
        assert_good_row(&rows[file]);
        let (frames, summary) = records(&output.join(jsonl));
        assert_eq!(frames, FRAMES, "{jsonl}");
        let summary = summary.expect("alsclassify's summary is the last line");
        assert_eq!(summary["model"], "als-synthetic-demo");
    }
    let outputs = files_under(&output);
    assert_eq!(
        outputs.len(),
        3,
        "two JSON Lines and the summary: {outputs:?}"
    );
    assert_no_part_files(&output);

    let before: Vec<SystemTime> = ["a clip.jsonl", "sub/b.jsonl"]
        .iter()
        .map(|f| mtime(&output.join(f)))
        .collect();
    let again = als_batch(&input, &output, &["--resume"]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("2 videos already done"),
        "{}",
        stderr(&again)
    );
    let after: Vec<SystemTime> = ["a clip.jsonl", "sub/b.jsonl"]
        .iter()
        .map(|f| mtime(&output.join(f)))
        .collect();
    assert_eq!(before, after, "resumed videos are not processed again");
    let resumed = summary(&output.join("summary.csv"));
    assert_eq!(resumed.len(), 5);
    assert_eq!(resumed["a clip.mp4"], rows["a clip.mp4"]);
    assert_eq!(resumed["sub/b.mp4"], rows["sub/b.mp4"]);
    assert!(resumed["broken.mp4"]["status"].starts_with("error: "));
    assert_no_part_files(&output);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_input_empty_input_and_unwritable_output_fail_clearly() {
    let dir = scratch("bad-args");
    let missing = dir.join("no such folder");
    let out = als_batch(&missing, &dir.join("out"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );

    let no_videos = dir.join("texts");
    put(&no_videos, "notes.txt", b"text");
    let out = als_batch(&no_videos, &dir.join("out"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no video under"), "{}", stderr(&out));

    let input = dir.join("in");
    put(&input, "x.mp4", b"not a video");
    let file = put(&dir, "a-file", b"");
    let under_file = file.join("out");
    let out = als_batch(&input, &under_file, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&under_file.display().to_string()),
        "{}",
        stderr(&out)
    );

    let out = als_batch(
        &input,
        &dir.join("out"),
        &["--model", "/nonexistent/m.onnx"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/m.onnx does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("out").join("x.jsonl").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_shard_processes_every_nth_video_only() {
    let dir = scratch("shard");
    let (input, output) = (dir.join("in"), dir.join("out"));
    put(&input, "a.mp4", b"");
    put(&input, "b.mp4", b"not a video");
    put(&input, "c.mp4", b"");
    let csv = dir.join("part-1.csv");
    let out = als_batch(
        &input,
        &output,
        &["--shard", "1/2", "--summary", csv.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let rows = summary(&csv);
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["b.mp4"]);
    assert!(!output.join("summary.csv").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Counts the frames a decodebin reads from `path`.
fn decoded_frames(path: &Path) -> u64 {
    let pipeline = gst::parse::launch("filesrc name=src ! decodebin ! fakesink name=sink")
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    pipeline
        .by_name("src")
        .unwrap()
        .set_property("location", path.to_str().unwrap());
    let count = std::sync::Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    pipeline
        .by_name("sink")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("decoding ends");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    count.load(Ordering::Relaxed)
}

#[test]
fn annotate_writes_an_mp4_with_every_frame() {
    init();
    assert!(
        gst::ElementFactory::find("alsoverlay").is_some(),
        "this build of gst-als has no alsoverlay element"
    );
    let dir = scratch("annotate");
    let (input, output) = (dir.join("in"), dir.join("out"));
    put_clip(&input, "face.mp4", 3);
    let out = als_batch(&input, &output, &["--annotate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_good_row(&summary(&output.join("summary.csv"))["face.mp4"]);
    assert_eq!(decoded_frames(&output.join("face.mp4")), FRAMES as u64);
    assert_eq!(records(&output.join("face.jsonl")).0, FRAMES);
    assert_no_part_files(&output);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_finishes_the_video_in_progress_and_resume_does_the_rest() {
    let dir = scratch("ctrl-c");
    let (input, output) = (dir.join("in"), dir.join("out"));
    for i in 0..CLIPS {
        put_clip(&input, &format!("v{i}.mp4"), i);
    }
    let csv = output.join("summary.csv");
    let child = command(&[&input, &output], &["--jobs", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first video is in the summary.
    let start = Instant::now();
    while !csv.exists() || summary(&csv).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(240), "no video done");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = wait(child, Duration::from_secs(240));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let rows = summary(&csv);
    assert!(
        !rows.is_empty() && rows.len() < CLIPS,
        "interrupted after the first video: {rows:?}"
    );
    for row in rows.values() {
        assert_good_row(row);
    }
    assert_no_part_files(&output);
    let jsonl = files_under(&output)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .count();
    assert_eq!(jsonl, rows.len(), "one output per row, none for the rest");

    let out = als_batch(&input, &output, &["--resume"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = summary(&csv);
    assert_eq!(all.len(), CLIPS);
    for row in all.values() {
        assert_good_row(row);
    }
    for (file, row) in &rows {
        assert_eq!(&all[file], row);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_ctrl_c_stops_the_videos_in_progress_and_deletes_their_outputs() {
    let dir = scratch("ctrl-c-twice");
    let (input, output) = (dir.join("in"), dir.join("out"));
    for i in 0..2 {
        put_clip(&input, &format!("v{i}.mp4"), i);
    }
    let child = command(&[&input, &output], &["--jobs", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt twice as soon as a video is being written.
    let start = Instant::now();
    while !output.is_dir()
        || !files_under(&output)
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".jsonl.part"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "nothing started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The second Ctrl-C only once the first was taken (the tool says so), not after a
    // guessed pause: a slow machine must not see them as one.
    let mut child = child;
    let err = child.stderr.take().expect("stderr");
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let said = said.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let mut said = said.lock().unwrap();
                said.push_str(&line);
                said.push('\n');
            }
        })
    };
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let start = Instant::now();
    while !said
        .lock()
        .unwrap()
        .contains("finishing the videos in progress")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first Ctrl-C was not taken: {}",
            said.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = wait(child, Duration::from_secs(120));
    let _ = reader.join();
    let text = said.lock().unwrap().clone();
    assert_eq!(out.status.code(), Some(130), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(text.contains("stopping the videos in progress"), "{text}");
    let rows = summary(&output.join("summary.csv"));
    assert!(
        rows.values().any(|r| r["status"] == "interrupted"),
        "{rows:?}"
    );
    for row in rows.values().filter(|r| r["status"] == "interrupted") {
        let stem = row["file"].trim_end_matches(".mp4");
        assert!(!output.join(format!("{stem}.jsonl")).exists());
    }
    assert_no_part_files(&output);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The spool folder als-batch uses by default under `state` (its `XDG_STATE_HOME`).
fn spool_dir(state: &Path) -> PathBuf {
    state.join("gst-als").join("spool")
}

/// A Mosquitto broker in `dir/broker` that lets anyone in.
fn start_broker(dir: &Path) -> mosquitto::Broker {
    let home = dir.join("broker");
    std::fs::create_dir_all(&home).unwrap();
    mosquitto::Broker::start(&home, "allow_anonymous true")
}

fn start_broker_on(dir: &Path, port: u16) -> mosquitto::Broker {
    let home = dir.join("broker");
    std::fs::create_dir_all(&home).unwrap();
    mosquitto::Broker::start_on(&home, port, "allow_anonymous true")
}

/// The records of `lines` per topic.
fn per_topic(lines: &[(String, String)]) -> HashMap<String, Vec<serde_json::Value>> {
    let mut topics: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for (topic, payload) in lines {
        let value = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("{topic}: not JSON ({e}): {payload}"));
        topics.entry(topic.clone()).or_default().push(value);
    }
    topics
}

/// The records the test is about: not the subscriber's probes (a late one can still arrive).
fn published(lines: &[(String, String)]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|(topic, _)| topic != "als/probe")
        .cloned()
        .collect()
}

/// Waits until `count` records (not probes) arrived, up to 20 s, and returns them.
fn wait_for_records(subscriber: &mosquitto::Subscriber, count: usize) -> Vec<(String, String)> {
    published(&subscriber.wait_for(|lines| published(lines).len() >= count))
}

/// Every record of each stream arrived exactly once: its frames 0..FRAMES and one summary.
fn assert_every_record_once(lines: &[(String, String)], streams: &[&str]) {
    let topics = per_topic(lines);
    let counts: HashMap<&String, usize> = topics.iter().map(|(t, r)| (t, r.len())).collect();
    assert_eq!(lines.len(), streams.len() * (FRAMES + 1), "{counts:?}");
    for stream in streams {
        let frames = topics
            .get(&format!("als/{stream}/frames"))
            .unwrap_or_else(|| panic!("no frames of {stream}: {counts:?}"));
        let mut numbers: Vec<u64> = frames
            .iter()
            .map(|f| f["frame"].as_u64().expect("a frame number"))
            .collect();
        numbers.sort();
        assert_eq!(numbers, (0..FRAMES as u64).collect::<Vec<_>>(), "{stream}");
        assert!(frames.iter().all(|f| f["stream"] == *stream), "{stream}");
        let summaries = topics
            .get(&format!("als/{stream}/summary"))
            .unwrap_or_else(|| panic!("no summary of {stream}: {counts:?}"));
        assert_eq!(summaries.len(), 1, "{stream}");
        assert_eq!(summaries[0]["stream"], *stream);
    }
}

fn number(row: &HashMap<String, String>, key: &str) -> u64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {row:?}"))
}

#[test]
fn with_a_broker_each_video_is_published_as_its_own_stream() {
    let dir = scratch("broker");
    let (input, output, state) = (dir.join("in"), dir.join("out"), dir.join("state"));
    put_clip(&input, "ward 1/cam.mp4", 0);
    put_clip(&input, "b.mp4", 1);
    let broker = start_broker(&dir);
    let subscriber = mosquitto::Subscriber::start(broker.port, &[]);
    let out = als_batch_with_state(&state, &input, &output, &["--broker", &broker.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let streams = ["ward_1_cam.mp4", "b.mp4"];
    let lines = wait_for_records(&subscriber, streams.len() * (FRAMES + 1));
    assert_every_record_once(&lines, &streams);
    // The summary says every record was published and none waits.
    let rows = summary(&output.join("summary.csv"));
    for file in ["ward 1/cam.mp4", "b.mp4"] {
        assert_good_row(&rows[file]);
        assert_eq!(number(&rows[file], "mqtt_published"), FRAMES as u64 + 1);
        assert_eq!(number(&rows[file], "mqtt_waiting"), 0);
    }
    // The file records name their stream too.
    let text = std::fs::read_to_string(output.join("b.jsonl")).expect("jsonl written");
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("lines")).expect("JSON");
    assert_eq!(last["stream"], "b.mp4");
    // The spool went to the default place under XDG_STATE_HOME, private, and is empty.
    let spools = spool_dir(&state);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&spools).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    assert!(
        gstals::publish::spool::spooled(&spools).unwrap().is_empty(),
        "nothing waits"
    );
    broker.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_wait_on_disk_while_the_broker_is_down_and_a_later_run_sends_them() {
    let dir = scratch("broker-down");
    let (input, output, state) = (dir.join("in"), dir.join("out"), dir.join("state"));
    put_clip(&input, "ward 1/cam.mp4", 0);
    put_clip(&input, "b.mp4", 1);
    // Nothing listens on the port yet.
    let port = mosquitto::free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let started = Instant::now();
    let out = als_batch_with_state(&state, &input, &output, &["--broker", &url, "--jobs", "2"]);
    // The videos are done: their records are safe in the spool, and the CSV says so.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unreachable"),
        "the publisher's warnings are shown: {}",
        stderr(&out)
    );
    let rows = summary(&output.join("summary.csv"));
    for file in ["ward 1/cam.mp4", "b.mp4"] {
        assert_good_row(&rows[file]);
        assert_eq!(number(&rows[file], "mqtt_published"), 0);
        assert_eq!(number(&rows[file], "mqtt_waiting"), FRAMES as u64 + 1);
    }
    assert_eq!(
        gstals::publish::spool::spooled(&spool_dir(&state))
            .unwrap()
            .len(),
        2,
        "one spool per video"
    );
    eprintln!("first run (broker down): {:?}", started.elapsed());

    // The broker is back; the next run skips every video and still sends what waits.
    let broker = start_broker_on(&dir, port);
    let subscriber = mosquitto::Subscriber::start(port, &[]);
    let again = als_batch_with_state(
        &state,
        &input,
        &output,
        &["--broker", &url, "--resume", "--jobs", "2"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("2 videos already done"),
        "{}",
        stderr(&again)
    );
    let streams = ["ward_1_cam.mp4", "b.mp4"];
    let lines = wait_for_records(&subscriber, streams.len() * (FRAMES + 1));
    assert_every_record_once(&lines, &streams);
    assert!(
        gstals::publish::spool::spooled(&spool_dir(&state))
            .unwrap()
            .is_empty(),
        "nothing waits any more"
    );
    // The kept rows now say so too.
    let resumed = summary(&output.join("summary.csv"));
    for file in ["ward 1/cam.mp4", "b.mp4"] {
        assert_good_row(&resumed[file]);
        assert_eq!(number(&resumed[file], "mqtt_published"), FRAMES as u64 + 1);
        assert_eq!(number(&resumed[file], "mqtt_waiting"), 0);
    }
    broker.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_jobs_with_one_client_id_publish_every_record_without_disconnects() {
    let dir = scratch("broker-jobs");
    let (input, output, state) = (dir.join("in"), dir.join("out"), dir.join("state"));
    put_clip(&input, "a.mp4", 2);
    put_clip(&input, "b.mp4", 3);
    let broker = start_broker(&dir);
    let subscriber = mosquitto::Subscriber::start(broker.port, &[]);
    let out = als_batch_with_state(
        &state,
        &input,
        &output,
        &[
            "--broker",
            &broker.url(),
            "--jobs",
            "2",
            "--mqtt-client-id",
            "X",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A client taken over by one with the same id would say "unreachable" and resend.
    for word in ["unreachable", "refused", "spool"] {
        assert!(!stderr(&out).contains(word), "{word}: {}", stderr(&out));
    }
    let streams = ["a.mp4", "b.mp4"];
    let lines = wait_for_records(&subscriber, streams.len() * (FRAMES + 1));
    assert_every_record_once(&lines, &streams);
    let rows = summary(&output.join("summary.csv"));
    for file in streams {
        assert_good_row(&rows[file]);
        assert_eq!(number(&rows[file], "mqtt_published"), FRAMES as u64 + 1);
        assert_eq!(number(&rows[file], "mqtt_waiting"), 0);
    }
    broker.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_broker_fails_before_any_video() {
    let dir = scratch("bad-broker");
    let (input, output, state) = (dir.join("in"), dir.join("out"), dir.join("state"));
    put_clip(&input, "v.mp4", 0);
    let not_a_dir = put(&dir, "a-file", b"");
    let spool_under_file = not_a_dir.join("spool");
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["--broker", "http://127.0.0.1:1883"], "mqtt://host"),
        (vec!["--broker", "mqtt://127.0.0.1:port"], "not a number"),
        (vec!["--broker", "mqtts://127.0.0.1:8883"], "--mqtt-ca-file"),
        (
            vec![
                "--broker",
                "mqtts://127.0.0.1:8883",
                "--mqtt-ca-file",
                "/nonexistent/ca.pem",
            ],
            "/nonexistent/ca.pem",
        ),
        (
            vec![
                "--broker",
                "mqtt://127.0.0.1:1883",
                "--mqtt-spool-dir",
                spool_under_file.to_str().unwrap(),
            ],
            "spool folder",
        ),
    ];
    for (args, says) in cases {
        let started = Instant::now();
        let out = als_batch_with_state(&state, &input, &output, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{args:?} took {:?}",
            started.elapsed()
        );
        let written: Vec<PathBuf> = if output.exists() {
            files_under(&output)
        } else {
            Vec::new()
        };
        assert!(written.is_empty(), "{args:?}: {written:?}");
    }
    // A password in the address is never repeated.
    let out = als_batch_with_state(
        &state,
        &input,
        &output,
        &["--broker", "mqtt://nurse:s3cret-pw@127.0.0.1:port"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cret-pw"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inputs_that_would_share_an_output_name_get_their_own() {
    let dir = scratch("collide");
    let (input, output) = (dir.join("in"), dir.join("out"));
    // a.mp4 and a.mkv keep their extension; a.mp4.mkv would then take a.mp4's name.
    let names = ["a.mp4", "a.mkv", "a.mp4.mkv"];
    for (i, name) in names.iter().enumerate() {
        put_clip(&input, name, i);
    }
    let out = als_batch(&input, &output, &["--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = summary(&output.join("summary.csv"));
    for name in names {
        assert_good_row(&rows[name]);
        // Each output holds its own video's records (alsexport names the stream).
        let jsonl = output.join(format!("{name}.jsonl"));
        let (frames, _) = records(&jsonl);
        assert_eq!(frames, FRAMES, "{name}");
        let text = std::fs::read_to_string(&jsonl).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["stream"], name, "{}", jsonl.display());
    }
    let jsonl: Vec<PathBuf> = files_under(&output)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(jsonl.len(), names.len(), "{jsonl:?}");
    // The same names on the next run: --resume finds every output.
    let again = als_batch(&input, &output, &["--resume"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("3 videos already done"),
        "{}",
        stderr(&again)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_the_spool_drops_make_the_video_fail_and_say_so() {
    let dir = scratch("spool-full");
    let (input, output, state) = (dir.join("in"), dir.join("out"), dir.join("state"));
    put_clip(&input, "v.mp4", 0);
    // No broker, and a spool too small for the video's records: the oldest are dropped.
    let url = format!("mqtt://127.0.0.1:{}", mosquitto::free_port());
    let out = als_batch_with_state(
        &state,
        &input,
        &output,
        &["--broker", &url, "--mqtt-spool-max-bytes", "4096"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let rows = summary(&output.join("summary.csv"));
    let row = &rows["v.mp4"];
    assert!(
        row["status"].starts_with("error: ") && row["status"].contains("dropped"),
        "{row:?}"
    );
    assert!(stderr(&out).contains("dropped"), "{}", stderr(&out));
    // The file output is complete and kept; --resume processes the video again.
    assert_eq!(number(row, "frames"), FRAMES as u64);
    assert_eq!(records(&output.join("v.jsonl")).0, FRAMES);
    assert!(number(row, "mqtt_waiting") < FRAMES as u64 + 1, "{row:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What `scripts/make-archive-corpus.sh` makes: every format the suite holds archives to.
const ARCHIVE_FORMATS: [&str; 9] = [
    "asp.avi",
    "hevc.mp4",
    "interlaced.mkv",
    "mjpeg.avi",
    "mpeg1.mpg",
    "mpeg2.ts",
    "prores.mov",
    "rotated.mp4",
    "vp9.webm",
];

#[test]
fn every_archive_format_is_analysed_frame_for_frame_and_annotated() {
    init();
    let dir = scratch("archive-formats");
    let photo = Photo::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../third_party/photos/astronaut.png"
    )))
    .unwrap();
    let subject = &subjects::cohort(CLIPS, 7)[0];
    let raw = dir.join("face.rgb");
    let frames: Vec<u8> = (0..FRAMES)
        .flat_map(|f| subject.render(&photo, Task::Pa, f).unwrap())
        .collect();
    std::fs::write(&raw, frames).unwrap();
    let (input, output) = (dir.join("in"), dir.join("out"));
    let status = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/make-archive-corpus.sh"
    ))
    .arg(&raw)
    .arg(format!("{WIDTH}x{HEIGHT}"))
    .arg(&input)
    .status()
    .unwrap();
    assert!(status.success(), "make-archive-corpus.sh failed");
    std::fs::remove_file(&raw).unwrap();

    let out = als_batch(&input, &output, &["--annotate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = summary(&output.join("summary.csv"));
    assert_eq!(rows.len(), ARCHIVE_FORMATS.len(), "{rows:?}");
    for name in ARCHIVE_FORMATS {
        let row = &rows[name];
        assert_eq!(row["status"], "ok", "{name}: {row:?}");
        assert_eq!(number(row, "frames"), FRAMES as u64, "{name}: {row:?}");
        assert!(
            number(row, "frames_with_face") >= FRAMES as u64 - 2,
            "{name}: {row:?}"
        );
        let stem = name.split('.').next().unwrap();
        // Analysed as a player shows it: the sideways phone recording upright.
        let text = std::fs::read_to_string(output.join(format!("{stem}.jsonl"))).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            (first["width"].as_u64(), first["height"].as_u64()),
            (Some(WIDTH as u64), Some(HEIGHT as u64)),
            "{name}"
        );
        assert_eq!(
            decoded_frames(&output.join(format!("{stem}.mp4"))),
            FRAMES as u64,
            "{name}: frames in the annotated MP4"
        );
    }
    assert_no_part_files(&output);
    let _ = std::fs::remove_dir_all(&dir);
}
