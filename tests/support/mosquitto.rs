// SPDX-License-Identifier: MPL-2.0

//! A Mosquitto broker and subscriber for tests, on 127.0.0.1. Shared by the plugin's, the
//! relay's and the batch tool's tests (`#[path]`), so that every test finds the broker where
//! Debian puts it (`/usr/sbin`, which an ordinary user's PATH lacks) and picks its port the
//! same collision-safe way.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The directories a program may be in, whatever the PATH: the PATH first, then where Debian
/// installs daemons and tools.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        dirs.push(PathBuf::from(extra));
    }
    dirs
}

/// The full path of `program` (`mosquitto`, `mosquitto_sub`, ...), searched on the PATH and in
/// the system directories; panics with the install hint when it is nowhere.
pub fn program(name: &str) -> PathBuf {
    search_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found (scripts/install-deps.sh installs it)"))
}

/// A port nothing listened on a moment ago. The broker binds it itself, so another process can
/// take it in between: [`Broker::start`] retries with a new port when that happens.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Mosquitto broker on 127.0.0.1 with `extra` configuration lines, keeping its sessions in
/// `dir` across restarts.
pub struct Broker {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    extra: String,
}

impl Broker {
    /// On a free port, retried when another process takes the port first.
    pub fn start(dir: &Path, extra: &str) -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(dir, free_port(), extra) {
                Ok(broker) => return broker,
                Err(e) => last = e,
            }
        }
        panic!("mosquitto did not start: {last}");
    }

    /// On `port` (a restart on the port the clients know), retried while the port is busy.
    pub fn start_on(dir: &Path, port: u16, extra: &str) -> Self {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match Self::try_start(dir, port, extra) {
                Ok(broker) => return broker,
                Err(e) if Instant::now() > deadline => panic!("mosquitto did not start: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn try_start(dir: &Path, port: u16, extra: &str) -> Result<Self, String> {
        let conf = dir.join(format!("mosquitto-{port}.conf"));
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
        .map_err(|e| format!("config: {e}"))?;
        let mut child = Command::new(program("mosquitto"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("mosquitto: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Exited: the port was taken (or the configuration is wrong; the retries say so).
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("mosquitto exited with {status} on port {port}"));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self {
                    child,
                    port,
                    dir: dir.to_path_buf(),
                    extra: extra.to_string(),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("mosquitto did not listen on {port}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stops with SIGTERM (Mosquitto saves its sessions before it goes).
    pub fn stop(mut self) -> (PathBuf, u16, String) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        (self.dir.clone(), self.port, self.extra.clone())
    }

    /// Freezes the broker (SIGSTOP): connections stay open, nothing is acknowledged.
    pub fn pause(&self) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGSTOP) };
    }

    /// Lets a paused broker go on (SIGCONT).
    pub fn resume(&self) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGCONT) };
    }

    /// Stops, and starts again on the same port with the same configuration.
    pub fn restart(self) -> Self {
        let (dir, port, extra) = self.stop();
        Self::start_on(&dir, port, &extra)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Mosquitto password file with one user.
pub fn password_file(path: &Path, user: &str, password: &str) {
    let status = Command::new(program("mosquitto_passwd"))
        .args(["-c", "-b"])
        .arg(path)
        .args([user, password])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("mosquitto_passwd runs");
    assert!(status.success(), "mosquitto_passwd");
}

/// `mosquitto_sub` on `topic` with a persistent QoS 1 session: the lines it prints, as
/// (topic, payload).
pub struct Subscriber {
    child: Child,
    lines: Arc<Mutex<Vec<(String, String)>>>,
    port: u16,
    extra: Vec<String>,
}

impl Subscriber {
    /// Subscribed to `als/#`; `extra` are more `mosquitto_sub` arguments (credentials).
    pub fn start(port: u16, extra: &[&str]) -> Self {
        let mut child = Command::new(program("mosquitto_sub"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "als/#"])
            .args(["-v", "-q", "1", "-c", "-i", &format!("test-sub-{port}")])
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
        let subscriber = Self {
            child,
            lines,
            port,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        subscriber.wait_until_subscribed();
        subscriber
    }

    /// Publishes probes until one comes back, so nothing the test publishes next can reach
    /// the broker before the subscription; then forgets them.
    fn wait_until_subscribed(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|(t, _)| t == "als/probe")
        {
            assert!(Instant::now() < deadline, "the subscriber never subscribed");
            let _ = Command::new(program("mosquitto_pub"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-t", "als/probe", "-m", "probe"])
                .args(&self.extra)
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(200));
        self.lines.lock().unwrap().retain(|(t, _)| t != "als/probe");
    }

    /// Waits until `done` holds for the lines, up to `timeout`, and returns them.
    pub fn wait_for_within(
        &self,
        timeout: Duration,
        done: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if done(&lines) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `done` holds for the lines, up to 20 s, and returns them.
    pub fn wait_for(&self, done: impl Fn(&[(String, String)]) -> bool) -> Vec<(String, String)> {
        self.wait_for_within(Duration::from_secs(20), done)
    }

    pub fn lines(&self) -> Vec<(String, String)> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// Test certificates in `dir`.
pub struct Certificates {
    /// The CA that signed `server`.
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    /// A certificate for 127.0.0.1 (and localhost) and its key.
    pub server: PathBuf,
    pub server_key: PathBuf,
}

/// A CA, another CA, and a server certificate for 127.0.0.1 that the first signs.
pub fn certificates(dir: &Path) -> Certificates {
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
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ext");
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
    Certificates {
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
        server: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    }
}
