// SPDX-License-Identifier: MPL-2.0

//! Interpretable orofacial kinematics from the Face Mesh landmarks, without GStreamer types:
//! per-frame measures in inter-ocular units ([`measures`]), head pose against a derived
//! frontal face ([`pose`], [`reference`]), and the measures' smoothing, time-derivatives and
//! window statistics ([`series`]). What `alskinematics` computes.

pub mod measures;
pub mod pose;
pub mod reference;
pub mod series;
pub mod track;

pub use measures::{DEFAULT_INTEROCULAR_MM, Measures};
pub use pose::HeadPose;
pub use series::{Sample, Smoother, Stats, stats};
pub use track::{FaceTrack, FrameKinematics, Settings, WindowStats};
