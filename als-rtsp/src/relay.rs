// SPDX-License-Identifier: MPL-2.0

//! The relay: one ingest pipeline per connection to the source (decode, scale, the gst-als
//! elements, the overlay, an appsink) and one RTSP mount whose shared media reads an appsrc.
//! The served stream outlives the source: while the source is away viewers get a status card
//! at the same size and rate, and the relay reconnects with bounded back-off.
//!
//! Every connection ends with EOS through its analysis (on Ctrl-C, SIGTERM, the source's loss
//! or silence alike), so that `alsexport` and `alspublish` write the connection's summaries
//! before the pipeline is torn down.
//!
//! # Security
//!
//! The stream shows patients with class labels; by default it is served on 127.0.0.1 only.
//! Any other address needs RTSP users (`--users-file`, or `ALS_RTSP_USER` and
//! `ALS_RTSP_PASSWORD`; never a password on the command line): the mount then answers 401
//! to anyone without valid Digest credentials (Basic is offered only inside TLS). Without
//! users the relay refuses to serve beyond loopback unless `--insecure-serve-without-auth`
//! is given, and then says so loudly. `--tls-cert` and `--tls-key` serve `rtsps://`.
//! Everything printed goes through [`crate::secrets`], which masks the source URI's
//! credentials, the MQTT password and the RTSP users' passwords. Not protected: the RTP
//! media itself when TLS is off (anyone on the path can watch an authenticated session),
//! the records at rest (the JSON Lines file, the MQTT spool: keep them on access-controlled
//! storage), the camera link (use `rtsps://` to cameras that support it), and a camera
//! password in SOURCE from anyone who can list the processes' command lines.

mod retire;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use gstals::launch::AS_PLAYED;

use crate::auth::Access;
use crate::card::status_frame;
use crate::secrets::say;
use retire::{End, Ingest, Retirements};

/// What `als-rtsp relay` was asked to do.
#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// A URI GStreamer can read (`rtsp://`, `file://`, ...).
    pub source: String,
    pub address: String,
    pub port: u16,
    pub mount: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub jsonl: Option<PathBuf>,
    /// The classifier's model file, checked and loaded by the caller; `None`: no classifier.
    pub model: Option<PathBuf>,
    /// The `alsflow` element: the model's settings, or the defaults without a classifier.
    pub flow: String,
    pub latency_ms: u32,
    pub tcp: bool,
    pub source_timeout: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Failed connections in a row before giving up; 0 = never.
    pub max_attempts: u32,
    /// Connections left behind after a hung teardown before the relay exits; 0 = never.
    pub max_abandoned: u32,
    pub bitrate_kbps: u32,
    /// Publish the records to this broker too (`alspublish`).
    pub broker: Option<gstals::BrokerSettings>,
    /// The camera's name in the records and topics.
    pub stream_name: String,
    /// Who may watch, over what (users, TLS).
    pub access: Access,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Link {
    /// Waiting for the first frame of a connection started at this instant.
    Connecting(Instant),
    Live,
    Lost,
}

/// Timestamps of the served stream. Frames arrive with the source's network jitter, often
/// several at once; stamped with their arrival time, frames of a burst were microseconds apart
/// and clients such as ffmpeg saw timestamps that did not increase. Each frame gets its arrival
/// time but at least half a served frame interval after the previous one: a burst is spread
/// out, and the lead over the clock it builds shrinks again by half an interval with every
/// frame that arrives on time. A frame that would run more than [`MAX_LEAD`] ahead of the clock
/// (a source more than twice the served rate) is not served.
#[derive(Debug, Default)]
struct Stamper {
    last: Option<gst::ClockTime>,
}

const MAX_LEAD: gst::ClockTime = gst::ClockTime::from_mseconds(500);

