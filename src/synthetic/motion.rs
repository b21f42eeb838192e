// SPDX-License-Identifier: MPL-2.0

//! Clips of known orofacial motion, to prove the kinematic measures: the face photo's lower
//! face pulled down rigidly (a jaw opening of a set size and rate) and, optionally, its left
//! mouth corner lifted (a one-sided smile), rendered at any time, scale, roll and frame rate.
//! Unlike the classifier's subjects, the motion here is simple enough that its true size is
//! known: the chin moves down by exactly `jaw_px` photo pixels at the peak and the left mouth
//! corner up by `smile_px`, while the eyes and the nose stay where they are.

use std::f64::consts::TAU;

use opencv::core::{self, Mat, Point2f, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

use super::{BACKGROUND, FACE_CENTRE, Photo, bytes_as_pixels};

pub const WIDTH: usize = 640;
pub const HEIGHT: usize = 480;

/// Where the rigid jaw begins, in photo rows: displacement ramps up from the lower lip (row
/// 150) to full below row 160, so the chin (landmark 152, about (222, 176)) moves by the whole
/// opening and the nose (row 125) not at all.
const JAW_TOP: f64 = 150.0;
const JAW_FULL: f64 = 160.0;
/// The jaw's width: displacement fades with a Gaussian of this sigma from the chin's column.
const JAW_COLUMN: f64 = 223.0;
const JAW_SIGMA_X: f64 = 60.0;
/// The subject's left mouth corner (landmark 291) in the photo, and the reach of its lift.
const LEFT_CORNER: (f64, f64) = (242.0, 146.0);
const CORNER_SIGMA: f64 = 8.0;

/// A jaw that opens and closes `rate_hz` times a second by up to `jaw_px`, a left mouth corner
/// lifted by up to `smile_px` in step with it, the face at `scale` and rolled `roll_degrees`
/// counter-clockwise, in the middle of a [`WIDTH`] x [`HEIGHT`] frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    pub rate_hz: f64,
    pub jaw_px: f64,
    pub smile_px: f64,
    pub scale: f64,
    pub roll_degrees: f64,
}

impl Default for Motion {
    fn default() -> Self {
        Self {
            rate_hz: 1.5,
            jaw_px: 10.0,
            smile_px: 0.0,
            scale: 1.5,
            roll_degrees: 0.0,
        }
    }
}

impl Motion {
    /// How far into its movement the face is at `t` seconds, 0 (rest) to 1 (peak).
    pub fn phase(&self, t: f64) -> f64 {
        (1.0 - (TAU * self.rate_hz * t).cos()) / 2.0
    }

    /// Displacement of photo pixel (x, y) at movement `m`.
    fn displacement(&self, m: f64, x: f64, y: f64) -> (f64, f64) {
        let ramp = ((y - JAW_TOP) / (JAW_FULL - JAW_TOP)).clamp(0.0, 1.0);
        let smooth = ramp * ramp * (3.0 - 2.0 * ramp);
        let across = (-((x - JAW_COLUMN) / JAW_SIGMA_X).powi(2) / 2.0).exp();
        let jaw = self.jaw_px * m * smooth * across;
        let r2 = ((x - LEFT_CORNER.0).powi(2) + (y - LEFT_CORNER.1).powi(2)) / CORNER_SIGMA.powi(2);
        let lift = self.smile_px * m * (-r2 / 2.0).exp();
        (0.0, jaw - lift)
    }

