// SPDX-License-Identifier: MPL-2.0

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::VideoFormat;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use once_cell::sync::Lazy;

use super::{DisPresetKind, FlowMethodKind, FlowRegion};
use crate::flow::{
    DisParams, DisPreset, FarnebackParams, FlowMethod, FlowPool, FlowRequest, FlowTarget,
    FrameChain, GrayImage, LumaRange, PendingFlow, PixelRect, RgbLayout, START, face_square,
};
use crate::mesh::Roi;
use crate::meta::{
    FaceMeta, FlowMeta, FlowStats, NormRotatedRect, REGION_FACE, REGION_FRAME, RegionFlow,
};
use crate::video_formats::{RGB_FORMATS, rgb_layout};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alsflow",
        gst::DebugColorFlags::empty(),
        Some("ALS dense optical flow"),
    )
});

const DEFAULT_GRID: u32 = 32;
const MAX_GRID: u32 = 16384;
const DEFAULT_REGION_SIZE: u32 = 128;
const MIN_REGION_SIZE: u32 = 32;
const MAX_REGION_SIZE: u32 = 512;
/// Why a face-region frame has no flow at all.
const NO_FACE: &str = "no-face";
const INVALID_FACE_META: &str = "invalid-face-meta";
/// `threads=0` uses one thread per core, up to this many.
const AUTO_THREADS_MAX: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Settings {
    method: FlowMethodKind,
    params: FarnebackParams,
    dis: DisParams,
    grid_width: u32,
    grid_height: u32,
    region: FlowRegion,
    region_size: u32,
    stabilize: bool,
    threads: u32,
}

impl Settings {
    fn flow_method(&self) -> FlowMethod {
        match self.method {
            FlowMethodKind::Farneback => FlowMethod::Farneback(self.params),
            FlowMethodKind::Dis => FlowMethod::Dis(self.dis),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            method: FlowMethodKind::Farneback,
            params: FarnebackParams::default(),
            dis: DisParams::default(),
            grid_width: DEFAULT_GRID,
            grid_height: DEFAULT_GRID,
            region: FlowRegion::Frame,
            region_size: DEFAULT_REGION_SIZE,
            stabilize: false,
            threads: 0,
        }
    }
}

/// Where the 8-bit luma of a frame comes from.
#[derive(Debug, Clone, Copy)]
enum LumaSource {
    /// Plane 0 already is luma (GRAY8 and the planar / semi-planar YUV formats).
    FirstPlane(LumaRange),
    Rgb(RgbLayout),
}

/// GRAY8 caps carry no range, so GRAY8 is taken as full range, as OpenCV's gray is; YUV
/// follows its colorimetry, limited range unless the caps say full.
fn luma_source(info: &gst_video::VideoInfo) -> Option<LumaSource> {
    use VideoFormat::*;
    let yuv_range = match info.colorimetry().range() {
        gst_video::VideoColorRange::Range0_255 => LumaRange::Full,
        _ => LumaRange::Limited,
    };
    Some(match info.format() {
        Gray8 => LumaSource::FirstPlane(LumaRange::Full),
        I420 | Yv12 | Nv12 | Nv21 | Y42b | Y444 => LumaSource::FirstPlane(yuv_range),
        other => LumaSource::Rgb(rgb_layout(other)?),
    })
}

/// Gray and the planar / semi-planar YUV formats, whose first plane is luma.
const LUMA_FORMATS: &[VideoFormat] = &[
    VideoFormat::Gray8,
    VideoFormat::I420,
    VideoFormat::Yv12,
    VideoFormat::Nv12,
    VideoFormat::Nv21,
    VideoFormat::Y42b,
    VideoFormat::Y444,
];

/// A buffer waiting for the flow that ends at its frame.
struct Pending {
    buffer: gst::Buffer,
    meta: FlowMeta,
    /// The flow of the regions at `slots` of `meta.regions`, in that order.
    flow: Option<(PendingFlow, Vec<usize>)>,
}