impl Stamper {
    /// The timestamp of a frame arriving at running time `now`, or `None` to leave it out.
    fn stamp(&mut self, now: gst::ClockTime, interval: gst::ClockTime) -> Option<gst::ClockTime> {
        let pts = match self.last {
            Some(last) => now.max(last + interval / 2),
            None => now,
        };
        if pts > now + MAX_LEAD {
            return None;
        }
        self.last = Some(pts);
        Some(pts)
    }
}

/// The media being served: its appsrc and the timestamps given so far.
struct Served {
    src: gst_app::AppSrc,
    stamper: Stamper,
}

/// What the streaming threads and the main loop share.
struct Shared {
    /// The media being served, while there is one (viewers connected). The card and the
    /// ingest push from two threads: stamping and pushing under this one lock keeps the
    /// timestamps in the order the frames are queued.
    served: Mutex<Option<Served>>,
    /// One frame at the served rate.
    interval: gst::ClockTime,
    link: Mutex<(Link, Option<Instant>)>,
    /// Set by the first frame of a connection, taken by the main loop.
    connected: Mutex<Option<String>>,
    received: AtomicU64,
    served_frames: AtomicU64,
}

impl Shared {
    /// Sends `buffer` to the viewers, timestamped by the served pipeline's clock.
    fn serve(&self, buffer: &gst::Buffer) {
        let mut served = self.served.lock().unwrap();
        let Some(Served { src, stamper }) = served.as_mut() else {
            return;
        };
        // Running time of the served pipeline; before it plays there is none to give.
        let (Some(clock), Some(base)) = (src.clock(), src.base_time()) else {
            return;
        };
        let Some(now) = clock.time().checked_sub(base) else {
            return;
        };
        let Some(pts) = stamper.stamp(now, self.interval) else {
            return;
        };
        let mut out = buffer.copy();
        {
            let b = out.make_mut();
            b.set_pts(pts);
            b.set_dts(pts);
            b.set_duration(self.interval);
        }
        if src.push_buffer(out).is_ok() {
            self.served_frames.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn link(&self) -> Link {
        self.link.lock().unwrap().0
    }
}

struct Relay {
    options: RelayOptions,
    shared: Arc<Shared>,
    ingest: Option<Ingest>,
    /// Finished connections still writing their summaries and stopping.
    retiring: Retirements,
    backoff: Duration,
    failures: u32,
    reconnects: u64,
    ever_live: bool,
    main_loop: glib::MainLoop,
    exit_code: i32,
}

/// Runs the relay until Ctrl-C (exit code 0), until `max_attempts` connections in a row have
/// failed (exit code 1), or until `max_abandoned` connections hung in their teardown (exit
/// code 3).
pub fn run(options: RelayOptions) -> Result<i32, String> {
    if !options.width.is_multiple_of(2) || !options.height.is_multiple_of(2) {
        return Err(format!(
            "--width and --height must be even (I420): {}x{}",
            options.width, options.height
        ));
    }
    if gst::Element::make_from_uri(gst::URIType::Src, &options.source, None).is_err() {
        return Err(format!(
            "no GStreamer source can read {:?}: give an rtsp://, file:// or other URI",
            options.source
        ));
    }
    let shared = Arc::new(Shared {
        served: Mutex::new(None),
        interval: gst::ClockTime::SECOND / u64::from(options.fps.max(1)),
        link: Mutex::new((Link::Connecting(Instant::now()), None)),
        connected: Mutex::new(None),
        received: AtomicU64::new(0),
        served_frames: AtomicU64::new(0),
    });
    let main_loop = glib::MainLoop::new(None, false);
    // Before anything is served: a SIGTERM from then on ends the relay the orderly way (the
    // flag covers one that comes before the loop runs, which quit() alone would miss).
    let stop = Arc::new(AtomicBool::new(false));
    let (quit, stopping) = (main_loop.clone(), stop.clone());
    ctrlc::set_handler(move || {
        stopping.store(true, Ordering::SeqCst);
        quit.quit();
    })
    .map_err(|e| format!("could not install the Ctrl-C handler: {e}"))?;
    let server = serve_annotated(&options, &shared)?;
    let server_source = server.attach(None).map_err(|e| {
        format!(
            "could not serve RTSP on {}:{}: {e} (is the port in use?)",
            options.address, options.port
        )
    })?;
    let users = options.access.users.count();
    say(&format!(
        "serving {}://{}:{}{} from {} ({})",
        options.access.scheme(),
        options.address,
        options.port,
        options.mount,
        options.source,
        if users > 0 {
            format!(
                "{users} RTSP user{}, Digest{}",
                if users == 1 { "" } else { "s" },
                if options.access.tls.is_some() && !options.access.users.plain.is_empty() {
                    " or Basic"
                } else {
                    ""
                }
            )
        } else {
            "no authentication: anyone who reaches the port can watch".to_string()
        }
    ));

    let relay = Rc::new(RefCell::new(Relay {
        backoff: options.min_backoff,
        options: options.clone(),
        shared: shared.clone(),
        ingest: None,
        retiring: Retirements::default(),
        failures: 0,
        reconnects: 0,
        ever_live: false,
        main_loop: main_loop.clone(),
        exit_code: 0,
    }));

    let cards = [
        status_frame(
            options.width as usize,
            options.height as usize,
            "waiting for the source",
        )?,
        status_frame(
            options.width as usize,
            options.height as usize,
            "source lost - reconnecting",
        )?,
    ]
    .map(gst::Buffer::from_mut_slice);
    let card_shared = shared.clone();
    let _cards = glib::timeout_add_local(Duration::from_secs(1) / options.fps.max(1), move || {
        match card_shared.link() {
            Link::Live => {}
            Link::Connecting(_) if card_shared.received.load(Ordering::Relaxed) == 0 => {
                card_shared.serve(&cards[0])
            }
            _ => card_shared.serve(&cards[1]),
        }
        glib::ControlFlow::Continue
    });
    let watched = relay.clone();
    let _watchdog = glib::timeout_add_local(Duration::from_millis(200), move || {
        watchdog(&watched);
        glib::ControlFlow::Continue
    });

    // From the loop, so that giving up at once (quit) is seen by a running loop.
    let first = relay.clone();
    let early = main_loop.clone();
    glib::idle_add_local_once(move || {
        if stop.load(Ordering::SeqCst) {
            early.quit();
        } else {
            connect(&first);
        }
    });
    main_loop.run();

    let mut r = relay.borrow_mut();
    // Ctrl-C, SIGTERM, giving up: the connection's summaries first, then the end.
    if let Some(ingest) = r.ingest.take() {
        r.retiring.push(ingest.retire(End::Drain));
    }
    r.retiring.settle_all(Duration::from_millis(50));
    server_source.remove();
    say(&format!(
        "stopped: {} frames from the source, {} served, {} reconnections{}",
        shared.received.load(Ordering::Relaxed),
        shared.served_frames.load(Ordering::Relaxed),
        r.reconnects,
        match r.retiring.abandoned() {
            0 => String::new(),
            1 => ", 1 connection that hung in its teardown".to_string(),
            n => format!(", {n} connections that hung in their teardown"),
        }
    ));
    Ok(r.exit_code)
}

/// The RTSP server with the annotated mount: a shared media reading an appsrc that the
/// relay feeds.
fn serve_annotated(
    options: &RelayOptions,
    shared: &Arc<Shared>,
) -> Result<gst_rtsp_server::RTSPServer, String> {
    if !options.mount.starts_with('/') {
        return Err(format!("--mount must start with /: {:?}", options.mount));
    }
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address(&options.address);
    server.set_service(&options.port.to_string());
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(&format!(
        "( appsrc name=annotated is-live=true format=time \
         max-bytes=0 max-time=0 max-buffers={queue} leaky-type=downstream ! queue ! \
         x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate={kbps} ! \
         video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
        fps = options.fps,
        kbps = options.bitrate_kbps,
        // Two seconds of frames, then the oldest go: a stalled encoder never grows memory.
        queue = 2 * options.fps.max(1),
    ));
    factory.set_shared(true);
    crate::auth::configure(&options.access, &server, &factory)?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", options.width as i32)
        .field("height", options.height as i32)
        .field("framerate", gst::Fraction::new(options.fps as i32, 1))
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let configured = shared.clone();
    factory.connect_media_configure(move |_, media| {
        let src = media
            .element()
            .downcast_ref::<gst::Bin>()
            .and_then(|bin| bin.by_name_recurse_up("annotated"))
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
        let Some(src) = src else {
            say("the served pipeline has no appsrc named annotated");
            return;
        };
        src.set_caps(Some(&caps));
        *configured.served.lock().unwrap() = Some(Served {
            src: src.clone(),
            stamper: Stamper::default(),
        });
        let unprepared = configured.clone();
        media.connect_unprepared(move |_| {
            // A newer media may already have replaced this one.
            let mut served = unprepared.served.lock().unwrap();
            if served.as_ref().is_some_and(|s| s.src == src) {
                *served = None;
            }
        });
    });
    server
        .mount_points()
        .ok_or("the RTSP server has no mount points")?
        .add_factory(&options.mount, factory);
    server.connect_client_connected(|_, client| {
        say("viewer connected");
        client.connect_closed(|_| say("viewer left"));
    });
    Ok(server)
}

/// The ingest pipeline of one connection.
fn build_ingest(
    options: &RelayOptions,
    shared: &Arc<Shared>,
    retired: &Arc<AtomicBool>,
) -> Result<gst::Element, String> {
    let classify = if options.model.is_some() {
        "alsclassify name=classify ! "
    } else {
        ""
    };
    let export = if options.jsonl.is_some() {
        "alsexport name=export append=true landmarks=false ! "
    } else {
        ""
    };
    let publish = if options.broker.is_some() {
        "alspublish name=publish ! "
    } else {
        ""
    };
    // The elements measure the camera's own frames, as `als-train extract` and `als-batch` do
    // (a model's frame-mode landmarks are in those pixels); only the served picture is scaled
    // to the served size, with borders to keep its aspect. The head queue holds up to 2 s of
    // those frames, and never more than 256 MB (under a second of 4K RGB).
    let launch = format!(
        "uridecodebin name=source ! {AS_PLAYED} ! \
         queue name=head max-size-buffers=0 max-size-bytes=268435456 max-size-time=2000000000 ! \
         alsmesh ! {flow} ! {classify}{export}{publish}alsoverlay ! videoscale ! videoconvert ! \
         video/x-raw,format=I420,width={w},height={h},pixel-aspect-ratio=1/1 ! \
         appsink name=annotated sync={sync} max-buffers=4",
        w = options.width,
        h = options.height,
        flow = options.flow,
        // A camera paces itself; a file is played at its own rate, as a camera would.
        sync = !is_live_uri(&options.source),
    );
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| format!("could not build the relay pipeline: {e}"))?;
    let bin = pipeline
        .downcast_ref::<gst::Bin>()
        .ok_or("the relay pipeline is not a bin")?;
    let by_name = |name: &str| {
        bin.by_name(name)
            .ok_or_else(|| format!("the relay pipeline has no {name}"))
    };
    let source = by_name("source")?;
    source.set_property("uri", &options.source);
    let (latency, tcp) = (options.latency_ms, options.tcp);
    source.connect("source-setup", false, move |args| {
        if let Some(Ok(src)) = args.get(1).map(|v| v.get::<gst::Element>()) {
            if src.has_property("latency") {
                src.set_property("latency", latency);
            }
            // The sender's NTP time on every frame: the records' wall-clock time.
            if src.has_property("add-reference-timestamp-meta") {
                src.set_property("add-reference-timestamp-meta", true);
            }
            if tcp && src.has_property("protocols") {
                src.set_property_from_str("protocols", "tcp");
            }
        }
        None
    });
    if let Some(model) = &options.model {
        by_name("classify")?.set_property("model", model.display().to_string());
    }
    if let Some(jsonl) = &options.jsonl {
        let export = by_name("export")?;
        export.set_property("location", jsonl.display().to_string());
        export.set_property("stream-name", &options.stream_name);
    }
    if let Some(broker) = &options.broker {
        broker.apply(&by_name("publish")?, &options.stream_name);
    }
    let sink = by_name("annotated")?
        .downcast::<gst_app::AppSink>()
        .map_err(|_| "annotated is not an appsink".to_string())?;
    let frames = shared.clone();
    let retired = retired.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buffer) = sample.buffer_owned() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                // A retired connection's last frames are still shown, but it is not live.
                if !retired.load(Ordering::SeqCst) {
                    let mut link = frames.link.lock().unwrap();
                    if link.0 != Link::Live {
                        link.0 = Link::Live;
                        let caps = sample.caps().map(|c| c.to_string()).unwrap_or_default();
                        *frames.connected.lock().unwrap() = Some(caps);
                    }
                    link.1 = Some(Instant::now());
                }
                frames.received.fetch_add(1, Ordering::Relaxed);
                frames.serve(&buffer);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(pipeline)
}

