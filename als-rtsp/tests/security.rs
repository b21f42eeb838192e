// SPDX-License-Identifier: MPL-2.0

//! The relay serves patient video: it binds to loopback unless told otherwise, refuses a wider
//! address without RTSP users, answers 401 to viewers without valid credentials (Digest; Basic
//! only inside TLS), serves `rtsps://` with a certificate, and never prints a password.

mod common;
#[path = "../../tests/support/mosquitto.rs"]
mod mosquitto;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{BIN, FPS, Logged, clip, heavy, init, records, scratch, serve_clip};
use gst::prelude::*;
use gst_rtsp_server::gio;

/// A source nobody serves: the relay keeps its "waiting for the source" card on the mount,
/// which is all these tests need to watch.
fn nowhere() -> String {
    format!("rtsp://127.0.0.1:{}/stream", common::free_port())
}

/// `text` into `path`, readable by its owner only (`mode`).
fn private_file(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs `als-rtsp args` to its end: exit code and stderr.
fn run(args: &[&str], registry: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("GST_REGISTRY", registry)
        .env_remove("ALS_RTSP_USER")
        .env_remove("ALS_RTSP_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .expect("als-rtsp runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code(), stderr)
}

/// A relay of [`nowhere`] on a free port with `extra` options.
fn start_relay(extra: &[String], registry: &Path, env: &[(&str, &str)]) -> (Logged, u16) {
    let source = nowhere();
    Logged::serving(
        |port| {
            let mut args = vec![
                "relay".to_string(),
                source.clone(),
                format!("--port={port}"),
                "--width=160".into(),
                "--height=120".into(),
                "--fps=10".into(),
                "--no-classify".into(),
            ];
            args.extend(extra.iter().cloned());
            args
        },
        registry,
        env,
    )
}

/// The reply's head to one raw RTSP request over plain TCP.
fn rtsp_request(port: u16, headers: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "DESCRIBE rtsp://127.0.0.1:{port}/als RTSP/1.0\r\nCSeq: 1\r\n{headers}\r\n"
    )
    .expect("sends");
    read_head(&mut stream)
}

fn read_head(stream: &mut impl Read) -> String {
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => reply.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&reply).into_owned()
}

/// The same request over TLS with `openssl s_client`, trusting `ca`.
fn rtsps_request(port: u16, ca: &Path, headers: &str) -> String {
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_return_error", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client runs");
    let mut stdin = client.stdin.take().expect("stdin");
    write!(
        stdin,
        "DESCRIBE rtsps://127.0.0.1:{port}/als RTSP/1.0\r\nCSeq: 1\r\n{headers}\r\n"
    )
    .expect("sends");
    let mut stdout = client.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_head(&mut stdout));
    });
    let reply = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default();
    let _ = client.kill();
    let _ = client.wait();
    drop(stdin);
    reply
}

/// Plays `url` with rtspsrc until the first buffer (`Ok`) or an error (`Err` with its text).
fn play(url: &str, credentials: Option<(&str, &str)>, ca: Option<&Path>) -> Result<(), String> {
    init();
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc name=src location={url} protocols=tcp latency=100 ! fakesink num-buffers=1"
    ))
    .expect("viewer");
    let src = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("src"))
        .expect("rtspsrc");
    if let Some((user, password)) = credentials {
        src.set_property("user-id", user);
        src.set_property("user-pw", password);
    }
    if let Some(ca) = ca {
        let database = gio::TlsFileDatabase::new(ca).expect("CA file");
        src.set_property("tls-database", database.upcast::<gio::TlsDatabase>());
    }
    pipeline.set_state(gst::State::Playing).expect("plays");
    let message = pipeline.bus().expect("bus").timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pipeline.set_state(gst::State::Null);
    match message.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(format!("{} ({:?})", e.error(), e.debug())),
        _ => Err("neither a frame nor an error within 30 s".into()),
    }
}

