// SPDX-License-Identifier: MPL-2.0

//! Throughput of `alsflow` at 640x480 against baselines measured in the same run:
//! decoding alone, and OpenCV's Farneback + cartToPolar called directly on the same frames.
//!
//! `cargo bench --bench alsflow` (set ALS_BENCH_FRAMES to change the clip length).

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::run;
use gst::prelude::*;
use gst_video::prelude::*;
use opencv::core::{Mat, Vector};

fn frames() -> u32 {
    std::env::var("ALS_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120)
}

fn make_clip(dir: &Path, n: u32) -> PathBuf {
    let path = dir.join(format!("bench-{n}.mp4"));
    if !path.exists() {
        run(&format!(
            "videotestsrc num-buffers={n} pattern=ball motion=sweep ! \
             video/x-raw,width=640,height=480,framerate=30/1 ! x264enc speed-preset=fast ! \
             mp4mux ! filesink location={}",
            path.display()
        ));
    }
    path
}

/// The clip's frames as 8-bit gray, decoded once.
fn decode_gray(clip: &Path) -> Vec<Vec<u8>> {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=GRAY8 ! \
         appsink name=out sync=false",
        clip.display()
    ))
    .expect("parses");
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("out"))
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("plays");
    let mut frames = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("info");
        let buffer = sample.buffer().expect("buffer");
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("map");
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data(0).expect("plane");
        let (w, h) = (info.width() as usize, info.height() as usize);
        let mut gray = Vec::with_capacity(w * h);
        for row in data.chunks(stride).take(h) {
            gray.extend_from_slice(&row[..w]);
        }
        frames.push(gray);
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    frames
}

fn opencv_direct(frames: &[Vec<u8>]) -> f64 {
    let start = Instant::now();
    let mut flow = Mat::default();
    let mut xy = Vector::<Mat>::new();
    let (mut mag, mut ang) = (Mat::default(), Mat::default());
    for pair in frames.windows(2) {
        let prev = Mat::new_rows_cols_with_data::<u8>(480, 640, &pair[0]).expect("mat");
        let next = Mat::new_rows_cols_with_data::<u8>(480, 640, &pair[1]).expect("mat");
        opencv::video::calc_optical_flow_farneback(
            &prev, &next, &mut flow, 0.5, 3, 15, 3, 5, 1.2, 0,
        )
        .expect("flow");
        opencv::core::split(&flow, &mut xy).expect("split");
        opencv::core::cart_to_polar(
            &xy.get(0).expect("x"),
            &xy.get(1).expect("y"),
            &mut mag,
            &mut ang,
            true,
        )
        .expect("cartToPolar");
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    gst::init().expect("GStreamer");
    gstals::plugin_register_static().expect("plugin");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let n = frames();
    let clip = make_clip(&dir, n);
    let src = format!(
        "filesrc location={} ! decodebin ! videoconvert",
        clip.display()
    );

    let decode = run(&format!("{src} ! video/x-raw,format=I420 ! fakesink"));
    let gray = decode_gray(&clip);
    let direct = opencv_direct(&gray);
    let cases = [
        (
            "alsflow 640x480 whole frame, threads=1",
            format!("{src} ! alsflow threads=1 ! fakesink"),
        ),
        (
            "alsflow 640x480 whole frame, threads=2",
            format!("{src} ! alsflow threads=2 ! fakesink"),
        ),
        (
            "alsflow 320x240 (videoscale)",
            format!("{src} ! videoscale ! video/x-raw,width=320,height=240 ! alsflow ! fakesink"),
        ),
        (
            "alsflow 256x256 region (videocrop)",
            format!("{src} ! videocrop left=192 right=192 top=112 bottom=112 ! alsflow ! fakesink"),
        ),
    ];
    let fps = |frames: u32, secs: f64| frames as f64 / secs;
    let decode_fps = fps(n, decode);
    let direct_fps = fps(n - 1, direct);
    println!(
        "{n} frames of 640x480, {} CPUs",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!(
        "{:<40} {:>9} {:>12} {:>12}",
        "case", "fps", "x decode", "x opencv"
    );
    println!(
        "{:<40} {:>9.1} {:>12.3} {:>12}",
        "decode only (baseline)", decode_fps, 1.0, "-"
    );
    println!(
        "{:<40} {:>9.1} {:>12} {:>12.3}",
        "OpenCV Farneback direct (baseline)", direct_fps, "-", 1.0
    );
    for (name, launch) in cases {
        let f = fps(n, run(&launch));
        println!(
            "{name:<40} {f:>9.1} {:>12.3} {:>12.3}",
            f / decode_fps,
            f / direct_fps
        );
    }
}
