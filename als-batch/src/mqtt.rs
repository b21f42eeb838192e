// SPDX-License-Identifier: MPL-2.0

//! The broker options shared with the other gst-als tools (same names, same meaning), checked
//! once before any video, and the MQTT client id of each video.
//!
//! Client ids: `<base>__<video>`, where `<base>` is `--mqtt-client-id` (default
//! `gst-als-batch`) and `<video>` the video's path under IN_DIR, both escaped to letters,
//! digits and '-' with every other byte written `_HH` (upper-case hex): `ward 1/cam.mp4` is
//! `gst-als-batch__ward_201_2Fcam_2Emp4`. An escaped text never holds `__` (every '_' is
//! followed by two hex digits), so the first `__` separates the two parts, and the video's
//! path, hence its stream name and topics, can be read back from the id alone: a later run
//! sends what a spool holds even when the video is gone. The spool file is named after the
//! client id, so ids are capped at [`MAX_CLIENT_ID`] bytes; a longer one is
//! `<base>___H<16 hex digits of a hash of the path>`, which a run can only map back to a video
//! it has in its list.

use std::path::PathBuf;
use std::time::Duration;

use als_mqtt_args::BrokerArgs;
use gstals::publish::Config;

/// The base of the client ids when `--mqtt-client-id` is not given.
pub const DEFAULT_CLIENT_ID: &str = "gst-als-batch";
/// Longest client id: the spool file is `<client id>` plus a short suffix, within the 255
/// bytes a file name may have.
pub const MAX_CLIENT_ID: usize = 200;
/// Separates the base from the video in a client id.
const SEPARATOR: &str = "__";
/// Starts the video part of a hashed client id (not a valid escape: 'H' is no hex digit).
const HASHED: &str = "_H";

/// Publishing every record to an MQTT broker as well (`alspublish`): the options every
/// gst-als tool shares, and the batch's own.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct MqttArgs {
    #[command(flatten)]
    pub common: BrokerArgs,
    /// Write every spooled record to the disk before the next, so that even a power loss
    /// loses none (slower). Without it a crash or kill of the process loses none, a power
    /// loss may lose the last ones.
    #[arg(long)]
    pub mqtt_spool_fsync: bool,
    /// Start of each video's MQTT client id: <ID>__<video path, escaped> (default:
    /// gst-als-batch). Two runs at once need different ids or different spool folders.
    #[arg(long, value_name = "ID")]
    pub mqtt_client_id: Option<String>,
}

/// The broker options, checked: what every video's `alspublish` gets, and what a publisher
/// sending an earlier run's spool needs.
#[derive(Clone, Debug)]
pub struct Broker {
    /// Every option but the client id, which [`Broker::client_id`] gives per video; the spool
    /// directory is always set.
    pub settings: gstals::BrokerSettings,
    pub spool_dir: PathBuf,
    /// Every spooled record reaches the disk before the next (`alspublish spool-fsync`).
    pub spool_fsync: bool,
    host: String,
    port: u16,
    tls: bool,
    /// The escaped base of the client ids.
    base: String,
}

/// Whose records a spool holds, read from its client id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpoolOf {
    /// The video with this path (under IN_DIR, `/`-separated).
    Video(String),
    /// A video whose path was too long for the id: only its hash is known.
    Hashed,
    /// Another client id (another base, or another tool).
    Other,
}

fn readable(path: &Option<String>, what: &str) -> Result<(), String> {
    match path {
        Some(p) => std::fs::read(p)
            .map(drop)
            .map_err(|e| format!("--broker: could not read the {what} {p}: {e}")),
        None => Ok(()),
    }
}

