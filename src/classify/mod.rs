// SPDX-License-Identifier: MPL-2.0

//! The classifier outside GStreamer: the ONNX model with the feature specification stored in
//! it ([`model`]), and per-face smoothing and the stream summary ([`history`]).

pub mod history;
pub mod model;

pub use history::{FaceHistory, FaceSummary, Histories};
pub use model::{ClassModel, ModelInfo};

/// Keys of the model file's `metadata_props` that the element reads, besides the feature
/// specification's `gst-als.feature.*`.
pub const LABELS_KEY: &str = "gst-als.labels";
pub const SYNTHETIC_KEY: &str = "gst-als.synthetic";
pub const NAME_KEY: &str = "gst-als.model-name";

/// The demonstration model `scripts/build-demo-model.sh` trains on synthetic subjects.
pub const DEMO_MODEL_FILE: &str = "als-synthetic-demo.onnx";

/// Where `alsclassify` looks for its model when none is set: the demo model in the model
/// folder fixed at build or install time.
pub fn default_model_path() -> std::path::PathBuf {
    std::path::Path::new(crate::mesh::DEFAULT_MODEL_DIR).join(DEMO_MODEL_FILE)
}

/// The label of a probability vector: the most probable class; with two classes, the second
/// ("positive") class once its probability reaches `threshold`, as the paper's sigmoid does.
pub fn label_of(probabilities: &[f32], threshold: f32) -> Option<usize> {
    if probabilities.len() == 2 {
        return Some(usize::from(probabilities[1] >= threshold));
    }
    probabilities
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_finite())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_classes_use_the_threshold_more_use_the_maximum() {
        assert_eq!(label_of(&[0.6, 0.4], 0.5), Some(0));
        assert_eq!(label_of(&[0.6, 0.4], 0.3), Some(1));
        assert_eq!(label_of(&[0.2, 0.5, 0.3], 0.5), Some(1));
        assert_eq!(label_of(&[], 0.5), None);
    }
}
