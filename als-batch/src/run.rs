// SPDX-License-Identifier: MPL-2.0

//! One video through the elements: `.part` outputs renamed into place on EOS, deleted on
//! an error, a stall or an abort.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstals::launch::FILE_DECODE;

use crate::discover::{Video, part};
use crate::mqtt::Broker;
use crate::summary::{self, Row};

/// How every video is processed.
pub struct Settings {
    /// The `alsflow` element of the launch line, with its properties.
    pub flow: String,
    /// The classifier model; `None`: no `alsclassify`.
    pub model: Option<PathBuf>,
    pub annotate: bool,
    pub landmarks: bool,
    /// A video whose pipeline makes no progress for this long fails.
    pub stall: Duration,
    /// Publish each video's records to this broker too, as a stream named after its path,
    /// with a client id (and spool) of its own.
    pub broker: Option<Broker>,
}

/// What processing one video gave.
pub struct Done {
    pub row: Row,
    /// The warnings `alspublish` posted (broker unreachable, refused, spool trouble), once
    /// each.
    pub warnings: Vec<String>,
    /// Whether the broker was connected when the video ended.
    pub connected: bool,
}

/// What `alspublish` said on the bus.
#[derive(Default)]
struct Publishing {
    /// Its last `als-publish` message: the counters at its stop.
    counters: Option<gst::Structure>,
    warnings: Vec<String>,
}

impl Publishing {
    fn take(&mut self, message: &gst::Message) {
        match message.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == PUBLISH_MESSAGE) {
                    self.counters = Some(s.to_owned());
                }
            }
            gst::MessageView::Warning(w)
                if w.src().is_some_and(|s| s.name() == PUBLISH_ELEMENT) =>
            {
                let text = w.error().to_string();
                if !self.warnings.contains(&text) {
                    self.warnings.push(text);
                }
            }
            _ => {}
        }
    }

    fn counter(&self, name: &str) -> Option<u64> {
        self.counters.as_ref()?.get::<u64>(name).ok()
    }
}

/// The name of the element message `alspublish` posts its counters in.
const PUBLISH_MESSAGE: &str = "als-publish";
const PUBLISH_ELEMENT: &str = "batch_publish";

/// Where the outputs of `video` go.
pub struct Outputs {
    pub jsonl: PathBuf,
    pub mp4: Option<PathBuf>,
}

impl Outputs {
    pub fn new(video: &Video, out_dir: &Path, annotate: bool) -> Self {
        Self {
            jsonl: video.output(out_dir, "jsonl"),
            mp4: annotate.then(|| video.output(out_dir, "mp4")),
        }
    }

    fn finals(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.jsonl).chain(self.mp4.as_ref())
    }

    /// Removes the partial outputs and, since this run replaces them, earlier final ones.
    fn discard(&self) {
        for path in self.finals() {
            let _ = std::fs::remove_file(part(path));
            let _ = std::fs::remove_file(path);
        }
    }
}

fn launch_line(settings: &Settings) -> String {
    let classify = if settings.model.is_some() {
        "alsclassify name=batch_classify ! "
    } else {
        ""
    };
    let tail = if settings.annotate {
        "alsoverlay ! queue ! videoconvert ! x264enc speed-preset=veryfast ! \
         video/x-h264,profile=main ! h264parse ! mp4mux faststart=true ! filesink name=batch_mp4"
    } else {
        "fakesink sync=false"
    };
    let publish = if settings.broker.is_some() {
        "alspublish name=batch_publish ! "
    } else {
        ""
    };
    format!(
        "filesrc name=batch_src ! {FILE_DECODE} ! queue ! alsmesh ! queue ! {} ! \
         {classify}alsexport name=batch_export landmarks={} ! {publish}{tail}",
        settings.flow, settings.landmarks
    )
}

fn element(pipeline: &gst::Pipeline, name: &str) -> Result<gst::Element, String> {
    pipeline
        .by_name(name)
        .ok_or_else(|| format!("the pipeline has no element {name}"))
}

fn path_text(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", path.display()))
}

