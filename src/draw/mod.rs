// SPDX-License-Identifier: MPL-2.0

//! Drawing the metas onto video frames in place, for `alsoverlay`: a [`Canvas`] over a frame's
//! planes in its own pixel format, text from OpenCV's built-in Hershey fonts, and the layers
//! (landmarks, boxes, flow heat map, classification).

mod canvas;
pub mod connections;
mod layers;
mod layout;
mod text;

pub use canvas::{Canvas, Color, GridPlacement, PixelLayout, Plane};
pub use layers::{LandmarkStyle, Metas, Overlay, SYNTHETIC_NOTICE, Style, heat_color};
pub use text::{TextMask, TextRenderer};
