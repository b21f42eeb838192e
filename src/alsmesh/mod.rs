// SPDX-License-Identifier: MPL-2.0

/**
 * element-alsmesh:
 *
 * Finds faces and attaches the 468 MediaPipe Face Mesh landmarks of each, with the semantics
 * of MediaPipe 0.10.21: BlazeFace (short range) finds a face, the landmark model then tracks
 * it from frame to frame, and the detector runs again only when fewer faces than
 * `max-faces` are tracked. Both networks run on ONNX Runtime.
 *
 * Each buffer gets a `GstAlsFaceMeta` (ids, scores, boxes, rotated ROIs and landmarks; an
 * empty list when the frame has no face, or is a GAP) and one standard
 * `GstVideoRegionOfInterestMeta` of type "face" per face, so existing ROI consumers see the
 * faces too.
 *
 * It reads the planar and semi-planar YUV formats decoders give (I420, NV12, YV12, NV21,
 * Y42B, Y444) as well as packed RGB. From YUV it samples only what the networks look at (the
 * detector's downscaled frame, the landmark model's face crop) straight from the planes, with
 * the caps' colour matrix, range and chroma siting: no full-frame RGB copy is made. A
 * `videoconvert` in front (for decoders whose formats it does not read, such as 10-bit ones)
 * passes those it reads through untouched, and converts others to YUV, not RGB.
 *
 * Tracking restarts on a flush, a new segment (a seek) and a change of frame size or format.
 * Dropped frames (DISCONT, as after a leaky queue in a live pipeline) and gaps do not restart
 * it: the next frame is searched where the faces were, as MediaPipe does, so a live stream
 * that drops frames keeps its face ids.
 *
 * The models come from `scripts/build-models.sh` and ONNX Runtime from
 * `scripts/fetch-onnxruntime.sh`; the element finds both where the project's setup put them
 * (or where `meson install` installed them) unless `model-dir` / `ort-library` (or, without
 * `ort-library`, the `ORT_DYLIB_PATH` environment variable) say otherwise.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 filesrc location=face.mp4 ! decodebin ! videoconvert ! queue ! alsmesh ! \
 *     queue ! alsflow region=face ! alsexport location=out.jsonl ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;
mod input;

glib::wrapper! {
    pub struct AlsMesh(ObjectSubclass<imp::AlsMesh>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "alsmesh",
        gst::Rank::NONE,
        AlsMesh::static_type(),
    )
}
