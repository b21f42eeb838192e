// SPDX-License-Identifier: MPL-2.0

/**
 * element-alsflow:
 *
 * Dense optical flow between consecutive frames with OpenCV's Farneback method, converted
 * to magnitudes with `cartToPolar`: the micro-expression features of the ALS facial-analysis
 * method. `method=dis` computes OpenCV's DIS flow (Dense Inverse Search) instead, several
 * times cheaper; its magnitudes differ from Farneback's, so a model must be trained on the
 * method it is run with (the meta says which method and settings made the flow, and
 * `alsclassify` refuses a model trained on the other). `dis-preset` sets DIS's five
 * settings from one of OpenCV's presets; the `dis-*` properties after it on a launch line
 * change single ones. The picture passes through untouched; each buffer gets a `GstAlsFlowMeta` with the
 * magnitudes average-pooled onto a grid and their mean, maximum, 99th percentile and mean
 * direction.
 *
 * `region=frame` (the default, the paper's features) measures the whole frame at its own
 * resolution. `region=face` measures every face that `alsmesh` put in the buffer's
 * `GstAlsFaceMeta`: the face's rotated square (MediaPipe's ROI of that frame's landmarks:
 * centre, 1.5x the landmark box, rolled with the eyes) is resampled with OpenCV's bilinear
 * `warpAffine` to `region-size` x `region-size` pixels in both frames of the pair, so the
 * magnitudes are pixels of that square, fractions of the face, the same for a face of 100 or
 * 400 pixels and for a rolled head. By default both frames use the current frame's square, so
 * head motion stays in the flow (what a camera sees of the whole face moving);
 * `stabilize=true` samples each frame with its own square, which cancels the head's
 * translation, scale and roll and leaves the motion within the face (mouth, jaw, brows).
 * A frame with no face gets no flow (`no-face`) at almost no cost; a face id that was not in
 * the previous frame gets `new-face`. Without any face meta upstream, `region=face` posts one
 * warning and measures whole frames.
 *
 * Luma is taken at full range: limited-range YUV (16-235, the default of YUV caps) is
 * expanded, RGB is converted with OpenCV's BT.601 weights, GRAY8 is taken as full range. So
 * I420, NV12 and RGB input of the same pictures give the same magnitudes.
 *
 * The first frame after start, a flush, a seek, a gap, a discontinuity or a caps change has
 * no previous frame: its meta says `valid=false` and why.
 *
 * With `threads` > 1, consecutive pairs are computed at once on worker threads and
 * `threads - 1` frames are held back: the latency query reports them, the allocation query
 * asks upstream for that many more buffers, and DRAIN queries and serialized events (but
 * tags) send them on first. QoS is off: every frame is analysed.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 filesrc location=face.mp4 ! decodebin ! videoconvert ! \
 *     alsflow grid-width=16 grid-height=16 ! alsexport location=flow.jsonl ! fakesink
 * gst-launch-1.0 filesrc location=face.mp4 ! decodebin ! videoconvert ! queue ! alsmesh ! \
 *     queue ! alsflow region=face ! alsexport location=faces.jsonl ! fakesink
 * gst-launch-1.0 filesrc location=face.mp4 ! decodebin ! videoconvert ! queue ! alsmesh ! \
 *     queue ! alsflow region=face method=dis dis-preset=fast ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct AlsFlow(ObjectSubclass<imp::AlsFlow>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// What part of the frame `alsflow` analyses.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAlsFlowRegion")]
pub enum FlowRegion {
    #[default]
    #[enum_value(name = "Frame: the whole frame", nick = "frame")]
    Frame = 0,
    #[enum_value(
        name = "Face: a face-aligned square per face of alsmesh's metadata",
        nick = "face"
    )]
    Face = 1,
}

/// Which dense optical flow `alsflow` computes.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAlsFlowMethod")]
pub enum FlowMethodKind {
    #[default]
    #[enum_value(name = "Farneback: the paper's method", nick = "farneback")]
    Farneback = 0,
    #[enum_value(
        name = "DIS: OpenCV's Dense Inverse Search, cheaper, other magnitudes",
        nick = "dis"
    )]
    Dis = 1,
}

/// OpenCV's DIS presets.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAlsDisPreset")]
pub enum DisPresetKind {
    #[enum_value(name = "Ultrafast: no variational refinement", nick = "ultrafast")]
    Ultrafast = 0,
    #[default]
    #[enum_value(name = "Fast", nick = "fast")]
    Fast = 1,
    #[enum_value(name = "Medium: finer pyramid, more iterations", nick = "medium")]
    Medium = 2,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    FlowRegion::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    FlowMethodKind::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    DisPresetKind::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "alsflow",
        gst::Rank::NONE,
        AlsFlow::static_type(),
    )
}
