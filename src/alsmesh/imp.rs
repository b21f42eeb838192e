// SPDX-License-Identifier: MPL-2.0

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use once_cell::sync::Lazy;

use super::input::{self, Input, YUV_FORMATS};
use crate::flow::RgbLayout;
use crate::mesh::{
    DEFAULT_MODEL_DIR, DEFAULT_ORT_LIBRARY, FaceTracker, OrtFaceModels, TrackedFace,
    TrackerSettings, resolve_library,
};
use crate::meta::{Face, FaceMeta, NormRect, NormRotatedRect};
use crate::video_formats::RGB_FORMATS;

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alsmesh",
        gst::DebugColorFlags::empty(),
        Some("ALS face mesh"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    model_dir: String,
    ort_library: Option<String>,
    tracker: TrackerSettings,
    inference_interval: u32,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model_dir: DEFAULT_MODEL_DIR.to_string(),
            ort_library: None,
            tracker: TrackerSettings::default(),
            inference_interval: 1,
            threads: 1,
        }
    }
}

struct State {
    models: OrtFaceModels,
    tracker: FaceTracker,
    info: Option<gst_video::VideoInfo>,
    input: Input,
    /// Frames since the last inference; 0 makes the next frame run it.
    since_inference: u32,
    last: FaceMeta,
}

