// SPDX-License-Identifier: MPL-2.0

//! The broker options shared with the other gst-als tools (same names, same meaning).

/// Publishing every record to an MQTT broker as well (`alspublish`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct MqttArgs {
    /// Publish every record to this MQTT broker too: mqtt://host[:port] or mqtts://host[:port].
    #[arg(long)]
    pub broker: Option<String>,
    /// First level of the topics (<prefix>/<stream>/frames and .../summary).
    #[arg(long, default_value = "als")]
    pub mqtt_topic_prefix: String,
    /// 0: at most once; 1: at least once (acknowledged, resent after a loss).
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
    /// Keep undelivered records here, in one SQLite file per client id (default:
    /// $XDG_STATE_HOME/gst-als/spool, else ~/.local/state/gst-als/spool; made 0700, and refused
    /// when it is a link, another user's or writable by others).
    #[arg(long)]
    pub mqtt_spool_dir: Option<String>,
    /// Bytes of undelivered records kept; beyond it the oldest are dropped and counted.
    #[arg(long, default_value_t = 64 << 20)]
    pub mqtt_spool_max_bytes: u64,
    /// MQTT client id (default: gst-als-<stream>).
    #[arg(long)]
    pub mqtt_client_id: Option<String>,
    /// Publish every Nth frame record (summaries always).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub mqtt_frame_interval: u32,
    /// Include the 468 landmarks per face in the published records (about 20 KB a face).
    #[arg(long)]
    pub mqtt_landmarks: bool,
}

impl MqttArgs {
    /// The broker settings, when a broker was given.
    pub fn settings(&self) -> Option<gstals::BrokerSettings> {
        let broker = self.broker.clone()?;
        Some(gstals::BrokerSettings {
            broker,
            topic_prefix: Some(self.mqtt_topic_prefix.clone()),
            qos: Some(self.mqtt_qos),
            ca_file: self.mqtt_ca_file.clone(),
            cert_file: self.mqtt_cert_file.clone(),
            key_file: self.mqtt_key_file.clone(),
            username: self.mqtt_username.clone(),
            password: self
                .mqtt_password
                .clone()
                .or_else(|| std::env::var("ALS_MQTT_PASSWORD").ok()),
            spool_dir: self.mqtt_spool_dir.clone(),
            spool_max_bytes: Some(self.mqtt_spool_max_bytes),
            frame_interval: Some(self.mqtt_frame_interval),
            client_id: self.mqtt_client_id.clone(),
            landmarks: self.mqtt_landmarks,
        })
    }
}
