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
