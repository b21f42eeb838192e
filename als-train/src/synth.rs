// SPDX-License-Identifier: MPL-2.0

//! `als-train synth`: labelled synthetic subjects as H.264 MP4 clips and a manifest, so the
//! whole chain (extract, fit, eval, alsclassify) can be shown without patient videos.

use std::io::Write;
use std::path::{Path, PathBuf};

use als_synthetic::Photo;
use als_synthetic::subjects::{self, FPS, HEIGHT, Task, WIDTH};
use gst::prelude::*;

pub struct SynthOptions {
    pub out: PathBuf,
    pub photo: PathBuf,
    pub subjects: usize,
    pub seed: u64,
    pub frames: usize,
    pub tasks: Vec<Task>,
    /// Clips rendered at a time.
    pub jobs: usize,
}

/// Encodes `frames` RGB frames to `path` (H.264 in MP4). One x264 thread: with its default
/// frame threads, two runs on the same machine gave clips that decode to different frames
/// (from about the 20th frame on), and so different features and models.
fn encode(
    path: &Path,
    frames: impl Iterator<Item = Result<Vec<u8>, String>>,
) -> Result<(), String> {
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time ! videoconvert ! video/x-raw,format=I420 ! \
         x264enc speed-preset=fast threads=1 ! mp4mux ! filesink location=\"{}\"",
        path.display()
    ))
    .map_err(|e| format!("could not build the encoder: {e}"))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline".to_string())?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or("no appsrc")?;
    let caps =
        gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, WIDTH as u32, HEIGHT as u32)
            .fps(gst::Fraction::new(FPS as i32, 1))
            .build()
            .map_err(|e| e.to_string())?
            .to_caps()
            .map_err(|e| e.to_string())?;
    src.set_caps(Some(&caps));
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("could not start the encoder: {e}"))?;
    let duration = gst::ClockTime::SECOND / FPS as u64;
    for (i, frame) in frames.enumerate() {
        let mut buffer = gst::Buffer::from_mut_slice(frame?);
        if let Some(b) = buffer.get_mut() {
            b.set_pts(duration * i as u64);
            b.set_duration(duration);
        }
        src.push_buffer(buffer)
            .map_err(|e| format!("encoder refused a frame: {e}"))?;
    }
    let _ = src.end_of_stream();
    let bus = pipeline.bus().ok_or("no bus")?;
    let result = match bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(120),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    ) {
        Some(msg) => match msg.view() {
            gst::MessageView::Error(e) => {
                Err(format!("encoding {}: {}", path.display(), e.error()))
            }
            _ => Ok(()),
        },
        None => Err(format!("encoding {} timed out", path.display())),
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}

pub fn run(options: &SynthOptions) -> Result<(), String> {
    std::fs::create_dir_all(&options.out)
        .map_err(|e| format!("could not create {}: {e}", options.out.display()))?;
    let photo = Photo::load(&options.photo).map_err(|e| {
        format!(
            "could not load the face photo {}: {e}",
            options.photo.display()
        )
    })?;
    let cohort = subjects::cohort(options.subjects, options.seed);
    let mut manifest = String::from("path,label,subject,task\n");
    let mut described = String::new();
    let mut clips = Vec::new();
    for (i, subject) in cohort.iter().enumerate() {
        let name = format!("subject-{i:03}");
        described.push_str(&format!("{name}: {}\n", subject.describe()));
        for &task in &options.tasks {
            let file = format!("{name}-{}.mp4", task.name());
            manifest.push_str(&format!(
                "{file},{},{name},{}\n",
                subject.profile.name(),
                task.name()
            ));
            clips.push((name.clone(), subject, task, file));
        }
    }
    // Clips are rendered side by side; each is encoded on one thread, so the bytes of a clip
    // do not depend on how many are made at once.
    let queue = std::sync::Mutex::new(clips.into_iter());
    let failure: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some((name, subject, task, file)) = next else {
                        break;
                    };
                    if failure.lock().map_or(true, |f| f.is_some()) {
                        break;
                    }
                    // Always rendered: a clip of an earlier run may have another seed or length.
                    let partial = options.out.join(format!("{file}.part"));
                    let result = encode(
                        &partial,
                        (0..options.frames).map(|f| {
                            subject
                                .render(&photo, task, f)
                                .map_err(|e| format!("rendering {name}: {e}"))
                        }),
                    )
                    .and_then(|()| {
                        std::fs::rename(&partial, options.out.join(&file))
                            .map_err(|e| e.to_string())
                    });
                    match result {
                        Ok(()) => eprintln!("synth: {file} ({})", subject.profile.name()),
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let write = |file: &str, text: &str| -> Result<(), String> {
        std::fs::File::create(options.out.join(file))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("could not write {file}: {e}"))
    };
    write("manifest.csv", &manifest)?;
    write(
        "subjects.txt",
        &format!(
            "Synthetic subjects (seed {}): motion invented for testing, no patient, no disease.\n{described}",
            options.seed
        ),
    )
}
