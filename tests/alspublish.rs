// SPDX-License-Identifier: MPL-2.0

//! `alspublish` against a real Mosquitto broker that each test starts on 127.0.0.1 (a free
//! port, its own configuration): every record in order, a broker stopped and restarted
//! mid-stream, a spool that overflows, and a broker that cannot be reached, refuses the
//! password or presents a certificate from another CA.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Mosquitto broker on `port` with `extra` configuration lines, keeping its sessions in
/// `dir` across restarts.
struct Broker {
    child: Child,
}

impl Broker {
    fn start(dir: &Path, port: u16, extra: &str) -> Self {
        let conf = dir.join("mosquitto.conf");
        // Started as root, Mosquitto would switch to its own user, who cannot read the
        // test's files.
        // SAFETY: getuid has no preconditions.
        let user = if unsafe { libc::getuid() } == 0 {
            "user root\n"
        } else {
            ""
        };
        std::fs::write(
            &conf,
            format!(
                "{user}listener {port} 127.0.0.1\npersistence true\npersistence_location {}/\n\
                 autosave_interval 1\n{extra}\n",
                dir.display()
            ),
        )
        .expect("config written");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs (scripts/install-deps.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child }
    }

    fn stop(mut self) {
        // SIGTERM: Mosquitto saves its sessions before it goes.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mosquitto_sub` on `als/#` with a persistent QoS 1 session: the lines it prints, as
/// (topic, payload).
struct Subscriber {
    child: Child,
    lines: Arc<Mutex<Vec<(String, String)>>>,
}

impl Subscriber {
    fn start(port: u16, extra: &[&str]) -> Self {
        let mut child = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "als/#",
                "-v",
            ])
            .args(["-q", "1", "-c", "-i", &format!("test-sub-{port}")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub runs");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some((topic, payload)) = line.split_once(' ') {
                    sink.lock()
                        .unwrap()
                        .push((topic.to_string(), payload.to_string()));
                }
            }
        });
        let subscriber = Self { child, lines };
        subscriber.wait_until_subscribed(port);
        subscriber
    }

    /// Publishes probes until one comes back, so nothing the test publishes next can reach
    /// the broker before the subscription; then forgets them.
    fn wait_until_subscribed(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|(t, _)| t == "als/probe")
        {
            assert!(Instant::now() < deadline, "the subscriber never subscribed");
            let _ = Command::new("mosquitto_pub")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-t",
                    "als/probe",
                ])
                .args(["-m", "probe"])
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(200));
        self.lines.lock().unwrap().retain(|(t, _)| t != "als/probe");
    }

    /// Waits until `done` holds for the lines, up to 20 s, and returns them.
    fn wait_for(&self, done: impl Fn(&[(String, String)]) -> bool) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if done(&lines) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
