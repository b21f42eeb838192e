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
    // Measured 19 of 20 (all but the first, which has no previous frame). A packet the jitter
    // buffer gives up on while the machine is busy restarts the flow without it being wrong,
    // so the bound leaves room for a few.
    let valid = metas.iter().filter(|m| m.is_valid()).count();
    eprintln!("rtsp: {valid} of 20 frames with flow");
    assert!(valid >= 15, "{metas:?}");
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
/// `region`) writes for the clip served over RTSP, and how many frames were decoded. With
/// `drop`, the frames it picks (by their number) are dropped after decoding, the next one
/// marked DISCONT, as a leaky queue does, and the queue does not leak: the only drops are
/// those, whatever the machine's speed.
fn rtsp_faces(
    port: i32,
    region: &str,
    out: &std::path::Path,
    drop: Option<fn(u64) -> bool>,
) -> (Vec<(Option<u64>, u64)>, u64) {
    // The same elements as pipelines/rtsp-to-jsonl.sh.
    let leaky = if drop.is_some() {
        ""
    } else {
        "leaky=downstream"
    };
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc location=rtsp://127.0.0.1:{port}/clip protocols=tcp latency=200 ! decodebin ! \
         videoconvert name=convert ! queue {leaky} max-size-buffers=0 max-size-bytes=0 \
         max-size-time=2000000000 ! alsmesh ! queue ! alsflow region={region} ! \
         alsexport location={} ! fakesink sync=false",
        out.display()
    ))
    .expect("client parses");
    // (frames decoded, whether the last one was dropped)
    let state = std::sync::Arc::new(std::sync::Mutex::new((0u64, false)));
    let probe = state.clone();
    pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("convert"))
        .and_then(|e| e.static_pad("src"))
        .expect("videoconvert's src pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let mut state = probe.lock().unwrap();
            let n = state.0;
            state.0 += 1;
            if drop.is_some_and(|drop| drop(n)) {
                state.1 = true;
                return gst::PadProbeReturn::Drop;
            }
            if std::mem::take(&mut state.1)
                && let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut()
            {
                buffer.make_mut().set_flags(gst::BufferFlags::DISCONT);
            }
            gst::PadProbeReturn::Ok
        });
    common::run_to_eos(&pipeline);
    let decoded = state.lock().unwrap().0;
    let lines = std::fs::read_to_string(out)
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
        .collect();
    (lines, decoded)
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
    let (lines, _) = rtsp_faces(server.port, "face", &dir.join("face.jsonl"), None);
    assert!(
        lines.len() * 100 >= frames * 95,
        "{} of {frames} frames came out",
        lines.len()
    );
    let ids: Vec<u64> = lines.iter().filter_map(|l| l.0).collect();
    assert_eq!(ids.len(), lines.len(), "the face is found in every frame");
    assert!(ids.iter().all(|&id| id == ids[0]), "one face id: {ids:?}");

    // A chain that cannot keep up drops frames (a leaky queue); here the drops are forced,
    // so that a fast machine and a slow one test the same: every third frame, and a burst
    // of six. The face keeps its id across every drop, and each hole is the drop's size.
    fn dropped(n: u64) -> bool {
        n % 3 == 1 || (60..66).contains(&n)
    }
    let (lines, decoded) = rtsp_faces(
        server.port,
        "face",
        &dir.join("dropped.jsonl"),
        Some(dropped),
    );
    // RTSP may lose a frame at the start or the end; what was decoded is what counts.
    assert!(
        decoded as usize >= frames - 5,
        "{decoded} of {frames} decoded"
    );
    let kept = (0..decoded).filter(|&n| !dropped(n)).count();
    assert_eq!(lines.len(), kept, "every frame but the dropped ones");
    let ids: Vec<u64> = lines.iter().filter_map(|l| l.0).collect();
    assert_eq!(ids.len(), lines.len(), "the face is found in every frame");
    assert!(ids.iter().all(|&id| id == ids[0]), "one face id: {ids:?}");
    let frame_ns = 1_000_000_000 / 30;
    let gaps: Vec<u64> = lines
        .windows(2)
        .map(|w| (w[1].1.saturating_sub(w[0].1) + frame_ns / 2) / frame_ns)
        .collect();
    let expected: Vec<u64> = {
        let numbers: Vec<u64> = (0..decoded).filter(|&n| !dropped(n)).collect();
        numbers.windows(2).map(|w| w[1] - w[0]).collect()
    };
    assert_eq!(gaps, expected, "the holes are the drops");
}
