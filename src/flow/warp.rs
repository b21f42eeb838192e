// SPDX-License-Identifier: MPL-2.0

//! Face-aligned squares: a face's rotated ROI resampled to a fixed `size` x `size` gray
//! image with OpenCV's bilinear `warpAffine`, so that flow measured in it is in fractions of
//! the face whatever the face's size and roll in the picture. A face larger than the square
//! is warped to 2, 4 or 8 times the square (no more than 1.25 frame pixels per warped pixel,
//! see [`MAX_STEP`]) and brought down with OpenCV's Gaussian `pyrDown`, since bilinear
//! sampling alone would alias its fine texture.

use opencv::core::{self, Mat, Scalar, Size};
use opencv::imgproc;

use super::gray::GrayImage;
use crate::mesh::Roi;

/// Largest side, in frame pixels, of a ROI worth warping; anything larger is a broken meta.
const MAX_ROI_SIDE: f64 = 1.0e5;

/// True when `roi` describes a square that can be sampled: finite, at least one pixel and
/// not absurdly large.
pub fn roi_is_usable(roi: &Roi) -> bool {
    [roi.cx, roi.cy, roi.size, roi.rotation]
        .iter()
        .all(|v| v.is_finite())
        && (1.0..=MAX_ROI_SIDE).contains(&roi.size)
        && roi.cx.abs() <= MAX_ROI_SIDE
        && roi.cy.abs() <= MAX_ROI_SIDE
}

/// The 2x3 matrix taking pixel `(u, v)` of the `size` square to OpenCV source coordinates
/// (pixel centres at integers), for `warpAffine` with `WARP_INVERSE_MAP`. The square's
/// corners map to the ROI's corners, as in MediaPipe's crops, and its rows run along the
/// ROI's rotated x axis. `shift` moves every sample by that many square pixels along both
/// axes.
fn square_to_frame(roi: &Roi, size: usize, shift: f64) -> [[f64; 3]; 2] {
    let scale = roi.size / size as f64;
    let (sin, cos) = roi.rotation.sin_cos();
    // Centre of square pixel (u, v) relative to the square's centre, in square pixels.
    let offset = 0.5 + shift - size as f64 / 2.0;
    let tx = roi.cx - 0.5 + scale * (cos * offset - sin * offset);
    let ty = roi.cy - 0.5 + scale * (sin * offset + cos * offset);
    [
        [scale * cos, -scale * sin, tx],
        [scale * sin, scale * cos, ty],
    ]
}

/// Most halvings after the warp: faces whose footprint is up to 10 times the square are
/// sampled at no more than [`MAX_STEP`] frame pixels per warped pixel before they are smoothed
/// down; larger ones are sampled at more and may alias.
const MAX_HALVINGS: u32 = 3;

/// Most frame pixels per warped pixel (along the frame's axes, see [`footprint`]) when the
/// warp is smoothed down afterwards. Bilinear sampling at a step `r` folds the frame's finest
/// detail to no less than `1 - r/2` cycles per warped pixel, 0.375 at a step of 1.25, where the
/// first `pyrDown`'s binomial filter passes `cos(0.375 pi)^4`, 2%; bilinear interpolation's
/// own images add more (one-pixel stripes at a step of 1.25 leave 9% of their contrast, at a
/// step of 1 6%; see the tests). Warping to the next power of two above the face instead (a
/// step of at most 1) cost up to four times the pixels: at 1080p, a 560-pixel face was warped
/// to 1024 x 1024 twice per frame, most of `alsflow`'s time.
const MAX_STEP: f64 = 1.25;

/// The ROI's extent in frame pixels along the frame's axes, per side of the square: a rolled
/// square's samples step across up to `|cos| + |sin|` times as many frame pixels per row as
/// an upright one's, so its finest detail folds as a larger face's would.
fn footprint(roi: &Roi) -> f64 {
    roi.size * (roi.rotation.cos().abs() + roi.rotation.sin().abs())
}

/// How many times a warp for a `roi_size` face is halved down to the `size` square: none for a
/// face no larger than the square (sampled at a step of at most 1, no smoothing), else the
/// fewest that keep the step at most [`MAX_STEP`].
fn halvings(roi_size: f64, size: usize) -> u32 {
    if roi_size <= size as f64 {
        return 0;
    }
    (1..MAX_HALVINGS)
        .find(|&h| roi_size <= MAX_STEP * (size << h) as f64)
        .unwrap_or(MAX_HALVINGS)
}

/// Reusable buffers for one warp.
#[derive(Default)]
pub struct SquareWarper {
    matrix: Mat,
    large: Mat,
    half: Mat,
}

