// SPDX-License-Identifier: MPL-2.0

//! The publishing thread: records in through a bounded channel that never blocks the caller,
//! out to an MQTT broker (rumqttc) in order, through the [`Spool`] whenever the broker is not
//! taking them. One thread per publisher, with its own single-threaded tokio runtime.
//!
//! Delivery: every record goes through the spool, and leaves it only when delivered. At QoS 1
//! a record counts as sent when the broker acknowledges it; on a lost connection the publisher
//! reads the spool again from the oldest record not acknowledged (clean session, so rumqttc
//! itself resends nothing), so a record whose acknowledgement was lost arrives twice: MQTT's
//! "at least once". At QoS 0 a record counts as sent once written to the connection; one
//! written just before a loss may be lost ("at most once"). Nothing is requeued or rewritten
//! at a stop; what a crash loses is what had not yet reached the spool (the channel from the
//! streaming thread), and with a memory spool everything held.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, Incoming, MqttOptions, Outgoing, QoS,
    TlsConfiguration, Transport,
};

use super::spool::{Record, Spool};
use crate::redact;

/// The largest packet the broker takes by default (Mosquitto: 256 MiB; most brokers
/// configure less) and the limit this client sets: a record that does not fit would fail the
/// connection every time it is sent, and block every record after it.
pub const MAX_PACKET: usize = 16 << 20;

/// Which of the stream's topics a record goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Frames,
    Summary,
}

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
    /// Every spooled record reaches the disk before the next is taken (SQLite
    /// `synchronous=FULL`); otherwise a crash of the process loses none, a power loss may
    /// lose the last ones.
    pub spool_fsync: bool,
    /// Records the channel from the streaming thread holds.
    pub queue: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

/// A broker address taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// From `user[:password]@` in the address, percent-decoded.
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Config {
    /// Host, port and TLS from `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883).
    /// User information (`user:password@`) is allowed and left out here.
    pub fn parse_broker(url: &str) -> Result<(String, u16, bool), String> {
        Self::parse_broker_address(url).map(|a| (a.host, a.port, a.tls))
    }

    /// The whole address, credentials included. Errors never repeat the credentials.
    pub fn parse_broker_address(url: &str) -> Result<BrokerAddress, String> {
        let shown = redact::uri(url);
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(format!(
                "broker {shown:?}: give mqtt://host[:port] or mqtts://host[:port]"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((userinfo, rest)) => (Some(userinfo), rest),
            None => (None, rest),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (
                    Some(redact::percent_decode(u)),
                    Some(redact::percent_decode(p)),
                ),
                None => (Some(redact::percent_decode(info)), None),
            },
        };
        let bracketed = rest.starts_with('[') && rest.ends_with(']');
        let (host, port) = match rest.rsplit_once(':').filter(|_| !bracketed) {
            Some((h, p)) if !h.is_empty() && !h.ends_with(']') || h.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                p.parse::<u16>()
                    .map_err(|_| format!("broker {shown:?}: port {p:?} is not a number"))?,
            ),
            _ => (
                rest.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                if tls { 8883 } else { 1883 },
            ),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("broker {shown:?}: no host"));
        }
        Ok(BrokerAddress {
            host,
            port,
            tls,
            username: username.filter(|u| !u.is_empty()),
            password,
        })
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
    /// Records the full queue from the streaming thread could not take.
    pub queue_dropped: AtomicU64,
    /// Records held in memory now because the on-disk spool refused them.
    pub in_memory: AtomicU64,
    /// Records refused for being larger than [`MAX_PACKET`].
    pub too_large: AtomicU64,
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
    /// Of `in_spool`, those held in memory because the on-disk spool refused them.
    pub in_memory: u64,
    /// Records refused for being larger than the broker's packet limit (also in `dropped`).
    pub too_large: u64,
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
    /// The spool could not be written or read: records are kept in memory (`held` of them)
    /// until it can.
    SpoolFailed {
        why: String,
        held: u64,
    },
    /// The spool file found at start could not be read and was moved aside.
    SpoolRecovered(String),
    /// A record larger than the broker's packet limit was refused.
    TooLarge {
        bytes: usize,
    },
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

