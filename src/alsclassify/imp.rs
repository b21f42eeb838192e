// SPDX-License-Identifier: MPL-2.0

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use once_cell::sync::Lazy;

use crate::classify::{ClassModel, FaceSummary, Histories, label_of};
use crate::features::{self, Frame};
use crate::mesh::{DEFAULT_ORT_LIBRARY, resolve_library};
use crate::meta::{
    CLASSIFICATION_MESSAGE, ClassMeta, ClassSummary, FaceClass, FaceMeta, FaceTotals, FlowMeta,
    SUMMARY,
};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alsclassify",
        gst::DebugColorFlags::empty(),
        Some("ALS classifier on face and flow metadata"),
    )
});

fn default_model() -> String {
    crate::classify::default_model_path().display().to_string()
}

#[derive(Debug, Clone)]
struct Settings {
    model: String,
    ort_library: Option<String>,
    window: u32,
    threshold: f64,
    message_interval: u32,
    threads: u32,
    forget_after: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: default_model(),
            ort_library: None,
            window: 30,
            threshold: 0.5,
            message_interval: 30,
            threads: 1,
            forget_after: 300,
        }
    }
}

struct State {
    model: ClassModel,
    histories: Histories,
    width: u32,
    height: u32,
    fps: Option<f64>,
    frames: u64,
}

impl State {
    fn flow_scale(&self) -> f64 {
        match self.fps {
            Some(fps) if fps > 0.0 && self.model.info.spec.fps > 0.0 => {
                fps / self.model.info.spec.fps
            }
            _ => 1.0,
        }
    }

    fn summary(&self, threshold: f32) -> ClassSummary {
        self.summary_of(self.histories.summaries(), threshold)
    }

