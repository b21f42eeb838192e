// SPDX-License-Identifier: MPL-2.0

use std::fs::File;
use std::io::{self, Seek, Write};
use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use once_cell::sync::Lazy;

use crate::jsonl::LineOptions;
use crate::records::{FrameContext, event_line, frame_line};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alsexport",
        gst::DebugColorFlags::empty(),
        Some("ALS metadata to JSON Lines"),
    )
});

/// Locations that mean this process's standard output: written like `-`, never truncated.
const STDOUT_LOCATIONS: &[&str] = &["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

/// Runs `write` with SIGPIPE blocked on this thread, so that a reader that went away is an
/// EPIPE error this element reports instead of a signal that kills the whole process (as it
/// would `gst-launch-1.0`). A SIGPIPE the failed write raised is taken off the thread before
/// the mask is restored.
fn without_sigpipe(write: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    // SAFETY: plain POSIX signal-mask calls on this thread with initialised sets; the
    // zero timeout makes sigtimedwait only take a SIGPIPE that is already pending.
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        let mut old: libc::sigset_t = std::mem::zeroed();
        let blocked = libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old) == 0;
        let result = write();
        if blocked {
            if matches!(&result, Err(e) if e.kind() == io::ErrorKind::BrokenPipe)
                && libc::sigismember(&old, libc::SIGPIPE) == 0
            {
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
        result
    }
}

#[derive(Debug, Clone)]
struct Settings {
    location: Option<String>,
    flow_grid: bool,
    landmarks: bool,
    append: bool,
    stream_name: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: None,
            flow_grid: false,
            landmarks: true,
            stream_name: None,
            append: false,
        }
    }
}

enum Output {
    Stdout,
    /// A regular file: a failed write is cut back to the last complete line, and EOS syncs
    /// it to disk.
    File {
        file: File,
        /// Length of the file up to its last complete line.
        committed: u64,
    },
    /// A device, FIFO or pipe: written and flushed line by line, nothing to cut or sync.
    Stream(File),
}

impl Output {
    /// Writes one whole line; on failure the file is cut back to its last complete line.
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        without_sigpipe(|| self.write_line_inner(line))
    }

    fn write_line_inner(&mut self, line: &str) -> io::Result<()> {
        match self {
            Output::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(line.as_bytes())?;
                out.flush()
            }
            Output::File { file, committed } => match file.write_all(line.as_bytes()) {
                Ok(()) => {
                    *committed += line.len() as u64;
                    Ok(())
                }
                Err(err) => {
                    // Best effort: a disk that refused the write may refuse this too.
                    let _ = file.set_len(*committed);
                    let _ = file.seek(io::SeekFrom::Start(*committed));
                    Err(err)
                }
            },
            Output::Stream(file) => {
                file.write_all(line.as_bytes())?;
                file.flush()
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        without_sigpipe(|| self.finish_inner())
    }

    fn finish_inner(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout => io::stdout().lock().flush(),
            Output::File { file, .. } => file.sync_data(),
            Output::Stream(file) => file.flush(),
        }
    }
}

struct State {
    output: Output,
    /// The `location` written to, for error messages.
    location: String,
    frame: u64,
    width: u32,
    height: u32,
    line: String,
}

