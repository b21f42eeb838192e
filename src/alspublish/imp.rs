// SPDX-License-Identifier: MPL-2.0

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use once_cell::sync::Lazy;

use crate::jsonl::LineOptions;
use crate::publish::{Config, Notice, Publisher, Snapshot, Topic};
use crate::records::{FrameContext, Kind, event_line, frame_line};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alspublish",
        gst::DebugColorFlags::empty(),
        Some("Publishes gst-als records to an MQTT broker"),
    )
});

/// Name of the element message with the counters.
pub const PUBLISH_MESSAGE: &str = "als-publish";

#[derive(Debug, Clone)]
struct Settings {
    broker: String,
    stream_name: String,
    topic_prefix: String,
    client_id: Option<String>,
    qos: u32,
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    username: Option<String>,
    password: Option<String>,
    frame_interval: u32,
    landmarks: bool,
    flow_grid: bool,
    spool_dir: Option<String>,
    spool_max_bytes: u64,
    spool_fsync: bool,
    linger: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            broker: "mqtt://localhost:1883".into(),
            stream_name: "camera".into(),
            topic_prefix: "als".into(),
            client_id: None,
            qos: 1,
            ca_file: None,
            cert_file: None,
            key_file: None,
            username: None,
            password: None,
            frame_interval: 1,
            landmarks: false,
            flow_grid: false,
            spool_dir: None,
            spool_max_bytes: 64 << 20,
            spool_fsync: false,
            linger: 5.0,
        }
    }
}

impl Settings {
    fn config(&self) -> Result<Config, String> {
        let address = Config::parse_broker_address(&self.broker)?;
        if self.stream_name.is_empty() || self.stream_name.contains(['/', '+', '#']) {
            return Err(format!(
                "stream-name {:?} must be non-empty, without '/', '+' or '#'",
                self.stream_name
            ));
        }
        // A wildcard in a topic makes the broker drop the connection on every publish.
        if self.topic_prefix.is_empty() || self.topic_prefix.contains(['+', '#']) {
            return Err(format!(
                "topic-prefix {:?} must be non-empty, without '+' or '#'",
                self.topic_prefix
            ));
        }
        let topic = |leaf: &str| format!("{}/{}/{leaf}", self.topic_prefix, self.stream_name);
        Ok(Config {
            host: address.host,
            port: address.port,
            tls: address.tls,
            ca_file: self.ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            // The properties win over credentials in the address.
            username: self.username.clone().or(address.username),
            password: self.password.clone().or(address.password),
            client_id: self
                .client_id
                .clone()
                .unwrap_or_else(|| format!("gst-als-{}", self.stream_name)),
            frames_topic: topic("frames"),
            summary_topic: topic("summary"),
            qos1: self.qos == 1,
            spool_dir: self.spool_dir.clone(),
            spool_max_bytes: self.spool_max_bytes,
            spool_fsync: self.spool_fsync,
            queue: 1024,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        })
    }
}

struct State {
    publisher: Arc<Publisher>,
    /// Where the records wait: on disk they survive a stop.
    spool_on_disk: bool,
    frame: u64,
    width: u32,
    height: u32,
}

