// SPDX-License-Identifier: MPL-2.0

//! Synthetic face clips for tests, benchmarks and the demo: a real face photo (scikit-image's
//! public-domain `astronaut.png`) moved, turned and scaled over time by OpenCV `warpAffine`.
//! The motion is synthetic; nothing here stands for a patient.

use std::f64::consts::TAU;

use opencv::core::{self, Mat, Point2f, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

/// The photo's face centre, in its 512x512 pixels.
const FACE_CENTRE: (f64, f64) = (225.0, 125.0);
const BACKGROUND: f64 = 96.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// One face drifting, turning up to 12 degrees each way and breathing in scale.
    Face,
    /// One face that slides out of the frame and comes back.
    LeaveAndReturn,
    /// Two faces side by side.
    TwoFaces,
}

impl Scenario {
    /// Frame size and count.
    pub fn geometry(self) -> (usize, usize, usize) {
        match self {
            Scenario::Face => (640, 480, 90),
            Scenario::LeaveAndReturn => (320, 240, 60),
            Scenario::TwoFaces => (640, 480, 8),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "face" => Some(Scenario::Face),
            "leave" => Some(Scenario::LeaveAndReturn),
            "two" => Some(Scenario::TwoFaces),
            _ => None,
        }
    }

    /// Placements (centre x, centre y, scale, degrees counter-clockwise) of the face at
    /// `frame`, at 30 frames per second.
    fn placements(self, frame: usize) -> Vec<(f64, f64, f64, f64)> {
        let t = frame as f64 / 30.0;
        match self {
            Scenario::Face => vec![(
                320.0 + 40.0 * (TAU * t / 2.5).sin(),
                240.0 + 25.0 * (TAU * t / 3.1).cos(),
                1.5 + 0.2 * (TAU * t / 3.0).sin(),
                12.0 * (TAU * t / 2.2).sin(),
            )],
            Scenario::LeaveAndReturn => {
                // Out past the right edge around frame 30, back by frame 50.
                let x = 160.0 + 420.0 * (std::f64::consts::PI * frame as f64 / 60.0).sin().powi(2);
                vec![(x, 120.0, 0.9, 0.0)]
            }
            Scenario::TwoFaces => vec![(170.0, 240.0, 1.0, 5.0), (470.0, 240.0, 1.0, -5.0)],
        }
    }
}

/// An RGB photo, tightly packed.
pub struct Photo {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Photo {
    /// Reads an image file as RGB.
    pub fn load(path: &std::path::Path) -> opencv::Result<Self> {
        let bgr = opencv::imgcodecs::imread(path, opencv::imgcodecs::IMREAD_COLOR)?;
        if bgr.empty() {
            return Err(opencv::Error::new(
                core::StsError,
                format!("could not read an image from {}", path.display()),
            ));
        }
        let mut rgb = Mat::default();
        imgproc::cvt_color_def(&bgr, &mut rgb, imgproc::COLOR_BGR2RGB)?;
        Ok(Self {
            width: rgb.cols() as usize,
            height: rgb.rows() as usize,
            rgb: rgb.data_bytes()?.to_vec(),
        })
    }
}

/// Renders `frame` of `scenario` as packed RGB.
pub fn render(photo: &Photo, scenario: Scenario, frame: usize) -> opencv::Result<Vec<u8>> {
    let (width, height, _) = scenario.geometry();
    let src = Mat::new_rows_cols_with_data::<core::Vec3b>(
        photo.height as i32,
        photo.width as i32,
        bytes_as_pixels(&photo.rgb),
    )?;
    let mut dst = Mat::new_rows_cols_with_default(
        height as i32,
        width as i32,
        core::CV_8UC3,
        Scalar::all(BACKGROUND),
    )?;
    for (cx, cy, scale, degrees) in scenario.placements(frame) {
        let centre = Point2f::new(FACE_CENTRE.0 as f32, FACE_CENTRE.1 as f32);
        let mut m = imgproc::get_rotation_matrix_2d(centre, degrees, scale)?;
        *m.at_2d_mut::<f64>(0, 2)? += cx - FACE_CENTRE.0;
        *m.at_2d_mut::<f64>(1, 2)? += cy - FACE_CENTRE.1;
        imgproc::warp_affine(
            &src,
            &mut dst,
            &m,
            Size::new(width as i32, height as i32),
            imgproc::INTER_LINEAR,
            core::BORDER_TRANSPARENT,
            Scalar::all(0.0),
        )?;
    }
    Ok(dst.data_bytes()?.to_vec())
}

fn bytes_as_pixels(rgb: &[u8]) -> &[core::Vec3b] {
    // SAFETY: Vec3b is three packed bytes, so the slice reinterprets exactly.
    unsafe { std::slice::from_raw_parts(rgb.as_ptr().cast::<core::Vec3b>(), rgb.len() / 3) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> Photo {
        let rgb = (0..512 * 512)
            .flat_map(|i| [(i % 512 / 2) as u8, (i / 512 / 2) as u8, 50])
            .collect();
        Photo {
            width: 512,
            height: 512,
            rgb,
        }
    }

    #[test]
    fn frames_have_the_scenario_geometry_and_are_deterministic() {
        let p = photo();
        for scenario in [Scenario::Face, Scenario::LeaveAndReturn, Scenario::TwoFaces] {
            let (w, h, _) = scenario.geometry();
            let a = render(&p, scenario, 3).unwrap();
            assert_eq!(a.len(), w * h * 3);
            assert_eq!(a, render(&p, scenario, 3).unwrap());
        }
    }

    #[test]
    fn the_face_moves_and_leaves() {
        let p = photo();
        assert_ne!(
            render(&p, Scenario::Face, 0).unwrap(),
            render(&p, Scenario::Face, 10).unwrap()
        );
        let gone = render(&p, Scenario::LeaveAndReturn, 30).unwrap();
        let left_half_background =
            (0..240).all(|y| (0..100).all(|x| gone[(y * 320 + x) * 3..][..3] == [96, 96, 96]));
        assert!(
            left_half_background,
            "the face is off to the right at frame 30"
        );
    }
}