fn connect(this: &Rc<RefCell<Relay>>) {
    // The previous connections first finish writing their summaries (or hang past their
    // deadline).
    if this.borrow_mut().retiring.settle(Instant::now()) {
        let next = this.clone();
        glib::timeout_add_local_once(Duration::from_millis(50), move || connect(&next));
        return;
    }
    {
        let mut r = this.borrow_mut();
        let abandoned = r.retiring.abandoned();
        if too_many_abandoned(abandoned, r.options.max_abandoned) {
            say(&format!(
                "error: {abandoned} connections hung in their teardown; stopping so that a \
                 supervisor starts the relay afresh (only that frees their threads, memory and \
                 sessions with the camera)"
            ));
            r.exit_code = 3;
            r.main_loop.quit();
            return;
        }
    }
    let started = {
        let mut r = this.borrow_mut();
        *r.shared.link.lock().unwrap() = (Link::Connecting(Instant::now()), None);
        start_ingest(this, &mut r)
    };
    match started {
        Ok(()) => {}
        Err(Failure::Source(reason)) => lost(this, &reason, false),
        Err(Failure::Relay(reason)) => fail(this, &reason),
    }
}

fn start_ingest(this: &Rc<RefCell<Relay>>, r: &mut Relay) -> Result<(), Failure> {
    let retired = Arc::new(AtomicBool::new(false));
    let pipeline = build_ingest(&r.options, &r.shared, &retired).map_err(Failure::Relay)?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| Failure::Relay("the relay pipeline has no bus".into()))?;
    let weak = Rc::downgrade(this);
    let watch = bus
        .add_watch_local(move |_, message| {
            if let Some(this) = weak.upgrade() {
                on_message(&this, message);
            }
            glib::ControlFlow::Continue
        })
        .map_err(|e| Failure::Relay(format!("could not watch the relay pipeline: {e}")))?;
    r.ingest = Some(Ingest {
        pipeline: pipeline.clone(),
        _watch: watch,
        retired,
    });
    if pipeline.set_state(gst::State::Playing).is_ok() {
        return Ok(());
    }
    // The element that refused says why on the bus.
    Err(
        match bus
            .pop_filtered(&[gst::MessageType::Error])
            .as_ref()
            .map(|m| m.view())
        {
            Some(gst::MessageView::Error(err)) => describe_error(err),
            _ => Failure::Source("the relay pipeline did not start".into()),
        },
    )
}

