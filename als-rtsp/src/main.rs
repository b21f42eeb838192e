// SPDX-License-Identifier: MPL-2.0

//! `als-rtsp`: relays a camera (any URI GStreamer reads, usually `rtsp://`) through `alsmesh`,
//! `alsflow region=face`, `alsclassify` and `alsoverlay`, and serves the annotated stream at
//! `rtsp://HOST:PORT/als` to any number of viewers, with the results as JSON Lines. When the
//! camera goes away the viewers keep a "source lost" card and the relay reconnects with
//! bounded back-off. `als-rtsp serve FILE` serves a file as a stand-in camera.
//!
//! The relay serves on 127.0.0.1 unless told otherwise; beyond loopback it wants RTSP users
//! (and preferably TLS), and nothing it prints shows a password: see the "Security" part of
//! [`relay`].

mod auth;
mod card;
mod mqtt;
mod relay;
mod secrets;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Relay SOURCE (rtsp://..., file://... or a file path) annotated, over RTSP. Runs until
    /// Ctrl-C or SIGTERM; exits 1 after --max-attempts failed connections in a row, 2 on bad
    /// options, 3 after --max-abandoned connections hung in their teardown. Serves on 127.0.0.1 by default; any other address needs RTSP users
    /// (--users-file, or ALS_RTSP_USER and ALS_RTSP_PASSWORD in the environment). Passwords
    /// (in SOURCE, --mqtt-password, ALS_MQTT_PASSWORD, the users) are never printed.
    #[command(
        after_help = "Environment: ALS_RTSP_USER and ALS_RTSP_PASSWORD (one RTSP user), \
        ALS_MQTT_PASSWORD (the broker's password)."
    )]
    Relay {
        /// The camera: rtsp://[user:password@]host[:port]/path, rtsps://, file://... or a
        /// file path.
        source: String,
        /// Address to serve on. Anything but loopback (127.0.0.1, ::1, localhost) needs RTSP
        /// users, or --insecure-serve-without-auth.
        #[arg(long, default_value = "127.0.0.1")]
        address: String,
        #[command(flatten)]
        access: Box<auth::AccessArgs>,
        #[arg(long, default_value_t = 8554)]
        port: u16,
        #[arg(long, default_value = "/als")]
        mount: String,
        /// Size of the served stream (the annotated source is scaled to it, keeping its
        /// aspect with borders; the elements measure the source's own frames); even numbers.
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 480)]
        height: u32,
        /// Frame rate of the served stream's caps and of the status card.
        #[arg(long, default_value_t = 30)]
        fps: u32,
        /// Append every frame's results here as JSON Lines ("-": standard output).
        #[arg(long)]
        jsonl: Option<PathBuf>,
        /// The alsclassify model (default: the plugin's synthetic demonstration model, not
        /// for diagnosis).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Leave the classifier out.
        #[arg(long, conflicts_with = "model")]
        no_classify: bool,
        /// rtspsrc jitter-buffer latency in milliseconds.
        #[arg(long, default_value_t = 200)]
        latency: u32,
        /// Let rtspsrc try UDP first instead of RTP over the RTSP TCP connection.
        #[arg(long)]
        udp: bool,
        /// Seconds without a frame before the source counts as lost.
        #[arg(long, default_value_t = 5.0)]
        source_timeout: f64,
        /// First and largest wait between reconnections, in seconds (doubling in between).
        #[arg(long, default_value_t = 0.5)]
        min_backoff: f64,
        #[arg(long, default_value_t = 30.0)]
        max_backoff: f64,
        /// Failed connections in a row before giving up (0: never).
        #[arg(long, default_value_t = 0)]
        max_attempts: u32,
        /// Connections whose teardown hung (each left behind with its threads, memory and
        /// session with the camera) before the relay exits with code 3, so that a supervisor
        /// starts it afresh (0: never).
        #[arg(long, default_value_t = 3)]
        max_abandoned: u32,
        /// H.264 bitrate of the served stream, kbit/s.
        #[arg(long, default_value_t = 2048)]
        bitrate: u32,
        /// This camera's name in the records and MQTT topics (default: the source's host).
        #[arg(long)]
        stream_name: Option<String>,
        #[command(flatten)]
        mqtt: Box<mqtt::MqttArgs>,
    },
    /// Serve FILE over RTSP in real time, each viewer from its start (a stand-in camera).
    Serve {
        file: PathBuf,
        #[arg(long, default_value = "127.0.0.1")]
        address: String,
        #[arg(long, default_value_t = 8554)]
        port: u16,
        #[arg(long, default_value = "/stream")]
        mount: String,
    },
}