fn run(launch: &str, mut during: impl FnMut(Duration)) -> Outcome {
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
        during(start.elapsed());
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
    let port = free_port();
    let _broker = Broker::start(&dir, port, "allow_anonymous true");
    let subscriber = Subscriber::start(port, &[]);
    let (w, h, frames) = common::face_clip(gstals::synthetic::Scenario::Face);
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
    let port = free_port();
    let broker = Arc::new(Mutex::new(Some(Broker::start(
        &dir,
        port,
        "allow_anonymous true",
    ))));
    let subscriber = Subscriber::start(port, &[]);
    let (mut stopped, mut restarted) = (false, false);
    let handle = broker.clone();
    let bdir = dir.clone();
    let outcome = run(
        &format!(
            "videotestsrc is-live=true num-buffers=150 ! video/x-raw,width=64,height=48,\
             framerate=30/1 ! alspublish broker=mqtt://127.0.0.1:{port} stream-name=cam2 \
             linger=20 ! appsink name=out sync=false"
        ),
        move |t| {
            if !stopped && t > Duration::from_millis(1500) {
                if let Some(b) = handle.lock().unwrap().take() {
                    b.stop();
                }
                stopped = true;
            }
            if !restarted && t > Duration::from_millis(3500) {
                *handle.lock().unwrap() = Some(Broker::start(&bdir, port, "allow_anonymous true"));
                restarted = true;
            }
        },
    );
    // The stream ran at its own pace throughout: 30 frames a second, no stall.
    assert_eq!(outcome.arrivals.len(), 150);
    let gaps: Vec<Duration> = outcome.arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    let worst = gaps.iter().max().copied().unwrap_or_default();
    // The broker is away for 2 s; waiting on it would stall that long. The bound leaves room
    // for a loaded machine (measured: one frame interval).
    assert!(worst < Duration::from_millis(1000), "a {worst:?} stall");
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
    // The 2 s outage at 30 frames a second.
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
        "broker restart: {} records, {duplicates} duplicates, {resent} resent, worst gap {worst:?}",
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
        |_| {},
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
    let first = run(&launch(20, "0.2"), |_| {});
    assert_eq!(last_count(&first, "waiting"), 20);
    let _broker = Broker::start(&dir, port, "allow_anonymous true");
    let subscriber = Subscriber::start(port, &[]);
    let second = run(&launch(5, "10"), |_| {});
    assert_eq!(last_count(&second, "sent"), 25);
    let lines = subscriber.wait_for(|l| l.len() >= 25);
    // The first run's 20 records, then the second's 5, each numbered from 0.
    let numbers = frame_numbers(&lines);
    let expected: Vec<u64> = (0..20).chain(0..5).collect();
    assert_eq!(numbers, expected);
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, and a server certificate for 127.0.0.1 that `ca` signs, in `dir`.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("other-ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[test]
fn tls_with_the_right_ca_delivers_and_with_another_ca_is_refused_with_a_warning() {
    let dir = common::scratch_dir("publish-tls");
    let (ca, other, cert, key) = certificates(&dir);
    let port = free_port();
    let _broker = Broker::start(
        &dir,
        port,
        &format!(
            "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}",
            ca.display(),
            cert.display(),
            key.display()
        ),
    );
    let launch = |ca: &Path, stream: &str| {
        format!(
            "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtts://127.0.0.1:{port} ca-file={} stream-name={stream} \
             linger=3 ! appsink name=out sync=false",
            ca.display()
        )
    };
    let good = run(&launch(&ca, "tls-good"), |_| {});
    assert_eq!(last_count(&good, "sent"), 10, "{:?}", good.warnings);
    let bad = run(&launch(&other, "tls-bad"), |_| {});
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
    let status = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&passwords)
        .args(["camera", "right"])
        .status()
        .expect("mosquitto_passwd runs");
    assert!(status.success());
    let port = free_port();
    let _broker = Broker::start(
        &dir,
        port,
        &format!(
            "allow_anonymous false\npassword_file {}",
            passwords.display()
        ),
    );
    let launch = |password: &str| {
        format!(
            "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtt://127.0.0.1:{port} username=camera password={password} \
             linger=2 ! appsink name=out sync=false"
        )
    };
    let right = run(&launch("right"), |_| {});
    assert_eq!(last_count(&right, "sent"), 10, "{:?}", right.warnings);
    let wrong = run(&launch("wrong"), |_| {});
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
    let port = free_port();
    let _broker = Broker::start(&dir, port, "allow_anonymous true");
    let subscriber = Subscriber::start(port, &[]);
    let outcome = run(
        &format!(
            "videotestsrc num-buffers=30 ! video/x-raw,width=64,height=48,framerate=30/1 ! \
             alspublish broker=mqtt://127.0.0.1:{port} stream-name=cam5 qos=0 \
             frame-interval=3 client-id=probe-qos0 ! appsink name=out sync=false"
        ),
        |_| {},
    );
    assert_eq!(last_count(&outcome, "sent"), 10);
    let lines = subscriber.wait_for(|l| l.len() >= 10);
    assert_eq!(
        frame_numbers(&lines),
        (0..30).step_by(3).collect::<Vec<u64>>()
    );
}
