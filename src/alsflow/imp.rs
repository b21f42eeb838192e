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

use super::FlowRegion;
use crate::flow::{
    FarnebackParams, FlowPool, FlowRequest, GrayImage, PendingFlow, PixelRect, RgbLayout,
};
use crate::meta::{FaceMeta, FlowMeta, FlowStats, NormRect};

static CAT: Lazy<gst::DebugCategory> = Lazy::new(|| {
    gst::DebugCategory::new(
        "alsflow",
        gst::DebugColorFlags::empty(),
        Some("ALS dense optical flow"),
    )
});

const DEFAULT_GRID: u32 = 32;
const MAX_GRID: u32 = 16384;
/// `threads=0` uses one thread per core, up to this many.
const AUTO_THREADS_MAX: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Settings {
    params: FarnebackParams,
    grid_width: u32,
    grid_height: u32,
    region: FlowRegion,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            params: FarnebackParams::default(),
            grid_width: DEFAULT_GRID,
            grid_height: DEFAULT_GRID,
            region: FlowRegion::Frame,
            threads: 0,
        }
    }
}

/// Where the 8-bit luma of a frame comes from.
#[derive(Debug, Clone, Copy)]
enum LumaSource {
    /// Plane 0 already is luma (GRAY8 and the planar / semi-planar YUV formats).
    FirstPlane,
    Rgb(RgbLayout),
}

fn luma_source(format: VideoFormat) -> Option<LumaSource> {
    use VideoFormat::*;
    Some(match format {
        Gray8 | I420 | Yv12 | Nv12 | Nv21 | Y42b | Y444 => LumaSource::FirstPlane,
        Rgb => LumaSource::Rgb(RgbLayout::RGB),
        Bgr => LumaSource::Rgb(RgbLayout::BGR),
        Rgbx | Rgba => LumaSource::Rgb(RgbLayout::RGBX),
        Bgrx | Bgra => LumaSource::Rgb(RgbLayout::BGRX),
        Xrgb | Argb => LumaSource::Rgb(RgbLayout::XRGB),
        Xbgr | Abgr => LumaSource::Rgb(RgbLayout::XBGR),
        _ => return None,
    })
}

const FORMATS: &[VideoFormat] = &[
    VideoFormat::Gray8,
    VideoFormat::I420,
    VideoFormat::Yv12,
    VideoFormat::Nv12,
    VideoFormat::Nv21,
    VideoFormat::Y42b,
    VideoFormat::Y444,
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Xrgb,
    VideoFormat::Xbgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Argb,
    VideoFormat::Abgr,
];

/// A buffer waiting for the flow that ends at its frame.
struct Pending {
    buffer: gst::Buffer,
    meta: FlowMeta,
    flow: Option<PendingFlow>,
}

struct State {
    info: Option<gst_video::VideoInfo>,
    luma: LumaSource,
    prev: Option<Arc<GrayImage>>,
    /// Gray images to reuse once no pending flow reads them any more.
    spare: Vec<Arc<GrayImage>>,
    /// Why the next frame has no flow, set when the frame pair is broken.
    reset_reason: Option<&'static str>,
    pool: Option<FlowPool>,
    /// Buffers in arrival order, held back while their flow is computed.
    queue: VecDeque<Pending>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            info: None,
            luma: LumaSource::FirstPlane,
            prev: None,
            spare: Vec::new(),
            reset_reason: Some("start"),
            pool: None,
            queue: VecDeque::new(),
        }
    }
}

impl State {
    /// Breaks the frame pair. The first reason since the last flow frame wins, so a flush
    /// followed by its segment reads "flush".
    fn reset(&mut self, reason: &'static str) {
        if let Some(prev) = self.prev.take() {
            self.recycle(prev);
        }
        self.reset_reason.get_or_insert(reason);
    }

    /// An image to fill with the next frame: a spare one that no pending flow reads any
    /// more, or a new one.
    fn blank_image(&mut self) -> Arc<GrayImage> {
        match self
            .spare
            .iter()
            .position(|img| Arc::strong_count(img) == 1)
        {
            Some(i) => self.spare.swap_remove(i),
            None => Arc::new(GrayImage::default()),
        }
    }

    fn recycle(&mut self, image: Arc<GrayImage>) {
        let keep = self.pool.as_ref().map_or(1, FlowPool::threads) + 2;
        if self.spare.len() < keep {
            self.spare.push(image);
        }
    }

    /// Frames held back so that consecutive pairs are computed at once.
    fn held_frames(&self) -> usize {
        self.pool.as_ref().map_or(0, |pool| pool.threads() - 1)
    }
}

