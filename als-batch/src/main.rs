// SPDX-License-Identifier: MPL-2.0

//! `als-batch IN_DIR OUT_DIR`: the gst-als elements over every video of a folder, one JSON
//! Lines file (and optionally an annotated MP4) per video and a summary CSV.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use gst::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

mod deliver;
mod discover;
mod mqtt;
mod run;
mod summary;

use discover::Shard;
use summary::Row;

/// Exit status when some videos failed.
const EXIT_SOME_FAILED: u8 = 2;
/// Exit status after Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Region {
    Face,
    Frame,
}

#[derive(Parser)]
#[command(
    version,
    about = "Runs alsmesh, alsflow, alsclassify and alsexport over every video under IN_DIR",
    long_about = "Runs alsmesh, alsflow, alsclassify and alsexport over every video under \
IN_DIR (recursively; extensions mp4, mkv, avi, mov, webm, m4v, mpg, mpeg, ts, ogv), in path \
order. Each video gives OUT_DIR/<its path>.jsonl (and .mp4 with --annotate), the extension \
replaced: a/b.mp4 gives a/b.jsonl. A video whose output name would be another's (a.mp4 and \
a.mkv), or a folder's, keeps its extension (a.mp4.jsonl, a.mkv.jsonl), and so, in turn, does \
any video that would then clash (a.mp4.mkv gives a.mp4.mkv.jsonl): names depend only on the \
list of videos, so every run and every shard over the same folder agrees, and --resume finds \
them. OUT_DIR/summary.csv gets one row per video, rewritten after each one. A video that \
cannot be read is recorded as `error: ...` in the CSV and the others go on.\n\n\
With --broker, each video's records are published as well, as the stream named after its \
path (<prefix>/<stream>/frames and .../summary), by a client of its own (id \
<--mqtt-client-id>__<path, escaped>) through a spool file of its own in --mqtt-spool-dir \
(default $XDG_STATE_HOME/gst-als/spool or ~/.local/state/gst-als/spool, made 0700). The \
broker options and files are checked before the first video. At the end of each video \
alspublish waits up to 5 s for the broker to take what is queued; what it has not taken \
stays in the spool. A video is `ok` only when every one of its records was acknowledged by \
the broker (QoS 1) or waits in its spool on disk; a record dropped (spool full, spool not \
writable) makes it `error: ...` (its outputs are kept, --resume processes it again). The CSV \
columns mqtt_published and mqtt_waiting say how many. Each run first sends what earlier runs \
left in the spool folder (also for the videos --resume skips; a --shard run only its own \
videos'), for as long as the broker takes records, and at its end what its own videos left \
if the broker came back meanwhile.",
    after_help = "Exit status: 0 every video processed; 2 some videos failed (see the CSV); \
130 interrupted; 1 nothing could be done (bad arguments, unreadable IN_DIR, no video, \
unwritable OUT_DIR, missing model, bad --broker or its files, unusable spool folder).\n\
Ctrl-C (or SIGTERM): no new video is started, those in progress run to their end and the CSV \
is written. A second Ctrl-C stops those in progress too: their partial outputs are deleted \
and their rows say `interrupted`. `--resume` then processes what is left."
)]
struct Cli {
    in_dir: PathBuf,
    out_dir: PathBuf,
    /// Videos processed at a time, each in its own pipeline.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    jobs: u32,
    /// Also writes OUT_DIR/<path>.mp4 with the results drawn by alsoverlay (H.264).
    #[arg(long)]
    annotate: bool,
    /// Skips videos whose outputs exist and whose row in the existing summary is `ok`.
    #[arg(long)]
    resume: bool,
    /// ONNX classifier made by als-train (default: alsclassify's, the synthetic demo model).
    #[arg(long, conflicts_with = "no_classify")]
    model: Option<PathBuf>,
    /// Leaves alsclassify out: faces and flow only.
    #[arg(long)]
    no_classify: bool,
    /// What alsflow measures; with a model it must be the model's (which is the default).
    #[arg(long, value_enum)]
    region: Option<Region>,
    /// Leaves the 468 landmarks per face out of the JSON Lines (much smaller files).
    #[arg(long)]
    no_landmarks: bool,
    /// Processes only part K of N (from 0) of the sorted video list: every N-th video from
    /// the K-th, to spread a folder over N machines or jobs.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// Where the summary goes (default OUT_DIR/summary.csv).
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Seconds without a new frame after which a video fails.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    stall_timeout: u64,
    /// With --broker, each video is a stream named after its path under IN_DIR.
    #[command(flatten)]
    mqtt: mqtt::MqttArgs,
}