struct State {
    info: Option<gst_video::VideoInfo>,
    luma: LumaSource,
    chain: FrameChain,
    /// A missing face meta is warned about once per stream.
    warned_no_face_meta: bool,
    /// The longest buffer duration seen (at most a second), for the latency without a frame
    /// rate: it only grows, so jittery durations post few Latency messages.
    longest_duration: Option<gst::ClockTime>,
    pool: Option<FlowPool>,
    /// Buffers in arrival order, held back while their flow is computed.
    queue: VecDeque<Pending>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            info: None,
            luma: LumaSource::FirstPlane(LumaRange::Full),
            chain: FrameChain::default(),
            warned_no_face_meta: false,
            longest_duration: None,
            pool: None,
            queue: VecDeque::new(),
        }
    }
}

impl State {
    /// Frames held back so that consecutive pairs are computed at once.
    fn held_frames(&self) -> usize {
        self.pool.as_ref().map_or(0, |pool| pool.threads() - 1)
    }

    /// The time the held frames add: from the caps' frame rate, else the longest buffer
    /// duration seen (at most a second), else a 100 ms frame (10 fps), which live pipelines
    /// asking before any caps get; a Latency message corrects it once caps or buffers say
    /// better.
    fn held_latency(&self) -> gst::ClockTime {
        let from_caps = self.info.as_ref().and_then(|info| {
            let fps = info.fps();
            (fps.numer() > 0 && fps.denom() > 0).then(|| {
                gst::ClockTime::SECOND
                    .mul_div_floor(fps.denom() as u64, fps.numer() as u64)
                    .unwrap_or(gst::ClockTime::ZERO)
            })
        });
        let frame = from_caps
            .or(self.longest_duration.map(|d| d.min(gst::ClockTime::SECOND)))
            .unwrap_or(gst::ClockTime::from_mseconds(100));
        gst::ClockTime::from_nseconds(frame.nseconds().saturating_mul(self.held_frames() as u64))
    }
}

#[derive(Default)]
pub struct AlsFlow {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

/// Why a frame could not be queued; posted once the state lock is released.
struct FrameError {
    flow: gst::FlowError,
    message: String,
}

/// Copies the luma of `buffer` into `image`, full range.
fn fill_gray(
    image: &mut GrayImage,
    buffer: &gst::BufferRef,
    info: &gst_video::VideoInfo,
    luma: LumaSource,
) -> Result<(), String> {
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info)
        .map_err(|_| format!("Could not map a frame as {info:?}"))?;
    let plane = frame
        .plane_data(0)
        .map_err(|err| format!("No first plane: {err}"))?;
    let stride = usize::try_from(frame.plane_stride()[0])
        .map_err(|_| "Negative plane strides are not supported".to_string())?;
    let (width, height) = (info.width() as usize, info.height() as usize);
    match luma {
        LumaSource::FirstPlane(range) => image.fill_from_luma(plane, stride, width, height, range),
        LumaSource::Rgb(layout) => image.fill_from_rgb(plane, stride, width, height, layout),
    }
    .map_err(|err| format!("Short frame: {err}"))
}

/// What `region=face` without face metas means: most likely no `alsmesh` upstream, and flow
/// of whole frames, which costs as many times more as the frame has pixels over the square.
fn no_face_meta_warning(width: usize, height: usize, region_size: usize) -> String {
    let times = (width * height) as f64 / (region_size * region_size).max(1) as f64;
    format!(
        "region=face but the buffers carry no face meta (is alsmesh upstream of alsflow?): \
         analysing whole {width}x{height} frames instead, about {times:.0} times the pixels of \
         a {region_size}-pixel face square"
    )
}

/// A grid dimension: `requested` cells, at most one per pixel of a `pixels` wide region
/// (0: one per pixel).
fn grid_cells(requested: u32, pixels: usize) -> usize {
    match requested as usize {
        0 => pixels,
        n => n.min(pixels),
    }
    .max(1)
}

