// SPDX-License-Identifier: MPL-2.0

//! `alspublish` in `gst-launch-1.0` processes against a Mosquitto broker on 127.0.0.1, under
//! the faults a hospital network has: a publisher killed with SIGKILL while the broker is
//! away, several publishers through a broker outage, and credentials that must never be shown.
//! Each step waits for what it needs (records seen, records spooled), not for a time.

mod common;
#[path = "support/mosquitto.rs"]
mod mosquitto;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gst::prelude::*;
use mosquitto::{Broker, Subscriber, free_port};

/// `gst-launch-1.0` with the plugin under test and `line` (no quoting needed).
fn gst_launch(line: &str) -> Command {
    common::build_plugin();
    let plugin_dir = common::target_dir();
    let mut command = Command::new("gst-launch-1.0");
    command
        .args(line.split_whitespace())
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("launch-registry.bin"));
    command
}

/// A live 30 fps test stream published as `stream` with its own on-disk spool.
fn publisher_line(port: u16, stream: &str, client: &str, spool: &Path, frames: u32) -> String {
    format!(
        "videotestsrc is-live=true num-buffers={frames} ! \
         video/x-raw,width=64,height=48,framerate=30/1 ! \
         alspublish broker=mqtt://127.0.0.1:{port} stream-name={stream} client-id={client} \
         spool-dir={} linger=30 ! fakesink",
        spool.display()
    )
}

fn start(line: &str) -> Child {
    gst_launch(line)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0 runs")
}

