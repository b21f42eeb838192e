// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

//! GStreamer elements that measure orofacial motion, after the method of "Amyotrophic Lateral
//! Sclerosis Disease Detection Through Facial Expression Analysis".
//!
//! The algorithms live in plain modules that carry no GStreamer types: [`flow`] (gray
//! conversion, face-aligned squares, Farneback flow, pooling), [`mesh`] (MediaPipe Face Mesh:
//! detection, tracking, crops, the ONNX Runtime sessions), [`jsonl`] (the JSON Lines records)
//! [`features`] (one frame's metas as the classifier's inputs) and [`classify`] (the
//! classifier's model and per-face smoothing). The test clips and labelled synthetic subjects
//! are the workspace crate `als-synthetic`, not part of the plugin. The elements `alsflow`, `alsmesh`, `alsclassify`, `alskinematics` (with
//! [`kinematics`]), `alsexport` and `alsoverlay` wrap them (the last with [`draw`]), and [`meta`] is the typed API to the
//! metadata the elements attach to buffers.

use gst::glib;

mod alsclassify;
mod alsexport;
mod alsflow;
mod alskinematics;
mod alsmesh;
mod alsoverlay;
mod alspublish;
pub mod classify;
pub mod draw;
pub mod features;
pub mod flow;
pub mod jsonl;
pub mod kinematics;
pub mod launch;
pub mod mesh;
pub mod meta;
mod origin;
pub mod publish;
mod records;
pub mod redact;
mod video_formats;

pub use alsflow::FlowRegion;
pub use alspublish::BrokerSettings;

/// The always-present `src` and `sink` templates of a filter with the same caps on both.
fn filter_pad_templates(caps: &gst::Caps) -> Vec<gst::PadTemplate> {
    [
        ("src", gst::PadDirection::Src),
        ("sink", gst::PadDirection::Sink),
    ]
    .into_iter()
    .map(|(name, direction)| {
        gst::PadTemplate::new(name, direction, gst::PadPresence::Always, caps)
            .expect("a fixed name and valid caps make a valid template")
    })
    .collect()
}

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    meta::register();
    alsflow::register(plugin)?;
    alsmesh::register(plugin)?;
    alsexport::register(plugin)?;
    alsclassify::register(plugin)?;
    alsoverlay::register(plugin)?;
    alskinematics::register(plugin)?;
    alspublish::register(plugin)?;

    Ok(())
}

gst::plugin_define!(
    als,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("GST_ALS_ORIGIN"),
    env!("BUILD_REL_DATE")
);
