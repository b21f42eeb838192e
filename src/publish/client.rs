// SPDX-License-Identifier: MPL-2.0

//! The publishing thread: records in through a bounded channel that never blocks the caller,
//! out to an MQTT broker (rumqttc) in order, through the [`Spool`] whenever the broker is not
//! taking them. One thread per publisher, with its own single-threaded tokio runtime.
//!
//! Delivery: at QoS 1 a record counts as sent when the broker acknowledges it; on a lost
//! connection every record not yet acknowledged goes to a retry queue in front of the spool
//! and is sent again after reconnecting (clean session, so rumqttc itself resends nothing), so
//! a record whose acknowledgement was lost arrives twice: MQTT's "at least once". At QoS 0 a
//! record counts as sent once written to the connection; one written just before a loss may
//! be lost ("at most once"). The records in flight (at most 32) and in the retry queue are
//! held in memory and written back to the spool when the publisher stops; a crash loses them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, Incoming, MqttOptions, Outgoing, QoS,
    TlsConfiguration, Transport,
};

use super::spool::{Record, Spool, Topic};

/// Where and how to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// PEM files.
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: String,
    pub frames_topic: String,
    pub summary_topic: String,
    pub qos1: bool,
    pub spool_dir: Option<String>,
    pub spool_max_bytes: u64,
    /// Records the channel from the streaming thread holds.
    pub queue: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Config {
    /// Host, port and TLS from `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883).
    pub fn parse_broker(url: &str) -> Result<(String, u16, bool), String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(format!(
                "broker {url:?}: give mqtt://host[:port] or mqtts://host[:port]"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !h.ends_with(']') || h.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                p.parse::<u16>()
                    .map_err(|_| format!("broker {url:?}: port {p:?} is not a number"))?,
            ),
            _ => (rest.to_string(), if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("broker {url:?}: no host"));
        }
        Ok((host, port, tls))
    }
}

/// What the publisher has done, readable at any time.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    /// Records that arrived while the broker was away.
    pub spooled: AtomicU64,
    pub dropped: AtomicU64,
    pub reconnects: AtomicU64,
    /// Records sent again after a loss (possible duplicates at QoS 1).
    pub resent: AtomicU64,
    pub connected: AtomicBool,
    /// Records taken from the caller, those the thread has moved to the spool, and those the
    /// spool had to drop.
    pub accepted: AtomicU64,
    pub taken: AtomicU64,
    pub spool_dropped: AtomicU64,
}

/// A snapshot of [`Counters`] plus what the spool holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub sent: u64,
    pub spooled: u64,
    pub dropped: u64,
    pub reconnects: u64,
    pub resent: u64,
    pub in_spool: u64,
    pub connected: bool,
}

/// What the publisher tells its owner, from its own thread.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Connected,
    /// The connection failed or was lost; it is retried after `retry_in`.
    Unreachable {
        why: String,
        retry_in: Duration,
    },
    /// The broker said no (user name, password, client id, authorisation).
    Refused(String),
    /// The spool could not be written: records are kept in memory only.
    SpoolFailed(String),
    /// Oldest records dropped since the last notice of this kind.
    Dropped(u64),
}

enum Message {
    Record(Record),
    /// Try the broker now rather than at the end of the back-off (draining at EOS).
    Hurry,
    /// Stop, after trying to deliver what is queued for at most this long.
    Stop(Duration),
}

