// SPDX-License-Identifier: MPL-2.0

//! Dense optical flow between two gray frames followed by `cartToPolar`, the paper's
//! micro-expression features: OpenCV's Farneback (the paper's) or DIS.

use opencv::boxed_ref::BoxedRef;
use opencv::core::{self, Mat, Ptr, Rect, Vector};
use opencv::prelude::*;
use opencv::video::{self, DISOpticalFlow};

use super::gray::{GrayImage, PixelRect};
use super::method::{DisParams, FlowMethod};

/// Parameters of `cv::calcOpticalFlowFarneback`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FarnebackParams {
    pub pyr_scale: f64,
    pub levels: i32,
    pub winsize: i32,
    pub iterations: i32,
    pub poly_n: i32,
    pub poly_sigma: f64,
    pub gaussian_window: bool,
}

impl Default for FarnebackParams {
    /// The values used by the paper and by OpenCV's own samples.
    fn default() -> Self {
        Self {
            pyr_scale: 0.5,
            levels: 3,
            winsize: 15,
            iterations: 3,
            poly_n: 5,
            poly_sigma: 1.2,
            gaussian_window: false,
        }
    }
}

impl FarnebackParams {
    fn flags(&self) -> i32 {
        if self.gaussian_window {
            video::OPTFLOW_FARNEBACK_GAUSSIAN
        } else {
            0
        }
    }
}

/// One computed flow field, borrowed from [`DenseFlow`]'s buffers.
pub struct FlowField<'a> {
    pub width: usize,
    pub height: usize,
    /// Row-major magnitudes in pixels per frame, `width * height` values.
    pub magnitude: &'a [f32],
    /// Row-major angles in degrees, `width * height` values.
    pub angle: &'a [f32],
    /// Interleaved (dx, dy) per pixel.
    pub flow_xy: &'a [f32],
}

/// Reusable OpenCV buffers for computing flow between two gray frames.
#[derive(Default)]
pub struct DenseFlow {
    flow: Mat,
    components: Vector<Mat>,
    magnitude: Mat,
    angle: Mat,
    /// Kept between calls: DIS keeps its pyramids for the next frame pair of the same size.
    dis: Option<(DisParams, Ptr<DISOpticalFlow>)>,
}

/// The smallest side DIS takes: its coarsest pyramid level must hold a patch.
fn dis_min_side(p: &DisParams) -> usize {
    (p.patch_size.max(1) as usize) << p.finest_scale.clamp(0, 8)
}

fn gray_mat(image: &GrayImage) -> opencv::Result<BoxedRef<'_, Mat>> {
    Mat::new_rows_cols_with_data::<u8>(image.height() as i32, image.width() as i32, image.data())
}

fn cv_rect(rect: PixelRect) -> Rect {
    Rect::new(
        rect.x as i32,
        rect.y as i32,
        rect.width as i32,
        rect.height as i32,
    )
}