/// Why a connection ended: the source (reconnect), or the relay itself (stop: reconnecting
/// would fail the same way, e.g. an unwritable --jsonl or a model that alsflow cannot feed).
enum Failure {
    Source(String),
    Relay(String),
}

/// Errors from the source bin (network, server, demuxing, decoding) are the source's.
fn describe_error(err: &gst::message::Error) -> Failure {
    let src = err.src();
    let from = src.map(|s| s.path_string().to_string()).unwrap_or_default();
    let text = format!("{} ({from})", err.error());
    let mut element = src.cloned();
    while let Some(e) = element {
        if e.name() == "source" {
            return Failure::Source(text);
        }
        element = e.parent();
    }
    Failure::Relay(text)
}

/// Stops the relay with exit code 2 after an error that reconnecting would not cure.
fn fail(this: &Rc<RefCell<Relay>>, reason: &str) {
    let mut r = this.borrow_mut();
    if let Some(ingest) = r.ingest.take() {
        r.retiring.push(ingest.retire(End::Abort));
    }
    say(&format!("error: {reason}; stopping"));
    r.exit_code = 2;
    r.main_loop.quit();
}

fn on_message(this: &Rc<RefCell<Relay>>, message: &gst::Message) {
    match message.view() {
        gst::MessageView::Error(err) => match describe_error(err) {
            Failure::Source(reason) => lost(this, &reason, false),
            Failure::Relay(reason) => fail(this, &reason),
        },
        // Through the whole analysis: the summaries are written.
        gst::MessageView::Eos(_) => lost(this, "the source ended its stream", true),
        gst::MessageView::Warning(w) => say(&format!("warning: {}", w.error())),
        _ => {}
    }
}

