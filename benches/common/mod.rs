// SPDX-License-Identifier: MPL-2.0

use std::path::{Path, PathBuf};
use std::time::Instant;

use als_synthetic::{Photo, Scenario, render};
use gst::prelude::*;

/// Runs `launch` to EOS and returns the seconds it took.
pub fn run(launch: &str) -> f64 {
    let pipeline = gst::parse::launch(launch).expect("pipeline parses");
    let start = Instant::now();
    pipeline.set_state(gst::State::Playing).expect("plays");
    let bus = pipeline.bus().expect("bus");
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(err) => panic!("{launch}: {}", err.error()),
            _ => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    pipeline.set_state(gst::State::Null).expect("stops");
    secs
}

/// CPU seconds (user + system, all threads) this process has used so far, from
/// `/proc/self/stat` (Linux; 0 elsewhere).
#[allow(dead_code)] // not every bench reports CPU time
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / CLOCK_TICKS_PER_SECOND
}

/// `sysconf(_SC_CLK_TCK)`, 100 on every Linux this runs on.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Encodes `n` frames of the talking face (or, with `empty_room`, a clip whose face is
/// there only one frame in ten) as H.264 in MP4.
#[allow(dead_code)] // not every bench decodes a clip
pub fn make_clip(dir: &Path, n: usize, empty_room: bool) -> PathBuf {
    let name = if empty_room { "room" } else { "face" };
    let path = dir.join(format!("bench-{name}-{n}.mp4"));
    if path.exists() {
        return path;
    }
    let photo = Photo::load(&PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/third_party/photos/astronaut.png"
    )))
    .expect("photo: run scripts/setup.sh");
    let scenario = Scenario::Talking {
        scale_percent: 150,
        roll_degrees: 0,
    };
    let (w, h, cycle) = scenario.geometry();
    let empty = vec![96u8; w * h * 3];
    let rendered: Vec<Vec<u8>> = (0..cycle)
        .map(|i| render(&photo, scenario, i).expect("render"))
        .collect();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width={w},height={h},\
         framerate=30/1 ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=fast ! \
         mp4mux ! filesink location={}",
        path.display()
    ))
    .expect("parses");
    let src = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("src"))
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    pipeline.set_state(gst::State::Playing).expect("plays");
    for i in 0..n {
        // Long stretches of no face: 90 frames of room, then 10 with the face.
        let data = if empty_room && i % 100 < 90 {
            &empty
        } else {
            &rendered[i % cycle]
        };
        let mut buffer = gst::Buffer::from_slice(data.clone());
        {
            let b = buffer.get_mut().expect("writable");
            b.set_pts(gst::ClockTime::SECOND.mul_div_floor(i as u64, 30));
        }
        src.push_buffer(buffer).expect("push");
    }
    src.end_of_stream().expect("eos");
    let bus = pipeline.bus().expect("bus");
    bus.timed_pop_filtered(gst::ClockTime::NONE, &[gst::MessageType::Eos])
        .expect("encoded");
    pipeline.set_state(gst::State::Null).expect("stops");
    path
}

/// The buffers of `launch` (ending in an appsink named `out`), with their caps.
#[allow(dead_code)]
pub fn collect(launch: &str) -> (gst::Caps, Vec<gst::Buffer>) {
    let pipeline = gst::parse::launch(launch).expect("parses");
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("out"))
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("plays");
    let mut caps = None;
    let mut buffers = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        caps = sample.caps_owned();
        buffers.push(sample.buffer_owned().expect("buffer"));
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    (caps.expect("caps"), buffers)
}

/// `name` from the environment, parsed; else `default`.
#[allow(dead_code)] // not every bench is configured from the environment
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The 640x480 bench clip scaled to `width` x `height` (borders keep its aspect).
#[allow(dead_code)] // not every bench scales the clip
pub fn scaled_clip(dir: &Path, source: &Path, width: u32, height: u32, frames: usize) -> PathBuf {
    let path = dir.join(format!("camera-{width}x{height}-{frames}.mp4"));
    if !path.exists() {
        run(&format!(
            "filesrc location={} ! decodebin ! videoscale add-borders=true ! \
             video/x-raw,width={width},height={height},pixel-aspect-ratio=1/1 ! \
             x264enc speed-preset=fast threads=1 ! mp4mux ! filesink location={}",
            source.display(),
            path.display()
        ));
    }
    path
}