/// The source's host (and port), or for a file its name: a camera's name for its records.
/// Never any of its credentials (user information, query string).
fn default_stream_name(source: &str) -> String {
    let after_scheme = source.split_once("://").map_or(source, |(_, rest)| rest);
    if source.starts_with("file://") {
        return after_scheme
            .rsplit('/')
            .next()
            .unwrap_or(after_scheme)
            .to_string();
    }
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or(after_scheme);
    authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_string()
}

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{name} must be a positive number of seconds, not {value}"))
}

fn run(cli: Cli) -> Result<i32, String> {
    gst::init().map_err(|e| format!("could not start GStreamer: {e}"))?;
    gstals::plugin_register_static().map_err(|e| format!("could not register gst-als: {e}"))?;
    secrets::route_library_logs();
    match cli.command {
        Command::Serve {
            file,
            address,
            port,
            mount,
        } => serve::run(&file, &address, port, &mount),
        Command::Relay {
            source,
            address,
            access,
            port,
            mount,
            width,
            height,
            fps,
            jsonl,
            model,
            no_classify,
            latency,
            udp,
            source_timeout,
            min_backoff,
            max_backoff,
            max_attempts,
            max_abandoned,
            bitrate,
            stream_name,
            mqtt,
        } => {
            secrets::SECRETS.add_uri(&source);
            let auth::AccessArgs {
                users_file,
                tls_cert,
                tls_key,
                insecure_serve_without_auth,
            } = *access;
            let users = auth::load_users(
                users_file.as_deref(),
                (
                    std::env::var(auth::USER_ENV).ok(),
                    std::env::var(auth::PASSWORD_ENV).ok(),
                ),
            )?;
            let access = auth::Access {
                users,
                tls: tls_cert.zip(tls_key),
            };
            if !auth::is_loopback(&address) && access.users.is_empty() {
                if !insecure_serve_without_auth {
                    return Err(format!(
                        "refusing to serve patient video on {address} without credentials: \
                         give RTSP users (--users-file FILE, or {} and {} in the \
                         environment), serve on 127.0.0.1, or, on a closed network only, \
                         --insecure-serve-without-auth",
                        auth::USER_ENV,
                        auth::PASSWORD_ENV
                    ));
                }
                secrets::say(&format!(
                    "WARNING: INSECURE: serving on {address} WITHOUT AUTHENTICATION \
                     (--insecure-serve-without-auth): anyone who can reach port {port} can \
                     watch the patients and their labels"
                ));
            }
            if !auth::is_loopback(&address) && access.tls.is_none() {
                secrets::say(&format!(
                    "note: serving on {address} without TLS (--tls-cert, --tls-key): the video \
                     and its labels cross the network unencrypted"
                ));
            }
            let source = if source.contains("://") {
                source
            } else {
                let path = std::fs::canonicalize(&source)
                    .map_err(|e| format!("cannot read {source}: {e}"))?;
                gst::glib::filename_to_uri(&path, None)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .to_string()
            };
            if fps == 0 {
                return Err("--fps must be at least 1".into());
            }
            // Checked here, so that what reconnecting cannot cure stops the relay at once.
            if let Some(jsonl) = &jsonl
                && jsonl.as_os_str() != "-"
            {
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(jsonl)
                    .map_err(|e| format!("cannot write {}: {e}", jsonl.display()))?;
            }
            let (model, flow) = if no_classify {
                (None, "alsflow region=face".to_string())
            } else {
                let path = model.unwrap_or_else(gstals::classify::default_model_path);
                let library = gstals::mesh::resolve_library(None);
                let loaded =
                    gstals::classify::ClassModel::load(&library, &path, 1).map_err(|e| {
                        format!(
                            "cannot use the model {}: {e} (--model to choose one, --no-classify \
                         to leave the classifier out)",
                            path.display()
                        )
                    })?;
                (Some(path), loaded.info.spec.alsflow_launch())
            };
            let min_backoff = seconds("min-backoff", min_backoff)?;
            let stream_name = gstals::BrokerSettings::topic_level(
                &stream_name.unwrap_or_else(|| default_stream_name(&source)),
            );
            let mut broker = mqtt.settings();
            if let Some(b) = &broker {
                secrets::SECRETS.add_uri(&b.broker);
                if let Some(password) = &b.password {
                    secrets::SECRETS.add(password);
                }
            }
            // Each camera loss restarts the ingest pipeline: a spool on disk survives that. It
            // holds patients' records: the user's own private state directory, never a
            // shared temporary one; checked (and made 0700) before the first connection.
            if let Some(b) = broker.as_mut() {
                let dir = match &b.spool_dir {
                    Some(dir) => std::path::PathBuf::from(dir),
                    None => gstals::publish::default_spool_dir()
                        .map_err(|e| format!("no spool directory for --broker: {e}"))?,
                };
                gstals::publish::dirs::private_dir(&dir)
                    .map_err(|e| format!("cannot use the MQTT spool: {e}"))?;
                b.spool_dir = Some(dir.display().to_string());
            }
            if let Some(b) = &broker {
                gstals::publish::Config::parse_broker(&b.broker)?;
            }
            relay::run(relay::RelayOptions {
                broker,
                stream_name,
                source,
                address,
                port,
                mount,
                width,
                height,
                fps,
                jsonl,
                model,
                flow,
                latency_ms: latency,
                tcp: !udp,
                source_timeout: seconds("source-timeout", source_timeout)?,
                min_backoff,
                max_backoff: seconds("max-backoff", max_backoff)?.max(min_backoff),
                max_attempts,
                max_abandoned,
                bitrate_kbps: bitrate,
                access,
            })
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    secrets::remember_arguments(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let text = err.render().to_string();
            if err.use_stderr() {
                // Usage errors quote the arguments: scrubbed like everything else.
                eprint!("{}", secrets::scrub(&text));
            } else {
                // --help, --version.
                print!("{text}");
            }
            return ExitCode::from(err.exit_code() as u8);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(message) => {
            secrets::say(&message);
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod stream_name_tests {
    use super::default_stream_name;

    #[test]
    fn a_camera_is_named_after_its_host_and_a_file_after_itself() {
        assert_eq!(
            default_stream_name("rtsp://user:pw@10.0.0.7:554/live"),
            "10.0.0.7:554"
        );
        assert_eq!(default_stream_name("rtsp://cam-3/stream"), "cam-3");
        // Credentials in the query string stay out of the name too.
        assert_eq!(
            default_stream_name("rtsp://cam-4?user=admin&password=Qs-Secret-1"),
            "cam-4"
        );
        assert_eq!(
            default_stream_name("rtsp://cam-5:554?password=Qs-Secret-2#x"),
            "cam-5:554"
        );
        assert_eq!(
            default_stream_name("rtsp://admin:S3cret@cam-6/live?token=T0k3n"),
            "cam-6"
        );
        assert_eq!(
            default_stream_name("file:///videos/ward%201.mp4"),
            "ward%201.mp4"
        );
        assert_eq!(
            gstals::BrokerSettings::topic_level(&default_stream_name("rtsp://10.0.0.7:554/x")),
            "10.0.0.7_554"
        );
    }
}
