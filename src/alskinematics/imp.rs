// SPDX-License-Identifier: MPL-2.0

use std::collections::BTreeMap;
use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use once_cell::sync::Lazy;

use crate::kinematics::{
    DEFAULT_INTEROCULAR_MM, FaceTrack, Settings as TrackSettings, WindowStats,
};
use crate::meta::{
    FaceKinematics, FaceMeta, KINEMATICS_WINDOW, KinematicsMeta, kinematics_summary_structure,
    window_structure,
};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alskinematics",
        gst::DebugColorFlags::empty(),
        Some("Jaw and lip kinematics from face landmarks"),
    )
});

#[derive(Debug, Clone, Copy)]
struct Settings {
    interocular_mm: f64,
    track: TrackSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            interocular_mm: DEFAULT_INTEROCULAR_MM,
            track: TrackSettings::default(),
        }
    }
}

/// A face's track and when it was last seen, in seconds.
struct Tracked {
    track: FaceTrack,
    last_seen: f64,
    /// What the last frame with fresh landmarks measured, repeated on the stale frames
    /// after it.
    last: Option<FaceKinematics>,
}

#[derive(Default)]
struct State {
    width: u32,
    height: u32,
    tracks: BTreeMap<u32, Tracked>,
    warned_no_pts: bool,
}

impl State {
    /// Closes every face's window and returns them with the stream's summary per face.
    fn finish(&mut self) -> (Vec<WindowStats>, Vec<WindowStats>) {
        let windows = self
            .tracks
            .values_mut()
            .filter_map(|t| t.track.close_window())
            .collect();
        let summaries = self.tracks.values().map(|t| t.track.summary()).collect();
        (windows, summaries)
    }
}

