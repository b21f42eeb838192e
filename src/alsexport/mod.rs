// SPDX-License-Identifier: MPL-2.0

/**
 * element-alsexport:
 *
 * Writes the als metadata of every buffer as one JSON object per line (JSON Lines) to a file
 * or, with `location=-`, to standard output. Buffers pass through untouched. Coordinates in
 * the JSON are pixels of the frame; the schema is documented in `docs/metadata.md`.
 *
 * Each line is written whole as its frame passes, so a file being written can be followed
 * live; if a write fails (a full disk), the file is cut back to its last complete line and
 * the element posts an error.
 *
 * ## Example launch line
 * ```bash
 * gst-launch-1.0 filesrc location=face.mp4 ! decodebin ! videoconvert ! alsflow ! \
 *     alsexport location=out.jsonl flow-grid=true ! fakesink
 * ```
 */
use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct AlsExport(ObjectSubclass<imp::AlsExport>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "alsexport",
        gst::Rank::NONE,
        AlsExport::static_type(),
    )
}
