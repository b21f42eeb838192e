// SPDX-License-Identifier: MPL-2.0

//! `als-train extract`: runs the plugin's own elements over every video of a manifest and
//! stores the classifier's features per frame and face, computed by the same
//! `gstals::features::extract` that `alsclassify` calls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstals::features::{self, FeatureSpec, Frame};
use gstals::launch::FILE_DECODE_PULL;
use gstals::meta::{FaceMeta, FlowMeta};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::data::{INDEX, IndexRow, VideoFeatures, read_metadata, read_video, write_video};

/// One video of the manifest.
#[derive(Clone, Debug)]
pub struct ManifestRow {
    pub path: PathBuf,
    pub label: String,
    pub subject: String,
    pub task: String,
}

const COLUMNS: [&str; 4] = ["path", "label", "subject", "task"];

/// Reads `path,label,subject[,task]`; paths are taken from the manifest's folder.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestRow>, String> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| format!("could not read the manifest {}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(&h.trim())) {
        return Err(format!(
            "{}: unknown column {unknown:?} (columns: path, label, subject, optional task)",
            path.display()
        ));
    }
    let [p, l, s] = ["path", "label", "subject"].map(column);
    let (Some(p), Some(l), Some(s)) = (p, l, s) else {
        return Err(format!(
            "{}: needs the columns path, label and subject",
            path.display()
        ));
    };
    let t = column("task");
    let base = path.parent().unwrap_or(Path::new("."));
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{}: row {}: {e}", path.display(), i + 2))?;
        let get = |c: usize| record.get(c).unwrap_or("").trim().to_string();
        let row = ManifestRow {
            path: base.join(get(p)),
            label: get(l),
            subject: get(s),
            task: t.map(get).unwrap_or_default(),
        };
        if row.label.is_empty() || row.subject.is_empty() || row.label.contains(',') {
            return Err(format!(
                "{}: row {}: a label (without commas) and a subject are required",
                path.display(),
                i + 2
            ));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(format!("{} lists no video", path.display()));
    }
    Ok(rows)
}

pub struct VideoResult {
    pub frames: u64,
    pub features: VideoFeatures,
    pub source_fps: Option<f64>,
}

/// Runs the elements over one video. In `frame` mode every video must have the spec's
/// frame size (`--width`, `--height`).
pub fn extract_video(
    path: &Path,
    spec: &FeatureSpec,
    progress: &ProgressBar,
) -> Result<VideoResult, String> {
    if !path.is_file() {
        return Err("file not found".into());
    }
    let launch = format!(
        "filesrc name=src ! {FILE_DECODE_PULL} ! alsmesh ! {} ! appsink name=sink sync=false",
        spec.alsflow_launch()
    );
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| format!("could not build the pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    if let Some(src) = pipeline.by_name("src") {
        src.set_property("location", path.to_string_lossy().as_ref());
    }
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink")?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| "could not start the pipeline".to_string())?;
        let mut out = VideoFeatures {
            landmarks: Vec::new(),
            flow: Vec::new(),
            frame: Vec::new(),
            face: Vec::new(),
        };
        let (mut frames, mut source_fps) = (0u64, None);
        let mut last_progress = Instant::now();
        loop {
            if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
                && let gst::MessageView::Error(e) = msg.view()
            {
                return Err(format!("{}", e.error()));
            }
            let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(200)) else {
                if sink.is_eos() {
                    break;
                }
                // A file cut short can leave decodebin waiting forever; give up on it.
                if last_progress.elapsed() > Duration::from_secs(60) {
                    return Err("no frame for 60 s: stuck, skipped".into());
                }
                continue;
            };
            last_progress = Instant::now();
            let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
                continue;
            };
            let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("caps: {e}"))?;
            let fps = info.fps();
            source_fps = (fps.numer() > 0 && fps.denom() > 0)
                .then(|| fps.numer() as f64 / fps.denom() as f64);
            let (Some(Ok(faces)), Some(Ok(flow))) =
                (FaceMeta::read(buffer), FlowMeta::read(buffer))
            else {
                frames += 1;
                continue;
            };
            let frame = Frame {
                faces: &faces,
                flow: &flow,
                width: info.width(),
                height: info.height(),
                fps: source_fps,
            };
            let per_face = features::extract(spec, &frame).map_err(|e| e.to_string())?;
            for (face_id, f) in per_face {
                if let Ok(f) = f {
                    out.landmarks.extend_from_slice(&f.landmarks);
                    out.flow.extend_from_slice(&f.flow);
                    out.frame.push(frames as i64);
                    out.face.push(face_id as i64);
                }
            }
            frames += 1;
            progress.inc(1);
        }
        Ok(VideoResult {
            frames,
            features: out,
            source_fps,
        })
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

pub struct ExtractOptions {
    pub manifest: PathBuf,
    pub out: PathBuf,
    pub jobs: usize,
    pub spec: FeatureSpec,
    /// Extract every video again, keeping nothing of an earlier run.
    pub fresh: bool,
}

/// The code that made a features file: files of another version are extracted again, as the
/// elements (or the face models they ship with) may have changed. The suffix changes with
/// what the elements measure within one version ("yuv": `alsmesh` reads the decoder's YUV;
/// "as-played": frames are deinterlaced and turned upright by the container's orientation).
const EXTRACTOR: &str = concat!("als-train ", env!("CARGO_PKG_VERSION"), "+yuv+as-played");

/// What identifies the video file a features file was made from, beside its path: its size
/// and modification time, so an edited or replaced video is extracted again.
fn fingerprint(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{}:{}", meta.len(), modified.as_nanos()))
}