/// Drops the connection (`ended`: its stream already reached the end of the analysis; if
/// not, EOS is sent through it first) and schedules the next one, or gives up. The
/// connection's bus watch goes with it, so one connection is reported lost once.
fn lost(this: &Rc<RefCell<Relay>>, reason: &str, ended: bool) {
    let mut r = this.borrow_mut();
    if let Some(ingest) = r.ingest.take() {
        r.retiring
            .push(ingest.retire(if ended { End::Ended } else { End::Drain }));
    }
    let was_live = r.shared.link() == Link::Live;
    r.shared.link.lock().unwrap().0 = Link::Lost;
    if was_live {
        // A connection that delivered frames did not fail; only attempts since count.
        r.failures = 0;
        r.backoff = r.options.min_backoff;
    } else {
        r.failures += 1;
    }
    let what = if was_live {
        "source lost"
    } else if r.ever_live {
        "source still unreachable"
    } else {
        "source unreachable"
    };
    if !was_live && r.options.max_attempts > 0 && r.failures >= r.options.max_attempts {
        say(&format!(
            "{what}: {reason}; giving up after {} failed connections",
            r.failures
        ));
        r.exit_code = 1;
        r.main_loop.quit();
        return;
    }
    let delay = r.backoff;
    r.backoff = (r.backoff * 2).min(r.options.max_backoff);
    say(&format!(
        "{what}: {reason}; reconnecting in {:.1} s",
        delay.as_secs_f64()
    ));
    let next = this.clone();
    glib::timeout_add_local_once(delay, move || {
        next.borrow_mut().reconnects += 1;
        connect(&next);
    });
}