impl AlsFlow {
    /// Turns `buffer` into a pending output: its meta, and the flow job of its regions.
    /// Returns the warning to post about a missing face meta, once per stream.
    fn queue_frame(
        &self,
        state: &mut State,
        settings: &Settings,
        buffer: gst::Buffer,
    ) -> Result<Option<String>, FrameError> {
        let Some(info) = state.info.clone() else {
            return Err(FrameError {
                flow: gst::FlowError::NotNegotiated,
                message: "Buffer before caps".into(),
            });
        };
        // No pool: the element is stopping. Checked before the chain moves on to this frame.
        if state.pool.is_none() {
            return Err(FrameError {
                flow: gst::FlowError::Flushing,
                message: String::new(),
            });
        }
        let (width, height) = (info.width() as usize, info.height() as usize);
        if buffer.flags().contains(gst::BufferFlags::DISCONT) {
            state.chain.break_with("discont");
        }
        let gap = buffer.flags().contains(gst::BufferFlags::GAP);
        if gap {
            state.chain.break_with("gap");
        }

        let mut warn_no_face_meta = None;
        let faces = match settings.region {
            FlowRegion::Frame => None,
            FlowRegion::Face => match FaceMeta::read(&buffer) {
                Some(Ok(meta)) => Some(Ok(meta)),
                Some(Err(err)) => Some(Err(err)),
                None => {
                    if !state.warned_no_face_meta {
                        warn_no_face_meta = Some(no_face_meta_warning(
                            width,
                            height,
                            settings.region_size as usize,
                        ));
                    }
                    state.warned_no_face_meta = true;
                    None
                }
            },
        };

        let region_size = settings.region_size as usize;
        let mut meta = match faces {
            None => FlowMeta {
                region_kind: REGION_FRAME.into(),
                region_size: 0,
                grid_width: grid_cells(settings.grid_width, width) as u32,
                grid_height: grid_cells(settings.grid_height, height) as u32,
                regions: vec![RegionFlow {
                    roi: NormRotatedRect::FULL,
                    ..Default::default()
                }],
                reset_reason: None,
                method: Some(settings.flow_method()),
            },
            Some(_) => FlowMeta {
                region_kind: REGION_FACE.into(),
                region_size: settings.region_size,
                grid_width: grid_cells(settings.grid_width, region_size) as u32,
                grid_height: grid_cells(settings.grid_height, region_size) as u32,
                regions: Vec::new(),
                reset_reason: None,
                method: Some(settings.flow_method()),
            },
        };
        let grid = (meta.grid_width as usize, meta.grid_height as usize);

        let mut flow = None;
        match faces {
            Some(Err(err)) => {
                gst::warning!(CAT, imp = self, "Ignoring malformed face meta: {err}");
                state.chain.break_with(INVALID_FACE_META);
                meta.reset_reason = Some(INVALID_FACE_META.into());
            }
            Some(Ok(faces)) if faces.faces.is_empty() || gap => {
                state.chain.forget_prev();
                meta.reset_reason = Some(if gap { "gap" } else { NO_FACE }.into());
            }
            Some(Ok(faces)) => {
                let current: Vec<(u32, Option<Roi>)> = faces
                    .faces
                    .iter()
                    .map(|f| {
                        let r = f.roi;
                        let fallback = Roi {
                            cx: r.cx as f64 * width as f64,
                            cy: r.cy as f64 * height as f64,
                            size: r.width as f64 * width as f64,
                            rotation: r.rotation as f64,
                        };
                        (f.id, face_square(&f.landmarks, fallback, width, height))
                    })
                    .collect();
                let image = self.next_image(state, &buffer, &info)?;
                let step = state.chain.push_faces(&image, &current, settings.stabilize);
                let mut pairs = Vec::new();
                let mut slots = Vec::new();
                for (i, (&(id, roi), planned)) in current.iter().zip(step.plan).enumerate() {
                    meta.regions.push(RegionFlow {
                        face_id: id,
                        roi: roi.map_or_else(NormRotatedRect::default, |r| NormRotatedRect {
                            cx: (r.cx / width as f64) as f32,
                            cy: (r.cy / height as f64) as f32,
                            width: (r.size / width as f64) as f32,
                            height: (r.size / height as f64) as f32,
                            rotation: r.rotation as f32,
                        }),
                        reset_reason: planned.err().map(str::to_string),
                        ..Default::default()
                    });
                    if let Ok(pair) = planned {
                        pairs.push(pair);
                        slots.push(i);
                    }
                }
                if let Some(prev) = step.prev {
                    let target = FlowTarget::Faces {
                        size: region_size,
                        faces: pairs,
                    };
                    let pending = Self::submit(state, prev, image, target, settings, grid)?;
                    flow = Some((pending, slots));
                }
            }
            None if gap => {
                meta.regions[0].reset_reason = Some("gap".into());
            }
            None => {
                let image = self.next_image(state, &buffer, &info)?;
                match state.chain.push_frame(&image) {
                    Ok(prev) => {
                        let target = FlowTarget::Rect(PixelRect::full(width, height));
                        let pending = Self::submit(state, prev, image, target, settings, grid)?;
                        flow = Some((pending, vec![0]));
                    }
                    Err(reason) => meta.regions[0].reset_reason = Some(reason.into()),
                }
            }
        }
        state.queue.push_back(Pending { buffer, meta, flow });
        Ok(warn_no_face_meta)
    }

