// SPDX-License-Identifier: MPL-2.0

//! Archive formats as a batch transcode meets them: every file `scripts/make-archive-corpus.sh`
//! makes from the synthetic face clip (HEVC, VP9, MPEG-1 and -2, MJPEG, ProRes, MPEG-4 part 2
//! with B-frames, interlaced H.264, a sideways phone recording) goes through
//! `pipelines/file-to-annotated-mp4.sh`: every frame analysed, the face found upright where a
//! player shows it, and an annotated MP4 with every frame.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gst::prelude::*;

const FRAMES: usize = 30;
const CORPUS: [&str; 9] = [
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

/// The corpus, made from the face clip's first second; with the clip's frame size.
fn corpus(dir: &Path) -> (PathBuf, u32, u32) {
    let (w, h, clip) = common::face_clip(als_synthetic::Scenario::Face);
    let raw = dir.join("face.rgb");
    std::fs::write(&raw, clip[..FRAMES].concat()).expect("raw clip written");
    let out = dir.join("corpus");
    let status =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-archive-corpus.sh"))
            .arg(&raw)
            .arg(format!("{w}x{h}"))
            .arg(&out)
            .status()
            .expect("corpus script runs");
    assert!(status.success(), "make-archive-corpus.sh failed");
    let _ = std::fs::remove_file(&raw);
    let mut made: Vec<String> = std::fs::read_dir(&out)
        .expect("corpus folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    made.sort();
    assert_eq!(made, CORPUS, "the corpus script made other files");
    (out, w, h)
}

fn decoded_frames(path: &Path) -> usize {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! decodebin ! fakesink name=sink",
        path.display()
    ))
    .expect("decoder parses");
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("sink"))
        .expect("sink");
    sink.static_pad("sink")
        .expect("pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    common::run_to_eos(&pipeline);
    count.load(Ordering::Relaxed)
}

/// Per frame record: the frame's size, and the first face's box centre and whether its eyes
/// lie above its mouth.
struct Frame {
    size: (u64, u64),
    face: Option<((f64, f64), bool)>,
}

fn frames(jsonl: &Path) -> Vec<Frame> {
    let text = std::fs::read_to_string(jsonl).expect("JSON Lines written");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .filter(|r| r.get("frame").is_some())
        .map(|r| {
            let size = (
                r["width"].as_u64().expect("width"),
                r["height"].as_u64().expect("height"),
            );
            let face = r["faces"].get(0).map(|f| {
                let b: Vec<f64> = (0..4).map(|i| f["box"][i].as_f64().expect("box")).collect();
                let y = |i: usize| f["landmarks"][i][1].as_f64().expect("landmark");
                // MediaPipe's outer eye corners (33, 263) and upper lip (13).
                let upright = y(33) < y(13) && y(263) < y(13);
                ((b[0] + b[2] / 2.0, b[1] + b[3] / 2.0), upright)
            });
            Frame { size, face }
        })
        .collect()
}

/// Runs `name` through the script; checks its frames and returns its face's mean centre.
fn analyse(corpus: &Path, dir: &Path, name: &str, (w, h): (u32, u32)) -> (f64, f64) {
    let input = corpus.join(name);
    let (mp4, jsonl) = (
        dir.join(format!("{name}.mp4")),
        dir.join(format!("{name}.jsonl")),
    );
    let output = Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/file-to-annotated-mp4.sh"),
    )
    .args([&input, &mp4, &jsonl])
    .env("GST_ALS_PLUGIN_DIR", common::target_dir())
    .env_remove("GST_REGISTRY")
    .output()
    .expect("script runs");
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let frames = frames(&jsonl);
    assert_eq!(frames.len(), FRAMES, "{name}: frames analysed");
    assert!(
        frames.iter().all(|f| f.size == (w as u64, h as u64)),
        "{name}: not analysed at the {w}x{h} a player shows"
    );
    let faces: Vec<_> = frames.iter().filter_map(|f| f.face).collect();
    assert!(
        faces.len() >= FRAMES - 2,
        "{name}: a face in {} frames",
        faces.len()
    );
    assert!(
        faces.iter().all(|(_, upright)| *upright),
        "{name}: the face is not upright"
    );
    assert_eq!(
        decoded_frames(&mp4),
        FRAMES,
        "{name}: frames in the annotated MP4"
    );
    let n = faces.len() as f64;
    (
        faces.iter().map(|(c, _)| c.0).sum::<f64>() / n,
        faces.iter().map(|(c, _)| c.1).sum::<f64>() / n,
    )
}

#[test]
fn every_archive_format_is_analysed_frame_for_frame_upright_and_annotated() {
    common::init();
    common::build_plugin();
    let dir = common::scratch_dir("archive-formats");
    let (corpus, w, h) = corpus(&dir);
    // Two at a time: the suite's machines have two cores, and one script leaves one idle.
    let centres: Vec<(&str, (f64, f64))> = std::thread::scope(|scope| {
        let (corpus, dir) = (&corpus, &dir);
        let workers: Vec<_> = CORPUS
            .chunks(CORPUS.len().div_ceil(2))
            .map(|names| {
                scope.spawn(move || {
                    names
                        .iter()
                        .map(|&name| (name, analyse(corpus, dir, name, (w, h))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("no format failed"))
            .collect()
    });
    // The same face in the same place, whatever the format.
    let (_, reference) = centres[CORPUS.iter().position(|&n| n == "hevc.mp4").unwrap_or(0)];
    for (name, (x, y)) in centres {
        let off = (x - reference.0).hypot(y - reference.1);
        assert!(
            off < 0.03 * w as f64,
            "{name}: face centre ({x:.0}, {y:.0}) vs HEVC's ({:.0}, {:.0})",
            reference.0,
            reference.1
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
