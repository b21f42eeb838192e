// SPDX-License-Identifier: MPL-2.0

use std::time::Instant;

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
