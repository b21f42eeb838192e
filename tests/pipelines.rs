// SPDX-License-Identifier: MPL-2.0

//! Real pipelines built with `gst::parse::launch`.

mod common;

use std::sync::{Arc, Mutex};

use common::{init, make_sample_video, run_to_eos, scratch_dir};
use gst::prelude::*;
use gstals::meta::FlowMeta;

/// Flow metas of every buffer that reaches `appsink name=out`, in order.
fn collect_flow(pipeline: &gst::Element) -> Arc<Mutex<Vec<Option<FlowMeta>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|bin| bin.by_name("out"))
        .expect("pipeline has an appsink named out")
        .downcast::<gst_app::AppSink>()
        .expect("out is an appsink");
    let store = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let meta = FlowMeta::read(buffer).map(|m| m.expect("well-formed flow meta"));
                store.lock().unwrap().push(meta);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    seen
}

#[test]
fn decoded_file_gets_flow_on_every_frame_after_the_first() {
    init();
    let dir = scratch_dir("decoded_file");
    let video = dir.join("sample.mp4");
    make_sample_video(&video, 20, 320, 240);
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! alsflow ! appsink name=out sync=false",
        video.display()
    ))
    .unwrap();
    let seen = collect_flow(&pipeline);
    run_to_eos(&pipeline);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 20);
    let metas: Vec<&FlowMeta> = seen.iter().map(|m| m.as_ref().expect("meta")).collect();
    assert!(!metas[0].is_valid());
    assert!(metas[1..].iter().all(|m| m.is_valid()));
    // The test pattern's ball moves, so some frame shows motion.
    assert!(
        metas[1..]
            .iter()
            .any(|m| m.regions[0].stats.is_some_and(|s| s.max > 1.0))
    );
}

#[test]
fn metas_survive_queue_tee_convert_and_scale_but_not_a_flip() {
    init();
    let head = "videotestsrc num-buffers=6 pattern=ball ! \
                video/x-raw,format=I420,width=160,height=120 ! alsflow";
    for (middle, survives) in [
        ("queue", true),
        ("tee ! queue", true),
        ("videoconvert ! video/x-raw,format=BGRx", true),
        ("videoscale ! video/x-raw,width=320,height=200", true),
        ("videoflip video-direction=horiz", false),
        ("videocrop left=8", false),
    ] {
        let pipeline =
            gst::parse::launch(&format!("{head} ! {middle} ! appsink name=out sync=false"))
                .unwrap();
        let seen = collect_flow(&pipeline);
        run_to_eos(&pipeline);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 6, "{middle}");
        if survives {
            let metas: Vec<&FlowMeta> = seen.iter().map(|m| m.as_ref().expect(middle)).collect();
            assert!(metas[1..].iter().all(|m| m.is_valid()), "{middle}");
            assert_eq!(
                metas[0].regions[0].roi,
                gstals::meta::NormRotatedRect::FULL,
                "{middle}"
            );
        } else {
            assert!(
                seen.iter().all(Option::is_none),
                "{middle} must drop the meta"
            );
        }
    }
}

#[test]
fn seek_restarts_the_frame_pair() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! \
         alsflow ! appsink name=out sync=false max-buffers=1",
    )
    .unwrap();
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    let pull = || {
        let sample = sink.pull_sample().expect("sample");
        FlowMeta::read(sample.buffer().unwrap()).unwrap().unwrap()
    };
    pipeline.set_state(gst::State::Playing).unwrap();
    assert!(!pull().is_valid());
    for _ in 0..4 {
        assert!(pull().is_valid());
    }
    pipeline
        .seek_simple(
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::ClockTime::from_seconds(2),
        )
        .expect("seek");
    let after = pull();
    assert!(!after.is_valid());
    assert_eq!(after.regions[0].reset_reason.as_deref(), Some("flush"));
    assert!(pull().is_valid());
    pipeline.set_state(gst::State::Null).unwrap();
}
