// SPDX-License-Identifier: MPL-2.0

use std::sync::Mutex;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::VideoFormat;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use once_cell::sync::Lazy;

use super::LandmarkStyle;
use crate::draw::{self, Canvas, Metas, Overlay, PixelLayout, Plane, Style};
use crate::meta::{CLASS_META, ClassMeta, FACE_META, FLOW_META, FaceMeta, FlowMeta, MetaError};
use crate::video_formats::{RGB_FORMATS, rgb_layout};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alsoverlay",
        gst::DebugColorFlags::empty(),
        Some("Draws gst-als face, flow and classification metadata"),
    )
});

const YUV_FORMATS: &[(VideoFormat, PixelLayout)] = &[
    (VideoFormat::I420, PixelLayout::I420),
    (VideoFormat::Yv12, PixelLayout::YV12),
    (VideoFormat::Nv12, PixelLayout::NV12),
    (VideoFormat::Nv21, PixelLayout::NV21),
];

fn layout_of(format: VideoFormat) -> Option<PixelLayout> {
    YUV_FORMATS
        .iter()
        .find(|(f, _)| *f == format)
        .map(|(_, l)| *l)
        .or_else(|| {
            rgb_layout(format).map(|l| PixelLayout::packed(l.bytes_per_pixel, l.r, l.g, l.b))
        })
}

#[derive(Debug, Clone)]
struct Settings {
    style: Style,
    landmark_style: LandmarkStyle,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            style: Style::default(),
            landmark_style: LandmarkStyle::Contours,
        }
    }
}

impl Settings {
    fn style(&self) -> Style {
        Style {
            landmark_style: match self.landmark_style {
                LandmarkStyle::Points => draw::LandmarkStyle::Points,
                LandmarkStyle::Contours => draw::LandmarkStyle::Contours,
                LandmarkStyle::Both => draw::LandmarkStyle::Both,
            },
            ..self.style.clone()
        }
    }
}

struct State {
    layout: PixelLayout,
    overlay: Overlay,
    /// Meta errors already reported, so a broken stream warns once per kind.
    warned: Vec<&'static str>,
}

