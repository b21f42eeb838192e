// SPDX-License-Identifier: MPL-2.0

/**
 * element-alskinematics:
 *
 * Measures, per face and per frame, the orofacial kinematics clinicians read, from the
 * 468 landmarks of the `GstAlsFaceMeta` that `alsmesh` attaches upstream, and attaches them
 * as a `GstAlsKinematicsMeta`:
 *
 * - lip aperture (inner lips 13-14), mouth width (corners 61-291), jaw opening (nose tip 1 to
 *   chin 152), mouth area (the inner lip contour), lip-corner asymmetry (the left corner's
 *   height above the right one, across the eye line 33-263) and brow raise (brows 105, 334
 *   to upper lids 159, 386), each in units of the face's inter-ocular distance (outer eye
 *   corners 33-263) and, in `alsexport`'s JSON, in millimetres for an assumed
 *   `interocular-mm`;
 * - head pose (roll, yaw, pitch in degrees) from the 3-D landmarks, fitted to a frontal
 *   reference face the project derives (`scripts/gen-face-reference.sh`); a face turned
 *   beyond `max-yaw` or `max-pitch` is measured but flagged `pose-ok=false` and left out of
 *   the statistics;
 * - each measure's velocity and acceleration per second, from the buffers' timestamps (so
 *   the frame rate and dropped frames do not change them), after a two-stage exponential
 *   smoother of time constant `smoothing`.
 *
 * Every `window` seconds of a face it posts an `als-kinematics` element message with that
 * window's statistics per measure: range, peak opening and closing speed, repetition rate
 * (cycles per second, from the peaks), cycle-to-cycle variability and amplitude of repeated
 * movements, and mean. At EOS it posts `als-kinematics-summary` with the whole stream's
 * figures per face. Both also travel downstream as custom events, so `alsexport` writes
 * them. A flush or a seek closes the open windows and restarts the smoothing; a gap of more
 * than 0.5 s in a face's frames restarts its smoothing (dropped frames do not); a face gone
 * for three windows gets its own `als-kinematics-summary` and is forgotten; a new stream
 * (without EOS between) gets its own summary.
 *
 * The measures are geometric facts about the landmarks, not a diagnosis; their accuracy is
 * that of the face mesh on the video at hand.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 -m filesrc location=face.mp4 ! decodebin ! videoconvert ! alsmesh ! \
 *     alskinematics window=5 ! alsexport location=out.jsonl ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct AlsKinematics(ObjectSubclass<imp::AlsKinematics>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "alskinematics",
        gst::Rank::NONE,
        AlsKinematics::static_type(),
    )
}
