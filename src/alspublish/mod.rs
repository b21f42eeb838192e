// SPDX-License-Identifier: MPL-2.0

/**
 * element-alspublish:
 *
 * Publishes the same JSON records `alsexport` writes (one per frame, and the classification and
 * kinematics summaries and windows of `alsclassify` and `alskinematics` upstream) to an MQTT
 * broker, for dashboards and records that gather many cameras: frame records to
 * `<topic-prefix>/<stream-name>/frames`, summaries to `<topic-prefix>/<stream-name>/summary`.
 * Every record carries the stream's name and the frame's wall-clock UTC time (the RTSP
 * sender's NTP time when `rtspsrc add-reference-timestamp-meta=true` provides it, else the
 * pipeline clock at capture).
 *
 * A separate element rather than an `mqtt://` location of `alsexport`: a launch line can then
 * write a file and publish at once, and the broker's many options stay off `alsexport`.
 *
 * The video never waits for the broker: records go to a publishing thread through a bounded
 * queue, and from there through a spool (in memory, or an SQLite file in `spool-dir`, at most
 * `spool-max-bytes`) to the broker, in order. A record leaves the spool only once delivered,
 * so a lost connection, a stop or a killed process loses nothing that reached an on-disk
 * spool. While the broker is unreachable the stream runs on, the element reconnects with
 * back-off (0.5 s doubling to 30 s) and keeps the records in the spool; when the spool is full
 * the oldest are dropped and counted. The spool directory is made 0700 and refused when it is
 * a link, another user's or writable by others; its files are 0600 and locked by one
 * publisher; a file that cannot be read is moved aside, never truncated; when the disk refuses
 * a write the records are held in memory (same bound, with a warning) until it takes them. A
 * record larger than the 16 MiB packet limit is refused at once with a warning. Credentials
 * given in the broker address (`mqtt://user:password@host`) are used and never shown: the
 * property reads back masked, and warnings are scrubbed of the password. At QoS 1 a record is
 * sent until the broker acknowledges it, so one whose acknowledgement was lost in a
 * disconnection arrives twice (MQTT's "at least once"); at QoS 0 it is sent once and may be
 * lost. The `counters` property and the `als-publish` element messages (on every connection
 * change, when records are dropped, and at the end) give sent, spooled, dropped, resent and
 * reconnects.
 *
 * A broker that cannot be reached, that refuses the user name or password, or whose TLS
 * certificate does not verify gives an element warning (the stream goes on and the element
 * keeps trying); a malformed broker address or unreadable certificate files an error at start.
 * At EOS the element waits up to `linger` seconds for the broker to take what is queued; what
 * is left stays in an on-disk spool for the next run.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 rtspsrc location=rtsp://cam1/stream add-reference-timestamp-meta=true ! \
 *     decodebin ! videoconvert ! alsmesh ! alskinematics ! \
 *     alspublish broker=mqtt://broker:1883 stream-name=cam1 spool-dir=/var/spool/gst-als ! \
 *     fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct AlsPublish(ObjectSubclass<imp::AlsPublish>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "alspublish",
        gst::Rank::NONE,
        AlsPublish::static_type(),
    )
}

/// The broker options the command-line tools share (`als-rtsp`, `als-batch`): applied to an
/// `alspublish` element of their pipelines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrokerSettings {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`.
    pub broker: String,
    pub topic_prefix: Option<String>,
    pub qos: Option<u32>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub spool_dir: Option<String>,
    pub spool_max_bytes: Option<u64>,
    pub frame_interval: Option<u32>,
    pub client_id: Option<String>,
    pub landmarks: bool,
}

impl BrokerSettings {
    /// Sets these options and `stream_name` on `element` (an `alspublish`).
    pub fn apply(&self, element: &gst::Element, stream_name: &str) {
        element.set_property("broker", &self.broker);
        element.set_property("stream-name", stream_name);
        let strings = [
            ("topic-prefix", &self.topic_prefix),
            ("ca-file", &self.ca_file),
            ("cert-file", &self.cert_file),
            ("key-file", &self.key_file),
            ("username", &self.username),
            ("password", &self.password),
            ("spool-dir", &self.spool_dir),
            ("client-id", &self.client_id),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                element.set_property(name, value);
            }
        }
        if let Some(qos) = self.qos {
            element.set_property("mqtt-qos", qos.min(1));
        }
        if let Some(bytes) = self.spool_max_bytes {
            element.set_property("spool-max-bytes", bytes.max(4096));
        }
        if let Some(n) = self.frame_interval {
            element.set_property("frame-interval", n.max(1));
        }
        element.set_property("landmarks", self.landmarks);
    }

    /// `name` made fit for a topic level: anything but letters, digits, '-', '_' and '.'
    /// becomes '_'.
    pub fn topic_level(name: &str) -> String {
        let level: String = name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if level.is_empty() { "_".into() } else { level }
    }
}