#[derive(Default)]
pub struct AlsFlow {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

impl AlsFlow {
    /// The pixel rectangle to analyse in a `width` x `height` frame, and its kind.
    fn region(
        &self,
        buffer: &gst::BufferRef,
        region: FlowRegion,
        width: usize,
        height: usize,
    ) -> (&'static str, PixelRect) {
        let full = ("frame", PixelRect::full(width, height));
        if region != FlowRegion::Face {
            return full;
        }
        match FaceMeta::read(buffer) {
            Some(Ok(meta)) => meta
                .faces
                .first()
                .and_then(|face| {
                    let b = face.bbox;
                    PixelRect::from_normalized(b.x, b.y, b.width, b.height, width, height)
                })
                .map_or(full, |rect| ("face", rect)),
            Some(Err(err)) => {
                gst::warning!(CAT, imp = self, "Ignoring malformed face meta: {err}");
                full
            }
            None => full,
        }
    }

    fn fill_gray(
        &self,
        image: &mut GrayImage,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        luma: LumaSource,
    ) -> Result<(), gst::FlowError> {
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("Could not map a frame as {info:?}")
                );
                gst::FlowError::Error
            })?;
        let plane = frame.plane_data(0).map_err(|_| gst::FlowError::Error)?;
        let stride = frame.plane_stride()[0] as usize;
        let (width, height) = (info.width() as usize, info.height() as usize);
        match luma {
            LumaSource::FirstPlane => image.fill_from_luma(plane, stride, width, height),
            LumaSource::Rgb(layout) => image.fill_from_rgb(plane, stride, width, height, layout),
        }
        .map_err(|err| {
            gst::element_imp_error!(self, gst::StreamError::Format, ("Short frame: {err}"));
            gst::FlowError::Error
        })
    }

    /// Waits for the flow of `pending` and attaches its meta.
    fn finish(&self, pending: Pending) -> Result<gst::Buffer, gst::FlowError> {
        let Pending {
            mut buffer,
            mut meta,
            flow,
        } = pending;
        if let Some(flow) = flow {
            let features = flow.wait().map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Failed,
                    ("OpenCV Farneback flow failed: {err}")
                );
                gst::FlowError::Error
            })?;
            let s = features.summary;
            meta.stats = Some(FlowStats {
                mean: s.mean as f64,
                max: s.max as f64,
                p99: s.p99 as f64,
                mean_direction: s.mean_direction as f64,
            });
            meta.grid = features.grid;
        }
        meta.attach(buffer.make_mut()).map_err(|err| {
            gst::element_imp_error!(self, gst::CoreError::Failed, ("Failed to add meta: {err}"));
            gst::FlowError::Error
        })?;
        Ok(buffer)
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
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: Lazy<Vec<glib::ParamSpec>> = Lazy::new(|| {
            let d = FarnebackParams::default();
            vec![
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
                    .blurb("Pixel neighbourhood of the polynomial expansion (5 or 7)")
                    .minimum(5)
                    .maximum(7)
                    .default_value(d.poly_n)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("poly-sigma")
                    .nick("Polynomial sigma")
                    .blurb("Gaussian sigma smoothing the polynomial expansion (1.1 for poly-n 5, 1.5 for 7)")
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
                    .blurb("Columns of the pooled magnitude grid (0: one per pixel of the region)")
                    .maximum(MAX_GRID)
                    .default_value(DEFAULT_GRID)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("grid-height")
                    .nick("Grid height")
                    .blurb("Rows of the pooled magnitude grid (0: one per pixel of the region)")
                    .maximum(MAX_GRID)
                    .default_value(DEFAULT_GRID)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("region", FlowRegion::Frame)
                    .nick("Region")
                    .blurb("Part of the frame the flow covers")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb(
                        "Frame pairs computed at once, each on its own thread; N > 1 holds \
                         N-1 frames back (0: one per core, at most 4)",
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
            "pyr-scale" => s.params.pyr_scale = value.get().expect("type checked upstream"),
            "levels" => s.params.levels = value.get().expect("type checked upstream"),
            "winsize" => s.params.winsize = value.get().expect("type checked upstream"),
            "iterations" => s.params.iterations = value.get().expect("type checked upstream"),
            "poly-n" => s.params.poly_n = value.get().expect("type checked upstream"),
            "poly-sigma" => s.params.poly_sigma = value.get().expect("type checked upstream"),
            "gaussian-window" => {
                s.params.gaussian_window = value.get().expect("type checked upstream")
            }
            "grid-width" => s.grid_width = value.get().expect("type checked upstream"),
            "grid-height" => s.grid_height = value.get().expect("type checked upstream"),
            "region" => s.region = value.get().expect("type checked upstream"),
            "threads" => s.threads = value.get().expect("type checked upstream"),
            other => unimplemented!("property {other}"),
        }
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
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
                "Attaches Farneback dense optical flow magnitudes between consecutive frames \
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
                    .format_list(FORMATS.iter().copied())
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
                state.reset("flush");
            }
            view if event.is_serialized() => {
                if let Err(err) = self.drain() {
                    gst::debug!(CAT, imp = self, "Held-back buffers not pushed: {err:?}");
                }
                let reason = match view {
                    gst::EventView::Segment(_) => Some("segment"),
                    gst::EventView::Gap(_) => Some("gap"),
                    _ => None,
                };
                if let Some(reason) = reason {
                    gst::debug!(CAT, imp = self, "Restarting the frame pair: {reason}");
                    self.state.lock().unwrap().reset(reason);
                }
            }
            _ => {}
        }
        self.parent_sink_event(event)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if !BaseTransformImplExt::parent_query(self, direction, query) {
            return false;
        }
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let state = self.state.lock().unwrap();
            let held = state.held_frames() as u64;
            let frame = state.info.as_ref().and_then(|info| {
                let fps = info.fps();
                (fps.numer() > 0).then(|| {
                    gst::ClockTime::SECOND
                        .mul_div_floor(fps.denom() as u64, fps.numer() as u64)
                        .unwrap_or(gst::ClockTime::ZERO)
                })
            });
            if let Some(frame) = frame {
                let extra = frame * held;
                let (live, min, max) = q.result();
                q.set(live, min + extra, max.map(|max| max + extra));
            }
        }
        true
    }

    fn submit_input_buffer(
        &self,
        // Base transform's pending *output* discontinuity, which stays set while frames are
        // held back; the input's own flag is what breaks the pair.
        _is_discont: bool,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = *self.settings.lock().unwrap();
        let mut state = self.state.lock().unwrap();
        let state = &mut *state;
        let Some(info) = state.info.clone() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("Buffer before caps"));
            return Err(gst::FlowError::NotNegotiated);
        };
        let (width, height) = (info.width() as usize, info.height() as usize);
        if buffer.flags().contains(gst::BufferFlags::DISCONT) {
            state.reset("discont");
        }
        let gap = buffer.flags().contains(gst::BufferFlags::GAP);
        if gap {
            state.reset("gap");
        }

        let (region_kind, rect) = self.region(&buffer, settings.region, width, height);
        let grid_width = match settings.grid_width {
            0 => rect.width,
            n => n as usize,
        };
        let grid_height = match settings.grid_height {
            0 => rect.height,
            n => n as usize,
        };
        let mut meta = FlowMeta {
            stats: None,
            reset_reason: None,
            region_kind: region_kind.to_string(),
            region: NormRect {
                x: rect.x as f64 / width as f64,
                y: rect.y as f64 / height as f64,
                width: rect.width as f64 / width as f64,
                height: rect.height as f64 / height as f64,
            },
            grid_width: grid_width as u32,
            grid_height: grid_height as u32,
            grid: Vec::new(),
        };

        let mut flow = None;
        if !gap {
            let mut image = state.blank_image();
            let Some(target) = Arc::get_mut(&mut image) else {
                unreachable!("blank images have no other owner");
            };
            self.fill_gray(target, &buffer, &info, state.luma)?;
            if let Some(prev) = state.prev.take() {
                let Some(pool) = state.pool.as_ref() else {
                    return Err(gst::FlowError::Flushing);
                };
                flow = Some(pool.submit(FlowRequest {
                    prev: prev.clone(),
                    next: image.clone(),
                    rect,
                    params: settings.params,
                    grid_width,
                    grid_height,
                }));
                state.recycle(prev);
            }
            state.prev = Some(image);
        }
        if flow.is_none() {
            meta.reset_reason = Some(state.reset_reason.unwrap_or("start").to_string());
        }
        if !gap {
            state.reset_reason = None;
        }
        state.queue.push_back(Pending { buffer, meta, flow });
        Ok(gst::FlowSuccess::Ok)
    }

    fn generate_output(
        &self,
    ) -> Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        let pending = {
            let mut state = self.state.lock().unwrap();
            if state.queue.len() <= state.held_frames() {
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
        let luma = luma_source(in_info.format()).ok_or_else(|| {
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
            state.reset("caps");
        }
        state.info = Some(in_info.clone());
        state.luma = luma;
        drop(state);
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }
}
