// SPDX-License-Identifier: MPL-2.0

//! `als-rtsp`: relays a camera (any URI GStreamer reads, usually `rtsp://`) through `alsmesh`,
//! `alsflow region=face`, `alsclassify` and `alsoverlay`, and serves the annotated stream at
//! `rtsp://HOST:PORT/als` to any number of viewers, with the results as JSON Lines. When the
//! camera goes away the viewers keep a "source lost" card and the relay reconnects with
//! bounded back-off. `als-rtsp serve FILE` serves a file as a stand-in camera.

mod card;
mod mqtt;
mod relay;
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
    /// Ctrl-C; exits 1 after --max-attempts failed connections in a row, 2 on bad options.
    Relay {
        source: String,
        /// Address to serve on.
        #[arg(long, default_value = "0.0.0.0")]
        address: String,
        #[arg(long, default_value_t = 8554)]
        port: u16,
        #[arg(long, default_value = "/als")]
        mount: String,
        /// Size of the served stream (the source is scaled to it, keeping its aspect with
        /// borders); even numbers.
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
fn default_stream_name(source: &str) -> String {
    let after_scheme = source.split_once("://").map_or(source, |(_, rest)| rest);
    if source.starts_with("file://") {
        return after_scheme
            .rsplit('/')
            .next()
            .unwrap_or(after_scheme)
            .to_string();
    }
    let authority = after_scheme.split('/').next().unwrap_or(after_scheme);
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
            bitrate,
            stream_name,
            mqtt,
        } => {
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
            // Each camera loss restarts the ingest pipeline: a spool on disk survives that.
            if let Some(b) = broker.as_mut().filter(|b| b.spool_dir.is_none()) {
                b.spool_dir = Some(
                    std::env::temp_dir()
                        .join("gst-als-spool")
                        .display()
                        .to_string(),
                );
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
                bitrate_kbps: bitrate,
            })
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code as u8),
        Err(message) => {
            eprintln!("als-rtsp: {message}");
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
