// SPDX-License-Identifier: MPL-2.0

//! Synthetic face clips for tests, benchmarks and the demo: a real face photo (scikit-image's
//! public-domain `astronaut.png`) moved, turned and scaled over time by OpenCV `warpAffine`.
//! The motion is synthetic; nothing here stands for a patient.

pub mod motion;
pub mod subjects;

use std::f64::consts::TAU;

use opencv::core::{self, Mat, Point2f, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

/// The photo's face centre, in its 512x512 pixels.
pub(crate) const FACE_CENTRE: (f64, f64) = (225.0, 125.0);
pub(crate) const BACKGROUND: f64 = 96.0;
/// Where the jaw of `Talking` moves, in the photo's pixels: below the lower lip (MediaPipe
/// landmarks 14 and 152 lie at about (223, 149) and (222, 176)).
pub(crate) const JAW_CENTRE: (f64, f64) = (223.0, 162.0);
pub(crate) const JAW_SIGMA: (f64, f64) = (26.0, 16.0);
/// Peak jaw opening in photo pixels and its rate, as a "pa-pa-pa" at 2 per second.
const JAW_OPENING: f64 = 8.0;
const JAW_HZ: f64 = 2.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// One face drifting, turning up to 12 degrees each way and breathing in scale.
    Face,
    /// One face that slides out of the frame and comes back.
    LeaveAndReturn,
    /// Two faces side by side.
    TwoFaces,
    /// One face standing still at `scale_percent` of the photo's size, rolled by
    /// `roll_degrees` (counter-clockwise), whose jaw opens and closes; the same jaw motion at
    /// any scale and roll.
    Talking {
        scale_percent: u32,
        roll_degrees: i32,
    },
}

impl Scenario {
    /// Frame size and count.
    pub fn geometry(self) -> (usize, usize, usize) {
        match self {
            Scenario::Face => (640, 480, 90),
            Scenario::LeaveAndReturn => (320, 240, 60),
            Scenario::TwoFaces => (640, 480, 8),
            Scenario::Talking { .. } => (640, 480, 30),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "face" => Some(Scenario::Face),
            "leave" => Some(Scenario::LeaveAndReturn),
            "two" => Some(Scenario::TwoFaces),
            "talking" => Some(Scenario::Talking {
                scale_percent: 150,
                roll_degrees: 0,
            }),
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
            Scenario::Talking {
                scale_percent,
                roll_degrees,
            } => vec![(
                320.0,
                240.0,
                scale_percent as f64 / 100.0,
                roll_degrees as f64,
            )],
        }
    }

    /// How far the jaw is open at `frame`, in photo pixels.
    pub fn jaw_opening(self, frame: usize) -> f64 {
        match self {
            Scenario::Talking { .. } => {
                let t = frame as f64 / 30.0;
                JAW_OPENING * (1.0 - (std::f64::consts::TAU * JAW_HZ * t).cos()) / 2.0
            }
            _ => 0.0,
        }
    }
}

