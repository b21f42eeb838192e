// SPDX-License-Identifier: MPL-2.0

//! Cost of `alskinematics` per face per frame (budget: 0.1 ms), against a baseline measured in
//! the same run: reading the `GstAlsFaceMeta` off the buffer, which every element after
//! `alsmesh` pays anyway.
//!
//! - `track`: the GStreamer-free work (measures, head pose, smoothing, window statistics) on
//!   one face's landmarks;
//! - `element`: `appsrc ! alskinematics ! fakesink` minus `appsrc ! identity ! fakesink` over
//!   the same buffers, four faces each (meta read, work, meta attached).
//!
//! `cargo bench --bench kinematics`

use std::time::Instant;

use als_synthetic::motion::{HEIGHT, MeshMotion, WIDTH};
use gst::prelude::*;
use gstals::kinematics::{FaceTrack, Settings};
use gstals::meta::{Face, FaceMeta};

const FRAMES: usize = 3000;
const FACES: usize = 4;

fn buffers(faces: usize) -> Vec<gst::Buffer> {
    let motion = MeshMotion::default();
    (0..FRAMES)
        .map(|i| {
            let t = i as f64 / 30.0;
            let mut buffer = gst::Buffer::with_size(16).expect("buffer");
            let b = buffer.get_mut().expect("writable");
            b.set_pts(gst::ClockTime::from_nseconds((t * 1e9) as u64));
            FaceMeta {
                faces: (0..faces as u32)
                    .map(|id| Face {
                        id,
                        landmarks: motion.landmarks(t),
                        ..Face::default()
                    })
                    .collect(),
                fresh: true,
            }
            .attach(b)
            .expect("attaches");
            buffer
        })
        .collect()
}

/// Seconds to run `buffers` through `appsrc ! {element} ! fakesink`.
fn through(element: &str, buffers: &[gst::Buffer]) -> f64 {
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=GRAY8,width={WIDTH},\
         height={HEIGHT},framerate=30/1 max-bytes=0 ! {element} ! fakesink sync=false"
    ))
    .expect("parses");
    let src = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("src"))
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .expect("appsrc");
    for b in buffers {
        src.push_buffer(b.copy()).expect("queued");
    }
    src.end_of_stream().expect("eos");
    let start = Instant::now();
    pipeline.set_state(gst::State::Playing).expect("plays");
    let bus = pipeline.bus().expect("bus");
    bus.timed_pop_filtered(gst::ClockTime::NONE, &[gst::MessageType::Eos])
        .expect("eos");
    let seconds = start.elapsed().as_secs_f64();
    pipeline.set_state(gst::State::Null).expect("stops");
    seconds
}

fn main() {
    gst::init().expect("gst");
    gstals::plugin_register_static().expect("plugin");
    let one = buffers(1);

    let start = Instant::now();
    let mut read = 0usize;
    for b in &one {
        read += FaceMeta::read(b)
            .expect("meta")
            .expect("readable")
            .faces
            .len();
    }
    let baseline = start.elapsed().as_secs_f64() / read as f64;

    let metas: Vec<Vec<[f64; 3]>> = one
        .iter()
        .map(|b| {
            FaceMeta::read(b).expect("meta").expect("readable").faces[0]
                .landmarks
                .iter()
                .map(|p| {
                    [
                        p[0] as f64 * 640.0,
                        p[1] as f64 * 480.0,
                        p[2] as f64 * 640.0,
                    ]
                })
                .collect()
        })
        .collect();
    let settings = Settings::default();
    let mut track = FaceTrack::new(1, &settings);
    let start = Instant::now();
    for (i, landmarks) in metas.iter().enumerate() {
        std::hint::black_box(track.push(i as f64 / 30.0, landmarks, &settings));
    }
    let work = start.elapsed().as_secs_f64() / FRAMES as f64;

    let many = buffers(FACES);
    // Warm both paths once, then measure.
    through("identity", &many[..100]);
    through("alskinematics", &many[..100]);
    let identity = through("identity", &many);
    let element = through("alskinematics", &many);
    let per_face = (element - identity) / (FRAMES * FACES) as f64;

    println!("kinematics, {FRAMES} frames (this machine):");
    println!(
        "  baseline: read the face meta       {:8.4} ms per face  (1.00)",
        baseline * 1e3
    );
    println!(
        "  track: measures + pose + smoothing {:8.4} ms per face  ({:.2}x)",
        work * 1e3,
        work / baseline
    );
    println!(
        "  element, {FACES} faces a frame        {:8.4} ms per face  ({:.2}x); budget 0.1 ms",
        per_face * 1e3,
        per_face / baseline
    );
}
