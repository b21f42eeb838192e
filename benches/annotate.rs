// SPDX-License-Identifier: MPL-2.0

//! The annotated-file pipeline at 640x480 against decode + H.264 encode alone, in the same
//! run, and what `alsoverlay` costs per frame with every layer on (drawing only, on frames
//! that carry face, flow and class metas), in I420 and RGBx.
//!
//! `cargo bench --bench annotate` (ALS_BENCH_FRAMES sets the clip length, default 300;
//! ALS_BENCH_REPEAT the runs per case, of which the fastest counts, default 3).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::{collect, make_clip, run};
use gst_video::prelude::*;
use gstals::draw::{Canvas, Metas, Overlay, PixelLayout, Plane, Style};
use gstals::meta::{ClassMeta, FaceMeta, FlowMeta};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Milliseconds per frame to copy each frame's pixels once: the baseline of the drawing
/// figures, measured in the same run since this machine's speed drifts.
fn copy_ms(buffers: &[gst::Buffer], repeat: usize) -> f64 {
    let sources: Vec<Vec<u8>> = buffers
        .iter()
        .map(|b| b.map_readable().expect("readable").to_vec())
        .collect();
    let mut target = vec![0u8; sources.first().map_or(0, Vec::len)];
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        for source in &sources {
            target.copy_from_slice(source);
            std::hint::black_box(&mut target);
        }
        best = best.min(start.elapsed().as_secs_f64() * 1000.0 / buffers.len() as f64);
    }
    best
}

/// Milliseconds per frame to draw every layer of each buffer's metas onto a copy of it.
fn draw_ms(buffers: &[gst::Buffer], caps: &gst::Caps, style: &Style, repeat: usize) -> f64 {
    let info = gst_video::VideoInfo::from_caps(caps).expect("video caps");
    let layout = match info.format() {
        gst_video::VideoFormat::I420 => PixelLayout::I420,
        gst_video::VideoFormat::Rgbx => PixelLayout::packed(4, 0, 1, 2),
        other => panic!("no layout for {other:?}"),
    };
    let metas: Vec<(Option<FaceMeta>, Option<FlowMeta>, Option<ClassMeta>)> = buffers
        .iter()
        .map(|b| {
            (
                FaceMeta::read(b).and_then(Result::ok),
                FlowMeta::read(b).and_then(Result::ok),
                ClassMeta::read(b).and_then(Result::ok),
            )
        })
        .collect();
    assert!(
        metas
            .iter()
            .filter(|m| m.2.as_ref().is_some_and(|c| c.classified()))
            .count()
            > buffers.len() / 2,
        "most frames carry a classification"
    );
    let mut overlay = Overlay::new(info.width() as usize, info.height() as usize);
    let mut copies: Vec<gst::Buffer> = buffers
        .iter()
        .map(|b| b.copy_deep().expect("copy"))
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        for (buffer, (faces, flow, class)) in copies.iter_mut().zip(&metas) {
            let b = buffer.make_mut();
            let mut frame =
                gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).expect("maps");
            let strides: Vec<usize> = frame.plane_stride().iter().map(|&s| s as usize).collect();
            let n = frame.n_planes() as usize;
            let planes = frame
                .planes_data_mut()
                .into_iter()
                .zip(strides)
                .take(n)
                .map(|(data, stride)| Plane { data, stride })
                .collect();
            let mut canvas = Canvas::new(
                info.width() as usize,
                info.height() as usize,
                layout,
                planes,
            )
            .expect("canvas");
            let metas = Metas {
                faces: faces.as_ref(),
                flow: flow.as_ref(),
                class: class.as_ref(),
            };
            overlay.draw(&mut canvas, style, metas).expect("draws");
        }
        best = best.min(start.elapsed().as_secs_f64() * 1000.0 / buffers.len() as f64);
    }
    best
}

fn main() {
    gst::init().expect("GStreamer");
    gstals::plugin_register_static().expect("plugin");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let n = env_or("ALS_BENCH_FRAMES", 300);
    let repeat = env_or("ALS_BENCH_REPEAT", 3);
    let clip = make_clip(&dir, n, false);
    let src = format!(
        "filesrc location={} ! decodebin ! videoconvert",
        clip.display()
    );
    let encode = "videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast ! \
                  video/x-h264,profile=main ! h264parse ! mp4mux faststart=true ! fakesink";
    let best = |launch: &str| {
        (0..repeat.max(1))
            .map(|_| run(launch))
            .fold(f64::INFINITY, f64::min)
    };
    let baseline = best(&format!("{src} ! {encode}"));
    let annotated = best(&format!(
        "{src} ! queue ! alsmesh ! queue ! alsflow region=face ! alsclassify ! alsoverlay ! \
         queue ! {encode}"
    ));
    let analysed = best(&format!(
        "{src} ! queue ! alsmesh ! queue ! alsflow region=face ! alsclassify ! queue ! {encode}"
    ));
    println!(
        "{n} frames of 640x480 H.264 -> H.264 MP4, {} CPUs",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!("{:<62} {:>8} {:>12}", "case", "fps", "x baseline");
    for (name, secs) in [
        ("decode + encode (baseline)", baseline),
        ("decode + mesh + face flow + classify + encode", analysed),
        (
            "decode + mesh + face flow + classify + alsoverlay + encode",
            annotated,
        ),
    ] {
        println!(
            "{name:<62} {:>8.1} {:>12.3}",
            n as f64 / secs,
            baseline / secs
        );
    }

    println!("\nalsoverlay drawing at 640x480 (a face, a 32x32 flow grid, two classes):");
    for format in ["I420", "RGBx"] {
        // The metas survive videoconvert; alsmesh itself reads RGB.
        let (caps, buffers) = collect(&format!(
            "{src} ! video/x-raw,format=RGBx ! alsmesh ! alsflow region=face ! alsclassify ! \
             videoconvert ! video/x-raw,format={format} ! appsink name=out sync=false"
        ));
        let all = Style::default();
        let none = Style {
            landmarks: false,
            boxes: false,
            flow: false,
            classification: false,
            ..all.clone()
        };
        // Drawing takes a millisecond or so: the best of more runs, to see past the drift.
        let repeat = repeat.max(7);
        let copy = copy_ms(&buffers, repeat);
        println!("  {format}, copying the frame (baseline): {copy:.3} ms/frame");
        for (layer, style) in [
            ("every layer", all.clone()),
            (
                "landmark contours only",
                Style {
                    landmarks: true,
                    ..none.clone()
                },
            ),
            (
                "boxes and ids only",
                Style {
                    boxes: true,
                    ..none.clone()
                },
            ),
            (
                "flow heat map only",
                Style {
                    flow: true,
                    ..none.clone()
                },
            ),
            (
                "classification only",
                Style {
                    classification: true,
                    ..none.clone()
                },
            ),
        ] {
            let ms = draw_ms(&buffers, &caps, &style, repeat);
            println!(
                "  {format}, {layer}: {ms:.3} ms/frame ({:.1} x the copy)",
                ms / copy
            );
        }
    }
}