    /// This frame's gray image, in storage that no pending flow reads any more.
    fn next_image(
        &self,
        state: &mut State,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<Arc<GrayImage>, FrameError> {
        let mut image = state.chain.blank_image();
        let Some(target) = Arc::get_mut(&mut image) else {
            unreachable!("blank images have no other owner");
        };
        fill_gray(target, buffer, info, state.luma).map_err(|message| FrameError {
            flow: gst::FlowError::Error,
            message,
        })?;
        Ok(image)
    }

    /// Submits the flow from `prev` to `next` over `target`.
    fn submit(
        state: &State,
        prev: Arc<GrayImage>,
        next: Arc<GrayImage>,
        target: FlowTarget,
        settings: &Settings,
        (grid_width, grid_height): (usize, usize),
    ) -> Result<PendingFlow, FrameError> {
        let Some(pool) = state.pool.as_ref() else {
            return Err(FrameError {
                flow: gst::FlowError::Flushing,
                message: String::new(),
            });
        };
        Ok(pool.submit(FlowRequest {
            prev,
            next,
            target,
            method: settings.flow_method(),
            grid_width,
            grid_height,
        }))
    }

    /// Waits for the flow of `pending` and attaches its meta.
    fn finish(&self, pending: Pending) -> Result<gst::Buffer, gst::FlowError> {
        let Pending {
            mut buffer,
            mut meta,
            flow,
        } = pending;
        if let Some((flow, slots)) = flow {
            let features = flow.wait().map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Failed,
                    ("OpenCV optical flow failed: {err}")
                );
                gst::FlowError::Error
            })?;
            for (slot, f) in slots.into_iter().zip(features) {
                let Some(region) = meta.regions.get_mut(slot) else {
                    continue;
                };
                let s = f.summary;
                region.stats = Some(FlowStats {
                    mean: s.mean as f64,
                    max: s.max as f64,
                    p99: s.p99 as f64,
                    mean_direction: s.mean_direction as f64,
                });
                region.grid = f.grid;
                region.reset_reason = None;
            }
        }
        meta.attach(buffer.make_mut()).map_err(|err| {
            gst::element_imp_error!(self, gst::CoreError::Failed, ("Failed to add meta: {err}"));
            gst::FlowError::Error
        })?;
        Ok(buffer)
    }

    /// Tells the pipeline to ask for the latency again.
    fn post_latency_message(&self) {
        let _ = self
            .obj()
            .post_message(gst::message::Latency::builder().src(&*self.obj()).build());
    }

    /// Sends every held-back buffer downstream, so that an event keeps its place after them.
    fn drain(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        let pending: Vec<Pending> = self.state.lock().unwrap().queue.drain(..).collect();
        let src = self.obj().src_pad().clone();
        for p in pending {
            src.push(self.finish(p)?)?;
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for AlsFlow {
    const NAME: &'static str = "GstAlsFlow";
    type Type = super::AlsFlow;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for AlsFlow {
    fn constructed(&self) {
        self.parent_constructed();
        // Every frame is analysed: dropping late ones would break the frame pairs, so base
        // transform's QoS (which the overridden submit_input_buffer skips anyway) is off.
        self.obj().set_qos(false);
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            let d = FarnebackParams::default();
            let dis = DisParams::default();
            let dis_int =
                |name: &str, nick: &str, blurb: &str, min: i32, max: i32, default: i32| {
                    glib::ParamSpecInt::builder(name)
                        .nick(nick)
                        .blurb(blurb)
                        .minimum(min)
                        .maximum(max)
                        .default_value(default)
                        .mutable_playing()
                        .build()
                };
            vec![
                glib::ParamSpecEnum::builder_with_default("method", FlowMethodKind::Farneback)
                    .nick("Flow method")
                    .blurb(
                        "Dense optical flow: farneback (the paper's) or dis (OpenCV's DIS, \
                         several times cheaper; other magnitudes, so a model must be trained \
                         on the method it runs with)",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("dis-preset", DisPresetKind::Fast)
                    .nick("DIS preset")
                    .blurb(
                        "method=dis: sets the five dis-* settings to one of OpenCV's presets \
                         (reads back as the preset they match, else the default)",
                    )
                    .mutable_playing()
                    .build(),
                dis_int(
                    "dis-finest-scale",
                    "DIS finest scale",
                    "method=dis: finest pyramid level the flow is computed on (0: full \
                     resolution), then upscaled",
                    0,
                    8,
                    dis.finest_scale,
                ),
                dis_int(
                    "dis-patch-size",
                    "DIS patch size",
                    "method=dis: side in pixels of the patches matched",
                    2,
                    64,
                    dis.patch_size,
                ),
                dis_int(
                    "dis-patch-stride",
                    "DIS patch stride",
                    "method=dis: pixels between neighbouring patches",
                    1,
                    64,
                    dis.patch_stride,
                ),
                dis_int(
                    "dis-gradient-descent-iterations",
                    "DIS iterations",
                    "method=dis: gradient descent iterations of each patch",
                    1,
                    1000,
                    dis.gradient_descent_iterations,
                ),
                dis_int(
                    "dis-variational-refinement-iterations",
                    "DIS refinement",
                    "method=dis: variational refinement iterations (0: none)",
                    0,
                    1000,
                    dis.variational_refinement_iterations,
                ),
                glib::ParamSpecDouble::builder("pyr-scale")
                    .nick("Pyramid scale")
                    .blurb("Image scale (<1) from one pyramid level to the next")
                    .minimum(0.05)
                    .maximum(0.95)
                    .default_value(d.pyr_scale)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("levels")
                    .nick("Pyramid levels")
                    .blurb("Number of pyramid levels, the full-size image included")
                    .minimum(1)
                    .maximum(16)
                    .default_value(d.levels)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("winsize")
                    .nick("Window size")
                    .blurb("Averaging window size in pixels")
                    .minimum(3)
                    .maximum(255)
                    .default_value(d.winsize)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("iterations")
                    .nick("Iterations")
                    .blurb("Iterations at each pyramid level")
                    .minimum(1)
                    .maximum(100)
                    .default_value(d.iterations)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("poly-n")
                    .nick("Polynomial neighbourhood")
                    .blurb("Pixel neighbourhood of the polynomial expansion: 5 or 7 (6 is refused)")
                    .minimum(5)
                    .maximum(7)
                    .default_value(d.poly_n)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("poly-sigma")
                    .nick("Polynomial sigma")
                    .blurb(
                        "Gaussian sigma smoothing the polynomial expansion (the paper's 1.2; \
                         OpenCV suggests 1.1 for poly-n 5 and 1.5 for 7)",
                    )
                    .minimum(0.1)
                    .maximum(10.0)
                    .default_value(d.poly_sigma)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("gaussian-window")
                    .nick("Gaussian window")
                    .blurb("Use a Gaussian instead of a box window (OPTFLOW_FARNEBACK_GAUSSIAN)")
                    .default_value(d.gaussian_window)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("grid-width")
                    .nick("Grid width")
                    .blurb(
                        "Columns of the grid each region's flow is pooled onto (0: one per pixel). \
                         A cell holds the mean flow magnitude over its pixels, in pixels per \
                         frame of the analysed image (the frame, or the region-size square), so \
                         it grows as the frame rate falls",
                    )
                    .maximum(MAX_GRID)
                    .default_value(DEFAULT_GRID)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("grid-height")
                    .nick("Grid height")
                    .blurb(
                        "Rows of the grid each region's flow is pooled onto (0: one per pixel). \
                         A cell holds the mean flow magnitude over its pixels, in pixels per \
                         frame of the analysed image (the frame, or the region-size square), so \
                         it grows as the frame rate falls",
                    )
                    .maximum(MAX_GRID)
                    .default_value(DEFAULT_GRID)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("region", FlowRegion::Frame)
                    .nick("Region")
                    .blurb("Part of the frame the flow covers")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("region-size")
                    .nick("Face square size")
                    .blurb(
                        "region=face: side in pixels of the face-aligned square each face is \
                         resampled to; magnitudes are pixels per frame of that square",
                    )
                    .minimum(MIN_REGION_SIZE)
                    .maximum(MAX_REGION_SIZE)
                    .default_value(DEFAULT_REGION_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("stabilize")
                    .nick("Stabilize")
                    .blurb(
                        "region=face: sample each frame with its own face square, which \
                         cancels head motion and leaves the motion within the face (false: \
                         both frames use the current square, so head motion stays visible)",
                    )
                    .default_value(false)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb(
                        "Frame pairs computed at once, each on its own thread; N > 1 holds \
                         N-1 frames back and reports that latency (0: one per core, at most 4, \
                         so the latency then depends on the host; set a number for the same \
                         latency everywhere)",
                    )
                    .maximum(64)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        // GObject has checked each value against its ParamSpec, so `get` cannot fail here.
        match pspec.name() {
            "method" => s.method = value.get().expect("type checked upstream"),
            "dis-preset" => {
                let preset: DisPresetKind = value.get().expect("type checked upstream");
                s.dis = DisParams::preset(match preset {
                    DisPresetKind::Ultrafast => DisPreset::Ultrafast,
                    DisPresetKind::Fast => DisPreset::Fast,
                    DisPresetKind::Medium => DisPreset::Medium,
                });
            }
            "dis-finest-scale" => s.dis.finest_scale = value.get().expect("type checked upstream"),
            "dis-patch-size" => s.dis.patch_size = value.get().expect("type checked upstream"),
            "dis-patch-stride" => s.dis.patch_stride = value.get().expect("type checked upstream"),
            "dis-gradient-descent-iterations" => {
                s.dis.gradient_descent_iterations = value.get().expect("type checked upstream")
            }
            "dis-variational-refinement-iterations" => {
                s.dis.variational_refinement_iterations =
                    value.get().expect("type checked upstream")
            }
            "pyr-scale" => s.params.pyr_scale = value.get().expect("type checked upstream"),
            "levels" => s.params.levels = value.get().expect("type checked upstream"),
            "winsize" => s.params.winsize = value.get().expect("type checked upstream"),
            "iterations" => s.params.iterations = value.get().expect("type checked upstream"),
            "poly-n" => {
                // OpenCV documents 5 or 7; the ParamSpec cannot leave out the 6 between.
                let poly_n: i32 = value.get().expect("type checked upstream");
                if poly_n == 6 {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "poly-n must be 5 or 7, keeping {}",
                        s.params.poly_n
                    );
                    return;
                }
                s.params.poly_n = poly_n;
            }
            "poly-sigma" => s.params.poly_sigma = value.get().expect("type checked upstream"),
            "gaussian-window" => {
                s.params.gaussian_window = value.get().expect("type checked upstream")
            }
            "grid-width" => s.grid_width = value.get().expect("type checked upstream"),
            "grid-height" => s.grid_height = value.get().expect("type checked upstream"),
            "region" => s.region = value.get().expect("type checked upstream"),
            "region-size" => s.region_size = value.get().expect("type checked upstream"),
            "stabilize" => s.stabilize = value.get().expect("type checked upstream"),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            other => unimplemented!("property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "method" => s.method.to_value(),
            "dis-preset" => match s.dis.preset_name() {
                Some("ultrafast") => DisPresetKind::Ultrafast,
                Some("medium") => DisPresetKind::Medium,
                _ => DisPresetKind::Fast,
            }
            .to_value(),
            "dis-finest-scale" => s.dis.finest_scale.to_value(),
            "dis-patch-size" => s.dis.patch_size.to_value(),
            "dis-patch-stride" => s.dis.patch_stride.to_value(),
            "dis-gradient-descent-iterations" => s.dis.gradient_descent_iterations.to_value(),
            "dis-variational-refinement-iterations" => {
                s.dis.variational_refinement_iterations.to_value()
            }
            "pyr-scale" => s.params.pyr_scale.to_value(),
            "levels" => s.params.levels.to_value(),
            "winsize" => s.params.winsize.to_value(),
            "iterations" => s.params.iterations.to_value(),
            "poly-n" => s.params.poly_n.to_value(),
            "poly-sigma" => s.params.poly_sigma.to_value(),
            "gaussian-window" => s.params.gaussian_window.to_value(),
            "grid-width" => s.grid_width.to_value(),
            "grid-height" => s.grid_height.to_value(),
            "region" => s.region.to_value(),
            "region-size" => s.region_size.to_value(),
            "stabilize" => s.stabilize.to_value(),
            "threads" => s.threads.to_value(),
            other => unimplemented!("property {other}"),
        }
    }
}

impl GstObjectImpl for AlsFlow {}

impl ElementImpl for AlsFlow {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: Lazy<gst::subclass::ElementMetadata> = Lazy::new(|| {
            gst::subclass::ElementMetadata::new(
                "ALS optical flow",
                "Filter/Analyzer/Video",
                "Attaches dense optical flow magnitudes (Farneback, the paper's, or DIS) between consecutive frames \
                 as GstAlsFlowMeta",
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
                        LUMA_FORMATS
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

impl BaseTransformImpl for AlsFlow {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let threads = match self.settings.lock().unwrap().threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(AUTO_THREADS_MAX)),
            n => n as usize,
        };
        let pool = FlowPool::new(threads).map_err(|err| {
            gst::error_msg!(
                gst::CoreError::Failed,
                ("Could not start {threads} flow threads: {err}")
            )
        })?;
        gst::debug!(
            CAT,
            imp = self,
            "Computing up to {threads} frame pairs at once"
        );
        *self.state.lock().unwrap() = State {
            chain: FrameChain::new(threads),
            pool: Some(pool),
            ..State::default()
        };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStart(_) => self.state.lock().unwrap().queue.clear(),
            gst::EventView::FlushStop(_) => {
                let mut state = self.state.lock().unwrap();
                state.queue.clear();
                state.chain.break_with("flush");
                state.longest_duration = None;
            }
            // Tags may overtake held frames; every other serialized event keeps its place.
            gst::EventView::Tag(_) => {}
            gst::EventView::StreamStart(_) => {
                if let Err(err) = self.drain() {
                    gst::debug!(CAT, imp = self, "Held-back buffers not pushed: {err:?}");
                }
                // A new stream: no pair with the last frame of the old one, its own buffer
                // durations, and a warning again if it lacks face metas.
                let mut state = self.state.lock().unwrap();
                state.chain.break_with(START);
                state.longest_duration = None;
                state.warned_no_face_meta = false;
            }
            view if event.is_serialized() => {
                if let Err(err) = self.drain() {
                    gst::debug!(CAT, imp = self, "Held-back buffers not pushed: {err:?}");
                }
                let reason = match view {
                    // The same segment sent again is no jump in the picture.
                    gst::EventView::Segment(e) if e.segment() != &self.obj().segment() => {
                        Some("segment")
                    }
                    gst::EventView::Gap(_) => Some("gap"),
                    _ => None,
                };
                if let Some(reason) = reason {
                    gst::debug!(CAT, imp = self, "Restarting the frame pair: {reason}");
                    self.state.lock().unwrap().chain.break_with(reason);
                }
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        // A drain query asks for every held frame before it returns.
        if direction == gst::PadDirection::Sink
            && let gst::QueryViewMut::Drain(_) = query.view_mut()
            && let Err(err) = self.drain()
        {
            gst::debug!(CAT, imp = self, "Held-back buffers not pushed: {err:?}");
        }
        if !BaseTransformImplExt::parent_query(self, direction, query) {
            return false;
        }
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let extra = self.state.lock().unwrap().held_latency();
            let (live, min, max) = q.result();
            let add = |t: gst::ClockTime| {
                gst::ClockTime::from_nseconds(t.nseconds().saturating_add(extra.nseconds()))
            };
            q.set(live, add(min), max.map(add));
        }
        true
    }

    fn propose_allocation(
        &self,
        decide_query: Option<&gst::query::Allocation>,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        self.parent_propose_allocation(decide_query, query)?;
        // Upstream's pool must hold the frames this element keeps back besides its own.
        let held = self.state.lock().unwrap().held_frames() as u32;
        if held == 0 {
            return Ok(());
        }
        let pools: Vec<_> = query.allocation_pools().collect();
        if pools.is_empty() {
            let size = self
                .state
                .lock()
                .unwrap()
                .info
                .as_ref()
                .map_or(0, |info| info.size() as u32);
            query.add_allocation_pool(None::<&gst::BufferPool>, size, held, 0);
        } else {
            for (i, (pool, size, min, max)) in pools.into_iter().enumerate() {
                let max = if max == 0 {
                    0
                } else {
                    max.saturating_add(held)
                };
                query.set_nth_allocation_pool(
                    i as u32,
                    pool.as_ref(),
                    size,
                    min.saturating_add(held),
                    max,
                );
            }
        }
        Ok(())
    }

    fn submit_input_buffer(
        &self,
        // Base transform's pending *output* discontinuity, which stays set while frames are
        // held back; the input's own flag is what breaks the pair.
        _is_discont: bool,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // What base transform's own submit_input_buffer does first: renegotiate when
        // downstream asked for it.
        if !self.obj().reconfigure() {
            let flushing = self
                .obj()
                .src_pad()
                .pad_flags()
                .contains(gst::PadFlags::FLUSHING);
            return Err(if flushing {
                gst::FlowError::Flushing
            } else {
                gst::FlowError::NotNegotiated
            });
        }
        let settings = *self.settings.lock().unwrap();
        // Base transform marks the next buffer it outputs DISCONT; with frames held back that
        // would be an older one, so those leave first.
        if buffer.flags().contains(gst::BufferFlags::DISCONT) {
            self.drain()?;
        }
        let (queued, latency_changed) = {
            let mut state = self.state.lock().unwrap();
            let before = state.held_latency();
            if let Some(duration) = buffer.duration().filter(|d| !d.is_zero()) {
                let duration = duration.min(gst::ClockTime::SECOND);
                if state
                    .longest_duration
                    .is_none_or(|longest| duration > longest)
                {
                    state.longest_duration = Some(duration);
                }
            }
            let changed = state.held_latency() != before;
            (self.queue_frame(&mut state, &settings, buffer), changed)
        };
        if latency_changed {
            self.post_latency_message();
        }
        match queued {
            Ok(warn_no_face_meta) => {
                if let Some(warning) = warn_no_face_meta {
                    gst::element_imp_warning!(self, gst::StreamError::Format, ("{warning}"));
                }
                Ok(gst::FlowSuccess::Ok)
            }
            Err(FrameError { flow, message }) => {
                if flow == gst::FlowError::Flushing {
                    // Stopping: nothing to report.
                } else if flow == gst::FlowError::NotNegotiated {
                    gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{message}"));
                } else {
                    gst::element_imp_error!(self, gst::StreamError::Format, ("{message}"));
                }
                Err(flow)
            }
        }
    }

    fn generate_output(
        &self,
    ) -> Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        let pending = {
            let mut state = self.state.lock().unwrap();
            // A frame at the front with no flow to wait for (the first after a reset, such as
            // a DISCONT one) leaves at once, in the chain call that brought it, so that base
            // transform's DISCONT mark lands on it and not on a later frame.
            let ready = state.queue.front().is_some_and(|p| p.flow.is_none());
            if !ready && state.queue.len() <= state.held_frames() {
                return Ok(GenerateOutputSuccess::NoOutput);
            }
            state.queue.pop_front()
        };
        match pending {
            Some(pending) => Ok(GenerateOutputSuccess::Buffer(self.finish(pending)?)),
            None => Ok(GenerateOutputSuccess::NoOutput),
        }
    }
}

impl VideoFilterImpl for AlsFlow {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let luma = luma_source(in_info).ok_or_else(|| {
            gst::loggable_error!(CAT, "Unsupported format {:?}", in_info.format())
        })?;
        let mut state = self.state.lock().unwrap();
        let changed = state.info.as_ref().is_some_and(|old| {
            (old.width(), old.height(), old.format())
                != (in_info.width(), in_info.height(), in_info.format())
        });
        if changed {
            gst::info!(
                CAT,
                imp = self,
                "Caps changed to {incaps}: restarting the frame pair"
            );
            state.chain.break_with("caps");
        }
        let before = state.held_latency();
        state.info = Some(in_info.clone());
        state.luma = luma;
        let latency_changed = state.held_latency() != before;
        drop(state);
        if latency_changed {
            self.post_latency_message();
        }
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}
