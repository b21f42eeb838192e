// SPDX-License-Identifier: MPL-2.0

//! `alsflow method=dis` against the paper's Farneback, in one run: the face pipeline (mesh,
//! face flow, kinematics; no classifier, since a model runs on one method only) and the
//! paper's full-frame mode (`region=frame`), each with both methods, at the sizes cameras
//! send, with decoding alone as the baseline. The clip is the talking synthetic face (H.264,
//! 30 fps).
//!
//! `cargo bench --bench flow_method` (ALS_BENCH_SIZES, default `640x480,1920x1080`;
//! ALS_BENCH_FRAMES, default 300; ALS_BENCH_REPEAT, runs per case of which the fastest
//! counts, default 2).

mod common;

use std::path::PathBuf;

use common::{cpu_seconds, env_or, make_clip, run, scaled_clip};

fn main() {
    gst::init().expect("GStreamer");
    gstals::plugin_register_static().expect("plugin");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let n: usize = env_or("ALS_BENCH_FRAMES", 300);
    let repeat: usize = env_or("ALS_BENCH_REPEAT", 2);
    let sizes: String = env_or("ALS_BENCH_SIZES", "640x480,1920x1080".to_string());
    let source = make_clip(&dir, n, false);
    let fastest = |launch: &str| {
        (0..repeat.max(1))
            .map(|_| {
                let cpu = cpu_seconds();
                let secs = run(launch);
                (secs, cpu_seconds() - cpu)
            })
            .fold(
                (f64::INFINITY, 0.0),
                |best, r| if r.0 < best.0 { r } else { best },
            )
    };
    println!(
        "{n} frames of the talking face per size, {} CPUs",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    for size in sizes.split(',') {
        let Some((w, h)) = size
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        else {
            eprintln!("not a size: {size}");
            continue;
        };
        let clip = scaled_clip(&dir, &source, w, h, n);
        let src = format!("filesrc location={} ! decodebin", clip.display());
        println!("\n{w}x{h}");
        println!(
            "{:<40} {:>8} {:>10} {:>13}",
            "case", "fps", "x decode", "CPU ms/frame"
        );
        let decode = fastest(&format!("{src} ! fakesink"));
        let row = |name: &str, (secs, cpu): (f64, f64)| {
            let fps = n as f64 / secs;
            println!(
                "{name:<40} {fps:>8.1} {:>10.3} {:>13.2}",
                fps * decode.0 / n as f64,
                cpu * 1000.0 / n as f64
            );
            fps
        };
        row("decode only (baseline)", decode);
        let face = |method: &str| {
            fastest(&format!(
                "{src} ! queue ! alsmesh ! queue ! alsflow region=face method={method} ! \
                 alskinematics ! fakesink"
            ))
        };
        let frame = |method: &str| {
            fastest(&format!(
                "{src} ! alsflow region=frame method={method} ! fakesink"
            ))
        };
        let face_farneback = row("face pipeline, Farneback", face("farneback"));
        let face_dis = row("face pipeline, DIS (fast)", face("dis"));
        let frame_farneback = row("full-frame flow, Farneback", frame("farneback"));
        let frame_dis = row("full-frame flow, DIS (fast)", frame("dis"));
        println!(
            "DIS / Farneback: face pipeline {:.2}x, full-frame flow {:.2}x",
            face_dis / face_farneback,
            frame_dis / frame_farneback
        );
    }
}