#[test]
fn serving_beyond_loopback_needs_credentials_or_a_loud_flag() {
    let dir = scratch("bind");
    let registry = dir.join("registry.bin");
    let source = nowhere();

    // The default address is loopback.
    let (mut local, port) = start_relay(&[], &registry, &[]);
    assert!(
        local
            .log()
            .contains(&format!("serving rtsp://127.0.0.1:{port}/als")),
        "{}",
        local.log()
    );
    local.signal(libc::SIGINT);
    assert_eq!(local.wait_exit(Duration::from_secs(20)).code(), Some(0));

    // Any other address without users: refused, saying what to do.
    let (code, stderr) = run(&["relay", &source, "--address=0.0.0.0"], &registry, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing") && stderr.contains("--insecure-serve-without-auth"),
        "{stderr}"
    );
    assert!(stderr.contains("--users-file"), "{stderr}");

    // There is no way to give a password on the command line.
    let (code, stderr) = run(
        &["relay", &source, "--address=0.0.0.0", "--password=pw"],
        &registry,
        &[],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--password"), "{stderr}");

    // A users file others can read, or half a user in the environment: refused.
    let open = dir.join("open-users");
    private_file(&open, "alice:Open-Pw-1\n", 0o644);
    let (code, stderr) = run(
        &[
            "relay",
            &source,
            "--address=0.0.0.0",
            &format!("--users-file={}", open.display()),
        ],
        &registry,
        &[],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains("Open-Pw-1"), "{stderr}");
    let (code, stderr) = run(
        &["relay", &source, "--address=0.0.0.0"],
        &registry,
        &[("ALS_RTSP_USER", "alice")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("ALS_RTSP_PASSWORD"), "{stderr}");

    // With users from the environment it serves, without a warning.
    let (mut open_users, _) = start_relay(
        &["--address=0.0.0.0".into()],
        &registry,
        &[
            ("ALS_RTSP_USER", "alice"),
            ("ALS_RTSP_PASSWORD", "Env-Pw-1"),
        ],
    );
    open_users.signal(libc::SIGTERM);
    assert_eq!(
        open_users.wait_exit(Duration::from_secs(20)).code(),
        Some(0)
    );
    let log = open_users.log();
    assert!(log.contains("1 RTSP user"), "{log}");
    assert!(
        !log.contains("WARNING") && !log.contains("Env-Pw-1"),
        "{log}"
    );

    // The flag serves without users, warning loudly.
    let (mut insecure, _) = start_relay(
        &[
            "--address=0.0.0.0".into(),
            "--insecure-serve-without-auth".into(),
        ],
        &registry,
        &[],
    );
    insecure.signal(libc::SIGINT);
    assert_eq!(insecure.wait_exit(Duration::from_secs(20)).code(), Some(0));
    let log = insecure.log();
    assert!(
        log.contains("WARNING: INSECURE") && log.contains("WITHOUT AUTHENTICATION"),
        "{log}"
    );
}

#[test]
fn only_viewers_with_valid_credentials_get_the_stream() {
    let dir = scratch("auth");
    let registry = dir.join("registry.bin");
    let users = dir.join("users");
    private_file(&users, "# viewers\nalice:Alice-Pw-1\nbob:Bob-Pw-2\n", 0o600);
    let (relay, port) = start_relay(
        &[format!("--users-file={}", users.display())],
        &registry,
        &[],
    );
    let url = format!("rtsp://127.0.0.1:{port}/als");

    // No credentials: 401, offering Digest only (Basic would send the password in clear).
    let reply = rtsp_request(port, "");
    assert!(
        reply.starts_with("RTSP/1.0 401 Unauthorized\r\n"),
        "{reply:?}"
    );
    assert!(reply.contains("WWW-Authenticate: Digest"), "{reply}");
    assert!(!reply.contains("Basic"), "{reply}");
    // Basic credentials over plain TCP are not taken, even right ones.
    let basic = "Authorization: Basic YWxpY2U6QWxpY2UtUHctMQ==\r\n"; // alice:Alice-Pw-1
    let reply = rtsp_request(port, basic);
    assert!(
        reply.starts_with("RTSP/1.0 401 Unauthorized\r\n"),
        "{reply:?}"
    );

    assert_eq!(play(&url, Some(("alice", "Alice-Pw-1")), None), Ok(()));
    assert_eq!(play(&url, Some(("bob", "Bob-Pw-2")), None), Ok(()));
    let wrong = play(&url, Some(("alice", "Bob-Pw-2")), None);
    assert!(
        wrong.as_ref().is_err_and(|e| e.contains("401")),
        "{wrong:?}"
    );
    let none = play(&url, None, None);
    assert!(none.as_ref().is_err_and(|e| e.contains("401")), "{none:?}");
    let log = relay.log();
    assert!(log.contains("2 RTSP users, Digest"), "{log}");
    assert!(
        !log.contains("Alice-Pw-1") && !log.contains("Bob-Pw-2"),
        "{log}"
    );
    drop(relay);

    // An htdigest file (hashes only) and a user from the environment, together.
    let ha1 = |line: &str| {
        let mut md5 = Command::new("md5sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("md5sum");
        md5.stdin
            .take()
            .expect("stdin")
            .write_all(line.as_bytes())
            .expect("writes");
        let out = md5.wait_with_output().expect("md5sum ends");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .expect("a hash")
            .to_string()
    };
    let htdigest = dir.join("users.htdigest");
    private_file(
        &htdigest,
        &format!("dora:ward-7:{}\n", ha1("dora:ward-7:Dora-Pw-4")),
        0o600,
    );
    let (relay, port) = start_relay(
        &[format!("--users-file={}", htdigest.display())],
        &registry,
        &[
            ("ALS_RTSP_USER", "carol"),
            ("ALS_RTSP_PASSWORD", "Carol-Pw-3"),
        ],
    );
    let url = format!("rtsp://127.0.0.1:{port}/als");
    let reply = rtsp_request(port, "");
    assert!(reply.contains("Digest realm=\"ward-7\""), "{reply}");
    assert_eq!(play(&url, Some(("dora", "Dora-Pw-4")), None), Ok(()));
    assert_eq!(play(&url, Some(("carol", "Carol-Pw-3")), None), Ok(()));
    assert!(play(&url, Some(("dora", "Carol-Pw-3")), None).is_err());
    assert!(!relay.log().contains("Carol-Pw-3"), "{}", relay.log());
}

#[test]
fn tls_serves_rtsps_that_only_clients_trusting_its_ca_accept() {
    let dir = scratch("tls");
    let registry = dir.join("registry.bin");
    let certs = mosquitto::certificates(&dir);
    let users = dir.join("users");
    private_file(&users, "alice:Alice-Pw-1\n", 0o600);
    let (relay, port) = start_relay(
        &[
            format!("--users-file={}", users.display()),
            format!("--tls-cert={}", certs.server.display()),
            format!("--tls-key={}", certs.server_key.display()),
        ],
        &registry,
        &[],
    );
    assert!(
        relay
            .log()
            .contains(&format!("serving rtsps://127.0.0.1:{port}/als")),
        "{}",
        relay.log()
    );
    let url = format!("rtsps://127.0.0.1:{port}/als");
    let alice = Some(("alice", "Alice-Pw-1"));
    assert_eq!(play(&url, alice, Some(&certs.ca)), Ok(()));
    // A client that trusts another CA does not get in.
    assert!(play(&url, alice, Some(&certs.other_ca)).is_err());
    // Nor one with a wrong password.
    let wrong = play(&url, Some(("alice", "nope-nope")), Some(&certs.ca));
    assert!(
        wrong.as_ref().is_err_and(|e| e.contains("401")),
        "{wrong:?}"
    );
    // Inside TLS, Basic is offered and works.
    let reply = rtsps_request(port, &certs.ca, "");
    assert!(
        reply.starts_with("RTSP/1.0 401 Unauthorized\r\n") && reply.contains("Basic"),
        "{reply:?}"
    );
    let reply = rtsps_request(
        port,
        &certs.ca,
        "Authorization: Basic YWxpY2U6QWxpY2UtUHctMQ==\r\n",
    );
    assert!(reply.starts_with("RTSP/1.0 200 OK\r\n"), "{reply:?}");
    // Plain RTSP gets no RTSP answer from a TLS port.
    let plain = rtsp_request(port, "");
    assert!(!plain.starts_with("RTSP/1.0"), "{plain:?}");

    // A key that cannot be read stops the relay before it serves.
    let (code, stderr) = run(
        &[
            "relay",
            &nowhere(),
            &format!("--port={}", common::free_port()),
            &format!("--users-file={}", users.display()),
            &format!("--tls-cert={}", certs.server.display()),
            &format!("--tls-key={}", dir.join("no-such.key").display()),
        ],
        &registry,
        &[],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("TLS certificate"), "{stderr}");
}

#[test]
fn no_password_is_ever_printed_or_recorded() {
    const SOURCE_PW: &str = "S3cretPw-XYZ";
    const MQTT_PW: &str = "Mqtt-Pw-XYZ";
    const RTSP_PW: &str = "Rtsp-Pw-XYZ";
    let secrets = [SOURCE_PW, MQTT_PW, RTSP_PW];
    let dir = scratch("secrets");
    let registry = dir.join("registry.bin");

    // Errors that quote the source: before and after the relay starts.
    let (code, stderr) = run(
        &["relay", &format!("nosuch://viewer:{SOURCE_PW}@camera/x")],
        &registry,
        &[],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("nosuch://***@camera/x"), "{stderr}");
    let (closed, port) = common::free_ports();
    let unreachable = format!("rtsp://viewer:{SOURCE_PW}@127.0.0.1:{closed}/stream");
    let (code, stderr) = run(
        &[
            "relay",
            &unreachable,
            &format!("--port={port}"),
            "--max-attempts=1",
            "--no-classify",
            &format!("--mqtt-password={MQTT_PW}"),
            &format!("--broker=mqtt://127.0.0.1:{closed}"),
            &format!("--mqtt-spool-dir={}", dir.join("spool-1").display()),
        ],
        &registry,
        &[],
    );
    assert!(code.is_some_and(|c| c != 0), "{stderr}");
    for secret in secrets {
        assert!(!stderr.contains(secret), "{secret} printed:\n{stderr}");
    }
    // GStreamer's own debug log quotes the URI as it was given: scrubbed too.
    let (_, stderr) = run(
        &[
            "relay",
            &unreachable,
            &format!("--port={port}"),
            "--max-attempts=1",
            "--no-classify",
        ],
        &registry,
        &[("GST_DEBUG", "GST_URI:6,rtspsrc:6")],
    );
    assert!(stderr.contains("rtspsrc"), "a debug log:\n{stderr}");
    assert!(!stderr.contains(SOURCE_PW), "{SOURCE_PW} in the debug log");

    // A whole session: connected, the source lost, Ctrl-C.
    let _turn = heavy();
    let clip = clip();
    let (source, source_port) = serve_clip(&clip, &registry);
    let source_url = format!("rtsp://viewer:{SOURCE_PW}@127.0.0.1:{source_port}/stream");
    let users = dir.join("users");
    private_file(&users, &format!("alice:{RTSP_PW}\n"), 0o600);
    let jsonl = dir.join("relay.jsonl");
    let no_broker = common::free_port();
    let (mut relay, _) = Logged::serving(
        |port| {
            [
                "relay",
                &source_url,
                &format!("--port={port}"),
                "--width=320",
                "--height=240",
                &format!("--fps={FPS}"),
                &format!("--jsonl={}", jsonl.display()),
                &format!("--users-file={}", users.display()),
                "--source-timeout=2",
                "--min-backoff=0.25",
                "--max-backoff=1",
                &format!("--broker=mqtt://127.0.0.1:{no_broker}"),
                "--mqtt-username=relay",
                &format!("--mqtt-spool-dir={}", dir.join("spool").display()),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        },
        &registry,
        &[("ALS_MQTT_PASSWORD", MQTT_PW)],
    );
    relay.wait_for("source connected", 1, Duration::from_secs(30));
    common::wait_for_jsonl(&jsonl, Duration::from_secs(30), "frames", |frames, _| {
        frames >= FPS as usize
    });
    source.signal(libc::SIGKILL);
    drop(source);
    relay.wait_for("source lost", 1, Duration::from_secs(15));
    relay.signal(libc::SIGINT);
    relay.wait_exit(Duration::from_secs(30));

    let log = relay.log();
    assert!(
        log.contains(&format!("from rtsp://***@127.0.0.1:{source_port}/stream")),
        "the source is shown, masked:\n{log}"
    );
    let recorded = std::fs::read_to_string(&jsonl).expect("JSON Lines");
    assert!(!records(&jsonl).is_empty());
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} printed:\n{log}");
        assert!(!recorded.contains(secret), "{secret} recorded");
    }
    // The default stream name is the host, without the credentials.
    let name = format!("127.0.0.1_{source_port}");
    assert!(
        records(&jsonl)
            .iter()
            .all(|r| r["stream"].as_str() == Some(name.as_str())),
        "stream names: {:?}",
        records(&jsonl).first().map(|r| r["stream"].clone())
    );
}

#[test]
fn the_spool_defaults_to_a_private_state_directory_and_an_open_one_is_refused() {
    init();
    let dir = scratch("spool-default");
    let registry = dir.join("registry.bin");
    let state = dir.join("state");
    let (closed, port) = common::free_ports();
    let relay = |extra: &[&str]| {
        let mut args = vec![
            "relay".to_string(),
            format!("rtsp://127.0.0.1:{closed}/stream"),
            format!("--port={port}"),
            "--max-attempts=1".into(),
            "--no-classify".into(),
            format!("--broker=mqtt://127.0.0.1:{closed}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(
            &args,
            &registry,
            &[("XDG_STATE_HOME", state.to_str().expect("a UTF-8 path"))],
        )
    };
    let (code, stderr) = relay(&[]);
    assert_eq!(code, Some(1), "gave up on the source: {stderr}");
    let spool = state.join("gst-als").join("spool");
    let mode = std::fs::metadata(&spool)
        .unwrap_or_else(|e| panic!("{}: {e}\n{stderr}", spool.display()))
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "the default spool is private");
    // A spool directory others can write to is refused before anything starts.
    let open = dir.join("open");
    std::fs::create_dir_all(&open).expect("dir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let (code, stderr) = relay(&[&format!("--mqtt-spool-dir={}", open.display())]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("others can write"), "{stderr}");
}
