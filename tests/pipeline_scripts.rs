// SPDX-License-Identifier: MPL-2.0

//! The launch lines of `pipelines/` as a user runs them: file -> annotated MP4 + JSON Lines,
//! and camera -> display + recording with the camera swapped for a live test source.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use gst::prelude::*;

fn script(name: &str, args: &[&Path], envs: &[(&str, &str)]) -> Output {
    common::build_plugin();
    let plugin_dir = common::target_dir();
    let mut command = Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pipelines")
            .join(name),
    );
    command
        .args(args)
        .env("GST_ALS_PLUGIN_DIR", &plugin_dir)
        .env_remove("GST_REGISTRY");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("script runs")
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Decoded RGB frames of a video file, with the caps its H.264 stream was muxed with.
fn decode(path: &Path) -> (Vec<Vec<u8>>, Option<gst::Caps>) {
    common::init();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! qtdemux ! h264parse name=parse ! avdec_h264 ! videoconvert \
         ! video/x-raw,format=RGB ! appsink name=out sync=false",
        path.display()
    ))
    .expect("decoder parses");
    let sink = common::appsink(&pipeline);
    pipeline.set_state(gst::State::Playing).expect("plays");
    let mut frames = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().expect("buffer");
        frames.push(buffer.map_readable().expect("readable").to_vec());
    }
    let caps = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("parse"))
        .and_then(|p| p.static_pad("src"))
        .and_then(|p| p.current_caps());
    let _ = pipeline.set_state(gst::State::Null);
    (frames, caps)
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("JSON Lines written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect()
}

#[test]
fn file_to_annotated_mp4_draws_on_every_frame_and_writes_json_lines() {
    common::init();
    let dir = common::scratch_dir("file-to-annotated");
    let input = dir.join("face.mp4");
    common::face_mp4(&input, 30, true);
    let (mp4, lines) = (dir.join("annotated.mp4"), dir.join("out.jsonl"));
    let output = script("file-to-annotated-mp4.sh", &[&input, &mp4, &lines], &[]);
    assert!(output.status.success(), "{}", describe(&output));

    let (original, _) = decode(&input);
    let (annotated, caps) = decode(&mp4);
    assert!(original.len() >= 29, "{} frames decoded", original.len());
    assert_eq!(annotated.len(), original.len(), "every frame is in the MP4");
    let caps = caps.expect("H.264 caps");
    let s = caps.structure(0).expect("structure");
    assert_eq!(s.get::<&str>("profile").ok(), Some("main"), "{caps}");
    // Overlay strokes differ from the picture by far more than the encoder's noise does.
    for (i, (a, o)) in annotated.iter().zip(&original).enumerate() {
        let strong = a
            .iter()
            .zip(o)
            .filter(|(a, o)| a.abs_diff(**o) > 60)
            .count();
        assert!(strong > 500, "frame {i}: {strong} strongly changed bytes");
    }

    let records = jsonl(&lines);
    let n = original.len();
    assert_eq!(records.len(), n + 1, "every frame and the summary");
    assert!(records[..n].iter().all(|r| r["faces"][0]["id"] == 1));
    assert!(records[n - 1]["classification"]["faces"][0]["probabilities"].is_array());
    assert!(records[n]["summary"]["synthetic"] == true);
}

#[test]
fn camera_line_records_every_frame_of_a_live_source() {
    let dir = common::scratch_dir("camera-line");
    let (mp4, lines) = (dir.join("camera.mp4"), dir.join("camera.jsonl"));
    let output = script(
        "camera-to-display-and-mp4.sh",
        &[&mp4, &lines],
        &[
            (
                "ALS_CAMERA_SOURCE",
                "videotestsrc is-live=true num-buffers=20 pattern=ball \
                 ! video/x-raw,width=320,height=240,framerate=30/1",
            ),
            ("ALS_DISPLAY_SINK", "fakesink"),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let (frames, _) = decode(&mp4);
    assert_eq!(frames.len(), 20, "every frame recorded");
    let records = jsonl(&lines);
    assert_eq!(records.len(), 21, "20 frames and the summary");
    assert!(records[20]["summary"].is_object());
}

#[test]
fn bad_input_and_a_missing_plugin_give_a_message_and_a_failure() {
    common::init();
    let dir = common::scratch_dir("script-errors");
    let missing = dir.join("missing.mp4");
    let output = script(
        "file-to-annotated-mp4.sh",
        &[&missing, &dir.join("a.mp4"), &dir.join("a.jsonl")],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read"),
        "{}",
        describe(&output)
    );

    let input = dir.join("face.mp4");
    common::face_mp4(&input, 5, true);
    let unwritable = dir.join("no-such-folder").join("a.mp4");
    let output = script(
        "file-to-annotated-mp4.sh",
        &[&input, &unwritable, &dir.join("a.jsonl")],
        &[],
    );
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no-such-folder") && !stderr.contains("panicked"),
        "{stderr}"
    );

    let output = script(
        "file-to-annotated-mp4.sh",
        &[&input, &dir.join("b.mp4"), &dir.join("b.jsonl")],
        &[
            ("GST_ALS_PLUGIN_DIR", "/nonexistent"),
            ("GST_PLUGIN_PATH", ""),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no element \"alsmesh\"") && stderr.contains("meson"),
        "{stderr}"
    );
}