#[derive(Default)]
pub struct AlsOverlay {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for AlsOverlay {
    const NAME: &'static str = "GstAlsOverlay";
    type Type = super::AlsOverlay;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for AlsOverlay {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            let d = Style::default();
            let flag = |name: &str, nick: &str, blurb: &str| {
                glib::ParamSpecBoolean::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .default_value(true)
                    .mutable_playing()
                    .build()
            };
            vec![
                flag(
                    "draw-landmarks",
                    "Draw landmarks",
                    "Draw the face landmarks of alsmesh",
                ),
                glib::ParamSpecEnum::builder_with_default(
                    "landmark-style",
                    LandmarkStyle::Contours,
                )
                .nick("Landmark style")
                .blurb("Landmarks as MediaPipe's contours, as points, or both")
                .mutable_playing()
                .build(),
                flag(
                    "draw-boxes",
                    "Draw boxes",
                    "Draw each face's box and tracker id",
                ),
                flag(
                    "draw-flow",
                    "Draw flow",
                    "Draw alsflow's grid of mean flow magnitudes as a heat map, with its colour scale",
                ),
                flag(
                    "draw-classification",
                    "Draw classification",
                    "Draw alsclassify's smoothed probability per class under each face",
                ),
                glib::ParamSpecFloat::builder("line-width")
                    .nick("Line width")
                    .blurb("Width in pixels of contours and boxes")
                    .minimum(1.0)
                    .maximum(32.0)
                    .default_value(d.line_width)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecFloat::builder("point-size")
                    .nick("Point size")
                    .blurb("Diameter in pixels of landmark points")
                    .minimum(1.0)
                    .maximum(32.0)
                    .default_value(d.point_size)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecFloat::builder("opacity")
                    .nick("Opacity")
                    .blurb("Opacity of the heat map and of the panels behind text (0 = invisible)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.opacity)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecFloat::builder("flow-max")
                    .nick("Flow scale maximum")
                    .blurb(
                        "Flow magnitude shown in the hottest colour, in pixels per frame of the \
                         image alsflow analysed (the face square or the frame)",
                    )
                    .minimum(0.01)
                    .maximum(1000.0)
                    .default_value(d.flow_max)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let get_bool = || value.get::<bool>().expect("type checked upstream");
        let get_float = || value.get::<f32>().expect("type checked upstream");
        match pspec.name() {
            "draw-landmarks" => s.style.landmarks = get_bool(),
            "landmark-style" => {
                s.landmark_style = value.get::<LandmarkStyle>().expect("type checked upstream")
            }
            "draw-boxes" => s.style.boxes = get_bool(),
            "draw-flow" => s.style.flow = get_bool(),
            "draw-classification" => s.style.classification = get_bool(),
            "line-width" => s.style.line_width = get_float(),
            "point-size" => s.style.point_size = get_float(),
            "opacity" => s.style.opacity = get_float(),
            "flow-max" => s.style.flow_max = get_float(),
            other => unreachable!("unknown property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set", pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "draw-landmarks" => s.style.landmarks.to_value(),
            "landmark-style" => s.landmark_style.to_value(),
            "draw-boxes" => s.style.boxes.to_value(),
            "draw-flow" => s.style.flow.to_value(),
            "draw-classification" => s.style.classification.to_value(),
            "line-width" => s.style.line_width.to_value(),
            "point-size" => s.style.point_size.to_value(),
            "opacity" => s.style.opacity.to_value(),
            "flow-max" => s.style.flow_max.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for AlsOverlay {}

impl ElementImpl for AlsOverlay {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "ALS metadata overlay",
                "Filter/Effect/Video/Overlay",
                "Draws face landmarks and boxes, the optical flow heat map and the class \
                 probabilities that alsmesh, alsflow and alsclassify attached",
                "gst-als developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: Lazy<Vec<gst::PadTemplate>> = Lazy::new(|| {
            let formats = YUV_FORMATS
                .iter()
                .map(|(f, _)| *f)
                .chain(RGB_FORMATS.iter().map(|(f, _)| *f));
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(formats)
                .build();
            crate::filter_pad_templates(&caps)
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for AlsOverlay {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    /// A buffer without any gst-als meta goes through untouched, without being made
    /// writable (no copy after a tee) or mapped.
    fn before_transform(&self, inbuf: &gst::BufferRef) {
        let has_metas = [FACE_META, FLOW_META, CLASS_META]
            .iter()
            .any(|name| gst::meta::CustomMeta::from_buffer(inbuf, name).is_ok());
        let obj = self.obj();
        if obj.is_passthrough() == has_metas {
            obj.set_passthrough(!has_metas);
        }
    }
}

impl VideoFilterImpl for AlsOverlay {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let layout = layout_of(in_info.format()).ok_or_else(|| {
            gst::loggable_error!(CAT, "Unsupported format {:?}", in_info.format())
        })?;
        *self.state.lock().unwrap() = Some(State {
            layout,
            overlay: Overlay::new(in_info.width() as usize, in_info.height() as usize),
            warned: Vec::new(),
        });
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }

    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap();
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ["No caps before the first buffer"]
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let buffer = frame.buffer();
        let faces = self.read_meta(state, "face", FaceMeta::read(buffer));
        let flow = self.read_meta(state, "flow", FlowMeta::read(buffer));
        let class = self.read_meta(state, "class", ClassMeta::read(buffer));
        let metas = Metas {
            faces: faces.as_ref(),
            flow: flow.as_ref(),
            class: class.as_ref(),
        };
        if metas.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let style = self.settings.lock().unwrap().style();
        let (width, height) = (frame.width() as usize, frame.height() as usize);
        let strides: Vec<usize> = frame
            .plane_stride()
            .iter()
            .map(|&s| s.max(0) as usize)
            .collect();
        let n_planes = frame.n_planes() as usize;
        let planes = frame
            .planes_data_mut()
            .into_iter()
            .zip(strides)
            .take(n_planes)
            .map(|(data, stride)| Plane { data, stride })
            .collect();
        let mut canvas = Canvas::new(width, height, state.layout, planes).map_err(|e| {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ["Cannot draw on this frame: {e}"]
            );
            gst::FlowError::Error
        })?;
        if let Err(e) = state.overlay.draw(&mut canvas, &style, metas) {
            // Text is an annotation: a frame without it is better than a stopped stream.
            gst::warning!(CAT, imp = self, "Could not draw: {e}");
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl AlsOverlay {
    /// The meta, or `None` when it is absent or broken; a broken one is warned about once.
    fn read_meta<T>(
        &self,
        state: &mut State,
        kind: &'static str,
        read: Option<Result<T, MetaError>>,
    ) -> Option<T> {
        match read? {
            Ok(meta) => Some(meta),
            Err(e) => {
                if !state.warned.contains(&kind) {
                    state.warned.push(kind);
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Decode,
                        ["Ignoring an invalid {kind} meta: {e}"]
                    );
                }
                None
            }
        }
    }
}
