// SPDX-License-Identifier: MPL-2.0

//! How much of a live source the relay keeps under real time: the outage scenario of the
//! relay test (source, relay, two viewers, the source killed and back), with each figure a
//! ratio against its own baseline in the same run:
//! - frames analysed / frames the source sent in the connection's span;
//! - annotated frames the viewer got / frames analysed;
//! - card frames the viewer got / the served rate times the outage.
//!
//! `cargo bench -p als-rtsp --bench relay [-- --seconds N]`

#[path = "../tests/common/mod.rs"]
mod common;

use common::{FPS, outage};

fn main() {
    let mut seconds = 6usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--seconds"
            && let Some(n) = args.next().and_then(|n| n.parse().ok())
        {
            seconds = n;
        }
    }
    let fps = FPS as usize;
    let run = outage::run("bench-relay", seconds * fps, seconds * fps / 2);
    let conns = outage::connections(&run.jsonl);
    println!("relay bench: {seconds} s per connection at {fps} fps");
    for (i, records) in conns.iter().enumerate() {
        let span = outage::span_frames(records);
        println!(
            "  connection {i}: {} frames analysed of about {span:.0} sent (by the receiver's \
             timestamps): {:.3}",
            records.len(),
            records.len() as f64 / span.max(1.0)
        );
    }
    let analysed: usize = conns.iter().map(Vec::len).sum();
    let annotated = run
        .seen
        .iter()
        .filter(|s| s.at < run.stopped && s.annotated())
        .count();
    println!(
        "  viewer: {annotated} annotated frames of {analysed} analysed: {:.3}",
        annotated as f64 / analysed.max(1) as f64
    );
    let cards = run.outage_frames().len();
    let expected = FPS as f64 * run.outage_seconds();
    println!(
        "  card: {cards} frames in {:.1} s of outage, of {expected:.0} at the served rate: {:.3}",
        run.outage_seconds(),
        cards as f64 / expected.max(1.0)
    );
}