/// Lets a waiting [`Publisher::drain`] wake on progress, and be cut short.
#[derive(Default)]
struct Progress {
    /// Set by [`Publisher::interrupt`], cleared by [`Publisher::resume`].
    interrupted: Mutex<bool>,
    changed: std::sync::Condvar,
}

impl Progress {
    fn signal(&self) {
        // Taking the lock orders the notification after a waiter's check.
        let _guard = self.interrupted.lock();
        self.changed.notify_all();
    }
}

/// The handle the element keeps.
pub struct Publisher {
    progress: Arc<Progress>,
    tx: SyncSender<Message>,
    frames_topic: String,
    summary_topic: String,
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
        let mut spool = match &config.spool_dir {
            Some(dir) => Spool::on_disk(
                std::path::Path::new(dir),
                &sanitise(&config.client_id),
                config.spool_max_bytes,
                config.spool_fsync,
                (&config.frames_topic, &config.summary_topic),
            )
            .map_err(|e| format!("could not open the spool in {dir}: {e}"))?,
            None => Spool::in_memory(config.spool_max_bytes),
        };
        if let Some(why) = spool.take_recovered() {
            notify(Notice::SpoolRecovered(why));
        }
        let (tx, rx) = sync_channel(config.queue.max(1));
        let (frames_topic, summary_topic) =
            (config.frames_topic.clone(), config.summary_topic.clone());
        let wake = Arc::new(tokio::sync::Notify::new());
        let counters = Arc::new(Counters::default());
        let in_spool = Arc::new(AtomicU64::new(spool.len() as u64));
        let progress = Arc::new(Progress::default());
        let worker = Worker {
            config,
            rx,
            wake: wake.clone(),
            counters: counters.clone(),
            in_spool: in_spool.clone(),
            progress: progress.clone(),
            spool,
            notify: Box::new(notify),
            reported_drops: 0,
            noticed_drops: 0,
            last_drop_notice: None,
            last_spool_notice: None,
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
            progress,
            tx,
            frames_topic,
            summary_topic,
            wake,
            counters,
            in_spool,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a record without waiting. When the channel is full (the thread has fallen
    /// behind by `queue` records), the record is dropped and counted.
    pub fn send(&self, topic: Topic, payload: Vec<u8>) {
        let topic = match topic {
            Topic::Frames => self.frames_topic.clone(),
            Topic::Summary => self.summary_topic.clone(),
        };
        match self.tx.try_send(Message::Record(Record { topic, payload })) {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                self.wake.notify_one();
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                self.counters.queue_dropped.fetch_add(1, Ordering::Relaxed);
                // The publishing thread says so (at most every few seconds).
                self.wake.notify_one();
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
            in_memory: c.in_memory.load(Ordering::Relaxed),
            too_large: c.too_large.load(Ordering::Relaxed),
        }
    }

    /// Waits up to `timeout` until nothing waits for the broker: every record taken so far
    /// (and any an earlier run left in the spool) sent or dropped. Returns whether it got there.
    /// [`Publisher::interrupt`] cuts the wait short (returning false).
    pub fn drain(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let _ = self.tx.try_send(Message::Hurry);
        self.wake.notify_one();
        let mut interrupted = self
            .progress
            .interrupted
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        loop {
            let c = &self.counters;
            let taken = c.taken.load(Ordering::Acquire) >= c.accepted.load(Ordering::Acquire);
            if taken && self.in_spool.load(Ordering::Acquire) == 0 {
                return true;
            }
            let now = std::time::Instant::now();
            if *interrupted || now >= deadline {
                return false;
            }
            // Woken by the publishing thread's progress or an interruption; the timeout
            // only bounds a missed wake-up.
            let wait = (deadline - now).min(Duration::from_millis(250));
            interrupted = self
                .progress
                .changed
                .wait_timeout(interrupted, wait)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Ends a [`Publisher::drain`] in progress, and every later one until
    /// [`Publisher::resume`]: a flush or a stop must not wait for the broker.
    pub fn interrupt(&self) {
        *self
            .progress
            .interrupted
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = true;
        self.progress.changed.notify_all();
    }

    /// Lets [`Publisher::drain`] wait again (after a flush).
    pub fn resume(&self) {
        *self
            .progress
            .interrupted
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = false;
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

/// The spool file name of a client id: letters, digits, '-' and '_' only.
pub fn sanitise(name: &str) -> String {
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
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
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
    progress: Arc<Progress>,
    spool: Spool,
    notify: Box<dyn Fn(Notice) + Send>,
    reported_drops: u64,
    noticed_drops: u64,
    last_drop_notice: Option<std::time::Instant>,
    last_spool_notice: Option<std::time::Instant>,
}

/// The spool's records handed to rumqttc, oldest first, with their packet id once written.
/// They stay in the spool until delivered; `cursor` is the sequence number of the last one
/// handed over, from which the next are read.
struct InFlight {
    records: VecDeque<(Option<u16>, u64)>,
    cursor: u64,
    /// Delivered, to be removed from the spool.
    delivered: Vec<u64>,
}

/// Polls rumqttc's event loop without ever cancelling it (its connect and write are not
/// cancel-safe), forwarding what happens. After an error it forgets everything rumqttc still
/// holds (the worker reads those records from the spool again itself) and waits for `go`.
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
            cursor: 0,
            delivered: Vec::new(),
        };
        let mut connected = false;
        let mut backoff = self.config.min_backoff;
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut stopping: Option<tokio::time::Instant> = None;
        let window = 32;
        loop {
            self.remove_delivered(&mut flight);
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
            self.publish_levels();
            if let Some(deadline) = stopping {
                let idle = self.spool.is_empty();
                if idle || tokio::time::Instant::now() >= deadline {
                    let _ = client.try_disconnect();
                    // What was not delivered is still in the spool: on disk, for the next run;
                    // what the disk refused is tried once more, and what is still only in
                    // memory now is lost, counted and said.
                    let lost = self.spool.flush_memory() as u64;
                    if lost > 0 && self.config.spool_dir.is_some() {
                        self.counters.dropped.fetch_add(lost, Ordering::Relaxed);
                        (self.notify)(Notice::SpoolFailed {
                            why: format!(
                                "stopped with {lost} records the spool directory refused; \
                                 they were only in memory and are lost"
                            ),
                            held: lost,
                        });
                    }
                    self.report_drops(true);
                    self.publish_levels();
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
                        let unconfirmed = Self::rewind(&mut flight);
                        if connected {
                            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                            self.counters.resent.fetch_add(unconfirmed, Ordering::Relaxed);
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

    fn publish_levels(&self) {
        self.in_spool
            .store(self.spool.len() as u64, Ordering::Release);
        self.counters
            .in_memory
            .store(self.spool.in_memory_fallback() as u64, Ordering::Relaxed);
        self.progress.signal();
    }

    /// Says what the spool could not do, at most every 5 s.
    fn spool_failed(&mut self, why: String) {
        let due = self
            .last_spool_notice
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(5));
        if due {
            self.last_spool_notice = Some(std::time::Instant::now());
            (self.notify)(Notice::SpoolFailed {
                why,
                held: self.spool.in_memory_fallback() as u64,
            });
        }
    }

    /// Removes what the broker has from the spool.
    fn remove_delivered(&mut self, flight: &mut InFlight) {
        if flight.delivered.is_empty() {
            return;
        }
        self.counters
            .sent
            .fetch_add(flight.delivered.len() as u64, Ordering::Relaxed);
        if let Err(e) = self.spool.remove(&flight.delivered) {
            // They stay in the spool and may be sent again (a duplicate, not a loss).
            self.spool_failed(format!("could not remove delivered records: {e}"));
        }
        flight.delivered.clear();
    }

    /// After a lost connection: the next records are read from the oldest unconfirmed one.
    /// Returns how many were unconfirmed.
    fn rewind(flight: &mut InFlight) -> u64 {
        let n = flight.records.len() as u64;
        if let Some(&(_, first)) = flight.records.front() {
            flight.cursor = first - 1;
        }
        flight.records.clear();
        n
    }

    /// Hands the oldest records after the cursor to rumqttc while fewer than `window` are
    /// unconfirmed.
    fn feed(&mut self, client: &AsyncClient, flight: &mut InFlight, window: usize) {
        let qos = if self.config.qos1 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        while flight.records.len() < window {
            let batch = match self
                .spool
                .peek_after(flight.cursor, window - flight.records.len())
            {
                Ok(batch) if batch.is_empty() => return,
                Ok(batch) => batch,
                Err(e) => {
                    self.spool_failed(format!("could not read the spool: {e}"));
                    return;
                }
            };
            for (seq, record) in batch {
                if client
                    .try_publish(record.topic, qos, false, record.payload)
                    .is_err()
                {
                    // rumqttc's queue is full: read from here again next time.
                    return;
                }
                flight.cursor = seq;
                flight.records.push_back((None, seq));
            }
        }
    }

    /// Moves what the element sent into the spool (counted as spooled while the broker is
    /// away); returns the stop deadline when asked to, and whether to try the broker now.
    fn take_messages(&mut self, connected: bool) -> (Option<Duration>, bool) {
        let (mut stop, mut hurry) = (None, false);
        let mut records = Vec::new();
        let mut taken = 0;
        while let Ok(message) = self.rx.try_recv() {
            match message {
                Message::Record(record) => {
                    taken += 1;
                    // Room for the packet's own fields.
                    if record.payload.len() + record.topic.len() + 64 > MAX_PACKET {
                        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        self.counters.too_large.fetch_add(1, Ordering::Relaxed);
                        (self.notify)(Notice::TooLarge {
                            bytes: record.payload.len(),
                        });
                        continue;
                    }
                    if !connected {
                        self.counters.spooled.fetch_add(1, Ordering::Relaxed);
                    }
                    records.push(record);
                }
                Message::Stop(linger) => stop = Some(linger),
                Message::Hurry => hurry = true,
            }
        }
        if !records.is_empty() {
            let pushed = self.spool.push_all(records);
            if let Some(e) = pushed.disk_error {
                self.spool_failed(format!(
                    "could not write the spool ({e}); {} records are kept in memory until it \
                     can",
                    pushed.in_memory
                ));
            }
        }
        // Counted as taken only once in the spool (and `in_spool` says so): a drain that sees
        // them taken must also see them waiting.
        self.publish_levels();
        self.counters.taken.fetch_add(taken, Ordering::Release);
        self.progress.signal();
        (stop, hurry)
    }

    /// Counts what the spool dropped; says so, with what the full queue from the streaming
    /// thread dropped, at most every 5 s (and when `now`).
    fn report_drops(&mut self, now: bool) {
        let queue_dropped = self.counters.queue_dropped.load(Ordering::Relaxed);
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
        let all = dropped + queue_dropped;
        if all > self.noticed_drops && due {
            self.last_drop_notice = Some(std::time::Instant::now());
            (self.notify)(Notice::Dropped(all - self.noticed_drops));
            self.noticed_drops = all;
        }
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
                        if let Some((_, seq)) = flight.records.pop_front() {
                            flight.delivered.push(seq);
                        }
                    }
                }
            }
            Event::Incoming(Incoming::PubAck(ack)) => {
                if let Some(i) = flight
                    .records
                    .iter()
                    .position(|(id, _)| *id == Some(ack.pkid))
                    && let Some((_, seq)) = flight.records.remove(i)
                {
                    flight.delivered.push(seq);
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
        assert_eq!(
            Config::parse_broker("mqtt://[::1]").unwrap(),
            ("::1".into(), 1883, false)
        );
        assert_eq!(
            Config::parse_broker("mqtts://[::1]:8884").unwrap(),
            ("::1".into(), 8884, true)
        );
        let slash = Config::parse_broker_address("mqtt://u:pa/ss@host").unwrap();
        assert_eq!(
            (slash.host.as_str(), slash.password.as_deref()),
            ("host", Some("pa/ss"))
        );
        for bad in ["http://x", "mqtt://", "mqtt://host:port", "localhost:1883"] {
            assert!(Config::parse_broker(bad).is_err(), "{bad}");
        }
        let address = Config::parse_broker_address("mqtts://cam%201:p%40ss@broker:8884").unwrap();
        assert_eq!(
            (address.host.as_str(), address.port, address.tls),
            ("broker", 8884, true)
        );
        assert_eq!(address.username.as_deref(), Some("cam 1"));
        assert_eq!(address.password.as_deref(), Some("p@ss"));
        let err = Config::parse_broker("mqtt://user:hunter22@host:port").unwrap_err();
        assert!(!err.contains("hunter22") && err.contains("***"), "{err}");
    }
}
