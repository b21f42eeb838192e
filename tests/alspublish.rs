// SPDX-License-Identifier: MPL-2.0

//! `alspublish` against a real Mosquitto broker that each test starts on 127.0.0.1 (a free
//! port, its own configuration): every record in order, a broker stopped and restarted
//! mid-stream, a spool that overflows, and a broker that cannot be reached, refuses the
//! password or presents a certificate from another CA.

mod common;
#[path = "support/mosquitto.rs"]
mod mosquitto;

use mosquitto::{Broker, Subscriber, free_port};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

fn frame_numbers(lines: &[(String, String)]) -> Vec<u64> {
    lines
        .iter()
        .filter(|(t, _)| t.ends_with("/frames"))
        .filter_map(|(_, p)| {
            let v: serde_json::Value = serde_json::from_str(p).expect("valid JSON");
            v["frame"].as_u64()
        })
        .collect()
}

struct Outcome {
    /// When each buffer reached the sink, since the start.
    arrivals: Vec<Duration>,
    warnings: Vec<String>,
    counters: Vec<gst::Structure>,
}

/// Runs `launch` (ending in `appsink name=out`), calling `during` with the elapsed time
/// while it plays.
fn run(launch: &str, mut during: impl FnMut(Duration, &gst::Element)) -> Outcome {
    common::init();
    let pipeline = gst::parse::launch(launch).expect("pipeline parses");
    let sink = common::appsink(&pipeline);
    let start = Instant::now();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let record = arrivals.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let _ = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                record.lock().unwrap().push(start.elapsed());
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).expect("plays");
    let bus = pipeline.bus().expect("bus");
    let (mut warnings, mut counters) = (Vec::new(), Vec::new());
    loop {
        during(start.elapsed(), &pipeline);
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) else {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no EOS within 60 s"
            );
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "als-publish") {
                    counters.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    let arrivals = arrivals.lock().unwrap().clone();
    Outcome {
        arrivals,
        warnings,
        counters,
    }
}

fn last_count(outcome: &Outcome, field: &str) -> u64 {
    outcome
        .counters
        .last()
        .and_then(|s| s.get::<u64>(field).ok())
        .unwrap_or(0)
}

#[test]
fn every_frame_record_and_the_summaries_arrive_in_order() {
    common::init();
    let dir = common::scratch_dir("publish-basic");
    let broker = Broker::start(&dir, "allow_anonymous true");
    let port = broker.port;
    let subscriber = Subscriber::start(port, &[]);
    let (w, h, frames) = common::face_clip(als_synthetic::Scenario::Face);
    let frames = &frames[..45];
    let buffers = common::run_frames(
        &format!(
            "alsmesh ! alskinematics window=1 ! alspublish broker=mqtt://127.0.0.1:{port} \
             stream-name=cam1"
        ),
        gst_video::VideoFormat::Rgb,
        w,
        h,
        frames,
    )
    .expect("pipeline runs");
    assert_eq!(buffers.len(), 45);
    let lines = subscriber.wait_for(|l| l.iter().any(|(t, _)| t == "als/cam1/summary"));
    assert_eq!(frame_numbers(&lines), (0..45).collect::<Vec<_>>());
    let frame: serde_json::Value = serde_json::from_str(&lines[1].1).expect("JSON");
    assert_eq!(frame["stream"], "cam1");
    assert_eq!(frame["schema"], 5);
    assert!(
        frame["faces"][0]["kinematics"]["pose_ok"].is_boolean(),
        "{frame}"
    );
    assert!(
        frame["faces"][0].get("landmarks").is_none(),
        "landmarks off by default"
    );
    let summaries: Vec<&(String, String)> = lines
        .iter()
        .filter(|(t, _)| t == "als/cam1/summary")
        .collect();
    assert_eq!(summaries.len(), 1);
    let summary: serde_json::Value = serde_json::from_str(&summaries[0].1).expect("JSON");
    assert_eq!(summary["kinematics_summary"]["faces"][0]["face_id"], 1);
    assert_eq!(summary["utc_source"], "emitted");
    // The summary comes after the last frame, as it does in alsexport's file.
    assert_eq!(lines.last().map(|l| l.0.as_str()), Some("als/cam1/summary"));
}

