// SPDX-License-Identifier: MPL-2.0
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;

use gst::prelude::*;
use gst_video::prelude::*;

/// Initialises GStreamer with the plugin registered statically and a registry of the
/// tests' own, so that neither a user's registry cache nor an installed copy of the plugin
/// can change what is tested.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let registry = target_dir().join("test-registry.bin");
        // SAFETY: called once, before GStreamer or any other thread reads the environment.
        unsafe { std::env::set_var("GST_REGISTRY", registry) };
        gst::init().expect("GStreamer initialises");
        gstals::plugin_register_static().expect("plugin registers");
    });
}

/// `target/debug` (or release): the folder holding the test binary's `deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Builds `libgstals.so` from the sources under test, once per test binary, for the tests
/// that load it from another process (gst-launch-1.0, Python): `cargo test` alone builds the
/// crate as an rlib only, and a stale shared library would test old code.
pub fn build_plugin() {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        let profile = if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        };
        // --workspace resolves dependency features as `cargo test --workspace` does, so a
        // clean CI run builds the dependencies once instead of twice.
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--workspace", "--lib", "--profile", profile])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --lib failed");
        assert!(
            target_dir().join("libgstals.so").exists(),
            "cargo build --lib made no libgstals.so"
        );
    });
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs `pipeline` to EOS, panicking on an error message.
pub fn run_to_eos(pipeline: &gst::Element) {
    pipeline
        .set_state(gst::State::Playing)
        .expect("pipeline starts");
    let bus = pipeline.bus().expect("pipeline bus");
    let mut ended = false;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match msg.view() {
            gst::MessageView::Eos(_) => {
                ended = true;
                break;
            }
            gst::MessageView::Error(err) => {
                let _ = pipeline.set_state(gst::State::Null);
                panic!("pipeline error: {} ({:?})", err.error(), err.debug());
            }
            _ => {}
        }
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("pipeline stops");
    assert!(ended, "no EOS within 120 s");
}

/// Runs `pipeline` to EOS, panicking on an error, and returns every message it posted.
pub fn run_to_eos_collecting(pipeline: &gst::Element) -> Vec<gst::Message> {
    pipeline
        .set_state(gst::State::Playing)
        .expect("pipeline starts");
    let bus = pipeline.bus().expect("pipeline bus");
    let mut messages = Vec::new();
    while let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(60)) {
        let end = match msg.view() {
            gst::MessageView::Eos(_) => true,
            gst::MessageView::Error(err) => {
                let _ = pipeline.set_state(gst::State::Null);
                panic!("pipeline error: {} ({:?})", err.error(), err.debug());
            }
            _ => false,
        };
        messages.push(msg);
        if end {
            break;
        }
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("pipeline stops");
    messages
}

/// Runs `pipeline` until it fails, returning the first error message.
pub fn run_to_error(pipeline: &gst::Element) -> glib::Error {
    let _ = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().expect("pipeline bus");
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Error(err) => {
                let _ = pipeline.set_state(gst::State::Null);
                return err.error();
            }
            gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    panic!("pipeline ended without an error");
}

/// Encodes `frames` frames of a moving test pattern at `width` x `height` into an MP4 file.
pub fn make_sample_video(path: &Path, frames: u32, width: u32, height: u32) {
    let launch = format!(
        "videotestsrc num-buffers={frames} pattern=ball motion=sweep ! \
         video/x-raw,width={width},height={height},framerate=30/1 ! \
         x264enc speed-preset=ultrafast threads=1 ! mp4mux ! filesink location={}",
        path.display()
    );
    let pipeline = gst::parse::launch(&launch).expect("sample pipeline parses");
    run_to_eos(&pipeline);
}

/// A smooth texture shifted by (`dx`, `dy`) pixels, as 8-bit luma.
pub fn texture(width: usize, height: usize, dx: f32, dy: f32) -> Vec<u8> {
    let mut luma = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let (xf, yf) = (x as f32 - dx, y as f32 - dy);
            let v = 128.0
                + 50.0 * (xf * 0.13).sin() * (yf * 0.11).cos()
                + 30.0 * ((xf + yf) * 0.05).sin();
            luma.push(v.clamp(0.0, 255.0) as u8);
        }
    }
    luma
}

/// A buffer of `format` whose luma is `luma`: gray RGB for the RGB formats, neutral chroma
/// for the YUV ones.
pub fn frame_buffer(
    luma: &[u8],
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
) -> gst::Buffer {
    let (w, h) = (width as usize, height as usize);
    let info = gst_video::VideoInfo::builder(format, width, height)
        .build()
        .expect("video info");
    let mut buffer = gst::Buffer::with_size(info.size()).expect("buffer");
    {
        let buffer = buffer.get_mut().expect("new buffer is writable");
        let mut frame =
            gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info).expect("frame maps");
        let is_rgb = frame.format_info().is_rgb();
        let bytes_per_pixel = frame.format_info().pixel_stride()[0] as usize;
        let strides: Vec<usize> = frame.plane_stride().iter().map(|&s| s as usize).collect();
        for plane in 0..frame.n_planes() {
            let stride = strides[plane as usize];
            let data = frame.plane_data_mut(plane).expect("plane");
            if plane > 0 {
                data.fill(128);
                continue;
            }
            for y in 0..h {
                for x in 0..w {
                    let v = luma[y * w + x];
                    if is_rgb {
                        let px = y * stride + x * bytes_per_pixel;
                        data[px..px + bytes_per_pixel].fill(v);
                    } else {
                        data[y * stride + x] = v;
                    }
                }
            }
        }
    }
    buffer
}

