// SPDX-License-Identifier: MPL-2.0

//! The default face pipeline at the sizes cameras send, against decoding measured in the same
//! run: decode only; decode and convert to RGB; the chain (mesh, face flow, kinematics,
//! classify) on RGB frames, as every launch line had it before `alsmesh` read YUV; the same
//! chain on the decoder's own I420 frames. The clip is the talking synthetic face, scaled to
//! each size with borders (H.264, 30 fps).
//!
//! `cargo bench --bench camera` (ALS_BENCH_SIZES, default `640x480,1920x1080`;
//! ALS_BENCH_FRAMES, default 300; ALS_BENCH_REPEAT, runs per case of which the fastest
//! counts, default 2). With ALS_BENCH_PEER naming a Python that has `mediapipe` (see
//! `scripts/bench-python-peer.sh`), also the same work as `alsmesh ! alsflow region=face` in
//! Python (`benches/python/peer.py`, MediaPipe and OpenCV over frames decoded beforehand)
//! against that chain on the decoder's I420, decoding included.

mod common;

use std::path::{Path, PathBuf};

use common::{cpu_seconds, env_or, make_clip, run, scaled_clip};

fn main() {
    gst::init().expect("GStreamer");
    gstals::plugin_register_static().expect("plugin");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let n: usize = env_or("ALS_BENCH_FRAMES", 300);
    let repeat: usize = env_or("ALS_BENCH_REPEAT", 2);
    let sizes: String = env_or("ALS_BENCH_SIZES", "640x480,1920x1080".to_string());
    let source = make_clip(&dir, n, false);
    // Wall-clock and CPU seconds of the fastest run.
    let timed = |launch: &str| {
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
    let chain = "queue ! alsmesh ! queue ! alsflow region=face ! alskinematics ! \
                 alsclassify ! fakesink";
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
            "{:<44} {:>8} {:>10} {:>13} {:>14}",
            "case", "fps", "x decode", "CPU ms/frame", "30 fps/core"
        );
        let decode = timed(&format!("{src} ! fakesink"));
        let row = |name: &str, (secs, cpu): (f64, f64)| {
            let fps = n as f64 / secs;
            let cpu_ms = cpu * 1000.0 / n as f64;
            println!(
                "{name:<44} {fps:>8.1} {:>10.3} {cpu_ms:>13.2} {:>14.2}",
                fps * decode.0 / n as f64,
                1000.0 / (30.0 * cpu_ms)
            );
            fps
        };
        row("decode only (baseline)", decode);
        row(
            "decode + videoconvert to RGB",
            timed(&format!(
                "{src} ! videoconvert ! video/x-raw,format=RGB ! fakesink"
            )),
        );
        let rgb = row(
            "chain on RGB (videoconvert to RGB first)",
            timed(&format!(
                "{src} ! videoconvert ! video/x-raw,format=RGB ! {chain}"
            )),
        );
        let yuv = row(
            "chain on the decoder's I420",
            timed(&format!("{src} ! {chain}")),
        );
        println!(
            "I420 chain / RGB chain: {:.2}x; I420 chain / decode only: {:.2}",
            yuv / rgb,
            yuv * decode.0 / n as f64
        );
        if let Ok(python) = std::env::var("ALS_BENCH_PEER") {
            let ours = row(
                "mesh + face flow on I420 (decoding counted)",
                timed(&format!(
                    "{src} ! queue ! alsmesh ! queue ! alsflow region=face ! fakesink"
                )),
            );
            match peer_fps(&python, &clip, repeat) {
                Some(peer) => println!(
                    "{:<44} {peer:>8.1}\nmesh + face flow / Python peer: {:.2}x",
                    "Python peer, same work (decoding not counted)",
                    ours / peer
                ),
                None => println!("the Python peer did not run (see above)"),
            }
        }
    }
}

/// Frames per second of `benches/python/peer.py` over `clip`, the fastest of `repeat` runs.
fn peer_fps(python: &str, clip: &Path, repeat: usize) -> Option<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python/peer.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(clip)
        .arg(repeat.max(1).to_string())
        .output()
        .map_err(|e| eprintln!("could not run {python}: {e}"))
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fps = text
        .lines()
        .find_map(|l| l.strip_prefix("peer: "))
        .and_then(|l| l.split(", ").last())
        .and_then(|f| f.trim_end_matches(" fps").parse().ok());
    if fps.is_none() {
        eprintln!(
            "the Python peer failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fps
}
