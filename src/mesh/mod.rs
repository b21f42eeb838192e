// SPDX-License-Identifier: MPL-2.0

//! MediaPipe Face Mesh (BlazeFace short-range detector + 468-point landmark model) with the
//! semantics of MediaPipe 0.10.21, without GStreamer types. The networks run on ONNX Runtime
//! ([`OrtFaceModels`]); everything else is plain Rust and OpenCV.

mod anchors;
mod crop;
mod detection;
pub(crate) mod model;
mod roi;
mod tracker;
mod yuv;

pub use crop::{Border, Cropper, Frame, RgbFrame};
pub use detection::{Detection, Letterbox};
pub use model::{DEFAULT_MODEL_DIR, DEFAULT_ORT_LIBRARY, OrtFaceModels, resolve_library};
pub use roi::Roi;
pub use tracker::{FaceModels, FaceTracker, LANDMARKS, TrackedFace, TrackerSettings};
pub use yuv::{Chroma, Plane, YuvFrame, YuvMatrix};
