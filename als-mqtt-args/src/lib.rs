// SPDX-License-Identifier: MPL-2.0

//! The broker options of the gst-als command-line tools (`als-rtsp relay`, `als-batch`), in
//! one place so that each flag has one name, one default and one meaning. Each tool flattens
//! [`BrokerArgs`] into its own options and adds what only it has (the client id, whose meaning
//! differs: one relay, one id; a batch, one id per video). A crate of its own so that the
//! plugin never links clap.

/// Publishing every record to an MQTT broker as well (`alspublish`).
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
pub struct BrokerArgs {
    /// Publish every record to this MQTT broker too: mqtt://host[:port] or mqtts://host[:port].
    #[arg(long)]
    pub broker: Option<String>,
    /// First level of the topics (<prefix>/<stream>/frames and .../summary).
    #[arg(long, default_value = "als")]
    pub mqtt_topic_prefix: String,
    /// 0: at most once (a record counts as published once written to the connection, and
    /// may still be lost); 1: at least once (acknowledged, resent after a loss).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=1))]
    pub mqtt_qos: u32,
    /// PEM CA of the broker's certificate (mqtts://).
    #[arg(long)]
    pub mqtt_ca_file: Option<String>,
    /// PEM client certificate and key, for brokers that want one.
    #[arg(long, requires = "mqtt_key_file")]
    pub mqtt_cert_file: Option<String>,
    #[arg(long, requires = "mqtt_cert_file")]
    pub mqtt_key_file: Option<String>,
    #[arg(long)]
    pub mqtt_username: Option<String>,
    /// The password (prefer the ALS_MQTT_PASSWORD environment variable: a command line is
    /// visible to other users).
    #[arg(long)]
    pub mqtt_password: Option<String>,
    /// Keep undelivered records here, one spool file per client id, for a later run to send
    /// (default: $XDG_STATE_HOME/gst-als/spool, else ~/.local/state/gst-als/spool; made 0700,
    /// and refused when it is a link, another user's or writable by others).
    #[arg(long)]
    pub mqtt_spool_dir: Option<String>,
    /// Bytes of undelivered records kept per client id; beyond it the oldest are dropped and
    /// counted (in als-batch the video is then not `ok`).
    #[arg(long, default_value_t = 64 << 20)]
    pub mqtt_spool_max_bytes: u64,
    /// Publish every Nth frame record (summaries always).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub mqtt_frame_interval: u32,
    /// Include the 468 landmarks per face in the published records (about 20 KB a face).
    #[arg(long)]
    pub mqtt_landmarks: bool,
}

/// Where the password comes from when `--mqtt-password` is not given.
pub const PASSWORD_VARIABLE: &str = "ALS_MQTT_PASSWORD";

impl BrokerArgs {
    /// `--mqtt-password`, else the `ALS_MQTT_PASSWORD` environment variable.
    pub fn password(&self) -> Option<String> {
        self.mqtt_password
            .clone()
            .or_else(|| std::env::var(PASSWORD_VARIABLE).ok())
    }

    /// `alspublish`'s settings from these options, when a broker was given; the client id is
    /// the tool's to set, and so is the spool folder when none was given.
    pub fn settings(&self) -> Option<gstals::BrokerSettings> {
        Some(gstals::BrokerSettings {
            broker: self.broker.clone()?,
            topic_prefix: Some(self.mqtt_topic_prefix.clone()),
            qos: Some(self.mqtt_qos),
            ca_file: self.mqtt_ca_file.clone(),
            cert_file: self.mqtt_cert_file.clone(),
            key_file: self.mqtt_key_file.clone(),
            username: self.mqtt_username.clone(),
            password: self.password(),
            spool_dir: self.mqtt_spool_dir.clone(),
            spool_max_bytes: Some(self.mqtt_spool_max_bytes),
            frame_interval: Some(self.mqtt_frame_interval),
            client_id: None,
            landmarks: self.mqtt_landmarks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        broker: BrokerArgs,
    }

    fn parse(args: &[&str]) -> Result<BrokerArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|c| c.broker)
    }

    #[test]
    fn without_a_broker_there_are_no_settings_and_the_defaults_hold() {
        let args = parse(&[]).expect("parses");
        assert_eq!(args.settings(), None);
        assert_eq!(
            (
                args.mqtt_topic_prefix.as_str(),
                args.mqtt_qos,
                args.mqtt_spool_max_bytes,
                args.mqtt_frame_interval,
            ),
            ("als", 1, 64 << 20, 1)
        );
    }

    #[test]
    fn every_option_reaches_the_settings() {
        let args = parse(&[
            "--broker=mqtts://broker:8883",
            "--mqtt-topic-prefix=ward",
            "--mqtt-qos=0",
            "--mqtt-ca-file=ca.pem",
            "--mqtt-cert-file=c.pem",
            "--mqtt-key-file=c.key",
            "--mqtt-username=cam1",
            "--mqtt-password=long-secret",
            "--mqtt-spool-dir=/spool",
            "--mqtt-spool-max-bytes=1000",
            "--mqtt-frame-interval=5",
            "--mqtt-landmarks",
        ])
        .expect("parses");
        let s = args.settings().expect("a broker");
        assert_eq!(s.broker, "mqtts://broker:8883");
        assert_eq!(s.topic_prefix.as_deref(), Some("ward"));
        assert_eq!(s.qos, Some(0));
        assert_eq!(
            (
                s.ca_file.as_deref(),
                s.cert_file.as_deref(),
                s.key_file.as_deref()
            ),
            (Some("ca.pem"), Some("c.pem"), Some("c.key"))
        );
        assert_eq!(s.username.as_deref(), Some("cam1"));
        assert_eq!(s.password.as_deref(), Some("long-secret"));
        assert_eq!(s.spool_dir.as_deref(), Some("/spool"));
        assert_eq!((s.spool_max_bytes, s.frame_interval), (Some(1000), Some(5)));
        assert!(s.landmarks);
        assert_eq!(s.client_id, None);
    }

    #[test]
    fn bad_values_and_half_a_client_certificate_are_refused() {
        for bad in [
            &["--mqtt-qos=2"][..],
            &["--mqtt-frame-interval=0"],
            &["--mqtt-cert-file=c.pem"],
            &["--mqtt-key-file=c.key"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
