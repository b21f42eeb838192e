// SPDX-License-Identifier: MPL-2.0

//! The robustness corpus: bad files, caps and format changes, event storms, state cycles and
//! foreign metas, all generated here. Each case asserts that nothing panics or hangs, that an
//! error names its cause, and that every JSON Lines file is valid line by line.

mod common;

use std::path::Path;
use std::time::Duration;

use als_synthetic::Scenario;
use common::{face_clip, init, packed_buffer, scratch_dir, video_caps};
use gst::prelude::*;
use gst_video::VideoFormat;
use gstals::meta::{FACE_META, FLOW_META, FaceMeta, FlowMeta, f32_bytes};

/// The README's face chain, exporting to `out`.
fn face_chain(out: &Path) -> String {
    format!(
        "videoconvert ! queue ! alsmesh ! queue ! alsflow region=face ! \
         alsexport location={} flow-grid=true",
        out.display()
    )
}

/// Every line of `path` is one JSON object; returns how many there are.
fn valid_json_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for (i, line) in text.lines().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}: line {i} is not JSON ({e}): {line}", path.display()));
        assert!(value.is_object(), "line {i}");
    }
    assert!(text.is_empty() || text.ends_with('\n'), "no cut line");
    text.lines().count()
}

/// An error message with its debug text, where GStreamer puts the reason of a stopped stream.
#[derive(Debug)]
struct Failure {
    error: glib::Error,
    text: String,
    /// The name of the element that posted it.
    source: String,
}

