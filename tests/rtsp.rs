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
