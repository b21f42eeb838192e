// SPDX-License-Identifier: MPL-2.0

//! Which dense optical flow measures the motion: the paper's Farneback, or OpenCV's DIS
//! (Dense Inverse Search, Kroeger et al., ECCV 2016), much cheaper, with other magnitudes.

use super::dense::FarnebackParams;

/// OpenCV's DIS presets (`cv::DISOpticalFlow::PRESET_*`), as parameter sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisPreset {
    Ultrafast,
    Fast,
    Medium,
}

/// The settings of `cv::DISOpticalFlow` that the presets choose between. The others keep
/// OpenCV's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisParams {
    /// Finest pyramid level the flow is computed on (0: full resolution), then upscaled.
    pub finest_scale: i32,
    pub patch_size: i32,
    pub patch_stride: i32,
    pub gradient_descent_iterations: i32,
    /// 0 leaves out the variational refinement.
    pub variational_refinement_iterations: i32,
}

impl DisParams {
    /// The values `cv::DISOpticalFlow::create(preset)` sets (OpenCV 4.x).
    pub fn preset(preset: DisPreset) -> Self {
        let (finest_scale, patch_stride, gradient_descent_iterations, refinement) = match preset {
            DisPreset::Ultrafast => (2, 4, 12, 0),
            DisPreset::Fast => (2, 4, 16, 5),
            DisPreset::Medium => (1, 3, 25, 5),
        };
        Self {
            finest_scale,
            patch_size: 8,
            patch_stride,
            gradient_descent_iterations,
            variational_refinement_iterations: refinement,
        }
    }

    /// The preset these values are, if any.
    pub fn preset_name(&self) -> Option<&'static str> {
        [
            (DisPreset::Ultrafast, "ultrafast"),
            (DisPreset::Fast, "fast"),
            (DisPreset::Medium, "medium"),
        ]
        .into_iter()
        .find(|(p, _)| Self::preset(*p) == *self)
        .map(|(_, name)| name)
    }
}

impl Default for DisParams {
    fn default() -> Self {
        Self::preset(DisPreset::Fast)
    }
}

/// The flow method and its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FlowMethod {
    /// `cv::calcOpticalFlowFarneback`, the paper's method.
    Farneback(FarnebackParams),
    /// `cv::DISOpticalFlow`.
    Dis(DisParams),
}

impl Default for FlowMethod {
    /// The paper's method with the paper's settings.
    fn default() -> Self {
        Self::Farneback(FarnebackParams::default())
    }
}

impl FlowMethod {
    /// `alsflow method=...`'s value.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Farneback(_) => "farneback",
            Self::Dis(_) => "dis",
        }
    }

    /// The method and its settings as `alsflow` property assignments, to name it in a
    /// message or put it on a launch line.
    pub fn launch_properties(&self) -> String {
        match self {
            Self::Farneback(p) => format!(
                "method=farneback pyr-scale={} levels={} winsize={} iterations={} poly-n={} \
                 poly-sigma={} gaussian-window={}",
                p.pyr_scale,
                p.levels,
                p.winsize,
                p.iterations,
                p.poly_n,
                p.poly_sigma,
                p.gaussian_window
            ),
            Self::Dis(p) => format!(
                "method=dis dis-finest-scale={} dis-patch-size={} dis-patch-stride={} \
                 dis-gradient-descent-iterations={} dis-variational-refinement-iterations={}",
                p.finest_scale,
                p.patch_size,
                p.patch_stride,
                p.gradient_descent_iterations,
                p.variational_refinement_iterations
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_named_back_and_differ() {
        for (preset, name) in [
            (DisPreset::Ultrafast, "ultrafast"),
            (DisPreset::Fast, "fast"),
            (DisPreset::Medium, "medium"),
        ] {
            assert_eq!(DisParams::preset(preset).preset_name(), Some(name));
        }
        let custom = DisParams {
            patch_size: 12,
            ..DisParams::default()
        };
        assert_eq!(custom.preset_name(), None);
        assert_eq!(DisParams::default(), DisParams::preset(DisPreset::Fast));
    }

    #[test]
    fn the_paper_s_method_is_the_default_and_each_names_its_settings() {
        assert_eq!(FlowMethod::default().name(), "farneback");
        let farneback = FlowMethod::default().launch_properties();
        assert!(farneback.starts_with("method=farneback pyr-scale=0.5 levels=3 winsize=15"));
        let dis = FlowMethod::Dis(DisParams::preset(DisPreset::Medium)).launch_properties();
        assert_eq!(
            dis,
            "method=dis dis-finest-scale=1 dis-patch-size=8 dis-patch-stride=3 \
             dis-gradient-descent-iterations=25 dis-variational-refinement-iterations=5"
        );
    }
}
