// SPDX-License-Identifier: MPL-2.0

//! The paper's micro-expression features without any GStreamer types: grayscale extraction,
//! the chain of frame pairs, face-aligned squares, dense optical flow (the paper's
//! Farneback, or DIS) with `cartToPolar` magnitudes, grid pooling and summary statistics.

mod chain;
mod dense;
mod faces;
mod gray;
mod method;
mod pool;
mod stats;
mod warp;

pub use chain::{FacesStep, FrameChain, START};
pub use dense::{DenseFlow, FarnebackParams, FlowField};
pub use faces::{INVALID_ROI, NEW_FACE, face_square, pair_faces};
pub use gray::{GrayImage, LumaRange, PixelRect, RgbLayout};
pub use method::{DisParams, DisPreset, FlowMethod};
pub use pool::{
    FacePair, FlowFeatures, FlowPool, FlowRequest, FlowTarget, FlowWorkspace, PendingFlow,
};
pub use stats::{FlowSummary, pool_average, summarize};
pub use warp::{SquareWarper, roi_is_usable};