#[derive(Default)]
pub struct AlsPublish {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for AlsPublish {
    const NAME: &'static str = "GstAlsPublish";
    type Type = super::AlsPublish;
    type ParentType = gst_base::BaseTransform;
}

fn counters_structure(name: &str, c: &Snapshot) -> gst::Structure {
    gst::Structure::builder(name)
        .field("connected", c.connected)
        .field("sent", c.sent)
        .field("spooled", c.spooled)
        .field("dropped", c.dropped)
        .field("resent", c.resent)
        .field("reconnects", c.reconnects)
        .field("waiting", c.in_spool)
        .field("in-memory", c.in_memory)
        .field("too-large", c.too_large)
        .build()
}

impl ObjectImpl for AlsPublish {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            let d = Settings::default();
            let string = |name: &str, nick: &str, blurb: &str, default: Option<&str>| {
                glib::ParamSpecString::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .default_value(default)
                    .mutable_ready()
                    .build()
            };
            vec![
                string("broker", "Broker", "mqtt://host[:port] (1883) or mqtts://host[:port] (8883, TLS); user:password@ before the host is taken as credentials and never shown (read back masked)", Some(&d.broker)),
                string("stream-name", "Stream name", "Name of this camera or stream: in every record and in the topics <topic-prefix>/<stream-name>/frames and .../summary", Some(&d.stream_name)),
                string("topic-prefix", "Topic prefix", "First level of the topics", Some(&d.topic_prefix)),
                string("client-id", "Client id", "MQTT client id (unset: gst-als-<stream-name>); also names the spool file", None),
                glib::ParamSpecUInt::builder("mqtt-qos")
                    .nick("QoS")
                    .blurb("MQTT quality of service: 0 at most once, 1 at least once (acknowledged, resent after a loss)")
                    .maximum(1)
                    .default_value(d.qos)
                    .mutable_ready()
                    .build(),
                string("ca-file", "CA file", "PEM file of the CA that signed the broker's certificate (mqtts://)", None),
                string("cert-file", "Client certificate", "PEM client certificate, for brokers that want one (with key-file)", None),
                string("key-file", "Client key", "PEM private key of cert-file", None),
                string("username", "User name", "User name for brokers that require one", None),
                string("password", "Password", "Password for brokers that require one (not readable back)", None),
                glib::ParamSpecUInt::builder("frame-interval")
                    .nick("Frame interval")
                    .blurb("Publish every Nth frame record (summaries and windows always)")
                    .minimum(1)
                    .maximum(100_000)
                    .default_value(d.frame_interval)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("landmarks")
                    .nick("Landmarks")
                    .blurb("Include the 468 landmarks of every face (about 20 KB a face; off keeps records small)")
                    .default_value(d.landmarks)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("flow-grid")
                    .nick("Flow grid")
                    .blurb("Include the pooled flow magnitude grid")
                    .default_value(d.flow_grid)
                    .mutable_playing()
                    .build(),
                string("spool-dir", "Spool directory", "Keep undelivered records in <client-id>.spool (SQLite) here (unset: in memory); a new run sends what an earlier one left. Made 0700 if missing; refused if it is a link, another user's or writable by others", None),
                glib::ParamSpecUInt64::builder("spool-max-bytes")
                    .nick("Spool size")
                    .blurb("Bytes of undelivered records kept; beyond it the oldest are dropped and counted")
                    .minimum(4096)
                    .maximum(u64::MAX / 2)
                    .default_value(d.spool_max_bytes)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("spool-fsync")
                    .nick("Spool fsync")
                    .blurb("Every spooled record reaches the disk before the next (survives a power loss); off: records survive a crash or kill of the process, a power loss may lose the last ones")
                    .default_value(d.spool_fsync)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("linger")
                    .nick("Linger")
                    .blurb("Seconds to wait at EOS for the broker to take the queued records; a flush or a stop ends the wait at once")
                    .minimum(0.0)
                    .maximum(600.0)
                    .default_value(d.linger)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("counters")
                    .nick("Counters")
                    .blurb("als-publish-counters: connected, sent, spooled (arrived while the broker was away), dropped, resent (after a loss: possible duplicates), reconnects, waiting (in the spool), in-memory (of those, held in memory because the spool directory refused them), too-large (refused: over the 16 MiB packet limit; also in dropped)")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let text = || {
            value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .filter(|v| !v.is_empty())
        };
        match pspec.name() {
            "broker" => s.broker = text().unwrap_or_else(|| Settings::default().broker),
            "stream-name" => s.stream_name = text().unwrap_or_default(),
            "topic-prefix" => s.topic_prefix = text().unwrap_or_default(),
            "client-id" => s.client_id = text(),
            "mqtt-qos" => s.qos = value.get().expect("type checked upstream"),
            "ca-file" => s.ca_file = text(),
            "cert-file" => s.cert_file = text(),
            "key-file" => s.key_file = text(),
            "username" => s.username = text(),
            "password" => s.password = text(),
            "frame-interval" => s.frame_interval = value.get().expect("type checked upstream"),
            "landmarks" => s.landmarks = value.get().expect("type checked upstream"),
            "flow-grid" => s.flow_grid = value.get().expect("type checked upstream"),
            "spool-dir" => s.spool_dir = text(),
            "spool-max-bytes" => s.spool_max_bytes = value.get().expect("type checked upstream"),
            "spool-fsync" => s.spool_fsync = value.get().expect("type checked upstream"),
            "linger" => s.linger = value.get().expect("type checked upstream"),
            other => unimplemented!("property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "counters" {
            let snapshot = self
                .state
                .lock()
                .unwrap()
                .as_ref()
                .map(|s| s.publisher.snapshot())
                .unwrap_or_default();
            return counters_structure("als-publish-counters", &snapshot).to_value();
        }
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "broker" => crate::redact::uri(&s.broker).to_value(),
            "stream-name" => s.stream_name.to_value(),
            "topic-prefix" => s.topic_prefix.to_value(),
            "client-id" => s.client_id.to_value(),
            "mqtt-qos" => s.qos.to_value(),
            "ca-file" => s.ca_file.to_value(),
            "cert-file" => s.cert_file.to_value(),
            "key-file" => s.key_file.to_value(),
            "username" => s.username.to_value(),
            "password" => None::<String>.to_value(),
            "frame-interval" => s.frame_interval.to_value(),
            "landmarks" => s.landmarks.to_value(),
            "flow-grid" => s.flow_grid.to_value(),
            "spool-dir" => s.spool_dir.to_value(),
            "spool-max-bytes" => s.spool_max_bytes.to_value(),
            "spool-fsync" => s.spool_fsync.to_value(),
            "linger" => s.linger.to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for AlsPublish {}

impl ElementImpl for AlsPublish {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "ALS MQTT publisher",
                "Filter/Video",
                "Passes buffers through unchanged and publishes their gst-als records (the JSON \
                 of alsexport) and the stream's summaries to an MQTT broker, spooling while it \
                 is away",
                "gst-als developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: Lazy<Vec<gst::PadTemplate>> = Lazy::new(|| {
            crate::filter_pad_templates(&gst::Caps::builder("video/x-raw").any_features().build())
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        // A streaming thread waiting at EOS for the broker (linger) holds the stream lock
        // that deactivating the pads needs: end the wait first, so stopping never waits for
        // the broker.
        if transition == gst::StateChange::PausedToReady {
            self.interrupt_drain();
        }
        self.parent_change_state(transition)
    }
}

impl BaseTransformImpl for AlsPublish {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let config = self
            .settings
            .lock()
            .unwrap()
            .config()
            .map_err(|e| gst::error_msg!(gst::ResourceError::Settings, ("{e}")))?;
        gst::info!(
            CAT,
            imp = self,
            "Publishing to {}:{} as {} on {} and {}",
            config.host,
            config.port,
            config.client_id,
            config.frames_topic,
            config.summary_topic
        );
        let weak = self.obj().downgrade();
        let broker = format!("{}:{}", config.host, config.port);
        // Whatever the broker or a library says goes out without the password in it.
        let secrets = Arc::new(crate::redact::Secrets::new());
        if let Some(password) = &config.password {
            secrets.add(password);
        }
        let spool_on_disk = config.spool_dir.is_some();
        let last_warning = Mutex::new(None::<String>);
        let publisher = Publisher::start(config, move |notice| {
            let Some(element) = weak.upgrade() else {
                return;
            };
            element
                .imp()
                .notice(notice, &broker, &last_warning, &secrets);
        })
        .map_err(|e| gst::error_msg!(gst::ResourceError::Settings, ("{e}")))?;
        *self.state.lock().unwrap() = Some(State {
            publisher: Arc::new(publisher),
            spool_on_disk,
            frame: 0,
            width: 0,
            height: 0,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let state = self.state.lock().unwrap().take();
        if let Some(state) = state {
            state.publisher.stop(Duration::ZERO);
            let snapshot = state.publisher.snapshot();
            if snapshot.in_spool > 0 && !state.spool_on_disk {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Write,
                    (
                        "Stopped with {} records not delivered to the MQTT broker; they were in \
                         memory and are lost (spool-dir keeps them for the next run)",
                        snapshot.in_spool
                    )
                );
            }
            self.post_counters(&snapshot);
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let s = incaps
            .structure(0)
            .ok_or_else(|| gst::loggable_error!(CAT, "Empty caps"))?;
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.width = s.get::<i32>("width").unwrap_or(0).max(0) as u32;
            state.height = s.get::<i32>("height").unwrap_or(0).max(0) as u32;
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStart(_) => self.interrupt_drain(),
            gst::EventView::FlushStop(_) => {
                if let Some(state) = self.state.lock().unwrap().as_ref() {
                    state.publisher.resume();
                }
            }
            _ => {}
        }
        if let gst::EventView::CustomDownstream(custom) = event.view()
            && let Some(s) = custom.structure()
        {
            let stream = self.settings.lock().unwrap().stream_name.clone();
            match event_line(s, Some(&stream)) {
                Some(Ok((line, kind))) => {
                    let topic = match kind {
                        Kind::Summary => Topic::Summary,
                        Kind::Frame => Topic::Frames,
                    };
                    if let Some(state) = self.state.lock().unwrap().as_ref() {
                        state
                            .publisher
                            .send(topic, line.trim_end().as_bytes().to_vec());
                    }
                }
                Some(Err(err)) => {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "Leaving out a malformed {}: {err}",
                        s.name()
                    )
                }
                None => {}
            }
        }
        if let gst::EventView::Eos(_) = event.view() {
            let linger = self.settings.lock().unwrap().linger;
            let publisher = self
                .state
                .lock()
                .unwrap()
                .as_ref()
                .map(|state| state.publisher.clone());
            let snapshot = publisher.map(|publisher| {
                let delivered = publisher.drain(Duration::from_secs_f64(linger));
                (delivered, publisher.snapshot())
            });
            if let Some((delivered, snapshot)) = snapshot {
                if !delivered {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Write,
                        (
                            "{} records not delivered at EOS (within {linger} s, or before a flush or stop); they stay in the spool",
                            snapshot.in_spool
                        )
                    );
                }
                self.post_counters(&snapshot);
            }
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(
        &self,
        buffer: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap().clone();
        let (frame, width, height) = match self.state.lock().unwrap().as_mut() {
            Some(state) => {
                state.frame += 1;
                (state.frame - 1, state.width, state.height)
            }
            None => return Err(gst::FlowError::Flushing),
        };
        if frame % settings.frame_interval as u64 != 0 {
            return Ok(gst::FlowSuccess::Ok);
        }
        let obj = self.obj();
        let segment = obj.segment();
        let context = FrameContext {
            element: obj.upcast_ref(),
            segment: &segment,
            frame,
            width,
            height,
            stream: Some(&settings.stream_name),
            options: LineOptions {
                flow_grid: settings.flow_grid,
                landmarks: settings.landmarks,
            },
        };
        let line = frame_line(buffer, &context, |err| {
            gst::warning!(CAT, imp = self, "Leaving out malformed meta: {err}")
        });
        if let Some(state) = self.state.lock().unwrap().as_ref() {
            state
                .publisher
                .send(Topic::Frames, line.trim_end().as_bytes().to_vec());
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl AlsPublish {
    fn interrupt_drain(&self) {
        if let Some(state) = self.state.lock().unwrap().as_ref() {
            state.publisher.interrupt();
        }
    }

    fn post_counters(&self, snapshot: &Snapshot) {
        let _ = self.obj().post_message(
            gst::message::Element::builder(counters_structure(PUBLISH_MESSAGE, snapshot))
                .src(&*self.obj())
                .build(),
        );
    }

    /// What the publishing thread reports, on that thread: warnings once per distinct reason
    /// (until the next connection), and the counters on every change.
    fn notice(
        &self,
        notice: Notice,
        broker: &str,
        last_warning: &Mutex<Option<String>>,
        secrets: &crate::redact::Secrets,
    ) {
        let warning = match &notice {
            Notice::Connected => {
                gst::info!(CAT, imp = self, "Connected to {broker}");
                *last_warning.lock().unwrap() = None;
                None
            }
            Notice::Unreachable { why, retry_in } => Some((
                gst::ResourceError::OpenWrite,
                format!(
                    "MQTT broker {broker} unreachable ({why}); records are spooled, retrying in {:.1} s",
                    retry_in.as_secs_f64()
                ),
                why.clone(),
            )),
            Notice::Refused(why) => Some((
                gst::ResourceError::NotAuthorized,
                format!(
                    "MQTT broker {broker} refused the connection: {why}; records are spooled, retrying"
                ),
                why.clone(),
            )),
            Notice::SpoolFailed { why, held } => Some((
                gst::ResourceError::Write,
                format!("MQTT spool: {why} ({held} records held in memory)"),
                why.clone(),
            )),
            Notice::SpoolRecovered(why) => Some((
                gst::ResourceError::Read,
                format!("MQTT spool: {why}"),
                why.clone(),
            )),
            Notice::TooLarge { bytes } => Some((
                gst::ResourceError::NoSpaceLeft,
                format!(
                    "Dropped a {bytes}-byte record: larger than the {} MiB MQTT packet limit \
                     (publish fewer landmarks or a smaller flow grid)",
                    crate::publish::client::MAX_PACKET >> 20
                ),
                // Said once in a row (then in the debug log): one per frame would flood.
                "too-large".to_string(),
            )),
            Notice::Dropped(n) => {
                // At most every few seconds (the thread sums them up), and not one of the
                // reasons the connection warnings are told apart by.
                let text = format!("MQTT spool full: dropped the {n} oldest records");
                gst::warning!(CAT, imp = self, "{text}");
                let _ = self.obj().post_message(
                    gst::message::Warning::builder(gst::ResourceError::NoSpaceLeft, &text)
                        .src(&*self.obj())
                        .build(),
                );
                None
            }
        };
        if let Some((kind, text, key)) = warning {
            let text = secrets.scrub(&text);
            let repeated = {
                let mut last = last_warning.lock().unwrap();
                let repeated = last.as_deref() == Some(key.as_str()) && !key.is_empty();
                *last = Some(key);
                repeated
            };
            if repeated {
                gst::debug!(CAT, imp = self, "{text}");
            } else {
                gst::warning!(CAT, imp = self, "{text}");
                let _ = self.obj().post_message(
                    gst::message::Warning::builder(kind, &text)
                        .src(&*self.obj())
                        .build(),
                );
            }
        }
        let publisher = self
            .state
            .try_lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| s.publisher.clone()));
        if let Some(publisher) = publisher {
            self.post_counters(&publisher.snapshot());
        }
    }
}