impl DenseFlow {
    /// Flow from `prev` to `next` inside `rect`, which both frames share so that the two
    /// crops show the same pixels of the scene.
    pub fn compute(
        &mut self,
        prev: &GrayImage,
        next: &GrayImage,
        rect: PixelRect,
        method: &FlowMethod,
    ) -> opencv::Result<FlowField<'_>> {
        let fits = |img: &GrayImage| {
            rect.width > 0
                && rect.height > 0
                && rect.x + rect.width <= img.width()
                && rect.y + rect.height <= img.height()
        };
        if !fits(prev) || !fits(next) {
            return Err(opencv::Error::new(
                core::StsBadArg,
                format!(
                    "flow rectangle {rect:?} does not fit frames of {}x{} and {}x{}",
                    prev.width(),
                    prev.height(),
                    next.width(),
                    next.height()
                ),
            ));
        }
        let prev_mat = gray_mat(prev)?;
        let next_mat = gray_mat(next)?;
        let prev_roi = Mat::roi(&prev_mat, cv_rect(rect))?;
        let next_roi = Mat::roi(&next_mat, cv_rect(rect))?;
        self.compute_mats(&prev_roi, &next_roi, method)
    }

    /// Flow from `prev` to `next`, two 8-bit single-channel images of one size.
    pub fn compute_mats(
        &mut self,
        prev: &(impl core::ToInputArray + MatTraitConst),
        next: &impl core::ToInputArray,
        method: &FlowMethod,
    ) -> opencv::Result<FlowField<'_>> {
        match method {
            FlowMethod::Farneback(params) => video::calc_optical_flow_farneback(
                prev,
                next,
                &mut self.flow,
                params.pyr_scale,
                params.levels,
                params.winsize,
                params.iterations,
                params.poly_n,
                params.poly_sigma,
                params.flags(),
            )?,
            FlowMethod::Dis(params) => {
                let (w, h) = (prev.cols().max(0) as usize, prev.rows().max(0) as usize);
                let min = dis_min_side(params);
                if w < min || h < min {
                    return Err(opencv::Error::new(
                        core::StsBadSize,
                        format!(
                            "DIS flow needs frames of at least {min}x{min} pixels with \
                             dis-patch-size={} dis-finest-scale={}, got {w}x{h}",
                            params.patch_size, params.finest_scale
                        ),
                    ));
                }
                dis_for(&mut self.dis, params)?.calc(prev, next, &mut self.flow)?;
            }
        }
        core::split(&self.flow, &mut self.components)?;
        core::cart_to_polar(
            &self.components.get(0)?,
            &self.components.get(1)?,
            &mut self.magnitude,
            &mut self.angle,
            true,
        )?;
        Ok(FlowField {
            width: self.flow.cols() as usize,
            height: self.flow.rows() as usize,
            magnitude: self.magnitude.data_typed::<f32>()?,
            angle: self.angle.data_typed::<f32>()?,
            flow_xy: self.flow.data_typed::<core::Vec2f>().map(|v| {
                // SAFETY: Vec2f is two packed f32s, so the slice reinterprets exactly.
                unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<f32>(), v.len() * 2) }
            })?,
        })
    }
}

