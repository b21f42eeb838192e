// SPDX-License-Identifier: MPL-2.0

/**
 * element-alsclassify:
 *
 * Classifies each face from the `GstAlsFaceMeta` of `alsmesh` and the `GstAlsFlowMeta` of
 * `alsflow` upstream with an ONNX model made by `als-train` (the paper's dual-branch network),
 * and attaches a `GstAlsClassMeta`: per face id the class probabilities of this frame, their
 * mean over the face's last `window` classified frames, and that mean's label. Frames or faces
 * that cannot be classified (no face, no valid flow yet) get the meta with the reason and are
 * otherwise untouched.
 *
 * The model stores the features it was trained on; a stream whose metas differ (another
 * `alsflow` grid, region or region size) is refused with one error naming both sides. A face
 * grid that is a whole multiple of the model's, with cells that tile the face square (such as
 * `alsflow`'s default 32x32 for the demo model's 16x16), is pooled to the model's grid, which
 * gives exactly the coarser grid's cell means. Flow
 * magnitudes are pixels per frame, so they are scaled by the stream's frame rate over the
 * model's (the summary's `flow-scale`).
 *
 * Posts an `als-classification` element message every `message-interval` frames and an
 * `als-summary` message at EOS (per face: frames seen and classified, mean and smoothed
 * probabilities, share of frames per label, final label; the model's name and whether it was
 * trained on synthetic data). The summary also travels downstream as a custom event before
 * EOS, so `alsexport` writes it as its last line. A face not seen for `forget-after` frames
 * gets an `als-summary` of its own when it goes and is forgotten, so a camera that runs for
 * weeks keeps in memory, and in its messages, only the faces in view.
 *
 * The default model is the project's synthetic demonstration model, trained on generated
 * clips: it says `synthetic` in its name and meta, and is not for clinical use.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 -m filesrc location=face.mp4 ! decodebin ! videoconvert ! alsmesh ! \
 *     alsflow region=face grid-width=16 grid-height=16 ! alsclassify ! \
 *     alsexport location=out.jsonl ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct AlsClassify(ObjectSubclass<imp::AlsClassify>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "alsclassify",
        gst::Rank::NONE,
        AlsClassify::static_type(),
    )
}
