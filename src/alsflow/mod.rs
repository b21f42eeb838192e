// SPDX-License-Identifier: MPL-2.0

/**
 * element-alsflow:
 *
 * Dense optical flow between consecutive frames with OpenCV's Farneback method, converted
 * to magnitudes with `cartToPolar`: the micro-expression features of the ALS facial-analysis
 * method. The picture passes through untouched; each buffer gets a `GstAlsFlowMeta` with the
 * magnitudes average-pooled onto a grid and their mean, maximum, 99th percentile and mean
 * direction.
 *
 * With `region=face` the flow covers only the face box that `alsmesh` attached to the
 * buffer (the same pixel rectangle in both frames), else the whole frame.
 *
 * The first frame after start, a flush, a seek, a gap, a discontinuity or a caps change has
 * no previous frame: its meta says `valid=false` and why.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 filesrc location=face.mp4 ! decodebin ! videoconvert ! \
 *     alsflow grid-width=16 grid-height=16 ! alsexport location=flow.jsonl ! fakesink
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
        name = "Face: the face box from alsmesh metadata, else the whole frame",
        nick = "face"
    )]
    Face = 1,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    FlowRegion::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "alsflow",
        gst::Rank::NONE,
        AlsFlow::static_type(),
    )
}