    fn summary_of(&self, faces: Vec<FaceSummary>, threshold: f32) -> ClassSummary {
        let info = &self.model.info;
        ClassSummary {
            model: info.name.clone(),
            synthetic: info.synthetic,
            labels: info.labels.clone(),
            flow_scale: self.flow_scale(),
            frames: self.frames,
            faces: faces
                .into_iter()
                .map(|s| {
                    let mean = s.mean.unwrap_or_default();
                    FaceTotals {
                        face_id: s.face_id,
                        frames_seen: s.frames_seen,
                        frames_classified: s.frames_classified,
                        label: label_of(&mean, threshold).and_then(|i| info.labels.get(i).cloned()),
                        mean,
                        smoothed: s.smoothed.unwrap_or_default(),
                        label_shares: s.label_shares,
                    }
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct AlsClassify {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for AlsClassify {
    const NAME: &'static str = "GstAlsClassify";
    type Type = super::AlsClassify;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for AlsClassify {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            let d = Settings::default();
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("ONNX classifier made by als-train (default: the synthetic demonstration model, not for clinical use)")
                    .default_value(Some(d.model.as_str()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("ort-library")
                    .nick("ONNX Runtime library")
                    .blurb(&format!(
                        "libonnxruntime.so to load; unset: $ORT_DYLIB_PATH, else \
                         {DEFAULT_ORT_LIBRARY}. The first ONNX Runtime library loaded (by any \
                         als element) serves the whole process"
                    ))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("window")
                    .nick("Window")
                    .blurb("Classified frames of a face averaged for its smoothed result")
                    .minimum(1)
                    .maximum(10_000)
                    .default_value(d.window)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("threshold")
                    .nick("Threshold")
                    .blurb("Two-class models: probability of the second class from which a face gets its label; more classes: the most probable wins")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.threshold)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("message-interval")
                    .nick("Message interval")
                    .blurb("Frames between als-classification element messages (0: none; the als-summary at EOS is always posted)")
                    .maximum(1_000_000)
                    .default_value(d.message_interval)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("forget-after")
                    .nick("Forget after")
                    .blurb("Frames after which a face not seen is summed up in its own als-summary and forgotten (memory and messages stay with the faces in view)")
                    .minimum(1)
                    .maximum(u32::MAX)
                    .default_value(d.forget_after)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime threads for the classifier")
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
            "model" => {
                s.model = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(default_model)
            }
            "ort-library" => {
                s.ort_library = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .filter(|p| !p.is_empty())
            }
            "window" => s.window = value.get().expect("type checked upstream"),
            "threshold" => s.threshold = value.get().expect("type checked upstream"),
            "message-interval" => s.message_interval = value.get().expect("type checked upstream"),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            "forget-after" => s.forget_after = value.get().expect("type checked upstream"),
            other => unimplemented!("property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "model" => s.model.to_value(),
            "ort-library" => s.ort_library.to_value(),
            "window" => s.window.to_value(),
            "threshold" => s.threshold.to_value(),
            "message-interval" => s.message_interval.to_value(),
            "threads" => s.threads.to_value(),
            "forget-after" => s.forget_after.to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for AlsClassify {}

impl ElementImpl for AlsClassify {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "ALS classifier",
                "Filter/Analyzer/Video",
                "Classifies each face from its landmarks and optical flow with an als-train \
                 ONNX model, attaching GstAlsClassMeta and posting per-stream summaries",
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

impl BaseTransformImpl for AlsClassify {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let library = resolve_library(settings.ort_library.as_deref().map(Path::new));
        let path = PathBuf::from(&settings.model);
        let model =
            ClassModel::load(&library, &path, settings.threads as usize).map_err(|err| {
                gst::error_msg!(
                    gst::LibraryError::Init,
                    ("Could not load the classifier: {err}")
                )
            })?;
        let info = &model.info;
        gst::info!(
            CAT,
            imp = self,
            "Model {} ({}) with classes {:?}{}",
            info.name,
            path.display(),
            info.labels,
            if info.synthetic {
                ", trained on synthetic data"
            } else {
                ""
            }
        );
        *self.state.lock().unwrap() = Some(State {
            model,
            histories: Histories::default(),
            width: 0,
            height: 0,
            fps: None,
            frames: 0,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "Caps {incaps} are not raw video"))?;
        let fps = info.fps();
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.width = info.width();
            state.height = info.height();
            state.fps = (fps.numer() > 0 && fps.denom() > 0)
                .then(|| fps.numer() as f64 / fps.denom() as f64);
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => {
                let threshold = self.settings.lock().unwrap().threshold as f32;
                let summary = self
                    .state
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map(|s| s.summary(threshold).to_structure(SUMMARY));
                if let Some(summary) = summary {
                    self.send_summary(summary);
                }
            }
            gst::EventView::StreamStart(_) => {
                // A new stream without EOS between (concat, gapless playback): the last
                // one's summary goes out first, then counting starts again.
                let threshold = self.settings.lock().unwrap().threshold as f32;
                let summary = self.state.lock().unwrap().as_mut().and_then(|state| {
                    let summary = (state.frames > 0).then(|| state.summary(threshold));
                    state.histories.clear();
                    state.frames = 0;
                    summary
                });
                if let Some(summary) = summary {
                    self.send_summary(summary.to_structure(SUMMARY));
                }
            }
            gst::EventView::FlushStop(_) => {
                // After a seek the smoothing window starts afresh; the totals go on.
                if let Some(state) = self.state.lock().unwrap().as_mut() {
                    state.histories.restart_windows();
                }
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(
        &self,
        buffer: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings.lock().unwrap().clone();
        let faces = read_meta(FaceMeta::read(buffer), "no-face-meta");
        let flow = read_meta(FlowMeta::read(buffer), "no-flow-meta");
        let mut guard = self.state.lock().unwrap();
        let Some(state) = guard.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        state.frames += 1;
        let info = &state.model.info;
        let mut meta = ClassMeta {
            model: info.name.clone(),
            synthetic: info.synthetic,
            labels: info.labels.clone(),
            faces: Vec::new(),
            reason: None,
        };
        let result = match (&faces, &flow) {
            (Err(reason), _) | (_, Err(reason)) => {
                meta.reason = Some(reason.clone());
                Ok(())
            }
            (Ok(faces), Ok(flow)) => self.classify(state, &settings, faces, flow, &mut meta),
        };
        let departed = state
            .histories
            .depart(state.frames, settings.forget_after as u64);
        let departed =
            (!departed.is_empty()).then(|| state.summary_of(departed, settings.threshold as f32));
        let message = (settings.message_interval > 0
            && state.frames % settings.message_interval as u64 == 0)
            .then(|| state.summary(settings.threshold as f32));
        drop(guard);
        if let Some(summary) = departed {
            self.send_summary(summary.to_structure(SUMMARY));
        }
        if let Err(err) = result {
            gst::element_imp_error!(self, gst::StreamError::Format, ("{err}"));
            return Err(gst::FlowError::Error);
        }
        if let Some(summary) = message {
            let _ = self.obj().post_message(
                gst::message::Element::builder(summary.to_structure(CLASSIFICATION_MESSAGE))
                    .src(&*self.obj())
                    .build(),
            );
        }
        meta.attach(buffer).map_err(|err| {
            gst::error!(CAT, imp = self, "Could not attach the meta: {err}");
            gst::FlowError::Error
        })?;
        Ok(gst::FlowSuccess::Ok)
    }
}

/// The reason of a face on a frame whose landmarks are not fresh (`alsmesh
/// inference-interval`).
const STALE_LANDMARKS: &str = "stale-landmarks";

/// A meta that is missing or unreadable: the reason the frame is not classified.
fn read_meta<T>(
    meta: Option<Result<T, crate::meta::MetaError>>,
    missing: &str,
) -> Result<T, String> {
    match meta {
        None => Err(missing.to_string()),
        Some(Err(err)) => Err(format!("bad-meta: {err}")),
        Some(Ok(meta)) => Ok(meta),
    }
}

impl AlsClassify {
    /// Posts `summary` and sends it downstream, serialized before what follows (EOS or the
    /// next stream), so a downstream alsexport writes it after the frames it sums up.
    fn send_summary(&self, summary: gst::Structure) {
        let _ = self.obj().post_message(
            gst::message::Element::builder(summary.clone())
                .src(&*self.obj())
                .build(),
        );
        let _ = self
            .obj()
            .src_pad()
            .push_event(gst::event::CustomDownstream::new(summary));
    }

    /// Classifies every face of a frame into `meta`; an error only when the stream cannot
    /// match the model at all.
    fn classify(
        &self,
        state: &mut State,
        settings: &Settings,
        faces: &FaceMeta,
        flow: &FlowMeta,
        meta: &mut ClassMeta,
    ) -> Result<(), String> {
        if faces.faces.is_empty() {
            meta.reason = Some("no-face".into());
            return Ok(());
        }
        let threshold = settings.threshold as f32;
        let window = settings.window as usize;
        if !faces.fresh {
            // alsmesh between inferences: last frame's landmarks with this frame's flow, a
            // pairing no model was trained on. The faces keep their smoothed results.
            for face in &faces.faces {
                let history = state.histories.face(face.id, state.frames);
                history.push(None, window, None);
                let mut result = FaceClass {
                    face_id: face.id,
                    reason: Some(STALE_LANDMARKS.into()),
                    ..FaceClass::default()
                };
                if let Some(smoothed) = history.smoothed() {
                    result.smoothed = smoothed.to_vec();
                    result.label = label_of(smoothed, threshold)
                        .and_then(|i| state.model.info.labels.get(i).cloned());
                }
                meta.faces.push(result);
            }
            return Ok(());
        }
        let frame = Frame {
            faces,
            flow,
            width: state.width,
            height: state.height,
            fps: state.fps,
        };
        let per_face = features::extract(&state.model.info.spec, &frame).map_err(|err| {
            format!(
                "The stream does not match model {}: {err}",
                state.model.info.name
            )
        })?;
        let ready: Vec<_> = per_face
            .iter()
            .filter_map(|(_, f)| f.as_ref().ok())
            .collect();
        let mut probabilities = state.model.run(&ready)?.into_iter();
        for (face_id, features) in &per_face {
            let mut result = FaceClass {
                face_id: *face_id,
                ..FaceClass::default()
            };
            match features {
                Ok(_) => match probabilities.next() {
                    Some(p) if p.iter().all(|v| v.is_finite()) => result.probabilities = p,
                    _ => result.reason = Some("bad-output".into()),
                },
                Err(why) => result.reason = Some(why.reason().into()),
            }
            let history = state.histories.face(*face_id, state.frames);
            let current = result.reason.is_none().then_some(&result.probabilities[..]);
            history.push(
                current,
                window,
                current.and_then(|p| label_of(p, threshold)),
            );
            if let Some(smoothed) = history.smoothed() {
                result.smoothed = smoothed.to_vec();
                result.label = label_of(smoothed, threshold)
                    .and_then(|i| state.model.info.labels.get(i).cloned());
            }
            meta.faces.push(result);
        }
        Ok(())
    }
}