/// Plays `pipeline` until EOS or an error (returned), failing after `limit`.
fn run(pipeline: &gst::Element, limit: Duration) -> Option<Failure> {
    let _ = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().expect("bus");
    let mut result = None;
    let mut ended = false;
    for msg in bus.iter_timed(gst::ClockTime::from_nseconds(limit.as_nanos() as u64)) {
        match msg.view() {
            gst::MessageView::Eos(_) => {
                ended = true;
                break;
            }
            gst::MessageView::Error(err) => {
                let text = format!("{} ({})", err.error(), err.debug().unwrap_or_default());
                result = Some(Failure {
                    error: err.error(),
                    text,
                    source: err.src().map(|s| s.name().to_string()).unwrap_or_default(),
                });
                ended = true;
                break;
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    assert!(
        ended,
        "the pipeline neither ended nor failed within {limit:?}"
    );
    result
}

#[test]
fn bad_files_are_clear_errors_and_leave_valid_json_lines() {
    init();
    let dir = scratch_dir("robust_files");
    let empty = dir.join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let random = dir.join("random.mp4");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    std::fs::write(&random, noise).unwrap();
    // What the demuxer itself says of each (not GStreamer's generic "Internal data stream
    // error", which any element upstream of a failure posts).
    let mut cases = vec![
        (empty, false, Some("no playable streams")),
        (random, false, Some("invalid")),
    ];
    for faststart in [true, false] {
        let whole = dir.join(format!("whole-{faststart}.mp4"));
        common::face_mp4(&whole, 30, faststart);
        let bytes = std::fs::read(&whole).unwrap();
        let half = dir.join(format!("half-{faststart}.mp4"));
        std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
        // With the index first, the first half still decodes.
        // Without the index, nothing is playable.
        let says = (!faststart).then_some("no playable streams");
        cases.push((half, faststart, says));
    }
    for (file, decodes_some, says) in cases {
        let out = file.with_extension("jsonl");
        // qtdemux itself, not decodebin: decodebin and parsebin (GStreamer 1.22) hold back the
        // errors of an element they are still bringing up, and qtdemux's "no playable
        // streams" for the file cut before its index sometimes comes just then: the error is
        // dropped and the pipeline waits for ever (about once in ten runs here).
        let pipeline = gst::parse::launch(&format!(
            "filesrc location={} ! qtdemux ! h264parse ! avdec_h264 ! {} ! fakesink",
            file.display(),
            face_chain(&out)
        ))
        .unwrap();
        let err = run(&pipeline, Duration::from_secs(60));
        let lines = valid_json_lines(&out);
        if decodes_some {
            assert!(lines > 0, "{}: {err:?}", file.display());
        } else {
            let err = err.unwrap_or_else(|| panic!("{}: no error", file.display()));
            let says = says.expect("a failing case says what it expects");
            assert!(
                err.source.starts_with("qtdemux")
                    && err.error.message().contains(says)
                    && !err.error.matches(gst::StreamError::Failed),
                "{}: the demuxer's own error, saying {says:?}: {} from {}",
                file.display(),
                err.text,
                err.source
            );
            assert_eq!(lines, 0);
        }
    }
}

/// Pushes `frames` (caps, packed data) through `appsrc ! {elements} ! fakesink`.
fn push_samples(elements: &str, frames: &[(gst::Caps, gst::Buffer)]) -> Option<Failure> {
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time ! {elements} ! fakesink"
    ))
    .unwrap();
    let src = common::appsrc(&pipeline);
    for (i, (caps, buffer)) in frames.iter().enumerate() {
        let mut buffer = buffer.clone();
        buffer
            .make_mut()
            .set_pts(gst::ClockTime::SECOND.mul_div_floor(i as u64, 30));
        let sample = gst::Sample::builder().caps(caps).buffer(&buffer).build();
        let _ = src.push_sample(&sample);
    }
    let _ = src.end_of_stream();
    run(&pipeline, Duration::from_secs(90))
}

fn frame_of(format: VideoFormat, w: u32, h: u32, shift: f32) -> (gst::Caps, gst::Buffer) {
    let luma = common::texture(w as usize, h as usize, shift, 0.0);
    (
        video_caps(format, w, h),
        common::frame_buffer(&luma, format, w, h),
    )
}

#[test]
fn resolution_and_format_changes_every_few_frames() {
    init();
    let dir = scratch_dir("robust_caps");
    let (fw, fh, faces) = face_clip(Scenario::Face);
    let mut frames = Vec::new();
    for (round, (w, h)) in [(1u32, 1u32), (2, 2), (641, 479), (3840, 2160), (fw, fh)]
        .into_iter()
        .enumerate()
    {
        for i in 0..3 {
            let format = [VideoFormat::Rgb, VideoFormat::Bgrx, VideoFormat::Xrgb][(round + i) % 3];
            frames.push(frame_of(format, w, h, i as f32));
        }
    }
    for face in faces.iter().take(3) {
        frames.push((
            video_caps(VideoFormat::Rgb, fw, fh),
            packed_buffer(face, VideoFormat::Rgb, fw, fh),
        ));
    }
    let out = dir.join("faces.jsonl");
    let err = push_samples(&face_chain(&out), &frames);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(valid_json_lines(&out), frames.len());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[9]["width"], 3840);
    assert_eq!(
        lines.last().unwrap()["faces"].as_array().map(Vec::len),
        Some(1)
    );

    // YUV and RGB in turn through the whole-frame flow.
    let mut mixed = Vec::new();
    for (i, format) in [
        VideoFormat::I420,
        VideoFormat::Rgb,
        VideoFormat::Nv12,
        VideoFormat::Gray8,
        VideoFormat::Bgra,
    ]
    .into_iter()
    .enumerate()
    {
        mixed.push(frame_of(format, 64, 48, i as f32));
        mixed.push(frame_of(format, 64, 48, i as f32 + 1.0));
    }
    let out = dir.join("flow.jsonl");
    let chain = format!("alsflow threads=2 ! alsexport location={}", out.display());
    let err = push_samples(&chain, &mixed);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(valid_json_lines(&out), mixed.len());
}

#[test]
fn gray_into_alsmesh_is_a_negotiation_error() {
    init();
    // Caught when the launch line links...
    let err = gst::parse::launch(
        "videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=64,height=48 ! alsmesh ! \
         fakesink",
    )
    .unwrap_err();
    assert!(err.to_string().contains("can't handle caps"), "{err}");
    // ...and when the caps only arrive with the stream.
    let frames = vec![frame_of(VideoFormat::Gray8, 64, 48, 0.0)];
    let err = push_samples("alsmesh", &frames).expect("an error");
    assert!(err.text.contains("not-negotiated"), "{}", err.text);
    assert!(err.error.matches(gst::StreamError::Failed), "{}", err.text);
}

