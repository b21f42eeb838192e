// SPDX-License-Identifier: MPL-2.0

//! The paper's micro-expression features without any GStreamer types: grayscale extraction,
//! the chain of frame pairs, face-aligned squares, Farneback dense optical flow with
//! `cartToPolar` magnitudes, grid pooling and summary statistics.

mod chain;
mod faces;
mod farneback;
mod gray;
mod pool;
mod stats;
mod warp;

pub use chain::{FacesStep, FrameChain, START};
pub use faces::{INVALID_ROI, NEW_FACE, face_square, pair_faces};
pub use farneback::{FarnebackFlow, FarnebackParams, FlowField};
pub use gray::{GrayImage, LumaRange, PixelRect, RgbLayout};
pub use pool::{
    FacePair, FlowFeatures, FlowPool, FlowRequest, FlowTarget, FlowWorkspace, PendingFlow,
};
pub use stats::{FlowSummary, pool_average, summarize};
pub use warp::{SquareWarper, roi_is_usable};