#[derive(Default)]
pub struct AlsExport {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

fn write_error(err: &io::Error) -> gst::ResourceError {
    if err.raw_os_error() == Some(28) {
        gst::ResourceError::NoSpaceLeft
    } else {
        gst::ResourceError::Write
    }
}

#[glib::object_subclass]
impl ObjectSubclass for AlsExport {
    const NAME: &'static str = "GstAlsExport";
    type Type = super::AlsExport;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for AlsExport {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("File, FIFO or device to write the JSON Lines to (\"-\" or /dev/stdout: standard output); a file made here is mode 0600")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("flow-grid")
                    .nick("Flow grid")
                    .blurb("Write the pooled flow magnitude grid of every frame")
                    .default_value(Settings::default().flow_grid)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("landmarks")
                    .nick("Landmarks")
                    .blurb("Write the face landmarks of every face")
                    .default_value(Settings::default().landmarks)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("stream-name")
                    .nick("Stream name")
                    .blurb("Name of the camera or stream, written in every record (\"stream\") so records from many cameras can be told apart; unset: null")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("append")
                    .nick("Append")
                    .blurb("Add to the end of an existing file instead of replacing it (for a pipeline that is restarted, such as a relay reconnecting to its camera)")
                    .default_value(Settings::default().append)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location = value.get().expect("type checked upstream"),
            "flow-grid" => s.flow_grid = value.get().expect("type checked upstream"),
            "landmarks" => s.landmarks = value.get().expect("type checked upstream"),
            "append" => s.append = value.get().expect("type checked upstream"),
            "stream-name" => {
                s.stream_name = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|n| !n.is_empty())
            }
            other => unimplemented!("property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "location" => s.location.to_value(),
            "flow-grid" => s.flow_grid.to_value(),
            "landmarks" => s.landmarks.to_value(),
            "append" => s.append.to_value(),
            "stream-name" => s.stream_name.to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for AlsExport {}

impl ElementImpl for AlsExport {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "ALS metadata export",
                "Filter/Video",
                "Passes buffers through unchanged and writes their gst-als metadata (faces, \
                 flow, classification and the stream's classification summary) as JSON Lines",
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
}

impl BaseTransformImpl for AlsExport {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let (location, append) = {
            let s = self.settings.lock().unwrap();
            (s.location.clone(), s.append)
        };
        let output = match location.as_deref() {
            None | Some("") => {
                return Err(gst::error_msg!(
                    gst::ResourceError::NotFound,
                    ("No location set: give alsexport a file name, or \"-\" for stdout")
                ));
            }
            Some(path) if STDOUT_LOCATIONS.contains(&path) => Output::Stdout,
            Some(path) => {
                // Opening a FIFO waits for its reader, as filesink does. The records are
                // patients' measurements: a file made here is readable by this user only (an
                // existing one keeps its mode).
                use std::os::unix::fs::OpenOptionsExt;
                let mut options = std::fs::OpenOptions::new();
                options.create(true).mode(0o600);
                if append {
                    options.append(true);
                } else {
                    options.write(true).truncate(true);
                }
                let opened = options.open(path);
                let file = opened.map_err(|err| {
                    gst::error_msg!(
                        gst::ResourceError::OpenWrite,
                        ("Could not open {path} for writing: {err}")
                    )
                })?;
                let regular = file.metadata().is_ok_and(|m| m.is_file());
                if regular {
                    // Appending, a failed write is cut back to where this run began.
                    let committed = file.metadata().map(|m| m.len()).unwrap_or(0);
                    Output::File { file, committed }
                } else {
                    Output::Stream(file)
                }
            }
        };
        gst::debug!(CAT, imp = self, "Writing to {location:?}");
        *self.state.lock().unwrap() = Some(State {
            output,
            location: location.unwrap_or_default(),
            frame: 0,
            width: 0,
            height: 0,
            line: String::new(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Every complete line is already written; failing here would only stop the
        // pipeline from shutting down.
        if let Some(mut state) = self.state.lock().unwrap().take()
            && let Err(err) = state.output.finish()
        {
            gst::warning!(CAT, imp = self, "Could not finish writing: {err}");
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let s = incaps
            .structure(0)
            .ok_or_else(|| gst::loggable_error!(CAT, "Empty caps"))?;
        let width = s.get::<i32>("width").unwrap_or(0).max(0) as u32;
        let height = s.get::<i32>("height").unwrap_or(0).max(0) as u32;
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.width = width;
            state.height = height;
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::CustomDownstream(custom) = event.view()
            && let Some(s) = custom.structure()
        {
            // The summaries and windows upstream elements send, each written as its line.
            let stream = self.settings.lock().unwrap().stream_name.clone();
            match event_line(s, stream.as_deref()) {
                Some(Ok((text, _))) => {
                    let written = match self.state.lock().unwrap().as_mut() {
                        Some(state) => {
                            state.line = text;
                            true
                        }
                        None => false,
                    };
                    if written {
                        let _ = self.write_current_line();
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
            // Errors are posted after the state lock is released.
            let failed = self.state.lock().unwrap().as_mut().and_then(|state| {
                let location = state.location.clone();
                state.output.finish().err().map(|err| (location, err))
            });
            if let Some((location, err)) = failed {
                gst::element_imp_error!(
                    self,
                    write_error(&err),
                    ("Could not finish writing {location}: {err}")
                );
            }
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(
        &self,
        buffer: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (options, stream) = {
            let s = self.settings.lock().unwrap();
            (
                LineOptions {
                    flow_grid: s.flow_grid,
                    landmarks: s.landmarks,
                },
                s.stream_name.clone(),
            )
        };
        let (frame, width, height) = match self.state.lock().unwrap().as_ref() {
            Some(state) => (state.frame, state.width, state.height),
            None => return Err(gst::FlowError::Flushing),
        };
        let obj = self.obj();
        let segment = obj.segment();
        let context = FrameContext {
            element: obj.upcast_ref(),
            segment: &segment,
            frame,
            width,
            height,
            stream: stream.as_deref(),
            options,
        };
        let line = frame_line(buffer, &context, |err| {
            gst::warning!(CAT, imp = self, "Leaving out malformed meta: {err}")
        });
        let mut guard = self.state.lock().unwrap();
        let Some(state) = guard.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        state.line = line;
        state.frame += 1;
        drop(guard);
        self.write_current_line()
    }
}

impl AlsExport {
    /// Writes the state's `line`; a failure is posted as an error.
    fn write_current_line(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap();
        let Some(state) = guard.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        let State {
            output,
            line,
            location,
            ..
        } = state;
        let failed = output
            .write_line(line)
            .err()
            .map(|err| (location.clone(), err));
        drop(guard);
        if let Some((location, err)) = failed {
            let why = if err.kind() == io::ErrorKind::BrokenPipe {
                "its reader went away"
            } else {
                "the write failed"
            };
            gst::element_imp_error!(
                self,
                write_error(&err),
                ("Could not write a line to {location}: {why} ({err})")
            );
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