/// True when `abandoned` connections left behind reach the cap (`max`, 0 = none).
fn too_many_abandoned(abandoned: usize, max: u32) -> bool {
    max > 0 && abandoned >= max as usize
}

/// Reports new connections, and drops one that delivers no frames for `source_timeout`
/// (a server that vanished without closing the connection, or never answers).
fn watchdog(this: &Rc<RefCell<Relay>>) {
    let (connected, link, last, timeout) = {
        let r = this.borrow();
        let link = *r.shared.link.lock().unwrap();
        let connected = r.shared.connected.lock().unwrap().take();
        (connected, link.0, link.1, r.options.source_timeout)
    };
    if let Some(caps) = connected {
        let mut r = this.borrow_mut();
        r.ever_live = true;
        r.failures = 0;
        r.backoff = r.options.min_backoff;
        say(&format!("source connected: {caps}"));
    }
    if this.borrow().ingest.is_none() {
        return;
    }
    match link {
        Link::Live if last.is_some_and(|t| t.elapsed() > timeout) => lost(
            this,
            &format!("no frame for {:.1} s", timeout.as_secs_f64()),
            false,
        ),
        Link::Connecting(since) if since.elapsed() > timeout * 2 => lost(
            this,
            &format!("no frame within {:.1} s", (timeout * 2).as_secs_f64()),
            false,
        ),
        _ => {}
    }
}

