// SPDX-License-Identifier: MPL-2.0

//! Throughput of `alsmesh` at 640x480 on the synthetic face clip (tracking: the detector runs
//! once), with one and two ONNX Runtime threads, beside decoding alone in the same run.
//!
//! `cargo bench --bench alsmesh` after scripts/fetch-onnxruntime.sh, build-models.sh and
//! fetch-face-photo.sh.

mod common;

use std::path::{Path, PathBuf};

use als_synthetic::{Photo, Scenario, render};
use common::run;

const LOOPS: usize = 4;

/// The face clip played `LOOPS` times, as raw RGB frames in one file.
fn make_raw_clip(dir: &Path) -> (PathBuf, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let photo = Photo::load(&root.join("third_party/photos/astronaut.png"))
        .expect("run scripts/fetch-face-photo.sh first");
    let (_, _, n) = Scenario::Face.geometry();
    let path = dir.join("face-bench.rgb");
    let mut data = Vec::new();
    for _ in 0..LOOPS {
        for i in 0..n {
            data.extend(render(&photo, Scenario::Face, i).expect("frame"));
        }
    }
    std::fs::write(&path, data).expect("clip written");
    (path, n * LOOPS)
}

fn main() {
    gst::init().expect("GStreamer");
    gstals::plugin_register_static().expect("plugin");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (raw, frames) = make_raw_clip(&dir);
    let mp4 = dir.join("face-bench.mp4");
    let raw_src = format!(
        "filesrc location={} ! rawvideoparse format=rgb width=640 height=480 framerate=30/1",
        raw.display()
    );
    run(&format!(
        "{raw_src} ! videoconvert ! x264enc speed-preset=fast ! mp4mux ! filesink location={}",
        mp4.display()
    ));
    let decoded = format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=RGB",
        mp4.display()
    );

    let fps = |secs: f64| frames as f64 / secs;
    let decode = fps(run(&format!("{decoded} ! fakesink")));
    let raw_read = fps(run(&format!("{raw_src} ! fakesink")));
    println!(
        "{frames} frames of 640x480, {} CPUs",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!("{:<44} {:>9} {:>10}", "case", "fps", "x decode");
    println!(
        "{:<44} {:>9.1} {:>10.3}",
        "H.264 decode + convert (baseline)", decode, 1.0
    );
    println!(
        "{:<44} {:>9.1} {:>10.3}",
        "raw RGB read (baseline)",
        raw_read,
        raw_read / decode
    );
    let queued = fps(run(&format!(
        "{decoded} ! queue ! alsmesh threads=1 ! fakesink"
    )));
    println!(
        "{:<44} {:>9.1} {:>10.3}",
        "decode ! queue ! alsmesh threads=1",
        queued,
        queued / decode
    );
    for threads in [1, 2] {
        let with_decode = fps(run(&format!(
            "{decoded} ! alsmesh threads={threads} ! fakesink"
        )));
        let alone = fps(run(&format!(
            "{raw_src} ! alsmesh threads={threads} ! fakesink"
        )));
        println!(
            "{:<44} {:>9.1} {:>10.3}",
            format!("decode + alsmesh threads={threads}"),
            with_decode,
            with_decode / decode
        );
        println!(
            "{:<44} {:>9.1} {:>10.3}",
            format!("raw RGB + alsmesh threads={threads}"),
            alone,
            alone / decode
        );
    }
}