#[test]
fn flushing_seeks_while_playing_and_eos_right_after_start() {
    init();
    let dir = scratch_dir("robust_seeks");
    let clip = dir.join("clip.mp4");
    common::face_mp4(&clip, 60, true);
    let out = dir.join("seeks.jsonl");
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! {} ! fakesink sync=false",
        clip.display(),
        face_chain(&out)
    ))
    .unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    let bus = pipeline.bus().unwrap();
    bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::AsyncDone],
    )
    .expect("prerolls");
    pipeline.set_state(gst::State::Playing).unwrap();
    for i in 0..100u64 {
        let position = gst::ClockTime::from_mseconds((i * 97) % 1900);
        let _ = pipeline.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, position);
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            panic!("seek {i}: {msg:?}");
        }
    }
    let err = run(&pipeline, Duration::from_secs(60));
    assert!(err.is_none(), "{err:?}");
    assert!(valid_json_lines(&out) > 0);

    // EOS before the first buffer.
    let out = dir.join("eos.jsonl");
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width=64,height=48,\
         framerate=30/1 ! {} ! fakesink",
        face_chain(&out)
    ))
    .unwrap();
    let src = common::appsrc(&pipeline);
    src.end_of_stream().unwrap();
    assert!(run(&pipeline, Duration::from_secs(30)).is_none());
    assert_eq!(valid_json_lines(&out), 0);
}