/// The DIS instance for `params`, made when there is none or the settings changed.
fn dis_for<'a>(
    kept: &'a mut Option<(DisParams, Ptr<DISOpticalFlow>)>,
    params: &DisParams,
) -> opencv::Result<&'a mut Ptr<DISOpticalFlow>> {
    if kept.as_ref().is_none_or(|(have, _)| have != params) {
        let mut dis = DISOpticalFlow::create(video::DISOpticalFlow_PRESET_FAST)?;
        dis.set_finest_scale(params.finest_scale)?;
        dis.set_patch_size(params.patch_size)?;
        dis.set_patch_stride(params.patch_stride)?;
        dis.set_gradient_descent_iterations(params.gradient_descent_iterations)?;
        dis.set_variational_refinement_iterations(params.variational_refinement_iterations)?;
        *kept = Some((*params, dis));
    }
    match kept {
        Some((_, dis)) => Ok(dis),
        None => unreachable!("made above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::method::DisPreset;

    /// A smooth blob pattern shifted by `dx` pixels.
    fn pattern(width: usize, height: usize, dx: f32) -> GrayImage {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                let xf = x as f32 - dx;
                let v = 128.0 + 60.0 * (xf * 0.21).sin() * (y as f32 * 0.17).cos();
                data.push(v as u8);
            }
        }
        GrayImage::from_vec(width, height, data).unwrap()
    }

    #[test]
    fn detects_a_horizontal_shift() {
        let prev = pattern(96, 64, 0.0);
        let next = pattern(96, 64, 2.0);
        let mut flow = DenseFlow::default();
        let field = flow
            .compute(
                &prev,
                &next,
                PixelRect::full(96, 64),
                &FlowMethod::default(),
            )
            .unwrap();
        assert_eq!(field.magnitude.len(), 96 * 64);
        assert_eq!(field.flow_xy.len(), 96 * 64 * 2);
        let centre = 32 * 96 + 48;
        assert!(
            (field.flow_xy[2 * centre] - 2.0).abs() < 0.3,
            "{}",
            field.flow_xy[2 * centre]
        );
        assert!((field.magnitude[centre] - 2.0).abs() < 0.3);
        let angle = field.angle[centre];
        assert!(!(5.0..=355.0).contains(&angle), "angle {angle}");
    }

    #[test]
    fn identical_frames_give_no_motion_away_from_the_border() {
        // OpenCV's border weighting leaves small spurious flow within a window of the edge.
        let (w, h) = (96, 64);
        let img = pattern(w, h, 0.0);
        let mut flow = DenseFlow::default();
        let field = flow
            .compute(&img, &img, PixelRect::full(w, h), &FlowMethod::default())
            .unwrap();
        let margin = 16;
        let max = (margin..h - margin)
            .flat_map(|y| (margin..w - margin).map(move |x| y * w + x))
            .map(|i| field.magnitude[i])
            .fold(0f32, f32::max);
        assert!(max < 1e-3, "max {max}");
    }

    #[test]
    fn tiny_frames_compute_without_nan() {
        for (w, h) in [(1, 1), (2, 2), (3, 1), (1, 5)] {
            let a = pattern(w, h, 0.0);
            let b = pattern(w, h, 1.0);
            let mut flow = DenseFlow::default();
            let field = flow
                .compute(&a, &b, PixelRect::full(w, h), &FlowMethod::default())
                .unwrap();
            assert_eq!(field.magnitude.len(), w * h);
            assert!(field.magnitude.iter().all(|m| m.is_finite()), "{w}x{h}");
        }
    }

    #[test]
    fn dis_detects_the_same_shift_and_still_frames_as_still() {
        let (prev, next) = (pattern(96, 64, 0.0), pattern(96, 64, 2.0));
        for preset in [DisPreset::Ultrafast, DisPreset::Fast, DisPreset::Medium] {
            let method = FlowMethod::Dis(DisParams::preset(preset));
            let mut flow = DenseFlow::default();
            let field = flow
                .compute(&prev, &next, PixelRect::full(96, 64), &method)
                .unwrap();
            let centre = 32 * 96 + 48;
            let dx = field.flow_xy[2 * centre];
            assert!((dx - 2.0).abs() < 0.4, "{preset:?}: dx {dx}");
            let still = flow
                .compute(&prev, &prev, PixelRect::full(96, 64), &method)
                .unwrap();
            let max = still.magnitude.iter().fold(0f32, |a, &b| a.max(b));
            assert!(max < 0.05, "{preset:?}: still frames moved {max}");
        }
    }

    #[test]
    fn dis_refuses_frames_smaller_than_its_patches_with_a_message() {
        let method = FlowMethod::Dis(DisParams::default());
        let mut flow = DenseFlow::default();
        for (w, h) in [(1, 1), (31, 64), (64, 20)] {
            let img = pattern(w, h, 0.0);
            let err = flow
                .compute(&img, &img, PixelRect::full(w, h), &method)
                .err()
                .unwrap_or_else(|| panic!("{w}x{h} accepted"));
            assert!(err.message.contains("at least 32x32"), "{err}");
        }
        let img = pattern(32, 32, 0.0);
        assert!(
            flow.compute(&img, &img, PixelRect::full(32, 32), &method)
                .is_ok()
        );
    }

    #[test]
    fn rectangle_outside_the_frame_is_an_error() {
        let img = pattern(10, 10, 0.0);
        let mut flow = DenseFlow::default();
        let rect = PixelRect {
            x: 5,
            y: 5,
            width: 6,
            height: 2,
        };
        assert!(
            flow.compute(&img, &img, rect, &FlowMethod::default())
                .is_err()
        );
    }
}