impl MqttArgs {
    /// The broker options, checked as far as can be without the broker: its address, the
    /// topic prefix, the CA, certificate and key files, and the spool directory (made, 0700,
    /// when missing). `None` without `--broker`.
    pub fn prepare(&self) -> Result<Option<Broker>, String> {
        let common = &self.common;
        let Some(mut settings) = common.settings() else {
            return Ok(None);
        };
        // Its errors never repeat credentials given in the address; nor do those below.
        let address =
            Config::parse_broker_address(&settings.broker).map_err(|e| format!("--broker: {e}"))?;
        let prefix = &common.mqtt_topic_prefix;
        if prefix.is_empty() || prefix.contains(['+', '#']) {
            return Err(format!(
                "--mqtt-topic-prefix {prefix:?} must be non-empty, without '+' or '#'"
            ));
        }
        readable(&common.mqtt_ca_file, "CA file")?;
        readable(&common.mqtt_cert_file, "client certificate")?;
        readable(&common.mqtt_key_file, "client key")?;
        if address.tls && common.mqtt_ca_file.is_none() {
            return Err(
                "--broker: mqtts:// needs --mqtt-ca-file, the CA that signed the broker's \
                 certificate"
                    .into(),
            );
        }
        let spool_dir = match &common.mqtt_spool_dir {
            Some(dir) => PathBuf::from(dir),
            None => gstals::publish::default_spool_dir().map_err(|e| {
                format!("--broker: no folder for the records the broker does not take: {e}")
            })?,
        };
        make_private_dir(&spool_dir)?;
        let spool_text = spool_dir
            .to_str()
            .ok_or_else(|| format!("the spool folder {} is not UTF-8", spool_dir.display()))?
            .to_string();
        let base = escape(self.mqtt_client_id.as_deref().unwrap_or(DEFAULT_CLIENT_ID));
        if base.is_empty() || base.len() > MAX_CLIENT_ID / 2 {
            return Err(format!(
                "--mqtt-client-id must have 1 to {} letters, digits or '-'",
                MAX_CLIENT_ID / 2
            ));
        }
        // As alspublish does: the options win over credentials in the address.
        settings.username = settings.username.or(address.username);
        settings.password = settings.password.or(address.password);
        settings.spool_dir = Some(spool_text);
        Ok(Some(Broker {
            settings,
            spool_dir,
            spool_fsync: self.mqtt_spool_fsync,
            host: address.host,
            port: address.port,
            tls: address.tls,
            base,
        }))
    }
}

/// Makes `dir` with its missing parents, readable by this user only; an existing one must be a
/// folder (its mode is left as it is).
fn make_private_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("could not make the spool folder {}: {e}", dir.display()))
}

impl Broker {
    /// The MQTT client id of the video `name` (its path under IN_DIR): also the name of its
    /// spool. Letters, digits, '-' and '_' only.
    pub fn client_id(&self, name: &str) -> String {
        let id = format!("{}{SEPARATOR}{}", self.base, escape(name));
        if id.len() <= MAX_CLIENT_ID {
            id
        } else {
            format!("{}{SEPARATOR}{HASHED}{:016x}", self.base, fnv1a(name))
        }
    }

    /// Whose records the spool of client id `id` holds.
    pub fn spool_of(&self, id: &str) -> SpoolOf {
        let Some(rest) = id
            .strip_prefix(self.base.as_str())
            .and_then(|r| r.strip_prefix(SEPARATOR))
        else {
            return SpoolOf::Other;
        };
        if rest.starts_with(HASHED) {
            return SpoolOf::Hashed;
        }
        match unescape(rest) {
            Some(name) if !name.is_empty() => SpoolOf::Video(name),
            _ => SpoolOf::Other,
        }
    }

    /// The stream name of the video `name`: the middle level of its topics.
    pub fn stream(name: &str) -> String {
        gstals::BrokerSettings::topic_level(name)
    }

    /// What a publisher sending the spool of the video `name` needs: the same options as that
    /// video's `alspublish` (mirrors its `Settings::config`), but a spool that never drops
    /// what an earlier run kept, and quicker retries.
    pub fn config(&self, name: &str) -> Config {
        let s = &self.settings;
        let stream = Self::stream(name);
        let prefix = s.topic_prefix.clone().unwrap_or_else(|| "als".into());
        let topic = |leaf: &str| format!("{prefix}/{stream}/{leaf}");
        Config {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            ca_file: s.ca_file.clone(),
            cert_file: s.cert_file.clone(),
            key_file: s.key_file.clone(),
            username: s.username.clone(),
            password: s.password.clone(),
            client_id: self.client_id(name),
            frames_topic: topic("frames"),
            summary_topic: topic("summary"),
            qos1: s.qos.unwrap_or(1) == 1,
            spool_dir: s.spool_dir.clone(),
            spool_max_bytes: u64::MAX / 2,
            spool_fsync: self.spool_fsync,
            queue: 16,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(2),
        }
    }

    /// Frame records published per `frames` frames (every `--mqtt-frame-interval`-th, from
    /// the first).
    pub fn frame_records(&self, frames: u64) -> u64 {
        frames.div_ceil(u64::from(self.settings.frame_interval.unwrap_or(1).max(1)))
    }
}

/// `text` in letters, digits and '-', every other byte as `_HH`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