#[derive(Default)]
pub struct AlsMesh {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

fn face_meta(faces: &[TrackedFace], width: f64, height: f64) -> FaceMeta {
    let faces = faces
        .iter()
        .map(|f| {
            let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for p in f
                .landmarks
                .iter()
                .filter(|p| p[0].is_finite() && p[1].is_finite())
            {
                x0 = x0.min(p[0]);
                y0 = y0.min(p[1]);
                x1 = x1.max(p[0]);
                y1 = y1.max(p[1]);
            }
            // The tracker only keeps faces with finite landmarks; this guards the box anyway.
            if x0 > x1 || y0 > y1 {
                (x0, y0, x1, y1) = (0.0, 0.0, 0.0, 0.0);
            }
            Face {
                id: f.id,
                detection_score: f.detection_score,
                presence_score: f.presence,
                bbox: NormRect {
                    x: x0 / width,
                    y: y0 / height,
                    width: (x1 - x0) / width,
                    height: (y1 - y0) / height,
                },
                roi: NormRotatedRect {
                    cx: (f.roi.cx / width) as f32,
                    cy: (f.roi.cy / height) as f32,
                    width: (f.roi.size / width) as f32,
                    height: (f.roi.size / height) as f32,
                    rotation: f.roi.rotation as f32,
                },
                landmarks: f
                    .landmarks
                    .iter()
                    .map(|p| {
                        [
                            (p[0] / width) as f32,
                            (p[1] / height) as f32,
                            (p[2] / width) as f32,
                        ]
                    })
                    .collect(),
            }
        })
        .collect();
    FaceMeta { faces, fresh: true }
}

/// Adds one standard region-of-interest meta per face, in pixels clipped to the frame.
fn add_roi_metas(buffer: &mut gst::BufferRef, meta: &FaceMeta, width: u32, height: u32) {
    for face in &meta.faces {
        let b = face.bbox;
        let clip = |v: f64, size: u32| (v * size as f64).round().clamp(0.0, size as f64) as u32;
        let (x0, y0) = (clip(b.x, width), clip(b.y, height));
        let (x1, y1) = (clip(b.x + b.width, width), clip(b.y + b.height, height));
        let size = (x1.saturating_sub(x0), y1.saturating_sub(y0));
        let mut roi =
            gst_video::VideoRegionOfInterestMeta::add(buffer, "face", (x0, y0, size.0, size.1));
        roi.set_id(face.id as i32);
        roi.add_param(
            gst::Structure::builder("face")
                .field("id", face.id)
                .field("detection-score", face.detection_score as f64)
                .field("presence-score", face.presence_score as f64)
                .field("fresh", meta.fresh)
                .build(),
        );
    }
}

#[glib::object_subclass]
impl ObjectSubclass for AlsMesh {
    const NAME: &'static str = "GstAlsMesh";
    type Type = super::AlsMesh;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for AlsMesh {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            let d = Settings::default();
            vec![
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb("Folder holding face_detection_short_range.onnx and face_landmark.onnx")
                    .default_value(Some(DEFAULT_MODEL_DIR))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("ort-library")
                    .nick("ONNX Runtime library")
                    .blurb(&format!(
                        "libonnxruntime.so to load; unset: $ORT_DYLIB_PATH, else \
                         {DEFAULT_ORT_LIBRARY}. The first ONNX Runtime library loaded serves \
                         the whole process: a different one later is an error"
                    ))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-faces")
                    .nick("Maximum faces")
                    .blurb("Most faces to track at once")
                    .minimum(1)
                    .maximum(16)
                    .default_value(d.tracker.max_faces as u32)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("min-detection-confidence")
                    .nick("Minimum detection confidence")
                    .blurb("Detector score a new face needs")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.tracker.min_detection_confidence as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("min-tracking-confidence")
                    .nick("Minimum tracking confidence")
                    .blurb("Face-presence score below which a tracked face is dropped")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.tracker.min_tracking_confidence as f64)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("inference-interval")
                    .nick("Inference interval")
                    .blurb("Run the networks on every Nth frame; frames between carry the last faces marked fresh=false")
                    .minimum(1)
                    .maximum(1000)
                    .default_value(d.inference_interval)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime threads per network")
                    .minimum(1)
                    .maximum(64)
                    .default_value(d.threads)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "model-dir" => {
                s.model_dir = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_else(|| DEFAULT_MODEL_DIR.to_string())
            }
            "ort-library" => {
                s.ort_library = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|p| !p.is_empty())
            }
            "max-faces" => {
                s.tracker.max_faces = value.get::<u32>().expect("type checked upstream") as usize
            }
            "min-detection-confidence" => {
                s.tracker.min_detection_confidence =
                    value.get::<f64>().expect("type checked upstream") as f32
            }
            "min-tracking-confidence" => {
                s.tracker.min_tracking_confidence =
                    value.get::<f64>().expect("type checked upstream") as f32
            }
            "inference-interval" => {
                s.inference_interval = value.get().expect("type checked upstream")
            }
            "threads" => s.threads = value.get().expect("type checked upstream"),
            other => unimplemented!("property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "model-dir" => s.model_dir.to_value(),
            "ort-library" => s.ort_library.to_value(),
            "max-faces" => (s.tracker.max_faces as u32).to_value(),
            "min-detection-confidence" => (s.tracker.min_detection_confidence as f64).to_value(),
            "min-tracking-confidence" => (s.tracker.min_tracking_confidence as f64).to_value(),
            "inference-interval" => s.inference_interval.to_value(),
            "threads" => s.threads.to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for AlsMesh {}

impl ElementImpl for AlsMesh {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "ALS face mesh",
                "Filter/Analyzer/Video",
                "Attaches the 468 MediaPipe Face Mesh landmarks of each face as GstAlsFaceMeta \
                 and face region-of-interest metas",
                "gst-als developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: Lazy<Vec<gst::PadTemplate>> = Lazy::new(|| {
            crate::filter_pad_templates(
                &gst_video::VideoCapsBuilder::new()
                    .format_list(
                        YUV_FORMATS
                            .iter()
                            .copied()
                            .chain(RGB_FORMATS.iter().map(|(f, _)| *f)),
                    )
                    .build(),
            )
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for AlsMesh {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let library = resolve_library(settings.ort_library.as_deref().map(Path::new));
        let model_dir = PathBuf::from(&settings.model_dir);
        let models = OrtFaceModels::load(&library, &model_dir, settings.threads as usize).map_err(
            |err| {
                gst::error_msg!(
                    gst::LibraryError::Init,
                    ("Could not load the face models: {err}")
                )
            },
        )?;
        gst::info!(
            CAT,
            imp = self,
            "Face models from {} on ONNX Runtime {}",
            model_dir.display(),
            library.display()
        );
        *self.state.lock().unwrap() = Some(State {
            models,
            tracker: FaceTracker::default(),
            info: None,
            input: Input::Rgb(RgbLayout::RGB),
            since_inference: 0,
            last: FaceMeta::default(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) => self.restart_tracking("flush"),
            // A new segment follows every seek, flushing or not: the picture may jump. The
            // same segment sent again (as with every caps change of some sources) does not.
            gst::EventView::Segment(e) if e.segment() != &self.obj().segment() => {
                self.restart_tracking("segment")
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(
        &self,
        buffer: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (tracker_settings, interval) = {
            let s = self.settings.lock().unwrap();
            (s.tracker, s.inference_interval)
        };
        // Errors are posted after the state lock is released: a bus sync handler may call
        // back into the element.
        let result = {
            let mut guard = self.state.lock().unwrap();
            match guard.as_mut() {
                Some(state) => self.process(state, buffer, tracker_settings, interval),
                None => return Err(gst::FlowError::Flushing),
            }
        };
        result.map_err(|failure| {
            match &failure {
                Failure::NotNegotiated => gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("Buffer before caps")
                ),
                Failure::Format(msg) => {
                    gst::element_imp_error!(self, gst::StreamError::Format, ("{msg}"))
                }
                Failure::Mesh(msg) => gst::element_imp_error!(
                    self,
                    gst::LibraryError::Failed,
                    ("Face mesh failed: {msg}")
                ),
                Failure::Meta(msg) => gst::element_imp_error!(
                    self,
                    gst::CoreError::Failed,
                    ("Failed to add meta: {msg}")
                ),
            }
            match failure {
                Failure::NotNegotiated => gst::FlowError::NotNegotiated,
                _ => gst::FlowError::Error,
            }
        })
    }
}

/// Why a frame failed, posted once the state lock is released.
enum Failure {
    NotNegotiated,
    Format(String),
    Mesh(String),
    Meta(String),
}

impl AlsMesh {
    fn process(
        &self,
        state: &mut State,
        buffer: &mut gst::BufferRef,
        tracker_settings: TrackerSettings,
        interval: u32,
    ) -> Result<gst::FlowSuccess, Failure> {
        let Some(info) = state.info.clone() else {
            return Err(Failure::NotNegotiated);
        };
        let (width, height) = (info.width(), info.height());
        // A gap shows nothing to search: it gets an empty, not fresh, face list, and the
        // faces stay tracked for the frame after it. Dropped frames (DISCONT) do not restart
        // tracking either, as in MediaPipe: the next frame is searched where the faces were.
        if buffer.flags().contains(gst::BufferFlags::GAP) {
            let nothing = FaceMeta {
                faces: Vec::new(),
                fresh: false,
            };
            nothing
                .attach(buffer)
                .map_err(|err| Failure::Meta(err.to_string()))?;
            return Ok(gst::FlowSuccess::Ok);
        }

        // The faces live in `state.last`, attached from there: no per-frame copy of them.
        if state.since_inference == 0 {
            let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
                .map_err(|_| Failure::Format("Could not map a frame".into()))?;
            let pixels = input::view(&frame, &state.input).map_err(Failure::Format)?;
            let faces = state
                .tracker
                .process(&pixels, &mut state.models, &tracker_settings)
                .map_err(Failure::Mesh)?;
            state.last = face_meta(faces, width as f64, height as f64);
        } else {
            state.last.fresh = false;
        }
        state.since_inference = (state.since_inference + 1) % interval.max(1);

        state
            .last
            .attach(buffer)
            .map_err(|err| Failure::Meta(err.to_string()))?;
        add_roi_metas(buffer, &state.last, width, height);
        Ok(gst::FlowSuccess::Ok)
    }
}

impl AlsMesh {
    fn restart_tracking(&self, why: &str) {
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            gst::debug!(CAT, imp = self, "Restarting tracking: {why}");
            state.tracker.reset();
            state.since_inference = 0;
            state.last = FaceMeta::default();
        }
    }
}

impl VideoFilterImpl for AlsMesh {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let input = Input::of(in_info).ok_or_else(|| {
            gst::loggable_error!(CAT, "Unsupported format {:?}", in_info.format())
        })?;
        // A new frame rate alone does not move the picture; a new size or format restarts.
        let moved = self.state.lock().unwrap().as_ref().is_none_or(|state| {
            state.info.as_ref().is_none_or(|old| {
                (old.width(), old.height(), old.format())
                    != (in_info.width(), in_info.height(), in_info.format())
            })
        });
        if moved {
            self.restart_tracking("caps");
        }
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.info = Some(in_info.clone());
            state.input = input;
        }
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}