/// Builds the pipeline for one video, its locations set as properties (any file name works).
fn build(
    video: &Video,
    input: &Path,
    outputs: &Outputs,
    settings: &Settings,
    frames: Arc<AtomicU64>,
    ending: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
) -> Result<gst::Pipeline, String> {
    let pipeline = gst::parse::launch(&launch_line(settings))
        .map_err(|e| format!("could not build the pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "the launch line is not a pipeline".to_string())?;
    element(&pipeline, "batch_src")?.set_property("location", path_text(input)?);
    let export = element(&pipeline, "batch_export")?;
    export.set_property("location", path_text(&part(&outputs.jsonl))?);
    let stream = gstals::BrokerSettings::topic_level(&video.name());
    export.set_property("stream-name", &stream);
    if let Some(broker) = &settings.broker {
        let publish = element(&pipeline, PUBLISH_ELEMENT)?;
        let mut options = broker.settings.clone();
        options.client_id = Some(broker.client_id(&video.name()));
        options.apply(&publish, &stream);
        if broker.spool_fsync {
            if publish.find_property("spool-fsync").is_none() {
                return Err("this build of alspublish cannot fsync its spool".into());
            }
            publish.set_property("spool-fsync", true);
        }
    }
    if let (Some(model), Some(classify)) = (&settings.model, pipeline.by_name("batch_classify")) {
        classify.set_property("model", path_text(model)?);
    }
    if let Some(mp4) = &outputs.mp4 {
        element(&pipeline, "batch_mp4")?.set_property("location", path_text(&part(mp4))?);
    }
    let pad = export
        .static_pad("sink")
        .ok_or("alsexport has no sink pad")?;
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        frames.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(1, Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(event)) = &info.data
            && event.type_() == gst::EventType::Eos
        {
            ending.store(true, Ordering::SeqCst);
        }
        gst::PadProbeReturn::Ok
    });
    Ok(pipeline)
}

/// How a pipeline ended.
enum End {
    Eos,
    Failed(String),
    Aborted,
}

/// How long after the last frame the end of a video may take with a broker: `alspublish`
/// waits up to its `linger` (5 s) at EOS for the broker to take what is queued.
const ENDING: Duration = Duration::from_secs(15);

/// Plays `pipeline` to its end, failing when no frame arrives for `stall` (or, once the end
/// of the stream has reached `alsexport` (`ending`), for [`ENDING`] if that is longer); what
/// `alspublish` says on the way goes to `publishing`.
fn play(
    pipeline: &gst::Pipeline,
    frames: &AtomicU64,
    ending: &AtomicBool,
    stall: Duration,
    abort: &AtomicBool,
    publishing: &mut Publishing,
) -> End {
    let Some(bus) = pipeline.bus() else {
        return End::Failed("the pipeline has no bus".into());
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The reason is on the bus.
        let why = bus
            .pop_filtered(&[gst::MessageType::Error])
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(error_text(e)),
                _ => None,
            });
        return End::Failed(why.unwrap_or_else(|| "the pipeline would not start".into()));
    }
    let (mut seen, mut last_progress) = (0, Instant::now());
    loop {
        if abort.load(Ordering::SeqCst) {
            return End::Aborted;
        }
        // Messages of other types are dropped by this call: those alspublish posts are
        // asked for too.
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(200),
            &[
                gst::MessageType::Eos,
                gst::MessageType::Error,
                gst::MessageType::Warning,
                gst::MessageType::Element,
            ],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => return End::Eos,
            Some(gst::MessageView::Error(e)) => return End::Failed(error_text(e)),
            _ => {}
        }
        if let Some(msg) = &msg {
            publishing.take(msg);
        }
        let now = frames.load(Ordering::Relaxed);
        let limit = if ending.load(Ordering::SeqCst) {
            stall.max(ENDING)
        } else {
            stall
        };
        if now != seen {
            (seen, last_progress) = (now, Instant::now());
        } else if last_progress.elapsed() > limit {
            return End::Failed(format!(
                "stalled: no frame for {} s after frame {seen}",
                stall.as_secs()
            ));
        }
    }
}