impl SquareWarper {
    /// Resamples `roi` of `src` into `out` (`size` x `size`, continuous). Outside the frame
    /// the nearest edge pixel repeats, which does not move between frames and so adds no
    /// flow.
    pub fn warp(
        &mut self,
        src: &GrayImage,
        roi: &Roi,
        size: usize,
        out: &mut Mat,
    ) -> opencv::Result<()> {
        if !roi_is_usable(roi) || size == 0 || src.width() == 0 || src.height() == 0 {
            return Err(opencv::Error::new(
                core::StsBadArg,
                format!(
                    "cannot warp {roi:?} of a {}x{} frame to {size} pixels",
                    src.width(),
                    src.height()
                ),
            ));
        }
        let halvings = halvings(footprint(roi), size);
        let warped_size = size << halvings;
        // pyrDown centres output pixel i on input pixel 2i, not between 2i and 2i + 1: the
        // warp samples that much further on, so the final pixels sit where a direct warp's
        // would.
        let shift = if halvings == 0 {
            0.0
        } else {
            (1u32 << (halvings - 1)) as f64 - 0.5
        };
        let m = square_to_frame(roi, warped_size, shift);
        self.matrix = Mat::from_slice_2d(&m)?;
        let src = Mat::new_rows_cols_with_data::<u8>(
            src.height() as i32,
            src.width() as i32,
            src.data(),
        )?;
        let warp = |dst: &mut Mat, matrix: &Mat| {
            imgproc::warp_affine(
                &src,
                dst,
                matrix,
                Size::new(warped_size as i32, warped_size as i32),
                imgproc::INTER_LINEAR | imgproc::WARP_INVERSE_MAP,
                core::BORDER_REPLICATE,
                Scalar::all(0.0),
            )
        };
        if halvings == 0 {
            return warp(out, &self.matrix);
        }
        warp(&mut self.large, &self.matrix)?;
        for level in (0..halvings).rev() {
            let side = (size << level) as i32;
            let target = if level == 0 {
                &mut *out
            } else {
                &mut self.half
            };
            imgproc::pyr_down(
                &self.large,
                target,
                Size::new(side, side),
                core::BORDER_REPLICATE,
            )?;
            if level > 0 {
                std::mem::swap(&mut self.large, &mut self.half);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::prelude::*;
    use std::f64::consts::FRAC_PI_2;

    /// `x * dx + y * dy`, which must stay below 256.
    fn ramp(width: usize, height: usize, dx: usize, dy: usize) -> GrayImage {
        let data = (0..width * height)
            .map(|i| u8::try_from((i % width) * dx + (i / width) * dy).unwrap())
            .collect();
        GrayImage::from_vec(width, height, data).unwrap()
    }

    fn warp(src: &GrayImage, roi: Roi, size: usize) -> Vec<u8> {
        let mut out = Mat::default();
        SquareWarper::default()
            .warp(src, &roi, size, &mut out)
            .unwrap();
        assert_eq!((out.rows(), out.cols()), (size as i32, size as i32));
        out.data_bytes().unwrap().to_vec()
    }

    #[test]
    fn unrotated_roi_of_its_own_size_is_a_plain_crop() {
        let src = ramp(40, 30, 2, 5);
        // Square pixels [10, 26) x [5, 21) of the frame.
        let roi = Roi {
            cx: 18.0,
            cy: 13.0,
            size: 16.0,
            rotation: 0.0,
        };
        let out = warp(&src, roi, 16);
        for v in 0..16 {
            for u in 0..16 {
                assert_eq!(
                    out[v * 16 + u],
                    src.data()[(v + 5) * 40 + u + 10],
                    "{u},{v}"
                );
            }
        }
    }

    #[test]
    fn rotation_turns_the_square_clockwise_on_screen() {
        let src = ramp(40, 40, 2, 4);
        let roi = Roi {
            cx: 20.0,
            cy: 20.0,
            size: 10.0,
            rotation: FRAC_PI_2,
        };
        let out = warp(&src, roi, 10);
        // Turned a quarter clockwise, the square's x axis points down the frame: moving
        // right in the square moves down in the frame (+4 per row), moving down in the
        // square moves left (-2 per column).
        assert_eq!(out[1] as i32 - out[0] as i32, 4);
        assert_eq!(out[10] as i32 - out[0] as i32, -2);
    }

    #[test]
    fn a_larger_roi_is_sampled_down_to_the_same_square() {
        let src = ramp(100, 100, 1, 1);
        let roi = Roi {
            cx: 50.0,
            cy: 50.0,
            size: 40.0,
            rotation: 0.0,
        };
        let out = warp(&src, roi, 20);
        // Two frame pixels per square pixel; smoothing keeps a ramp a ramp away from the edge.
        let at = |u: usize, v: usize| out[v * 20 + u] as i32;
        assert_eq!(at(11, 10) - at(10, 10), 2);
        assert_eq!(at(10, 11) - at(10, 10), 2);
        // Square pixel (10, 10) covers frame pixels 50 and 51 of each axis: 50.5 + 50.5.
        assert_eq!(at(10, 10), 101);
    }

    #[test]
    fn large_faces_are_smoothed_before_they_shrink() {
        // Stripes one pixel wide, and a ROI whose samples fall on every fourth pixel centre:
        // sampled alone they alias to flat black; smoothed first they average to mid grey.
        let data = (0..256 * 256)
            .map(|i| if (i % 256) % 2 == 0 { 0 } else { 200 })
            .collect();
        let src = GrayImage::from_vec(256, 256, data).unwrap();
        let roi = Roi {
            cx: 128.5,
            cy: 128.5,
            size: 256.0,
            rotation: 0.0,
        };
        let out = warp(&src, roi, 64);
        // Away from the replicated border.
        let (min, max) = (8..56)
            .flat_map(|v| (4..60).map(move |u| v * 64 + u))
            .map(|i| out[i])
            .fold((255u8, 0u8), |(lo, hi), v| (lo.min(v), hi.max(v)));
        assert!(max - min < 20 && (80..120).contains(&min), "{min}..{max}");
    }

    #[test]
    fn a_warp_is_halved_only_as_often_as_its_step_needs() {
        assert_eq!(halvings(100.0, 128), 0);
        assert_eq!(halvings(128.0, 128), 0);
        // Larger than the square: warped larger than the face, then halved once.
        assert_eq!(halvings(129.0, 128), 1);
        assert_eq!(halvings(320.0, 128), 1);
        assert_eq!(halvings(321.0, 128), 2);
        // A 1080p face: 512 x 512 (a step of 1.09), not 1024 x 1024.
        assert_eq!(halvings(560.0, 128), 2);
        assert_eq!(halvings(640.0, 128), 2);
        assert_eq!(halvings(641.0, 128), 3);
        assert_eq!(halvings(5000.0, 128), 3);
    }

    /// Grey levels between the darkest and lightest pixel of a 64-pixel square sampled from
    /// one-pixel stripes or a checkerboard (contrast 200) under `roi`, away from the border.
    fn aliasing(checkerboard: bool, roi: Roi) -> u8 {
        let data = (0..512 * 512)
            .map(|i| {
                let (x, y) = (i % 512, i / 512);
                let bit = if checkerboard { (x + y) % 2 } else { x % 2 };
                if bit == 0 { 0 } else { 200 }
            })
            .collect();
        let src = GrayImage::from_vec(512, 512, data).unwrap();
        let out = warp(&src, roi, 64);
        let (min, max) = (8..56)
            .flat_map(|v| (8..56).map(move |u| v * 64 + u))
            .map(|i| out[i])
            .fold((255u8, 0u8), |(lo, hi), v| (lo.min(v), hi.max(v)));
        max - min
    }

    #[test]
    fn the_finest_detail_folds_out_of_a_halved_square_at_the_largest_step() {
        // The largest face warped once and halved once: a step of MAX_STEP. What aliases of
        // one-pixel stripes must not survive as a pattern; 18 grey levels are left at 1.25
        // (12 at a step of 1, 37 at 1.45).
        let roi = Roi {
            cx: 256.0,
            cy: 256.0,
            size: MAX_STEP * 128.0,
            rotation: 0.0,
        };
        assert_eq!(halvings(footprint(&roi), 64), 1);
        let left = aliasing(false, roi);
        assert!(left < 24, "{left}");
    }

    #[test]
    fn a_rolled_face_is_halved_as_its_footprint_needs() {
        // A checkerboard under rolled squares of the largest upright one-halving size: rolled,
        // the square steps across more pixels per sample, and would alias strongly (108 grey
        // levels at 45 degrees) if it were not warped larger first.
        for degrees in [0.0f64, 20.0, 30.0, 45.0] {
            let roi = Roi {
                cx: 256.0,
                cy: 256.0,
                size: MAX_STEP * 128.0,
                rotation: degrees.to_radians(),
            };
            let left = aliasing(true, roi);
            assert!(left < 24, "{degrees} degrees: {left}");
        }
    }

    #[test]
    fn unusable_rois_are_errors() {
        let src = ramp(10, 10, 1, 1);
        let mut out = Mat::default();
        let mut w = SquareWarper::default();
        for roi in [
            Roi {
                cx: f64::NAN,
                cy: 5.0,
                size: 5.0,
                rotation: 0.0,
            },
            Roi {
                cx: 5.0,
                cy: 5.0,
                size: 0.5,
                rotation: 0.0,
            },
            Roi {
                cx: 5.0,
                cy: 5.0,
                size: 1e9,
                rotation: 0.0,
            },
        ] {
            assert!(w.warp(&src, &roi, 8, &mut out).is_err(), "{roi:?}");
        }
        assert!(!roi_is_usable(&Roi {
            cx: 5.0,
            cy: 5.0,
            size: 5.0,
            rotation: f64::INFINITY
        }));
    }
}