/// The index row of `file` when an earlier run already extracted this very video (same path,
/// label, subject, task, size and time) with `spec`: an interrupted extract resumes.
fn already_extracted(
    out: &Path,
    file: &str,
    row: &IndexRow,
    spec: &FeatureSpec,
) -> Option<IndexRow> {
    let path = out.join(file);
    let metadata = read_metadata(&std::fs::read(&path).ok()?).ok()?;
    let video = fingerprint(Path::new(&row.path))?;
    if metadata.get("video") != Some(&video)
        || metadata.get("extractor").map(String::as_str) != Some(EXTRACTOR)
    {
        return None;
    }
    let frames = metadata.get("frames")?.parse().ok()?;
    let features = read_video(&path, spec, Some(row)).ok()?;
    Some(IndexRow {
        frames,
        rows: features.frame.len() as u64,
        ..row.clone()
    })
}

/// Extracts every video; failures are reported and skipped. Returns (extracted, skipped).
pub fn run(options: &ExtractOptions) -> Result<(usize, Vec<(PathBuf, String)>), String> {
    let rows = read_manifest(&options.manifest)?;
    let videos_dir = options.out.join("videos");
    std::fs::create_dir_all(&videos_dir)
        .map_err(|e| format!("could not create {}: {e}", videos_dir.display()))?;
    let bars = MultiProgress::new();
    let videos_bar = bars.add(ProgressBar::new(rows.len() as u64));
    videos_bar.set_style(
        ProgressStyle::with_template("videos {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let frames_bar = bars.add(ProgressBar::new_spinner());
    frames_bar.set_style(
        ProgressStyle::with_template("frames {pos} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let queue = Arc::new(Mutex::new(
        rows.iter()
            .cloned()
            .enumerate()
            .collect::<Vec<_>>()
            .into_iter(),
    ));
    type Done = Vec<(usize, Result<IndexRow, String>)>;
    let done: Arc<Mutex<Done>> = Arc::default();
    let resumed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            let (queue, done) = (queue.clone(), done.clone());
            let (videos_bar, frames_bar) = (videos_bar.clone(), frames_bar.clone());
            let (spec, out, resumed) = (&options.spec, &options.out, &resumed);
            let fresh = options.fresh;
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).ok().flatten();
                    let Some((i, row)) = next else { break };
                    let file = format!("videos/{i:05}.safetensors");
                    let mut entry = IndexRow {
                        file: file.clone(),
                        path: row.path.display().to_string(),
                        label: row.label.clone(),
                        subject: row.subject.clone(),
                        task: row.task.clone(),
                        frames: 0,
                        rows: 0,
                    };
                    let done_before = if fresh {
                        None
                    } else {
                        already_extracted(out, &file, &entry, spec)
                    };
                    if let Some(done_before) = done_before {
                        resumed.fetch_add(1, Ordering::Relaxed);
                        videos_bar.inc(1);
                        if let Ok(mut d) = done.lock() {
                            d.push((i, Ok(done_before)));
                        }
                        continue;
                    }
                    // Taken before reading: a video changed while it is read is read again.
                    let video_fingerprint = fingerprint(&row.path);
                    let result = extract_video(&row.path, spec, &frames_bar).and_then(|video| {
                        let scale = match video.source_fps {
                            Some(fps) if spec.fps > 0.0 => fps / spec.fps,
                            _ => 1.0,
                        };
                        let mut metadata = HashMap::from([
                            ("path".to_string(), entry.path.clone()),
                            ("label".to_string(), row.label.clone()),
                            ("subject".to_string(), row.subject.clone()),
                            ("task".to_string(), row.task.clone()),
                            ("flow-scale".to_string(), scale.to_string()),
                            ("frames".to_string(), video.frames.to_string()),
                        ]);
                        if let Some(video) = video_fingerprint {
                            metadata.insert("video".to_string(), video);
                        }
                        metadata.insert("extractor".to_string(), EXTRACTOR.to_string());
                        write_video(&out.join(&file), spec, &video.features, metadata)?;
                        entry.frames = video.frames;
                        entry.rows = video.features.frame.len() as u64;
                        Ok(entry)
                    });
                    videos_bar.inc(1);
                    if let Ok(mut d) = done.lock() {
                        d.push((i, result));
                    }
                }
            });
        }
    });
    videos_bar.finish();
    frames_bar.finish();
    let resumed = resumed.into_inner();
    if resumed > 0 {
        eprintln!("extract: {resumed} videos were already extracted by an earlier run; kept");
    }
    let mut done = std::mem::take(&mut *done.lock().map_err(|_| "a worker panicked")?);
    done.sort_by_key(|(i, _)| *i);
    let mut skipped = Vec::new();
    // Written aside and put in place only when something was extracted, so a failed run
    // leaves the previous index as it was.
    let partial = options.out.join(format!("{INDEX}.part"));
    let mut index =
        csv::Writer::from_path(&partial).map_err(|e| format!("could not write the index: {e}"))?;
    let mut extracted = 0;
    for (i, result) in done {
        match result {
            Ok(row) if row.rows > 0 => {
                index.serialize(&row).map_err(|e| e.to_string())?;
                extracted += 1;
            }
            Ok(_) => skipped.push((
                rows[i].path.clone(),
                "no frame with a face and valid flow".into(),
            )),
            Err(e) => skipped.push((rows[i].path.clone(), e)),
        }
    }
    index.flush().map_err(|e| e.to_string())?;
    drop(index);
    if extracted > 0 {
        std::fs::rename(&partial, options.out.join(INDEX)).map_err(|e| e.to_string())?;
    } else {
        let _ = std::fs::remove_file(&partial);
    }
    Ok((extracted, skipped))
}