/// Set by the first Ctrl-C: start no new video.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by the second: stop the videos in progress.
static ABORT: AtomicBool = AtomicBool::new(false);

fn on_interrupt() {
    static PRESSES: AtomicUsize = AtomicUsize::new(0);
    if PRESSES.fetch_add(1, Ordering::SeqCst) == 0 {
        STOP.store(true, Ordering::SeqCst);
        eprintln!(
            "\nals-batch: interrupted; finishing the videos in progress (again to stop them)"
        );
    } else {
        ABORT.store(true, Ordering::SeqCst);
        eprintln!("\nals-batch: stopping the videos in progress");
    }
}

/// The model, its labels and the alsflow element that matches it.
struct Classifier {
    model: Option<PathBuf>,
    labels: Vec<String>,
    flow: String,
}

fn classifier(cli: &Cli) -> Result<Classifier, String> {
    if cli.no_classify {
        let region = match cli.region {
            Some(Region::Frame) => "frame",
            _ => "face",
        };
        return Ok(Classifier {
            model: None,
            labels: Vec::new(),
            flow: format!("alsflow region={region}"),
        });
    }
    let model = match &cli.model {
        Some(m) => m.clone(),
        None => {
            let element = gst::ElementFactory::make("alsclassify")
                .build()
                .map_err(|e| format!("could not make alsclassify: {e}"))?;
            PathBuf::from(element.property::<String>("model"))
        }
    };
    if !model.is_file() {
        return Err(format!(
            "the classifier model {} does not exist{}",
            model.display(),
            if cli.model.is_none() {
                " (build it with scripts/build-demo-model.sh, or give --model or --no-classify)"
            } else {
                ""
            }
        ));
    }
    // Loaded once here so that a bad model fails before any video, and alsflow can be set
    // to the features it was trained on.
    let library = gstals::mesh::resolve_library(None);
    let loaded = gstals::classify::ClassModel::load(&library, &model, 1)
        .map_err(|e| format!("could not load the classifier model: {e}"))?;
    let info = loaded.info;
    let model_region = match info.spec.flow_mode {
        gstals::features::FlowMode::Face => Region::Face,
        gstals::features::FlowMode::Frame => Region::Frame,
    };
    if cli.region.is_some_and(|r| r != model_region) {
        return Err(format!(
            "model {} was trained with --region {}; use that or --no-classify",
            model.display(),
            if model_region == Region::Face {
                "face"
            } else {
                "frame"
            }
        ));
    }
    Ok(Classifier {
        model: Some(model),
        labels: info.labels,
        flow: info.spec.alsflow_launch(),
    })
}

/// The rows of an earlier run, by file, for `--resume`.
fn previous_rows(path: &Path) -> Result<HashMap<String, Row>, String> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("could not read {} to resume: {e}", path.display()))?;
    let rows = summary::from_csv(&text)
        .map_err(|e| format!("could not read {} to resume: {e}", path.display()))?;
    Ok(rows.into_iter().map(|r| (r.file.clone(), r)).collect())
}

/// Adds what sending the spools did to the rows of their videos.
fn account(
    broker: &mqtt::Broker,
    videos: &[discover::Video],
    rows: &mut [Option<Row>],
    sent: &HashMap<String, deliver::Delivery>,
) {
    for (video, row) in videos.iter().zip(rows.iter_mut()) {
        let (Some(row), Some(delivery)) = (row, sent.get(&broker.client_id(&video.name()))) else {
            continue;
        };
        row.published = Some(row.published.unwrap_or(0) + delivery.sent);
        row.waiting = Some(delivery.left);
    }
}

struct Outcome {
    failed: usize,
    interrupted: bool,
}