/// Stops `pipeline`: to READY first, where `alspublish` stops its publisher (what the broker
/// has not taken goes to the spool) and posts its last counters, which are read before NULL
/// flushes the bus.
fn stop(pipeline: &gst::Pipeline, publishing: &mut Publishing) {
    let _ = pipeline.set_state(gst::State::Ready);
    if let Some(bus) = pipeline.bus() {
        while let Some(msg) =
            bus.pop_filtered(&[gst::MessageType::Warning, gst::MessageType::Element])
        {
            publishing.take(&msg);
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
}

fn error_text(e: &gst::message::Error) -> String {
    let source = e
        .src()
        .map(|s| format!("{}: ", s.name()))
        .unwrap_or_default();
    // "Internal data stream error." says little; the debug text's last line says why.
    let why = e
        .debug()
        .and_then(|d| d.lines().last().map(str::trim).map(str::to_string))
        .filter(|_| e.error().matches(gst::StreamError::Failed));
    match why {
        Some(why) if why.contains("not-linked") => format!("{source}no video stream ({why})"),
        Some(why) => format!("{source}{} ({why})", e.error()),
        None => format!("{source}{}", e.error()),
    }
}

/// Processes one video and returns its summary row; `frames` counts its frames as they pass,
/// `total` those of the whole run. `abort` stops it (status `interrupted`).
///
/// With a broker the video is `ok` only when each of its records was taken by the broker or
/// waits in the on-disk spool: none dropped, and as many sent or waiting as it has records.
pub fn process(
    video: &Video,
    in_dir: &Path,
    out_dir: &Path,
    settings: &Settings,
    total: Arc<AtomicU64>,
    abort: &AtomicBool,
) -> Done {
    let outputs = Outputs::new(video, out_dir, settings.annotate);
    let mut publishing = Publishing::default();
    let row = match run_one(
        video,
        in_dir,
        &outputs,
        settings,
        total,
        abort,
        &mut publishing,
    ) {
        Ok(row) => row,
        Err(status) => {
            outputs.discard();
            let mut row = Row::failed(video.name(), status);
            if settings.broker.is_some() {
                row.published = publishing.counter("sent");
                row.waiting = publishing.counter("waiting");
            }
            row
        }
    };
    let connected = publishing
        .counters
        .as_ref()
        .and_then(|c| c.get::<bool>("connected").ok())
        .unwrap_or(false);
    Done {
        row,
        warnings: publishing.warnings,
        connected,
    }
}

fn run_one(
    video: &Video,
    in_dir: &Path,
    outputs: &Outputs,
    settings: &Settings,
    total: Arc<AtomicU64>,
    abort: &AtomicBool,
    publishing: &mut Publishing,
) -> Result<Row, String> {
    let error = |why: String| summary::error_status(&why);
    let input = in_dir.join(&video.rel);
    if let Some(parent) = outputs.jsonl.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| error(format!("could not create {}: {e}", parent.display())))?;
    }
    let frames = Arc::new(AtomicU64::new(0));
    let ending = Arc::new(AtomicBool::new(false));
    let pipeline = build(
        video,
        &input,
        outputs,
        settings,
        frames.clone(),
        ending.clone(),
        total,
    )
    .map_err(error)?;
    let end = play(
        &pipeline,
        &frames,
        &ending,
        settings.stall,
        abort,
        publishing,
    );
    stop(&pipeline, publishing);
    drop(pipeline);
    match end {
        End::Eos => {}
        End::Failed(why) => return Err(error(why)),
        End::Aborted => return Err(summary::STATUS_INTERRUPTED.into()),
    }
    let partial = part(&outputs.jsonl);
    let file = std::fs::File::open(&partial)
        .map_err(|e| error(format!("could not read back {}: {e}", partial.display())))?;
    let jsonl = summary::read_jsonl(video.name(), std::io::BufReader::new(file)).map_err(error)?;
    let mut row = jsonl.row;
    let frames = row.frames.unwrap_or(0);
    if frames == 0 {
        return Err(error("no video frame decoded".into()));
    }
    for path in outputs.finals() {
        std::fs::rename(part(path), path)
            .map_err(|e| error(format!("could not rename to {}: {e}", path.display())))?;
    }
    if let Some(broker) = &settings.broker {
        // The outputs stay: they are complete. Only the broker's copy may not be.
        let records = broker.frame_records(frames) + jsonl.other_records;
        if let Some(problem) = check_published(publishing, records) {
            row.status = error(problem);
        }
        row.published = publishing.counter("sent");
        row.waiting = publishing.counter("waiting");
    }
    Ok(row)
}