/// The text [`escape`] made `escaped` from; `None` when it is not such an escape.
fn unescape(escaped: &str) -> Option<String> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'_' {
            let hex = escaped.get(i + 1..i + 3)?;
            if !hex
                .bytes()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h))
            {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    let text = String::from_utf8(out).ok()?;
    // Only the one spelling escape gives (no `_41` for `A`).
    (escape(&text) == escaped).then_some(text)
}

/// FNV-1a, 64 bits: stable across builds and machines (unlike std's hasher).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(args: &[&str]) -> Result<Option<Broker>, String> {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            mqtt: MqttArgs,
        }
        let mut all = vec!["x"];
        all.extend_from_slice(args);
        <Cli as clap::Parser>::try_parse_from(all)
            .map_err(|e| e.to_string())?
            .mqtt
            .prepare()
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("als-batch-mqtt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn escaping_keeps_safe_characters_and_reads_back() {
        for text in [
            "b.mp4",
            "ward 1/cam.mp4",
            "a_b-c.MKV",
            "_x__y_",
            "é/日本.mp4",
            "",
        ] {
            let e = escape(text);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{e}"
            );
            assert!(!e.contains("__"), "{e}");
            assert_eq!(unescape(&e).as_deref(), Some(text), "{e}");
        }
        assert_eq!(escape("ward 1/cam.mp4"), "ward_201_2Fcam_2Emp4");
        for bad in ["_4", "_zz", "a.b", "_41", "_2e", "a b"] {
            assert_eq!(unescape(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_video_has_its_own_client_id_that_names_it() {
        let dir = scratch("ids");
        let spool = dir.join("spool");
        let spool_arg = spool.to_str().unwrap();
        let b = broker(&[
            "--broker",
            "mqtt://127.0.0.1:1",
            "--mqtt-spool-dir",
            spool_arg,
            "--mqtt-client-id",
            "ward.3",
        ])
        .unwrap()
        .unwrap();
        // Made private.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&spool).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let a = b.client_id("ward 1/cam.mp4");
        assert_eq!(a, "ward_2E3__ward_201_2Fcam_2Emp4");
        // Same stream name (ward_1_cam.mp4), different videos, different ids.
        assert_ne!(a, b.client_id("ward_1/cam.mp4"));
        assert_eq!(b.spool_of(&a), SpoolOf::Video("ward 1/cam.mp4".to_string()));
        assert_eq!(b.spool_of("gst-als-batch__b_2Emp4"), SpoolOf::Other);
        assert_eq!(b.spool_of("gst-als-cam1"), SpoolOf::Other);
        assert_eq!(b.spool_of("ward_2E3__"), SpoolOf::Other);
        let long = format!("{}/v.mp4", "deep folder/".repeat(20));
        let hashed = b.client_id(&long);
        assert!(hashed.len() <= MAX_CLIENT_ID, "{hashed}");
        assert!(hashed.starts_with("ward_2E3___H"), "{hashed}");
        assert_eq!(b.spool_of(&hashed), SpoolOf::Hashed);
        assert_ne!(hashed, b.client_id(&format!("{long}x")));
        let config = b.config("ward 1/cam.mp4");
        assert_eq!(
            (config.host.as_str(), config.port, config.tls),
            ("127.0.0.1", 1, false)
        );
        assert_eq!(config.frames_topic, "als/ward_1_cam.mp4/frames");
        assert_eq!(config.summary_topic, "als/ward_1_cam.mp4/summary");
        assert_eq!(config.client_id, a);
        assert_eq!(config.spool_dir.as_deref(), Some(spool_arg));
        assert_eq!(b.frame_records(30), 30);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_broker_options_are_refused_before_any_video() {
        assert!(broker(&[]).unwrap().is_none());
        for (args, says) in [
            (vec!["--broker", "http://x"], "mqtt://host"),
            (vec!["--broker", "mqtt://h:port"], "not a number"),
            (vec!["--broker", "mqtts://h"], "--mqtt-ca-file"),
            (
                vec![
                    "--broker",
                    "mqtts://h",
                    "--mqtt-ca-file",
                    "/nonexistent/ca.pem",
                ],
                "/nonexistent/ca.pem",
            ),
            (
                vec!["--broker", "mqtt://h", "--mqtt-topic-prefix", "a/#"],
                "topic-prefix",
            ),
            (
                vec!["--broker", "mqtt://h", "--mqtt-spool-dir", "/proc/no/such"],
                "spool folder",
            ),
        ] {
            let err = broker(&args).unwrap_err();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
}