#[test]
fn a_broker_restart_neither_stalls_the_stream_nor_loses_a_record() {
    common::init();
    let dir = common::scratch_dir("publish-restart");
    let first = Broker::start(&dir, "allow_anonymous true");
    let port = first.port;
    let broker = Mutex::new(Some(first));
    let subscriber = Subscriber::start(port, &[]);
    // The broker goes away once records flow, and comes back once the element has spooled
    // a second's worth: events, not times, so a slow or a fast machine tests the same.
    let (mut stopped_at, mut restarted_at) = (None, None);
    let outcome = run(
        &format!(
            "videotestsrc is-live=true num-buffers=150 ! video/x-raw,width=64,height=48,\
             framerate=30/1 ! alspublish name=pub broker=mqtt://127.0.0.1:{port} \
             stream-name=cam2 linger=20 ! appsink name=out sync=false"
        ),
        |t, pipeline| {
            if stopped_at.is_none() && frame_numbers(&subscriber.lines()).len() >= 20 {
                if let Some(b) = broker.lock().unwrap().take() {
                    b.stop();
                }
                stopped_at = Some(t);
            }
            let spooled = pipeline
                .downcast_ref::<gst::Bin>()
                .and_then(|bin| bin.by_name("pub"))
                .map(|e| e.property::<gst::Structure>("counters"))
                .and_then(|c| c.get::<u64>("spooled").ok())
                .unwrap_or(0);
            if stopped_at.is_some() && restarted_at.is_none() && spooled >= 30 {
                *broker.lock().unwrap() =
                    Some(Broker::start_on(&dir, port, "allow_anonymous true"));
                restarted_at = Some(t);
            }
        },
    );
    assert_eq!(outcome.arrivals.len(), 150);
    // The stream never waited for the broker: while it was away, frames went on reaching
    // the sink (at least the 30 the element spooled meanwhile).
    let (Some(stop), Some(restart)) = (stopped_at, restarted_at) else {
        panic!("the broker was not stopped and restarted: {stopped_at:?} {restarted_at:?}");
    };
    let during_outage = outcome
        .arrivals
        .iter()
        .filter(|&&a| a >= stop && a <= restart)
        .count();
    assert!(
        during_outage >= 30,
        "{during_outage} frames during the outage"
    );
    let lines = subscriber.wait_for(|l| frame_numbers(l).contains(&149));
    let numbers = frame_numbers(&lines);
    let mut first_seen = Vec::new();
    for &n in &numbers {
        if !first_seen.contains(&n) {
            first_seen.push(n);
        }
    }
    assert_eq!(
        first_seen,
        (0..150).collect::<Vec<_>>(),
        "every record, in order"
    );
    let duplicates = numbers.len() - first_seen.len();
    let resent = last_count(&outcome, "resent");
    // At QoS 1 both legs deliver at least once. A duplicate is either a record the broker had
    // but whose acknowledgement the loss took (so this element resent it), or one the broker
    // had sent the subscriber without its acknowledgement (so the restarted broker sends it
    // again from the saved session; at most Mosquitto's 20 in flight per client).
    assert!(
        duplicates as u64 <= resent + 20,
        "{duplicates} duplicates, {resent} resent"
    );
    assert!(last_count(&outcome, "reconnects") >= 1);
    // The broker came back only after 30 were spooled.
    assert!(
        last_count(&outcome, "spooled") >= 30,
        "{:?}",
        outcome.counters.last()
    );
    assert_eq!(last_count(&outcome, "dropped"), 0);
    assert!(
        outcome.warnings.iter().any(|w| w.contains("unreachable")),
        "{:?}",
        outcome.warnings
    );
    eprintln!(
        "broker restart: {} records, {duplicates} duplicates, {resent} resent, \
         {during_outage} frames through during the outage",
        numbers.len()
    );
}

#[test]
fn a_full_spool_drops_the_oldest_and_says_so() {
    let port = free_port(); // nothing listens there
    let outcome = run(
        &format!(
            "videotestsrc num-buffers=200 ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtt://127.0.0.1:{port} stream-name=cam3 spool-max-bytes=4096 \
             linger=0.5 ! appsink name=out sync=false"
        ),
        |_, _| {},
    );
    assert_eq!(outcome.arrivals.len(), 200, "the stream went on");
    let dropped = last_count(&outcome, "dropped");
    let waiting = last_count(&outcome, "waiting");
    // About 160 bytes a record: the spool keeps the last 25 or so.
    assert!(
        dropped >= 150 && waiting <= 30,
        "dropped {dropped}, waiting {waiting}"
    );
    assert_eq!(dropped + waiting, 200);
    assert_eq!(last_count(&outcome, "sent"), 0);
    for expected in ["unreachable", "dropped the", "not delivered"] {
        assert!(
            outcome.warnings.iter().any(|w| w.contains(expected)),
            "{expected}: {:?}",
            outcome.warnings
        );
    }
}

#[test]
fn an_on_disk_spool_is_sent_by_the_next_run() {
    let dir = common::scratch_dir("publish-spool-dir");
    let spool = dir.join("spool");
    let port = free_port();
    let launch = |n: u32, linger: &str| {
        format!(
            "videotestsrc num-buffers={n} ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtt://127.0.0.1:{port} stream-name=cam4 spool-dir={} \
             linger={linger} ! appsink name=out sync=false",
            spool.display()
        )
    };
    let first = run(&launch(20, "0.2"), |_, _| {});
    assert_eq!(last_count(&first, "waiting"), 20);
    let _broker = Broker::start_on(&dir, port, "allow_anonymous true");
    let subscriber = Subscriber::start(port, &[]);
    let second = run(&launch(5, "10"), |_, _| {});
    assert_eq!(last_count(&second, "sent"), 25);
    let lines = subscriber.wait_for(|l| l.len() >= 25);
    // The first run's 20 records, then the second's 5, each numbered from 0.
    let numbers = frame_numbers(&lines);
    let expected: Vec<u64> = (0..20).chain(0..5).collect();
    assert_eq!(numbers, expected);
}