fn run(cli: Cli) -> Result<Outcome, String> {
    let (in_dir, out_dir) = (&cli.in_dir, &cli.out_dir);
    if !in_dir.is_dir() {
        return Err(format!(
            "the input folder {} {}",
            in_dir.display(),
            if in_dir.exists() {
                "is not a folder"
            } else {
                "does not exist"
            }
        ));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| {
        format!(
            "could not create the output folder {}: {e}",
            out_dir.display()
        )
    })?;
    gst::init().map_err(|e| format!("could not start GStreamer: {e}"))?;
    gstals::plugin_register_static()
        .map_err(|e| format!("could not register the elements: {e}"))?;
    if cli.annotate && gst::ElementFactory::find("alsoverlay").is_none() {
        return Err(
            "--annotate needs the alsoverlay element, which this build of gst-als lacks".into(),
        );
    }
    // Before the model and any video: a bad broker address or unreadable certificate fails
    // the run at once, not every video.
    let broker = cli.mqtt.prepare()?;
    let classifier = classifier(&cli)?;

    let rels = discover::find_videos(in_dir, Some(out_dir))?;
    if rels.is_empty() {
        return Err(format!(
            "no video under {} (extensions: {})",
            in_dir.display(),
            discover::VIDEO_EXTENSIONS.join(", ")
        ));
    }
    let mut videos = discover::plan(rels);
    // Every video's client id, shard or not: what a spool with a hashed id belongs to.
    let all_ids: HashMap<String, String> = broker
        .iter()
        .flat_map(|b| videos.iter().map(|v| (b.client_id(&v.name()), v.name())))
        .collect();
    if let Some(shard) = cli.shard {
        videos = shard.select(videos);
    }
    let summary_path = cli
        .summary
        .clone()
        .unwrap_or_else(|| out_dir.join("summary.csv"));
    let previous = if cli.resume {
        previous_rows(&summary_path)?
    } else {
        HashMap::new()
    };
    let mut rows: Vec<Option<Row>> = vec![None; videos.len()];
    let mut todo = VecDeque::new();
    for (i, video) in videos.iter().enumerate() {
        let outputs = run::Outputs::new(video, out_dir, cli.annotate);
        let done = outputs.jsonl.is_file() && outputs.mp4.as_ref().is_none_or(|m| m.is_file());
        match previous.get(&video.name()) {
            Some(row) if done && row.is_ok() => rows[i] = Some(row.clone()),
            _ => todo.push_back(i),
        }
    }
    let resumed = videos.len() - todo.len();
    let write_summary = |rows: &[Option<Row>]| {
        let rows: Vec<Row> = rows.iter().flatten().cloned().collect();
        summary::write(
            &summary_path,
            &summary::labels(&classifier.labels, &rows),
            &rows,
        )
    };
    // Written now too, so an unwritable OUT_DIR fails before any work.
    write_summary(&rows)?;
    if let Err(e) = ctrlc::set_handler(on_interrupt) {
        eprintln!("als-batch: Ctrl-C will not finish cleanly: {e}");
    }
    if let Some(broker) = &broker {
        // What earlier runs could not deliver goes first, also for videos --resume skips.
        let names: Vec<String> = videos.iter().map(|v| v.name()).collect();
        let (spools, notes) = deliver::waiting(broker, &names, &all_ids, cli.shard.is_some())?;
        for note in notes {
            eprintln!("als-batch: {note}");
        }
        if !spools.is_empty() {
            eprintln!(
                "als-batch: {} spools in {} hold records earlier runs could not deliver; \
                 sending them",
                spools.len(),
                broker.spool_dir.display()
            );
            let sent = deliver::send(broker, &spools, &STOP, &|line| {
                eprintln!("als-batch: {line}")
            });
            account(broker, &videos, &mut rows, &sent);
            write_summary(&rows)?;
        }
    }

    let bar = ProgressBar::new(todo.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} videos, {msg}, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if resumed > 0 {
        bar.suspend(|| eprintln!("als-batch: {resumed} videos already done (--resume)"));
    }
    let settings = run::Settings {
        flow: classifier.flow.clone(),
        model: classifier.model.clone(),
        annotate: cli.annotate,
        landmarks: !cli.no_landmarks,
        stall: Duration::from_secs(cli.stall_timeout),
        broker: broker.clone(),
    };
    let total_frames = Arc::new(AtomicU64::new(0));
    let queue = Mutex::new(todo);
    let (sender, results) = mpsc::channel::<(usize, run::Done)>();
    let started = Instant::now();
    let mut failed = 0;
    // Whether the broker took records of the last video, and the videos of this run.
    let (mut broker_up, mut processed) = (false, Vec::new());
    std::thread::scope(|scope| -> Result<(), String> {
        for _ in 0..cli.jobs {
            let sender = sender.clone();
            let (queue, videos, settings, total) =
                (&queue, &videos, &settings, total_frames.clone());
            scope.spawn(move || {
                loop {
                    if STOP.load(Ordering::SeqCst) {
                        break;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(i) = next else { break };
                    let done =
                        run::process(&videos[i], in_dir, out_dir, settings, total.clone(), &ABORT);
                    if sender.send((i, done)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        loop {
            match results.recv_timeout(Duration::from_millis(250)) {
                Ok((i, done)) => {
                    let row = done.row;
                    for warning in &done.warnings {
                        bar.suspend(|| eprintln!("als-batch: {}: {warning}", row.file));
                    }
                    broker_up = done.connected || row.published.is_some_and(|p| p > 0);
                    processed.push(i);
                    if !row.is_ok() {
                        if row.status != summary::STATUS_INTERRUPTED {
                            failed += 1;
                        }
                        bar.suspend(|| eprintln!("als-batch: {}: {}", row.file, row.status));
                    }
                    rows[i] = Some(row);
                    bar.inc(1);
                    if let Err(e) = write_summary(&rows) {
                        // The workers stop taking videos; the scope waits for them.
                        STOP.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let frames = total_frames.load(Ordering::Relaxed);
            let seconds = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{frames} frames, {:.1} fps",
                frames as f64 / seconds
            ));
        }
        Ok(())
    })?;
    bar.finish();
    if let Some(broker) = &broker
        && broker_up
        && !STOP.load(Ordering::SeqCst)
    {
        // The broker is back: what earlier videos of this run left in their spools goes now
        // rather than at the next run.
        let spools: Vec<deliver::Waiting> = processed
            .iter()
            .filter_map(|&i| rows[i].as_ref())
            .filter(|row| row.waiting.is_some_and(|w| w > 0))
            .map(|row| deliver::Waiting {
                client_id: broker.client_id(&row.file),
                video: row.file.clone(),
            })
            .collect();
        if !spools.is_empty() {
            let sent = deliver::send(broker, &spools, &STOP, &|line| {
                eprintln!("als-batch: {line}")
            });
            account(broker, &videos, &mut rows, &sent);
        }
    }
    write_summary(&rows)?;
    let done = rows.iter().flatten().count();
    eprintln!(
        "als-batch: {} of {} videos ok ({resumed} resumed), {failed} failed; summary in {}",
        rows.iter().flatten().filter(|r| r.is_ok()).count(),
        videos.len(),
        summary_path.display()
    );
    let interrupted = STOP.load(Ordering::SeqCst) || done < videos.len();
    if interrupted {
        eprintln!(
            "als-batch: interrupted with {} videos left to do; --resume goes on from there",
            videos.len() - rows.iter().flatten().filter(|r| r.is_ok()).count()
        );
    }
    Ok(Outcome {
        failed,
        interrupted,
    })
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(Outcome {
            interrupted: true, ..
        }) => ExitCode::from(EXIT_INTERRUPTED),
        Ok(Outcome { failed: 0, .. }) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_SOME_FAILED),
        Err(e) => {
            eprintln!("als-batch: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
        assert!(Cli::try_parse_from(["als-batch", "a", "b", "--jobs", "0"]).is_err());
        assert!(
            Cli::try_parse_from(["als-batch", "a", "b", "--model", "m", "--no-classify"]).is_err()
        );
        assert!(Cli::try_parse_from(["als-batch", "a", "b", "--shard", "2/2"]).is_err());
        let cli = Cli::try_parse_from(["als-batch", "a", "b", "--shard", "1/2"]).unwrap();
        assert_eq!(cli.shard, Some(Shard { index: 1, count: 2 }));
    }
}