/// True for the URI schemes of live sources (cameras, network streams), which pace
/// themselves.
fn is_live_uri(uri: &str) -> bool {
    let scheme = uri.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    scheme.is_some_and(|s| {
        [
            "rtsp", "rtsps", "rtspt", "rtmp", "srt", "udp", "rtp", "v4l2",
        ]
        .contains(&s.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_stops_at_the_cap_of_abandoned_connections_unless_it_is_zero() {
        assert!(!too_many_abandoned(0, 3));
        assert!(!too_many_abandoned(2, 3));
        assert!(too_many_abandoned(3, 3));
        assert!(too_many_abandoned(4, 3));
        assert!(!too_many_abandoned(1000, 0));
        assert!(too_many_abandoned(1, 1));
    }

    const MS: gst::ClockTime = gst::ClockTime::MSECOND;

    fn stamps(arrivals_ms: &[u64], interval_ms: u64) -> Vec<Option<u64>> {
        let mut stamper = Stamper::default();
        arrivals_ms
            .iter()
            .map(|&t| {
                stamper
                    .stamp(t * MS, interval_ms * MS)
                    .map(|p| p.mseconds())
            })
            .collect()
    }

    #[test]
    fn frames_on_time_keep_their_arrival_time() {
        let arrivals: Vec<u64> = (0..10).map(|i| 100 + i * 40).collect();
        let expected: Vec<Option<u64>> = arrivals.iter().map(|&t| Some(t)).collect();
        assert_eq!(stamps(&arrivals, 33), expected);
    }

    #[test]
    fn a_burst_is_spread_out_and_the_lead_it_builds_goes_away() {
        // Three frames at once, then nothing for 100 ms, and again; at 30 frames a second.
        let arrivals = [0, 0, 0, 100, 100, 101, 200, 200, 200];
        let got = stamps(&arrivals, 33);
        assert_eq!(
            got,
            [0, 16, 33, 100, 116, 133, 200, 216, 233].map(Some).to_vec()
        );
        // On time at the served rate, with one burst of six frames: a few frames later the
        // stamps are the arrival times again.
        let mut arrivals: Vec<u64> = (0..30).map(|i| i * 33).collect();
        for t in &mut arrivals[10..16] {
            *t = 15 * 33;
        }
        let got = stamps(&arrivals, 33);
        for (i, (a, p)) in arrivals.iter().zip(&got).enumerate() {
            let p = p.expect("every frame served");
            assert!(p >= *a && p <= a + 100, "frame {i}: {a} stamped {p}");
            if i >= 20 {
                assert_eq!(p, *a, "frame {i}: the lead is gone");
            }
        }
    }

    #[test]
    fn a_source_much_faster_than_the_served_rate_is_thinned_not_delayed_without_end() {
        // 120 frames a second for 10 s into a 30-frame stream.
        let arrivals: Vec<u64> = (0..1200).map(|i| i * 1000 / 120).collect();
        let got = stamps(&arrivals, 33);
        let served: Vec<(u64, u64)> = arrivals
            .iter()
            .zip(&got)
            .filter_map(|(&a, p)| p.map(|p| (a, p)))
            .collect();
        assert!(
            (590..=640).contains(&served.len()),
            "{} served",
            served.len()
        );
        for pair in served.windows(2) {
            assert!(pair[1].1 >= pair[0].1 + 16, "{pair:?}");
        }
        assert!(served.iter().all(|&(a, p)| p >= a && p <= a + 500));
    }
}