#[test]
fn tls_with_the_right_ca_delivers_and_with_another_ca_is_refused_with_a_warning() {
    let dir = common::scratch_dir("publish-tls");
    let mosquitto::Certificates {
        ca,
        other_ca: other,
        server: cert,
        server_key: key,
    } = mosquitto::certificates(&dir);
    let broker = Broker::start(
        &dir,
        &format!(
            "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}",
            ca.display(),
            cert.display(),
            key.display()
        ),
    );
    let port = broker.port;
    let launch = |ca: &Path, stream: &str| {
        format!(
            "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtts://127.0.0.1:{port} ca-file={} stream-name={stream} \
             linger=3 ! appsink name=out sync=false",
            ca.display()
        )
    };
    let good = run(&launch(&ca, "tls-good"), |_, _| {});
    assert_eq!(last_count(&good, "sent"), 10, "{:?}", good.warnings);
    let bad = run(&launch(&other, "tls-bad"), |_, _| {});
    assert_eq!(last_count(&bad, "sent"), 0);
    assert!(
        bad.warnings.iter().any(|w| w.contains("TLS")),
        "{:?}",
        bad.warnings
    );
}

#[test]
fn a_wrong_password_or_address_is_a_warning_and_a_bad_url_an_error() {
    let dir = common::scratch_dir("publish-auth");
    let passwords = dir.join("passwords");
    mosquitto::password_file(&passwords, "camera", "right");
    let broker = Broker::start(
        &dir,
        &format!(
            "allow_anonymous false\npassword_file {}",
            passwords.display()
        ),
    );
    let port = broker.port;
    let launch = |password: &str| {
        format!(
            "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtt://127.0.0.1:{port} username=camera password={password} \
             linger=2 ! appsink name=out sync=false"
        )
    };
    let right = run(&launch("right"), |_, _| {});
    assert_eq!(last_count(&right, "sent"), 10, "{:?}", right.warnings);
    let wrong = run(&launch("wrong"), |_, _| {});
    assert_eq!(last_count(&wrong, "sent"), 0);
    assert!(
        wrong.warnings.iter().any(|w| w.contains("refused")),
        "{:?}",
        wrong.warnings
    );

    common::init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=1 ! alspublish broker=http://example ! fakesink",
    )
    .expect("parses");
    let err = common::run_to_error(&pipeline);
    assert!(err.to_string().contains("mqtt://"), "{err}");
}

#[test]
fn qos_0_and_every_third_frame() {
    common::init();
    let dir = common::scratch_dir("publish-qos0");
    let broker = Broker::start(&dir, "allow_anonymous true");
    let port = broker.port;
    let subscriber = Subscriber::start(port, &[]);
    let outcome = run(
        &format!(
            "videotestsrc num-buffers=30 ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtt://127.0.0.1:{port} stream-name=cam5 mqtt-qos=0 \
             frame-interval=3 client-id=probe-qos0 ! appsink name=out sync=false"
        ),
        |_, _| {},
    );
    assert_eq!(last_count(&outcome, "sent"), 10);
    let lines = subscriber.wait_for(|l| l.len() >= 10);
    assert_eq!(
        frame_numbers(&lines),
        (0..30).step_by(3).collect::<Vec<u64>>()
    );
}

#[test]
fn stopping_never_waits_for_an_absent_broker() {
    common::init();
    let port = free_port(); // nothing listens there
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48 ! \
         alspublish name=pub broker=mqtt://127.0.0.1:{port} stream-name=gone linger=600 ! \
         fakesink"
    ))
    .expect("parses");
    pipeline.set_state(gst::State::Playing).expect("plays");
    // The streaming thread now waits at EOS for the broker, up to 600 s.
    let element = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("pub"))
        .expect("alspublish");
    let deadline = Instant::now() + Duration::from_secs(30);
    while element
        .property::<gst::Structure>("counters")
        .get::<u64>("waiting")
        .unwrap_or(0)
        < 5
    {
        assert!(
            Instant::now() < deadline,
            "the records never reached the spool"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    pipeline.set_state(gst::State::Null).expect("stops");
    let took = started.elapsed();
    eprintln!("NULL while lingering at EOS took {took:?}");
    // Without the interruption this takes the whole linger (600 s); the bound only has to
    // tell the two apart.
    assert!(took < Duration::from_secs(20), "stopping took {took:?}");
}