/// Why the `records` records of a video are not all safe (taken by the broker, or waiting in
/// the on-disk spool), from the counters `alspublish` posted at its stop; `None` when they are.
fn check_published(publishing: &Publishing, records: u64) -> Option<String> {
    let (Some(sent), Some(waiting), Some(dropped)) = (
        publishing.counter("sent"),
        publishing.counter("waiting"),
        publishing.counter("dropped"),
    ) else {
        return Some(
            "alspublish gave no counters: whether its records reached the MQTT broker is unknown"
                .into(),
        );
    };
    if dropped > 0 {
        return Some(format!(
            "{dropped} of its {records} records were dropped before reaching the MQTT broker \
             (spool full or not writable: see --mqtt-spool-max-bytes); its JSON Lines are \
             complete"
        ));
    }
    // Records the spool directory refused, held in memory: gone with the process.
    let in_memory = publishing.counter("in-memory").unwrap_or(0);
    if in_memory > 0 {
        return Some(format!(
            "{in_memory} of its {records} records could not be written to the MQTT spool and \
             were lost when it stopped; its JSON Lines are complete"
        ));
    }
    // The spool may hold records of an earlier run as well: then this can only tell that
    // some are missing, not that none is.
    if sent + waiting < records {
        return Some(format!(
            "{} of its {records} records neither reached the MQTT broker nor wait in the spool; \
             its JSON Lines are complete",
            records - sent - waiting
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipeline of an appsrc whose buffers are counted as `play` counts frames.
    fn counted_source() -> (gst::Pipeline, gst_app::AppSrc, Arc<AtomicU64>) {
        gst::init().expect("GStreamer");
        let pipeline = gst::parse::launch(
            "appsrc name=src format=time caps=video/x-raw,format=GRAY8,width=8,height=8,\
             framerate=10/1 ! fakesink name=sink sync=false",
        )
        .expect("parses")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .expect("appsrc");
        let frames = Arc::new(AtomicU64::new(0));
        let counter = frames.clone();
        pipeline
            .by_name("sink")
            .and_then(|sink| sink.static_pad("sink"))
            .expect("fakesink's pad")
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                counter.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        (pipeline, src, frames)
    }

    fn push_frame(src: &gst_app::AppSrc, i: u64) {
        let mut buffer = gst::Buffer::from_mut_slice(vec![0u8; 64]);
        buffer
            .get_mut()
            .expect("writable")
            .set_pts(gst::ClockTime::from_mseconds(100 * i));
        src.push_buffer(buffer).expect("pushed");
    }

    #[test]
    fn a_stream_that_stops_giving_frames_without_ending_fails_as_stalled() {
        let (pipeline, src, frames) = counted_source();
        for i in 0..3 {
            push_frame(&src, i);
        }
        let stall = Duration::from_secs(1);
        // Without the stall detection `play` would wait for ever: aborted after 30 s instead.
        let abort = Arc::new(AtomicBool::new(false));
        let watchdog = abort.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(30));
            watchdog.store(true, Ordering::SeqCst);
        });
        let started = Instant::now();
        let end = play(
            &pipeline,
            &frames,
            &AtomicBool::new(false),
            stall,
            &abort,
            &mut Publishing::default(),
        );
        let took = started.elapsed();
        stop(&pipeline, &mut Publishing::default());
        match end {
            End::Failed(why) => assert_eq!(why, "stalled: no frame for 1 s after frame 3"),
            End::Eos => panic!("a stalled stream ended"),
            End::Aborted => panic!("a stalled stream was not noticed within 30 s"),
        }
        assert!(
            took >= stall,
            "failed after {took:?}, before the stall timeout"
        );
    }

    #[test]
    fn a_slow_stream_that_keeps_giving_frames_is_not_stalled() {
        let (pipeline, src, frames) = counted_source();
        // Frames 100 ms apart for three seconds, longer than the stall timeout of two.
        let pusher = std::thread::spawn(move || {
            for i in 0..30 {
                push_frame(&src, i);
                std::thread::sleep(Duration::from_millis(100));
            }
            src.end_of_stream().expect("EOS");
        });
        let end = play(
            &pipeline,
            &frames,
            &AtomicBool::new(false),
            Duration::from_secs(2),
            &AtomicBool::new(false),
            &mut Publishing::default(),
        );
        pusher.join().expect("pusher");
        stop(&pipeline, &mut Publishing::default());
        assert!(matches!(end, End::Eos), "the slow stream did not end well");
        assert_eq!(frames.load(Ordering::Relaxed), 30);
    }

    #[test]
    fn launch_lines_name_the_elements_whose_locations_are_set() {
        let mut settings = Settings {
            flow: "alsflow region=face".into(),
            model: Some("m.onnx".into()),
            annotate: false,
            landmarks: false,
            stall: Duration::from_secs(1),
            broker: None,
        };
        let line = launch_line(&settings);
        assert!(
            line.starts_with(&format!("filesrc name=batch_src ! {FILE_DECODE} !")),
            "{line}"
        );
        assert!(line.contains("alsflow region=face ! alsclassify name=batch_classify ! alsexport name=batch_export landmarks=false ! fakesink"), "{line}");
        settings.model = None;
        settings.annotate = true;
        let line = launch_line(&settings);
        assert!(!line.contains("alsclassify"), "{line}");
        assert!(
            line.contains("alsoverlay") && line.ends_with("filesink name=batch_mp4"),
            "{line}"
        );
        assert!(!line.contains("location"), "{line}");
    }
}
