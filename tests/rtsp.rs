// SPDX-License-Identifier: MPL-2.0

//! A live RTSP stream, as from a hospital camera, through the elements.

mod common;

use common::{init, scratch_dir};
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use gstals::meta::FlowMeta;

#[test]
fn rtsp_stream_is_analysed_and_exported() {
    init();
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address("127.0.0.1");
    server.set_service("0");
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball ! \
         video/x-raw,width=320,height=240,framerate=30/1 ! \
         x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! \
         rtph264pay name=pay0 pt=96 config-interval=1 )",
    );
    server
        .mount_points()
        .expect("mount points")
        .add_factory("/camera", factory);
    let context = glib::MainContext::new();
    let _source = server.attach(Some(&context)).expect("server attaches");
    let main_loop = glib::MainLoop::new(Some(&context), false);
    let server_loop = main_loop.clone();
    let server_thread = std::thread::spawn(move || server_loop.run());
    let port = server.bound_port();
    assert!(port > 0);

    let out = scratch_dir("rtsp").join("camera.jsonl");
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc location=rtsp://127.0.0.1:{port}/camera protocols=tcp latency=100 ! \
         decodebin ! videoconvert ! alsflow threads=1 ! alsexport location={} ! \
         appsink name=out sync=false",
        out.display()
    ))
    .expect("client parses");
    let sink = common::appsink(&pipeline);
    pipeline
        .set_state(gst::State::Playing)
        .expect("client plays");
    let mut metas = Vec::new();
    while metas.len() < 20 {
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(20)) else {
            break;
        };
        metas.push(FlowMeta::read(sample.buffer().unwrap()).unwrap().unwrap());
    }
    pipeline.set_state(gst::State::Null).expect("client stops");
    main_loop.quit();
    server_thread.join().expect("server thread");

    assert_eq!(metas.len(), 20, "20 frames arrive over RTSP");
    assert!(!metas[0].is_valid());
    assert!(
        metas.iter().filter(|m| m.is_valid()).count() >= 15,
        "{metas:?}"
    );
    let lines = std::fs::read_to_string(&out).expect("export written");
    assert!(lines.lines().count() >= 20);
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        assert_eq!(v["width"], 320);
    }
}

/// Serves `clip` (an MP4 file) at rtsp://127.0.0.1:PORT/clip in real time until dropped.
struct ClipServer {
    port: i32,
    _server: gst_rtsp_server::RTSPServer,
    main_loop: glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ClipServer {
    fn start(clip: &std::path::Path) -> Self {
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0");
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(&format!(
            "( filesrc location={} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 \
             config-interval=1 )",
            clip.display()
        ));
        server
            .mount_points()
            .expect("mount points")
            .add_factory("/clip", factory);
        let context = glib::MainContext::new();
        let source = server.attach(Some(&context)).expect("server attaches");
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let server_loop = main_loop.clone();
        let thread = std::thread::spawn(move || {
            let _source = source;
            server_loop.run()
        });
        let port = server.bound_port();
        assert!(port > 0);
        Self {
            port,
            _server: server,
            main_loop,
            thread: Some(thread),
        }
    }
}

impl Drop for ClipServer {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The face ids and timestamps of the lines `pipelines/rtsp-to-jsonl.sh`'s chain (with
/// `region`) writes for the clip served over RTSP.
fn rtsp_faces(port: i32, region: &str, out: &std::path::Path) -> Vec<(Option<u64>, u64)> {
    // The same elements as pipelines/rtsp-to-jsonl.sh.
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc location=rtsp://127.0.0.1:{port}/clip protocols=tcp latency=200 ! decodebin ! \
         videoconvert ! queue leaky=downstream max-size-buffers=0 max-size-bytes=0 \
         max-size-time=2000000000 ! alsmesh ! queue ! alsflow region={region} ! \
         alsexport location={} ! fakesink sync=false",
        out.display()
    ))
    .expect("client parses");
    common::run_to_eos(&pipeline);
    std::fs::read_to_string(out)
        .expect("lines written")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON");
            let id = v["faces"]
                .as_array()
                .and_then(|f| f.first())
                .and_then(|f| f["id"].as_u64());
            (id, v["pts_ns"].as_u64().unwrap_or(0))
        })
        .collect()
}

#[test]
fn rtsp_face_stream_keeps_its_frames_and_one_face_id() {
    init();
    let dir = scratch_dir("rtsp_faces");
    let clip = dir.join("face.mp4");
    let frames = 150;
    common::face_mp4(&clip, frames, false);
    let server = ClipServer::start(&clip);

    // The face chain keeps up: (almost) every frame, one id.
    let lines = rtsp_faces(server.port, "face", &dir.join("face.jsonl"));
    assert!(
        lines.len() * 100 >= frames * 95,
        "{} of {frames} frames came out",
        lines.len()
    );
    let ids: Vec<u64> = lines.iter().filter_map(|l| l.0).collect();
    assert_eq!(ids.len(), lines.len(), "the face is found in every frame");
    assert!(ids.iter().all(|&id| id == ids[0]), "one face id: {ids:?}");

    // The paper's full-frame flow on one thread cannot keep up at 30 fps: frames are
    // dropped, evenly, and the face keeps its id.
    let lines = rtsp_faces(server.port, "frame threads=1", &dir.join("frame.jsonl"));
    assert!(lines.len() < frames, "the overloaded chain dropped frames");
    let ids: Vec<u64> = lines.iter().filter_map(|l| l.0).collect();
    assert!(lines.len() > 10, "{} frames", lines.len());
    assert!(ids.iter().all(|&id| id == ids[0]), "one face id: {ids:?}");
    // Evenly: between the first and the last drop, no hole is much wider than the typical
    // one (a leaky queue emptied or skipped in one go would leave one hole of seconds).
    let frame_ns = 1_000_000_000 / 30;
    let gaps: Vec<u64> = lines
        .windows(2)
        .map(|w| ((w[1].1.saturating_sub(w[0].1) + frame_ns / 2) / frame_ns).max(1))
        .collect();
    let first = gaps
        .iter()
        .position(|&g| g > 1)
        .expect("some frames were dropped");
    let last = gaps
        .iter()
        .rposition(|&g| g > 1)
        .expect("some frames were dropped");
    let steady = &gaps[first..=last];
    let mean = steady.iter().sum::<u64>() as f64 / steady.len() as f64;
    let widest = *steady.iter().max().unwrap_or(&0);
    assert!(
        widest as f64 <= 3.0 * mean,
        "drops are spread out: gaps {steady:?} (in frames)"
    );
}
