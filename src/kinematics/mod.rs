// SPDX-License-Identifier: MPL-2.0

//! Interpretable orofacial kinematics from the Face Mesh landmarks, without GStreamer types:
//! per-frame measures in inter-ocular units ([`measures`]) and their smoothing,
//! time-derivatives and window statistics ([`series`]). The groundwork of `alskinematics`.

pub mod measures;
pub mod series;

pub use measures::{DEFAULT_INTEROCULAR_MM, Measures};
pub use series::{Sample, Smoother, Stats, stats};