#[derive(Default)]
pub struct AlsKinematics {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for AlsKinematics {
    const NAME: &'static str = "GstAlsKinematics";
    type Type = super::AlsKinematics;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for AlsKinematics {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            let d = Settings::default();
            vec![
                glib::ParamSpecDouble::builder("interocular-mm")
                    .nick("Inter-ocular distance (mm)")
                    .blurb("Assumed distance between the outer eye corners, for the millimetre figures (an adult average is about 63 mm)")
                    .minimum(30.0)
                    .maximum(100.0)
                    .default_value(d.interocular_mm)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("window")
                    .nick("Window")
                    .blurb("Seconds of a face per als-kinematics statistics message")
                    .minimum(0.5)
                    .maximum(600.0)
                    .default_value(d.track.window)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("smoothing")
                    .nick("Smoothing")
                    .blurb("Time constant in seconds of each stage of the two-stage exponential smoother before velocities (0: none)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.track.smoothing)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("max-yaw")
                    .nick("Maximum yaw")
                    .blurb("Degrees of head turn beyond which a frame's measures are flagged pose-ok=false and not counted")
                    .minimum(0.0)
                    .maximum(90.0)
                    .default_value(d.track.max_yaw)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("max-pitch")
                    .nick("Maximum pitch")
                    .blurb("Degrees of head nod beyond which a frame's measures are flagged pose-ok=false and not counted")
                    .minimum(0.0)
                    .maximum(90.0)
                    .default_value(d.track.max_pitch)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let v: f64 = value.get().expect("type checked upstream");
        match pspec.name() {
            "interocular-mm" => s.interocular_mm = v,
            "window" => s.track.window = v,
            "smoothing" => s.track.smoothing = v,
            "max-yaw" => s.track.max_yaw = v,
            "max-pitch" => s.track.max_pitch = v,
            other => unimplemented!("property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "interocular-mm" => s.interocular_mm.to_value(),
            "window" => s.track.window.to_value(),
            "smoothing" => s.track.smoothing.to_value(),
            "max-yaw" => s.track.max_yaw.to_value(),
            "max-pitch" => s.track.max_pitch.to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for AlsKinematics {}

impl ElementImpl for AlsKinematics {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "ALS orofacial kinematics",
                "Filter/Analyzer/Video",
                "Measures jaw and lip opening, mouth width and area, corner asymmetry, brow \
                 raise, head pose and their velocities per face from alsmesh landmarks, \
                 attaching GstAlsKinematicsMeta and posting window and stream statistics",
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

impl BaseTransformImpl for AlsKinematics {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = Some(State::default());
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "Caps {incaps} are not raw video"))?;
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            // Measures are ratios of distances, so a size change mid-stream does not break a
            // face's series; only the landmarks' conversion to pixels changes.
            state.width = info.width();
            state.height = info.height();
        }
        self.parent_set_caps(incaps, outcaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => self.finish_stream(),
            gst::EventView::StreamStart(_) => {
                // A new stream without EOS between (concat): the last one's figures first.
                let had_faces = self
                    .state
                    .lock()
                    .unwrap()
                    .as_ref()
                    .is_some_and(|s| !s.tracks.is_empty());
                if had_faces {
                    self.finish_stream();
                }
            }
            // After a seek the windows so far are closed and the smoothing starts afresh;
            // downstream must have left flushing first to take the windows' events.
            gst::EventView::FlushStop(_) | gst::EventView::Segment(_) => {
                let forwarded = self.parent_sink_event(event);
                self.close_all();
                return forwarded;
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(
        &self,
        buffer: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = *self.settings.lock().unwrap();
        let faces = match FaceMeta::read(buffer) {
            None => return Ok(gst::FlowSuccess::Ok),
            Some(Err(err)) => {
                gst::warning!(CAT, imp = self, "Skipping a malformed face meta: {err}");
                return Ok(gst::FlowSuccess::Ok);
            }
            Some(Ok(faces)) => faces,
        };
        let Some(t) = buffer.pts().map(|pts| pts.nseconds() as f64 / 1e9) else {
            let mut guard = self.state.lock().unwrap();
            if let Some(state) = guard.as_mut().filter(|s| !s.warned_no_pts) {
                state.warned_no_pts = true;
                drop(guard);
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Format,
                    ("Buffers without timestamps: no kinematics, which need the time between frames")
                );
            }
            return Ok(gst::FlowSuccess::Ok);
        };
        let (mut closed, mut departed) = (Vec::new(), Vec::new());
        let mut meta = KinematicsMeta {
            interocular_mm: settings.interocular_mm,
            faces: Vec::with_capacity(faces.faces.len()),
        };
        {
            let mut guard = self.state.lock().unwrap();
            let Some(state) = guard.as_mut() else {
                return Err(gst::FlowError::Flushing);
            };
            let (w, h) = (state.width as f64, state.height as f64);
            for face in &faces.faces {
                let tracked = state.tracks.entry(face.id).or_insert_with(|| Tracked {
                    track: FaceTrack::new(face.id, &settings.track),
                    last_seen: t,
                    last: None,
                });
                tracked.last_seen = t;
                if !faces.fresh {
                    // alsmesh between inferences (inference-interval): the landmarks are the
                    // last fresh frame's. Measured again they would read as a standstill
                    // and then a jump; derivatives come from fresh frames only, with their
                    // own times, and this frame repeats the last fresh one's figures.
                    meta.faces.extend(tracked.last.clone());
                    continue;
                }
                let pixels: Vec<[f64; 3]> = face
                    .landmarks
                    .iter()
                    .map(|p| [p[0] as f64 * w, p[1] as f64 * h, p[2] as f64 * w])
                    .collect();
                let (frame, window) = tracked.track.push(t, &pixels, &settings.track);
                closed.extend(window);
                if let Some(k) = frame {
                    let pose = [k.pose.roll, k.pose.yaw, k.pose.pitch].map(|v| v as f32);
                    let values = k.measures.values();
                    let measured = FaceKinematics {
                        id: face.id,
                        pose,
                        pose_ok: k.pose_ok,
                        interocular_px: k.measures.interocular_px as f32,
                        values: std::array::from_fn(|i| values[i] as f32),
                        velocities: std::array::from_fn(|i| k.samples[i].velocity as f32),
                        accelerations: std::array::from_fn(|i| k.samples[i].acceleration as f32),
                    };
                    tracked.last = Some(measured.clone());
                    meta.faces.push(measured);
                }
            }
            // A face gone for a whole window has its window closed now, not at EOS; one gone
            // for three is forgotten after its own summary, so memory stays with the faces
            // in view.
            for tracked in state.tracks.values_mut() {
                if t - tracked.last_seen >= settings.track.window {
                    closed.extend(tracked.track.close_window());
                }
            }
            let gone: Vec<u32> = state
                .tracks
                .iter()
                .filter(|(_, tracked)| t - tracked.last_seen >= 3.0 * settings.track.window)
                .map(|(id, _)| *id)
                .collect();
            for id in gone {
                if let Some(tracked) = state.tracks.remove(&id) {
                    departed.push(tracked.track.summary());
                }
            }
        }
        for window in closed {
            self.send(window_structure(
                KINEMATICS_WINDOW,
                &window,
                settings.interocular_mm,
            ));
        }
        if !departed.is_empty() {
            self.send(kinematics_summary_structure(
                &departed,
                settings.interocular_mm,
            ));
        }
        meta.attach(buffer).map_err(|err| {
            gst::error!(CAT, imp = self, "Could not attach the meta: {err}");
            gst::FlowError::Error
        })?;
        Ok(gst::FlowSuccess::Ok)
    }
}

impl AlsKinematics {
    /// Posts `s` and sends it downstream, serialized with the buffers, so a downstream
    /// `alsexport` writes it between the frames it follows.
    fn send(&self, s: gst::Structure) {
        let _ = self.obj().post_message(
            gst::message::Element::builder(s.clone())
                .src(&*self.obj())
                .build(),
        );
        let _ = self
            .obj()
            .src_pad()
            .push_event(gst::event::CustomDownstream::new(s));
    }

    /// The open windows and the stream's summary, posted and sent; the faces forgotten.
    fn finish_stream(&self) {
        let interocular_mm = self.settings.lock().unwrap().interocular_mm;
        let finished = self.state.lock().unwrap().as_mut().map(|state| {
            let finished = state.finish();
            state.tracks.clear();
            finished
        });
        let Some((windows, summaries)) = finished else {
            return;
        };
        for window in windows {
            self.send(window_structure(KINEMATICS_WINDOW, &window, interocular_mm));
        }
        self.send(kinematics_summary_structure(&summaries, interocular_mm));
    }

    /// Closes every face's window (posting it) and restarts the smoothing: after a seek.
    fn close_all(&self) {
        let interocular_mm = self.settings.lock().unwrap().interocular_mm;
        let closed: Vec<WindowStats> = match self.state.lock().unwrap().as_mut() {
            Some(state) => state
                .tracks
                .values_mut()
                .filter_map(|t| {
                    t.track.restart();
                    t.track.close_window()
                })
                .collect(),
            None => Vec::new(),
        };
        for window in closed {
            self.send(window_structure(KINEMATICS_WINDOW, &window, interocular_mm));
        }
    }
}
