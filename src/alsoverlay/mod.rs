// SPDX-License-Identifier: MPL-2.0

/**
 * element-alsoverlay:
 *
 * Draws the gst-als metadata onto the video, in place and in the stream's own format (I420,
 * YV12, NV12, NV21 and the packed RGB formats, so no conversion is forced):
 *
 * - the landmarks of `alsmesh` (`GstAlsFaceMeta`): MediaPipe's contours of lips, eyes, brows
 *   and face oval (MediaPipe's own connection lists), or a dot per landmark;
 * - each face's box with its tracker id;
 * - the flow grid of `alsflow` (`GstAlsFlowMeta`) as a heat map over the region
 *   it was computed on (the face-aligned square, or the frame), with a colour scale from 0 to
 *   `flow-max` pixels per frame of the analysed image;
 * - the classification of `alsclassify` (`GstAlsClassMeta`): a bar per class with its label
 *   and smoothed probability, and "synthetic demo model, not for diagnosis" when the model was
 *   trained on synthetic data.
 *
 * Each layer has a property to turn it off. A buffer without any of these metas passes
 * unchanged. Text uses OpenCV's built-in Hershey font, so nothing is looked up on the host.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 -e filesrc location=face.mp4 ! decodebin ! videoconvert ! alsmesh ! \
 *     alsflow region=face ! alsclassify ! alsoverlay ! videoconvert ! x264enc ! \
 *     mp4mux ! filesink location=annotated.mp4
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct AlsOverlay(ObjectSubclass<imp::AlsOverlay>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// How `alsoverlay` draws landmarks.
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAlsOverlayLandmarks")]
pub enum LandmarkStyle {
    #[enum_value(name = "Points: a dot per landmark", nick = "points")]
    Points = 0,
    #[default]
    #[enum_value(
        name = "Contours: MediaPipe's lips, eyes, brows and face oval",
        nick = "contours"
    )]
    Contours = 1,
    #[enum_value(name = "Both: contours and dots", nick = "both")]
    Both = 2,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    LandmarkStyle::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "alsoverlay",
        gst::Rank::NONE,
        AlsOverlay::static_type(),
    )
}