/// The handle the element keeps.
pub struct Publisher {
    tx: SyncSender<Message>,
    wake: Arc<tokio::sync::Notify>,
    counters: Arc<Counters>,
    in_spool: Arc<AtomicU64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Publisher {
    /// Starts the thread. Fails only on what retrying cannot cure: unreadable certificate
    /// files, a spool directory that cannot be made.
    pub fn start(config: Config, notify: impl Fn(Notice) + Send + 'static) -> Result<Self, String> {
        let options = mqtt_options(&config)?;
        let spool = match &config.spool_dir {
            Some(dir) => Spool::on_disk(
                std::path::Path::new(dir),
                &sanitise(&config.client_id),
                config.spool_max_bytes,
            )
            .map_err(|e| format!("could not open the spool in {dir}: {e}"))?,
            None => Spool::in_memory(config.spool_max_bytes),
        };
        let (tx, rx) = sync_channel(config.queue.max(1));
        let wake = Arc::new(tokio::sync::Notify::new());
        let counters = Arc::new(Counters::default());
        let in_spool = Arc::new(AtomicU64::new(spool.len() as u64));
        let worker = Worker {
            config,
            rx,
            wake: wake.clone(),
            counters: counters.clone(),
            in_spool: in_spool.clone(),
            spool,
            notify: Box::new(notify),
            reported_drops: 0,
            noticed_drops: 0,
            last_drop_notice: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("could not start the publishing runtime: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("als-publish".into())
            .spawn(move || runtime.block_on(worker.run(options)))
            .map_err(|e| format!("could not start the publishing thread: {e}"))?;
        Ok(Self {
            tx,
            wake,
            counters,
            in_spool,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a record without waiting. When the channel is full (the thread has fallen
    /// behind by `queue` records), the record is dropped and counted.
    pub fn send(&self, topic: Topic, payload: Vec<u8>) {
        match self.tx.try_send(Message::Record(Record { topic, payload })) {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                self.wake.notify_one();
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counters;
        Snapshot {
            sent: c.sent.load(Ordering::Relaxed),
            spooled: c.spooled.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            resent: c.resent.load(Ordering::Relaxed),
            in_spool: self.in_spool.load(Ordering::Relaxed),
            connected: c.connected.load(Ordering::Relaxed),
        }
    }

    /// Waits up to `timeout` until nothing waits for the broker: every record taken so far
    /// (and any an earlier run left in the spool) sent or dropped. Returns whether it got there.
    pub fn drain(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let _ = self.tx.try_send(Message::Hurry);
        self.wake.notify_one();
        loop {
            let c = &self.counters;
            let taken = c.taken.load(Ordering::Acquire) >= c.accepted.load(Ordering::Acquire);
            if taken && self.in_spool.load(Ordering::Acquire) == 0 {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Delivers what is queued for at most `linger`, then stops the thread. What is left
    /// stays in an on-disk spool for the next run (and is lost from a memory spool).
    pub fn stop(&self, linger: Duration) {
        // A blocking send: the thread drains the channel, so this waits at most for it.
        let _ = self.tx.send(Message::Stop(linger));
        self.wake.notify_one();
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn read(path: &Option<String>, what: &str) -> Result<Option<Vec<u8>>, String> {
    path.as_ref()
        .map(|p| std::fs::read(p).map_err(|e| format!("could not read the {what} {p}: {e}")))
        .transpose()
}

fn mqtt_options(config: &Config) -> Result<MqttOptions, String> {
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_clean_session(true)
        .set_inflight(32)
        .set_max_packet_size(16 << 20, 16 << 20);
    if let (Some(user), password) = (&config.username, &config.password) {
        options.set_credentials(user, password.clone().unwrap_or_default());
    }
    if config.tls {
        let ca = read(&config.ca_file, "CA file")?;
        let cert = read(&config.cert_file, "client certificate")?;
        let key = read(&config.key_file, "client key")?;
        let client_auth = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err("a client certificate needs both cert-file and key-file".into()),
        };
        let Some(ca) = ca else {
            return Err(
                "mqtts:// needs ca-file: the CA that signed the broker's certificate".into(),
            );
        };
        options.set_transport(Transport::Tls(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        }));
    }
    Ok(options)
}

struct Worker {
    config: Config,
    rx: Receiver<Message>,
    wake: Arc<tokio::sync::Notify>,
    counters: Arc<Counters>,
    in_spool: Arc<AtomicU64>,
    spool: Spool,
    notify: Box<dyn Fn(Notice) + Send>,
    reported_drops: u64,
    noticed_drops: u64,
    last_drop_notice: Option<std::time::Instant>,
}

/// Records handed to rumqttc, oldest first, with their packet id once written; and those to
/// send again first after a loss.
struct InFlight {
    records: VecDeque<(Option<u16>, Record)>,
    retry: VecDeque<Record>,
}

impl InFlight {
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.retry.is_empty()
    }
}

/// Polls rumqttc's event loop without ever cancelling it (its connect and write are not
/// cancel-safe), forwarding what happens. After an error it forgets everything rumqttc still
/// holds (the worker puts those records back in the spool itself) and waits for `go`.
async fn pump(
    mut eventloop: rumqttc::EventLoop,
    events: tokio::sync::mpsc::UnboundedSender<Result<Event, ConnectionError>>,
    go: Arc<tokio::sync::Notify>,
) {
    loop {
        match eventloop.poll().await {
            Ok(event) => {
                if events.send(Ok(event)).is_err() {
                    return;
                }
            }
            Err(err) => {
                forget(&mut eventloop);
                if events.send(Err(err)).is_err() {
                    return;
                }
                go.notified().await;
                // Publishes handed over after the error but before the worker heard of it.
                eventloop.clean();
                forget(&mut eventloop);
            }
        }
    }
}

/// Drops what rumqttc still holds of a lost connection: requests, the events it queued
/// before the failed write or read (a stale `Outgoing::Publish` would shift every packet id
/// the worker matches), and a packet-id collision (which would block the next connection).
fn forget(eventloop: &mut rumqttc::EventLoop) {
    eventloop.pending.clear();
    eventloop.state.events.clear();
    eventloop.state.collision = None;
}

impl Worker {
    async fn run(mut self, options: MqttOptions) {
        let (client, eventloop) = AsyncClient::new(options, 64);
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let go = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(pump(eventloop, events_tx, go.clone()));
        let mut flight = InFlight {
            records: VecDeque::new(),
            retry: VecDeque::new(),
        };
        let mut connected = false;
        let mut backoff = self.config.min_backoff;
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut stopping: Option<tokio::time::Instant> = None;
        let window = 32;
        loop {
            let (stop, hurry) = self.take_messages(connected);
            if let Some(deadline) = stop {
                stopping.get_or_insert(tokio::time::Instant::now() + deadline);
            }
            if (hurry || stopping.is_some()) && retry_at.take().is_some() {
                go.notify_one();
            }
            self.report_drops(false);
            if connected {
                self.feed(&client, &mut flight, window);
            }
            self.in_spool.store(
                (self.spool.len() + flight.records.len() + flight.retry.len()) as u64,
                Ordering::Release,
            );
            if let Some(deadline) = stopping {
                let idle = self.spool.is_empty() && flight.is_empty();
                if idle || tokio::time::Instant::now() >= deadline {
                    let _ = client.try_disconnect();
                    // Anything not delivered goes back to the spool, for the next run when
                    // it is on disk.
                    self.requeue(&mut flight);
                    let back: Vec<Record> = flight.retry.drain(..).collect();
                    if let Err(e) = self.spool.push_front(back) {
                        (self.notify)(Notice::SpoolFailed(e.to_string()));
                    }
                    self.report_drops(true);
                    self.in_spool
                        .store(self.spool.len() as u64, Ordering::Release);
                    return;
                }
            }
            let wake = self.wake.clone();
            let stop_timer = async {
                match stopping {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let retry_timer = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => match event {
                    Some(Ok(event)) => self.handle(event, &mut flight, &mut connected, &mut backoff),
                    Some(Err(err)) => {
                        let requeued = self.requeue(&mut flight);
                        if connected {
                            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                            self.counters.resent.fetch_add(requeued, Ordering::Relaxed);
                        }
                        connected = false;
                        self.counters.connected.store(false, Ordering::Relaxed);
                        (self.notify)(describe(&err, backoff));
                        retry_at = Some(tokio::time::Instant::now() + backoff);
                        backoff = (backoff * 2).min(self.config.max_backoff);
                    }
                    None => return,
                },
                _ = retry_timer => {
                    retry_at = None;
                    go.notify_one();
                }
                _ = wake.notified() => {}
                _ = stop_timer => {}
            }
        }
    }

    /// Hands the oldest records (those to retry first, then the spool's) to rumqttc while
    /// fewer than `window` are unconfirmed.
    fn feed(&mut self, client: &AsyncClient, flight: &mut InFlight, window: usize) {
        let qos = if self.config.qos1 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        while flight.records.len() < window {
            let record = match flight.retry.pop_front() {
                Some(r) => r,
                None => match self.spool.pop() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        (self.notify)(Notice::SpoolFailed(e.to_string()));
                        break;
                    }
                },
            };
            let topic = match record.topic {
                Topic::Frames => &self.config.frames_topic,
                Topic::Summary => &self.config.summary_topic,
            };
            if client
                .try_publish(topic.clone(), qos, false, record.payload.clone())
                .is_err()
            {
                flight.retry.push_front(record);
                break;
            }
            flight.records.push_back((None, record));
        }
    }

    /// Moves what the element sent into the spool (counted as spooled while the broker is
    /// away); returns the stop deadline when asked to, and whether to try the broker now.
    fn take_messages(&mut self, connected: bool) -> (Option<Duration>, bool) {
        let (mut stop, mut hurry) = (None, false);
        while let Ok(message) = self.rx.try_recv() {
            match message {
                Message::Record(record) => {
                    let pushed = self.spool.push(record);
                    self.in_spool.fetch_add(1, Ordering::Release);
                    self.counters.taken.fetch_add(1, Ordering::Release);
                    if let Err(e) = pushed {
                        // The record is lost: counted, and said.
                        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        self.counters.spool_dropped.fetch_add(1, Ordering::Relaxed);
                        (self.notify)(Notice::SpoolFailed(e.to_string()));
                    }
                    if !connected {
                        self.counters.spooled.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Message::Stop(linger) => stop = Some(linger),
                Message::Hurry => hurry = true,
            }
        }
        (stop, hurry)
    }

    /// Counts what the spool dropped; says so at most every 5 s (and when `now`).
    fn report_drops(&mut self, now: bool) {
        let dropped = self.spool.dropped();
        if dropped > self.reported_drops {
            let new = dropped - self.reported_drops;
            self.counters.dropped.fetch_add(new, Ordering::Relaxed);
            self.counters
                .spool_dropped
                .fetch_add(new, Ordering::Relaxed);
            self.reported_drops = dropped;
        }
        let due = now
            || self
                .last_drop_notice
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(5));
        if dropped > self.noticed_drops && due {
            self.last_drop_notice = Some(std::time::Instant::now());
            (self.notify)(Notice::Dropped(dropped - self.noticed_drops));
            self.noticed_drops = dropped;
        }
    }

    /// Puts every unacknowledged record in front of those to retry; returns how many.
    fn requeue(&mut self, flight: &mut InFlight) -> u64 {
        let n = flight.records.len() as u64;
        while let Some((_, record)) = flight.records.pop_back() {
            flight.retry.push_front(record);
        }
        n
    }

    fn handle(
        &mut self,
        event: Event,
        flight: &mut InFlight,
        connected: &mut bool,
        backoff: &mut Duration,
    ) {
        match event {
            Event::Incoming(Incoming::ConnAck(ack)) if ack.code == ConnectReturnCode::Success => {
                *connected = true;
                *backoff = self.config.min_backoff;
                self.counters.connected.store(true, Ordering::Relaxed);
                (self.notify)(Notice::Connected);
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                // Publishes go out in the order they were handed over.
                if let Some(entry) = flight.records.iter_mut().find(|(id, _)| id.is_none()) {
                    entry.0 = Some(pkid);
                }
                if !self.config.qos1 {
                    while flight.records.front().is_some_and(|(id, _)| id.is_some()) {
                        flight.records.pop_front();
                        self.counters.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Event::Incoming(Incoming::PubAck(ack)) => {
                if let Some(i) = flight
                    .records
                    .iter()
                    .position(|(id, _)| *id == Some(ack.pkid))
                {
                    flight.records.remove(i);
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

fn describe(err: &ConnectionError, retry_in: Duration) -> Notice {
    match err {
        ConnectionError::ConnectionRefused(code) => Notice::Refused(match code {
            ConnectReturnCode::BadUserNamePassword => "bad user name or password".into(),
            ConnectReturnCode::NotAuthorized => "not authorised".into(),
            ConnectReturnCode::BadClientId => "client id refused".into(),
            other => format!("{other:?}"),
        }),
        ConnectionError::Tls(e) => Notice::Unreachable {
            why: format!("TLS handshake failed: {e}"),
            retry_in,
        },
        other => Notice::Unreachable {
            why: other.to_string(),
            retry_in,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            Config::parse_broker("mqtt://localhost").unwrap(),
            ("localhost".into(), 1883, false)
        );
        assert_eq!(
            Config::parse_broker("mqtts://broker.example:8884/").unwrap(),
            ("broker.example".into(), 8884, true)
        );
        assert_eq!(
            Config::parse_broker("mqtt://127.0.0.1:9").unwrap(),
            ("127.0.0.1".into(), 9, false)
        );
        for bad in ["http://x", "mqtt://", "mqtt://host:port", "localhost:1883"] {
            assert!(Config::parse_broker(bad).is_err(), "{bad}");
        }
    }
}