    /// The frame at `t` seconds, packed RGB.
    pub fn render(&self, photo: &Photo, t: f64) -> opencv::Result<Vec<u8>> {
        let m = self.phase(t);
        let (rows, cols) = (photo.height, photo.width);
        let mut map_x = Vec::with_capacity(rows * cols);
        let mut map_y = Vec::with_capacity(rows * cols);
        for y in 0..rows {
            for x in 0..cols {
                // The pixel that lands at (x, y) came from where the motion started: one
                // fixed-point step is enough for displacements this smooth.
                let (fx, fy) = (x as f64, y as f64);
                let (_, dy) = self.displacement(m, fx, fy);
                let (_, dy) = self.displacement(m, fx, fy - dy);
                map_x.push(fx as f32);
                map_y.push((fy - dy) as f32);
            }
        }
        let photo_mat = Mat::new_rows_cols_with_data::<core::Vec3b>(
            rows as i32,
            cols as i32,
            bytes_as_pixels(&photo.rgb),
        )?;
        let map_x = Mat::new_rows_cols_with_data::<f32>(rows as i32, cols as i32, &map_x)?;
        let map_y = Mat::new_rows_cols_with_data::<f32>(rows as i32, cols as i32, &map_y)?;
        let mut moved = Mat::default();
        imgproc::remap(
            &photo_mat,
            &mut moved,
            &map_x,
            &map_y,
            imgproc::INTER_LINEAR,
            core::BORDER_REPLICATE,
            Scalar::all(0.0),
        )?;
        let mut dst = Mat::new_rows_cols_with_default(
            HEIGHT as i32,
            WIDTH as i32,
            core::CV_8UC3,
            Scalar::all(BACKGROUND),
        )?;
        let centre = Point2f::new(FACE_CENTRE.0 as f32, FACE_CENTRE.1 as f32);
        let mut warp = imgproc::get_rotation_matrix_2d(centre, self.roll_degrees, self.scale)?;
        *warp.at_2d_mut::<f64>(0, 2)? += WIDTH as f64 / 2.0 - FACE_CENTRE.0;
        *warp.at_2d_mut::<f64>(1, 2)? += HEIGHT as f64 / 2.0 - FACE_CENTRE.1;
        imgproc::warp_affine(
            &moved,
            &mut dst,
            &warp,
            Size::new(WIDTH as i32, HEIGHT as i32),
            imgproc::INTER_LINEAR,
            core::BORDER_TRANSPARENT,
            Scalar::all(0.0),
        )?;
        Ok(dst.data_bytes()?.to_vec())
    }

    /// `seconds` of frames at `fps`, with their times in seconds.
    pub fn clip(&self, photo: &Photo, fps: f64, seconds: f64) -> opencv::Result<Vec<Vec<u8>>> {
        (0..(fps * seconds).round() as usize)
            .map(|i| self.render(photo, i as f64 / fps))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::tests::photo;

    #[test]
    fn the_chin_moves_by_the_opening_and_the_eyes_and_nose_stay() {
        let motion = Motion {
            smile_px: 5.0,
            ..Motion::default()
        };
        let (_, chin) = motion.displacement(1.0, 222.0, 176.0);
        assert!((chin - motion.jaw_px).abs() < 0.01, "{chin}");
        assert_eq!(motion.displacement(1.0, 225.0, 125.0), (0.0, 0.0));
        assert_eq!(motion.displacement(1.0, 190.0, 95.0), (0.0, 0.0));
        let (_, corner) = motion.displacement(1.0, LEFT_CORNER.0, LEFT_CORNER.1);
        assert!((corner + motion.smile_px).abs() < 1e-9, "{corner}");
        let (_, other) = motion.displacement(1.0, 205.0, 146.0);
        assert!(other.abs() < 0.05, "the right corner stays: {other}");
        assert_eq!(motion.phase(0.0), 0.0);
        assert!((motion.phase(1.0 / 3.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn frames_change_only_where_the_jaw_is() {
        let p = photo();
        let motion = Motion::default();
        let rest = motion.render(&p, 0.0).unwrap();
        let open = motion.render(&p, 1.0 / 3.0).unwrap();
        assert_eq!(rest.len(), WIDTH * HEIGHT * 3);
        let changed = |y: usize| {
            (0..WIDTH).any(|x| rest[(y * WIDTH + x) * 3..][..3] != open[(y * WIDTH + x) * 3..][..3])
        };
        // The photo's row 125 (the nose) lands at row 240; its row 176 (the chin) at 316.
        assert!(!changed(240));
        assert!(changed(316));
    }
}
