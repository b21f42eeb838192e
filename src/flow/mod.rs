// SPDX-License-Identifier: MPL-2.0

//! The paper's micro-expression features without any GStreamer types: grayscale extraction,
//! Farneback dense optical flow with `cartToPolar` magnitudes, grid pooling and summary
//! statistics.

mod farneback;
mod gray;
mod pool;
mod stats;

pub use farneback::{FarnebackFlow, FarnebackParams, FlowField};
pub use gray::{GrayImage, PixelRect, RgbLayout};
pub use pool::{FlowFeatures, FlowPool, FlowRequest, FlowWorkspace, PendingFlow};
pub use stats::{FlowSummary, pool_average, summarize};