pub fn video_caps(format: gst_video::VideoFormat, width: u32, height: u32) -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format(format)
        .width(width as i32)
        .height(height as i32)
        .framerate(gst::Fraction::new(30, 1))
        .build()
}

/// The appsink named `out` of `pipeline`.
pub fn appsink(pipeline: &gst::Element) -> gst_app::AppSink {
    pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|bin| bin.by_name("out"))
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("pipeline has an appsink named out")
}

/// The appsrc named `src` of `pipeline`.
pub fn appsrc(pipeline: &gst::Element) -> gst_app::AppSrc {
    pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|bin| bin.by_name("src"))
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("pipeline has an appsrc named src")
}

/// Encodes `frames` frames of the synthetic face clip (repeated as needed) as H.264 (I420)
/// in MP4, with the index first when `faststart`.
pub fn face_mp4(path: &Path, frames: usize, faststart: bool) {
    let (w, h, clip) = face_clip(als_synthetic::Scenario::Face);
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width={w},height={h},\
         framerate=30/1 ! videoconvert ! video/x-raw,format=I420 ! \
         x264enc speed-preset=ultrafast key-int-max=15 threads=1 ! mp4mux faststart={faststart} ! \
         filesink location={}",
        path.display()
    ))
    .expect("encoder parses");
    let src = appsrc(&pipeline);
    pipeline.set_state(gst::State::Playing).expect("plays");
    for (i, frame) in clip.iter().cycle().take(frames).enumerate() {
        let mut b = gst::Buffer::from_slice(frame.clone());
        b.get_mut()
            .expect("writable")
            .set_pts(gst::ClockTime::SECOND.mul_div_floor(i as u64, 30));
        src.push_buffer(b).expect("push");
    }
    src.end_of_stream().expect("eos");
    run_to_eos(&pipeline);
}

/// Project files the face tests need, made by the setup scripts.
pub fn asset(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-onnxruntime.sh, scripts/build-models.sh and \
         scripts/fetch-face-photo.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The frames of a synthetic face clip, packed RGB.
pub fn face_clip(scenario: als_synthetic::Scenario) -> (u32, u32, Vec<Vec<u8>>) {
    let photo = als_synthetic::Photo::load(&asset("third_party/photos/astronaut.png"))
        .expect("photo loads");
    let (w, h, n) = scenario.geometry();
    let frames = (0..n)
        .map(|i| als_synthetic::render(&photo, scenario, i).expect("frame renders"))
        .collect();
    (w as u32, h as u32, frames)
}

/// A buffer holding one packed frame (`data` without row padding) of `format`.
pub fn packed_buffer(
    data: &[u8],
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
) -> gst::Buffer {
    let info = gst_video::VideoInfo::builder(format, width, height)
        .build()
        .expect("video info");
    let mut buffer = gst::Buffer::with_size(info.size()).expect("buffer");
    {
        let b = buffer.get_mut().expect("writable");
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).expect("maps");
        let stride = frame.plane_stride()[0] as usize;
        let row = data.len() / height as usize;
        let plane = frame.plane_data_mut(0).expect("plane");
        for (dst, src) in plane.chunks_mut(stride).zip(data.chunks(row)) {
            dst[..row].copy_from_slice(src);
        }
    }
    buffer
}

/// Pushes `frames` (packed `format` at `width` x `height`, 30 fps) through
/// `appsrc ! {elements} ! appsink` and returns the buffers that come out.
pub fn run_frames(
    elements: &str,
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
    frames: &[Vec<u8>],
) -> Result<Vec<gst::Buffer>, glib::Error> {
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time ! {elements} ! appsink name=out sync=false"
    ))
    .expect("pipeline parses");
    let bin = pipeline.downcast_ref::<gst::Bin>().expect("bin");
    let src = bin
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    let sink = bin
        .by_name("out")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    src.set_caps(Some(&video_caps(format, width, height)));
    if let Err(err) = pipeline.set_state(gst::State::Playing) {
        let msg = pipeline
            .bus()
            .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]));
        let _ = pipeline.set_state(gst::State::Null);
        return Err(match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Error(e)) => e.error(),
            _ => glib::Error::new(gst::CoreError::StateChange, &err.to_string()),
        });
    }
    let frame_time = gst::ClockTime::SECOND / 30;
    for (i, data) in frames.iter().enumerate() {
        let mut buffer = packed_buffer(data, format, width, height);
        {
            let b = buffer.get_mut().expect("writable");
            b.set_pts(frame_time * i as u64);
            b.set_duration(frame_time);
        }
        if src.push_buffer(buffer).is_err() {
            break;
        }
    }
    let _ = src.end_of_stream();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        out.push(sample.buffer_owned().expect("buffer"));
    }
    let error = pipeline
        .bus()
        .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]));
    let _ = pipeline.set_state(gst::State::Null);
    if let Some(gst::MessageView::Error(e)) = error.as_ref().map(|m| m.view()) {
        return Err(e.error());
    }
    Ok(out)
}