/// The photo with its jaw pulled down by `opening` pixels: a smooth bump of downward
/// motion around [`JAW_CENTRE`], resampled with OpenCV's `remap`.
fn open_jaw(
    photo: &impl core::ToInputArray,
    rows: i32,
    cols: i32,
    opening: f64,
) -> opencv::Result<Mat> {
    let (rows, cols) = (rows.max(0) as usize, cols.max(0) as usize);
    let mut map_x = Vec::with_capacity(rows * cols);
    let mut map_y = Vec::with_capacity(rows * cols);
    for y in 0..rows {
        let dy = (y as f64 - JAW_CENTRE.1) / JAW_SIGMA.1;
        for x in 0..cols {
            let dx = (x as f64 - JAW_CENTRE.0) / JAW_SIGMA.0;
            let shift = opening * (-(dx * dx + dy * dy) / 2.0).exp();
            map_x.push(x as f32);
            map_y.push((y as f64 - shift) as f32);
        }
    }
    let map_x = Mat::new_rows_cols_with_data::<f32>(rows as i32, cols as i32, &map_x)?;
    let map_y = Mat::new_rows_cols_with_data::<f32>(rows as i32, cols as i32, &map_y)?;
    let mut out = Mat::default();
    imgproc::remap(
        photo,
        &mut out,
        &map_x,
        &map_y,
        imgproc::INTER_LINEAR,
        core::BORDER_REPLICATE,
        Scalar::all(0.0),
    )?;
    Ok(out)
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
    let photo_mat = Mat::new_rows_cols_with_data::<core::Vec3b>(
        photo.height as i32,
        photo.width as i32,
        bytes_as_pixels(&photo.rgb),
    )?;
    let opening = scenario.jaw_opening(frame);
    let src = if opening > 0.0 {
        open_jaw(&photo_mat, photo.height as i32, photo.width as i32, opening)?
    } else {
        photo_mat.try_clone()?
    };
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

/// `photo` resampled through `map_x`/`map_y` (OpenCV `remap`, per-pixel source positions),
/// then turned by `degrees`, scaled by `scale` about the face centre and put at `at` in a
/// `width` x `height` frame of the background colour. Packed RGB.
pub(crate) fn remap_and_place(
    photo: &Photo,
    map_x: &[f32],
    map_y: &[f32],
    at: (f64, f64),
    degrees: f64,
    scale: f64,
    (width, height): (usize, usize),
) -> opencv::Result<Vec<u8>> {
    let (rows, cols) = (photo.height as i32, photo.width as i32);
    let photo_mat =
        Mat::new_rows_cols_with_data::<core::Vec3b>(rows, cols, bytes_as_pixels(&photo.rgb))?;
    let map_x = Mat::new_rows_cols_with_data::<f32>(rows, cols, map_x)?;
    let map_y = Mat::new_rows_cols_with_data::<f32>(rows, cols, map_y)?;
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
        height as i32,
        width as i32,
        core::CV_8UC3,
        Scalar::all(BACKGROUND),
    )?;
    let centre = Point2f::new(FACE_CENTRE.0 as f32, FACE_CENTRE.1 as f32);
    let mut warp = imgproc::get_rotation_matrix_2d(centre, degrees, scale)?;
    *warp.at_2d_mut::<f64>(0, 2)? += at.0 - FACE_CENTRE.0;
    *warp.at_2d_mut::<f64>(1, 2)? += at.1 - FACE_CENTRE.1;
    imgproc::warp_affine(
        &moved,
        &mut dst,
        &warp,
        Size::new(width as i32, height as i32),
        imgproc::INTER_LINEAR,
        core::BORDER_TRANSPARENT,
        Scalar::all(0.0),
    )?;
    Ok(dst.data_bytes()?.to_vec())
}

pub(crate) fn bytes_as_pixels(rgb: &[u8]) -> &[core::Vec3b] {
    // SAFETY: Vec3b is three packed bytes, so the slice reinterprets exactly.
    unsafe { std::slice::from_raw_parts(rgb.as_ptr().cast::<core::Vec3b>(), rgb.len() / 3) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 512x512 gradient standing in for the face photo.
    pub(crate) fn photo() -> Photo {
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
        let talking = Scenario::Talking {
            scale_percent: 75,
            roll_degrees: 30,
        };
        for scenario in [
            Scenario::Face,
            Scenario::LeaveAndReturn,
            Scenario::TwoFaces,
            talking,
        ] {
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

    #[test]
    fn only_the_jaw_of_a_talking_face_moves() {
        let p = photo();
        let talking = Scenario::from_name("talking").unwrap();
        let closed = render(&p, talking, 0).unwrap();
        let open = render(&p, talking, 7).unwrap();
        assert!(talking.jaw_opening(7) > 6.0);
        let (w, _, _) = talking.geometry();
        let changed =
            |x: usize, y: usize| closed[(y * w + x) * 3..][..3] != open[(y * w + x) * 3..][..3];
        // The jaw (photo (223, 162)) lands at (320 + 1.5 * -2, 240 + 1.5 * 37) in the frame.
        assert!((300..330).any(|x| changed(x, 295)), "the jaw moves");
        assert!(!(250..390).any(|x| changed(x, 200)), "the eyes do not");
    }
}