#[test]
fn gaps_and_discontinuities_keep_the_stream_going() {
    init();
    let (w, h, faces) = face_clip(Scenario::Face);
    let mut frames = Vec::new();
    for (i, face) in faces.iter().take(12).enumerate() {
        let mut b = packed_buffer(face, VideoFormat::Rgb, w, h);
        match i % 4 {
            1 => b.make_mut().set_flags(gst::BufferFlags::DISCONT),
            3 => b.make_mut().set_flags(gst::BufferFlags::GAP),
            _ => {}
        }
        frames.push((video_caps(VideoFormat::Rgb, w, h), b));
    }
    let out = scratch_dir("robust_gaps").join("gaps.jsonl");
    let err = push_samples(&face_chain(&out), &frames);
    assert!(err.is_none(), "{err:?}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    let ids: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["faces"].as_array()?.first()?["id"].as_u64())
        .collect();
    assert_eq!(ids.len(), 9, "every frame but the gaps has the face");
    assert!(
        ids.iter().all(|&id| id == ids[0]),
        "one face id throughout: {ids:?}"
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn state_cycles_and_property_changes_while_playing() {
    // The RSS is the whole process's: measured in a process of its own, so the other tests
    // of this binary (4K frames among them) cannot move it.
    const CHILD: &str = "GST_ALS_RSS_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "state_cycles_and_property_changes_while_playing",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .expect("the test binary runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{text}");
        assert!(text.contains("1 passed"), "the child ran the test: {text}");
        for line in text.lines().filter(|l| l.starts_with("RSS grew")) {
            eprintln!("{line}");
        }
        return;
    }
    init();
    let launch = "videotestsrc is-live=true pattern=ball ! \
                  video/x-raw,format=RGB,width=160,height=120,framerate=30/1 ! \
                  alsmesh name=mesh ! alsflow name=flow region=face threads=2 ! \
                  alsexport location=/dev/null ! fakesink";
    let pipeline = gst::parse::launch(launch).unwrap();
    let cycle = |pipeline: &gst::Element| {
        pipeline.set_state(gst::State::Playing).unwrap();
        let _ = pipeline.state(gst::ClockTime::from_seconds(10));
        pipeline.set_state(gst::State::Null).unwrap();
    };
    for _ in 0..10 {
        cycle(&pipeline);
    }
    let before = rss_kib();
    for _ in 0..100 {
        cycle(&pipeline);
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!("RSS grew {grown} KiB over 100 state cycles");
    assert!(grown < 40 * 1024, "RSS grew {grown} KiB over 100 cycles");

    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let flow = bin.by_name("flow").unwrap();
    let mesh = bin.by_name("mesh").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    for i in 0..40u32 {
        flow.set_property("grid-width", [0u32, 1, 7, 16384][i as usize % 4]);
        flow.set_property("region-size", 32 + (i * 37) % 480);
        flow.set_property("stabilize", i % 2 == 0);
        flow.set_property_from_str("region", ["face", "frame"][i as usize % 2]);
        mesh.set_property("inference-interval", 1 + i % 3);
        std::thread::sleep(Duration::from_millis(15));
    }
    let bus = pipeline.bus().unwrap();
    assert!(bus.pop_filtered(&[gst::MessageType::Error]).is_none());
    pipeline.set_state(gst::State::Null).unwrap();
}

/// A deterministic stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.next() as usize % from.len()]
    }
}

/// A structure of `name` with the real field names holding random, often wrong, values.
fn foreign_meta(buffer: &mut gst::BufferRef, name: &str, rng: &mut Rng) {
    let fields: &[&str] = if name == FLOW_META {
        &[
            "region",
            "region-size",
            "grid-width",
            "grid-height",
            "valid",
            "reset-reason",
            "count",
            "ids",
            "reasons",
            "rois",
            "stats",
            "grids",
        ]
    } else {
        &[
            "count",
            "fresh",
            "ids",
            "boxes",
            "scores",
            "rois",
            "landmarks-per-face",
            "landmarks",
        ]
    };
    let mut meta = gst::meta::CustomMeta::add(buffer, name).unwrap();
    let s = meta.mut_structure();
    for &field in fields {
        match rng.next() % 9 {
            0 => {}
            1 => s.set(field, rng.pick(&[0u32, 1, 2, 3, 468, u32::MAX, 1 << 31])),
            2 => s.set(field, "face"),
            3 => s.set(field, rng.pick(&[f64::NAN, -1.0, 1e300])),
            4 => s.set(field, rng.next().is_multiple_of(2)),
            5 => {
                let n = rng.pick(&[0usize, 1, 3, 5, 8, 936 * 3, 468 * 3]);
                let v = rng.pick(&[f32::NAN, f32::INFINITY, -1e30, 0.5]);
                s.set(field, f32_bytes(&vec![v; n]));
            }
            6 => s.set(
                field,
                gst::Array::new((0..rng.next() % 4).map(|i| i as u32 + 1)),
            ),
            7 => s.set(field, gst::Array::new(["", "start", "new-face"])),
            _ => s.set(field, gst::Array::new([1.5f64, f64::NAN])),
        }
    }
}

#[test]
fn foreign_metas_with_wrong_types_lengths_and_values() {
    init();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // The typed readers: an error or a value, never a panic.
    let mut read = 0;
    for _ in 0..2000 {
        let mut buffer = gst::Buffer::new();
        let b = buffer.get_mut().unwrap();
        foreign_meta(b, FLOW_META, &mut rng);
        foreign_meta(b, FACE_META, &mut rng);
        read += FlowMeta::read(&buffer).is_some_and(|r| r.is_ok()) as usize;
        read += FaceMeta::read(&buffer).is_some_and(|r| r.is_ok()) as usize;
    }
    assert!(read < 4000, "most random metas are malformed");

    // The elements, with foreign metas put in front of them by a probe.
    let out = scratch_dir("robust_metas").join("metas.jsonl");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=300 ! video/x-raw,format=RGB,width=64,height=48 ! \
         identity name=inject ! alsflow region=face threads=2 ! \
         alsexport location={} flow-grid=true ! fakesink",
        out.display()
    ))
    .unwrap();
    let inject = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("inject"))
        .unwrap();
    let rng = std::sync::Mutex::new(Rng(7));
    inject
        .static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
                let mut rng = rng.lock().unwrap();
                let b = buffer.make_mut();
                foreign_meta(b, FACE_META, &mut rng);
                if rng.next().is_multiple_of(2) {
                    foreign_meta(b, FLOW_META, &mut rng);
                }
            }
            gst::PadProbeReturn::Ok
        });
    let err = run(&pipeline, Duration::from_secs(60));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(valid_json_lines(&out), 300);
}

#[test]
fn errors_are_posted_without_holding_element_locks() {
    init();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pipeline = gst::parse::launch(
            "appsrc name=src format=time caps=video/x-raw,format=GRAY8,width=64,height=48,\
             framerate=30/1 ! alsflow name=flow threads=2 ! fakesink",
        )
        .unwrap();
        let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
        let flow = bin.by_name("flow").unwrap();
        let src = bin
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .unwrap();
        // A sync handler that calls back into the element that posted the error, as
        // applications that query latency on every message do.
        let flow_pad = flow.static_pad("src").unwrap();
        pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
            if let gst::MessageView::Error(_) = msg.view() {
                let mut q = gst::query::Latency::new();
                let _ = flow_pad.query(&mut q);
            }
            gst::BusSyncReply::Pass
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        // A buffer far smaller than its caps say.
        let _ = src.push_buffer(gst::Buffer::from_slice(vec![0u8; 10]));
        let _ = src.end_of_stream();
        let err = run(&pipeline, Duration::from_secs(20)).expect("a short frame is an error");
        let _ = done_tx.send(err.text);
    });
    let text = done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("no deadlock between the error and the sync handler");
    assert!(
        text.contains("map") || text.contains("Short frame"),
        "{text}"
    );
}