/// The (topic, frame number) of every record in the spool database of `client`, oldest first.
fn spooled(spool: &Path, client: &str) -> Vec<(String, u64)> {
    let path = spool.join(format!("{client}.spool"));
    if !path.exists() {
        return Vec::new();
    }
    let Ok(conn) = rusqlite::Connection::open(&path) else {
        return Vec::new();
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    let Ok(mut select) = conn.prepare("SELECT topic, payload FROM records ORDER BY seq") else {
        return Vec::new();
    };
    select
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map(|rows| {
            rows.flatten()
                .filter_map(|(topic, payload)| {
                    let v: serde_json::Value = serde_json::from_slice(&payload).ok()?;
                    Some((topic, v["frame"].as_u64()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits up to 60 s for `done`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "{what} exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Frame numbers per frames topic, in arrival order.
fn frames_by_topic(lines: &[(String, String)]) -> HashMap<String, Vec<u64>> {
    let mut by_topic: HashMap<String, Vec<u64>> = HashMap::new();
    for (topic, payload) in lines.iter().filter(|(t, _)| t.ends_with("/frames")) {
        let v: serde_json::Value = serde_json::from_str(payload).expect("valid JSON");
        if let Some(frame) = v["frame"].as_u64() {
            by_topic.entry(topic.clone()).or_default().push(frame);
        }
    }
    by_topic
}

/// The numbers in the order first seen, and how many arrived again.
fn first_seen(numbers: &[u64]) -> (Vec<u64>, usize) {
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<u64> = numbers
        .iter()
        .copied()
        .filter(|n| seen.insert(*n))
        .collect();
    let duplicates = numbers.len() - firsts.len();
    (firsts, duplicates)
}

fn count(lines: &[(String, String)], topic: &str) -> usize {
    let by_topic = frames_by_topic(lines);
    by_topic.get(topic).map_or(0, |n| first_seen(n).0.len())
}

#[test]
fn a_publisher_killed_during_an_outage_loses_nothing_it_spooled() {
    let dir = common::scratch_dir("publish-kill");
    let spool = dir.join("spool");
    let port = free_port(); // the broker is away
    let mut first = start(&publisher_line(
        port,
        "crash",
        "crash-test",
        &spool,
        100_000,
    ));
    wait_until("40 spooled records", || {
        spooled(&spool, "crash-test").len() >= 40
    });
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let left = spooled(&spool, "crash-test");
    let frames: Vec<u64> = left.iter().map(|(_, f)| *f).collect();
    assert!(frames.len() >= 40);
    assert_eq!(
        frames,
        (0..frames.len() as u64).collect::<Vec<_>>(),
        "every record up to the kill is in the spool, in order"
    );
    assert!(left.iter().all(|(t, _)| t == "als/crash/frames"));

    let broker = Broker::start_on(&dir, port, "allow_anonymous true");
    let subscriber = Subscriber::start(broker.port, &[]);
    // The next run (another stream name, the same client id) sends what the killed one
    // spooled, to the topic it was made for, before its own.
    let mut next = start(&publisher_line(port, "after", "crash-test", &spool, 5));
    wait_exit(&mut next, "the next run");
    let lines = subscriber.wait_for(|l| {
        count(l, "als/crash/frames") >= frames.len() && count(l, "als/after/frames") >= 5
    });
    let by_topic = frames_by_topic(&lines);
    let (crash, duplicates) = first_seen(&by_topic["als/crash/frames"]);
    assert_eq!(crash, frames, "every spooled record arrived, in order");
    assert_eq!(duplicates, 0, "no outage while sending: no duplicate");
    assert_eq!(by_topic["als/after/frames"], (0..5).collect::<Vec<_>>());
    let order: Vec<&str> = lines
        .iter()
        .map(|(t, _)| t.as_str())
        .filter(|t| t.ends_with("/frames"))
        .collect();
    let first_after = order.iter().position(|t| *t == "als/after/frames");
    let last_crash = order.iter().rposition(|t| *t == "als/crash/frames");
    assert!(first_after > last_crash, "the spool goes first");
    assert!(spooled(&spool, "crash-test").is_empty(), "delivered: gone");
    eprintln!(
        "kill -9 during an outage: {} records spooled before the kill, all delivered",
        frames.len()
    );
}

#[test]
fn a_publisher_killed_with_records_in_flight_loses_none_of_them() {
    let dir = common::scratch_dir("publish-kill-in-flight");
    let spool = dir.join("spool");
    let broker = Broker::start(&dir, "allow_anonymous true");
    let port = broker.port;
    let subscriber = Subscriber::start(port, &[]);
    let mut first = start(&publisher_line(
        port,
        "flight",
        "flight-test",
        &spool,
        100_000,
    ));
    wait_until("20 records delivered", || {
        count(&subscriber.lines(), "als/flight/frames") >= 20
    });
    // Connected, but nothing is acknowledged any more: the records handed to the connection
    // stay unconfirmed, and those after them wait in the spool.
    broker.pause();
    wait_until("40 records waiting", || {
        spooled(&spool, "flight-test").len() >= 40
    });
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let waiting: Vec<u64> = spooled(&spool, "flight-test")
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    let last = *waiting.last().expect("records waiting");
    broker.resume();
    let mut next = start(&publisher_line(port, "flight2", "flight-test", &spool, 5));
    wait_exit(&mut next, "the next run");
    let lines = subscriber.wait_for(|l| {
        count(l, "als/flight/frames") as u64 > last && count(l, "als/flight2/frames") >= 5
    });
    let (firsts, duplicates) = first_seen(&frames_by_topic(&lines)["als/flight/frames"]);
    assert_eq!(
        firsts,
        (0..=last).collect::<Vec<_>>(),
        "every record up to the last one spooled, in order"
    );
    // Resent: those the frozen broker had not confirmed (at most the window of 32), and
    // what it had sent the subscriber without confirmation (20).
    assert!(duplicates <= 32 + 20, "{duplicates} duplicates");
    eprintln!(
        "kill -9 with records in flight: {} waiting at the kill, all {} delivered, \
         {duplicates} duplicates",
        waiting.len(),
        last + 1
    );
}

#[test]
fn several_publishers_through_a_broker_outage_and_a_kill_lose_nothing() {
    const FRAMES: u64 = 210;
    let dir = common::scratch_dir("publish-outage");
    let broker = Broker::start(&dir, "allow_anonymous true");
    let port = broker.port;
    let subscriber = Subscriber::start(port, &[]);
    let streams = ["pa", "pb", "pc"];
    let spool = |s: &str| dir.join(format!("spool-{s}"));
    let mut children: Vec<Child> = streams
        .iter()
        .map(|s| {
            start(&publisher_line(
                port,
                s,
                &format!("client-{s}"),
                &spool(s),
                FRAMES as u32,
            ))
        })
        .collect();
    wait_until("15 records of each stream", || {
        let lines = subscriber.lines();
        streams
            .iter()
            .all(|s| count(&lines, &format!("als/{s}/frames")) >= 15)
    });
    let (bdir, _, extra) = broker.stop();
    // While the broker is away every publisher spools.
    wait_until("30 spooled records per publisher", || {
        streams
            .iter()
            .all(|s| spooled(&spool(s), &format!("client-{s}")).len() >= 30)
    });
    children[0].kill().expect("SIGKILL");
    let _ = children[0].wait();
    let killed_spool: Vec<u64> = spooled(&spool("pa"), "client-pa")
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    let last_spooled = *killed_spool.last().expect("records spooled");
    let _broker = Broker::start_on(&bdir, port, &extra);
    let mut again = start(&publisher_line(port, "pa2", "client-pa", &spool("pa"), 30));
    wait_exit(&mut again, "the restarted publisher");
    for (child, s) in children.iter_mut().zip(streams).skip(1) {
        wait_exit(child, s);
    }
    let lines = subscriber.wait_for_within(Duration::from_secs(60), |l| {
        count(l, "als/pa/frames") as u64 > last_spooled
            && count(l, "als/pa2/frames") >= 30
            && count(l, "als/pb/frames") as u64 >= FRAMES
            && count(l, "als/pc/frames") as u64 >= FRAMES
    });
    let by_topic = frames_by_topic(&lines);
    let mut report = Vec::new();
    for s in ["pb", "pc"] {
        let (firsts, duplicates) = first_seen(&by_topic[&format!("als/{s}/frames")]);
        assert_eq!(
            firsts,
            (0..FRAMES).collect::<Vec<_>>(),
            "{s}: all, in order"
        );
        // At QoS 1: what the publisher had unacknowledged at the loss (its window of 32)
        // and what Mosquitto had sent the subscriber unacknowledged (20 in flight).
        assert!(duplicates <= 32 + 20, "{s}: {duplicates} duplicates");
        report.push(format!(
            "{s}: {FRAMES} of {FRAMES}, {duplicates} duplicates"
        ));
    }
    let (killed, duplicates) = first_seen(&by_topic["als/pa/frames"]);
    assert_eq!(
        killed,
        (0..=last_spooled).collect::<Vec<_>>(),
        "the killed publisher: every record it spooled, in order"
    );
    assert!(duplicates <= 32 + 20, "pa: {duplicates} duplicates");
    report.push(format!(
        "pa (killed): {} of {} spooled, {duplicates} duplicates",
        killed.len(),
        last_spooled + 1
    ));
    assert_eq!(by_topic["als/pa2/frames"], (0..30).collect::<Vec<_>>());
    eprintln!("outage with a kill: {}", report.join("; "));
}

fn output_text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn credentials_never_reach_logs_messages_records_or_topics() {
    const RIGHT: &str = "Right-S3cret-Pw";
    const WRONG: &str = "Wrong-S3cret-Pw";
    let dir = common::scratch_dir("publish-secrets");
    let passwords = dir.join("passwords");
    mosquitto::password_file(&passwords, "camera", RIGHT);
    let broker = Broker::start(
        &dir,
        &format!(
            "allow_anonymous false\npassword_file {}",
            passwords.display()
        ),
    );
    let port = broker.port;
    let subscriber = Subscriber::start(port, &["-u", "camera", "-P", RIGHT]);
    let jsonl = dir.join("records.jsonl");
    let run = |password: &str, stream: &str| {
        gst_launch(&format!(
            "-v -m videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48 ! \
             alsexport location={} stream-name={stream} ! \
             alspublish broker=mqtt://camera:{password}@127.0.0.1:{port} stream-name={stream} \
             linger=3 ! fakesink",
            jsonl.display()
        ))
        .env("GST_DEBUG", "alspublish:7,GST_ELEMENT_FACTORY:5")
        .env("GST_DEBUG_NO_COLOR", "1")
        .output()
        .expect("gst-launch-1.0 runs")
    };
    // The password in the address works, and is shown nowhere.
    let right = run(RIGHT, "sec");
    let right_text = output_text(&right);
    assert!(right.status.success(), "{right_text}");
    let lines = subscriber.wait_for(|l| count(l, "als/sec/frames") >= 10);
    assert_eq!(count(&lines, "als/sec/frames"), 10, "delivered with it");
    let wrong = run(WRONG, "sec-wrong");
    let wrong_text = output_text(&wrong);
    assert!(
        wrong_text.contains("refused"),
        "the refusal is said: {wrong_text}"
    );
    let records = std::fs::read_to_string(&jsonl).expect("records written");
    let published: String = subscriber
        .lines()
        .iter()
        .map(|(t, p)| format!("{t} {p}\n"))
        .collect();
    for (name, text) in [
        ("the right run's output", &right_text),
        ("the wrong run's output", &wrong_text),
        ("the JSON Lines", &records),
        ("the published records and topics", &published),
    ] {
        for secret in [RIGHT, WRONG] {
            assert!(!text.contains(secret), "{secret} in {name}: {text}");
        }
    }
    assert!(
        wrong_text.contains("alspublish") && right_text.contains("Publishing to"),
        "the debug log was captured"
    );

    common::init();
    let element = gst::ElementFactory::make("alspublish")
        .property("broker", format!("mqtt://camera:{RIGHT}@127.0.0.1:{port}"))
        .property("password", RIGHT)
        .build()
        .expect("alspublish");
    let shown = element.property::<String>("broker");
    assert_eq!(shown, format!("mqtt://***@127.0.0.1:{port}"));
    assert_eq!(element.property::<Option<String>>("password"), None);
}

/// A record over the broker's packet limit is refused at once, and the records after it
/// still arrive (it used to fail the connection at every try, forever).
#[test]
fn an_oversized_record_is_refused_and_the_rest_delivered() {
    use gstals::publish::{Config, Notice, Publisher, Topic};
    let dir = common::scratch_dir("publish-oversized");
    let broker = Broker::start(&dir, "allow_anonymous true");
    let subscriber = Subscriber::start(broker.port, &[]);
    let config = Config {
        host: "127.0.0.1".into(),
        port: broker.port,
        tls: false,
        ca_file: None,
        cert_file: None,
        key_file: None,
        username: None,
        password: None,
        client_id: "oversized".into(),
        frames_topic: "als/big/frames".into(),
        summary_topic: "als/big/summary".into(),
        qos1: true,
        spool_dir: Some(dir.join("spool").display().to_string()),
        spool_max_bytes: 64 << 20,
        spool_fsync: false,
        queue: 16,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
    };
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = notices.clone();
    let publisher =
        Publisher::start(config, move |n| seen.lock().unwrap().push(n)).expect("publisher starts");
    let record = |frame: u64| format!("{{\"frame\":{frame}}}").into_bytes();
    publisher.send(Topic::Frames, record(0));
    let mut huge = record(1);
    huge.resize(17 << 20, b' ');
    publisher.send(Topic::Frames, huge);
    publisher.send(Topic::Frames, record(2));
    assert!(publisher.drain(Duration::from_secs(30)), "delivered");
    let snapshot = publisher.snapshot();
    publisher.stop(Duration::ZERO);
    assert_eq!(
        (snapshot.sent, snapshot.too_large, snapshot.dropped),
        (2, 1, 1)
    );
    let lines = subscriber.wait_for(|l| count(l, "als/big/frames") >= 2);
    assert_eq!(frames_by_topic(&lines)["als/big/frames"], vec![0, 2]);
    assert!(
        notices
            .lock()
            .unwrap()
            .iter()
            .any(|n| matches!(n, Notice::TooLarge { bytes } if *bytes == 17 << 20)),
        "said"
    );
}
