// SPDX-License-Identifier: MPL-2.0

//! Clips of known orofacial motion, to prove the kinematic measures: the face photo's lower
//! face pulled down rigidly (a jaw opening of a set size and rate) and, optionally, its left
//! mouth corner lifted (a one-sided smile), rendered at any time, scale, roll and frame rate.
//! Unlike the classifier's subjects, the motion here is simple enough that its true size is
//! known: the chin moves down by exactly `jaw_px` photo pixels at the peak and the left mouth
//! corner up by `smile_px`, while the eyes and the nose stay where they are.

use std::f64::consts::TAU;

use super::{Photo, remap_and_place};

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
        remap_and_place(
            photo,
            &map_x,
            &map_y,
            (WIDTH as f64 / 2.0, HEIGHT as f64 / 2.0),
            self.roll_degrees,
            self.scale,
            (WIDTH, HEIGHT),
        )
    }

    /// `seconds` of frames at `fps`, with their times in seconds.
    pub fn clip(&self, photo: &Photo, fps: f64, seconds: f64) -> opencv::Result<Vec<Vec<u8>>> {
        (0..(fps * seconds).round() as usize)
            .map(|i| self.render(photo, i as f64 / fps))
            .collect()
    }
}

/// The same kind of motion at the level of the landmarks, for proofs that must not depend on
/// how closely a face mesh follows a warped photo: the frontal reference face
/// ([`gstals::kinematics::reference`]) with its jaw opened by up to `jaw` and its left mouth
/// corner lifted by up to `smile` (the right one when negative), both in inter-ocular
/// distances, `rate_hz` times a second; the head turned by `pose`, `iod_px` pixels between
/// the eyes, in the middle of a [`WIDTH`] x [`HEIGHT`] frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeshMotion {
    pub rate_hz: f64,
    pub jaw: f64,
    pub smile: f64,
    pub iod_px: f64,
    pub pose: gstals::kinematics::HeadPose,
}

impl Default for MeshMotion {
    fn default() -> Self {
        Self {
            rate_hz: 1.7,
            jaw: 0.15,
            smile: 0.0,
            iod_px: 90.0,
            pose: Default::default(),
        }
    }
}

impl MeshMotion {
    /// The 468 landmarks at `t` seconds as `alsmesh` gives them: x and y fractions of the
    /// frame, z on the scale of x.
    pub fn landmarks(&self, t: f64) -> Vec<[f32; 3]> {
        use gstals::kinematics::measures::index::{
            LEFT_MOUTH_CORNER, LOWER_LIP_INNER, RIGHT_MOUTH_CORNER, UPPER_LIP_INNER,
        };
        let face = &gstals::kinematics::reference::FACE;
        let m = (1.0 - (TAU * self.rate_hz * t).cos()) / 2.0;
        // The jaw hinges below the upper lip: nothing above it moves; from just below the
        // lower lip down to the chin, everything moves by the whole opening.
        let top = face[UPPER_LIP_INNER][1] as f64;
        let bottom = face[LOWER_LIP_INNER][1] as f64 + 0.05;
        let corner = if self.smile >= 0.0 {
            face[LEFT_MOUTH_CORNER]
        } else {
            face[RIGHT_MOUTH_CORNER]
        };
        let r = self.pose.matrix();
        face.iter()
            .map(|p| {
                let [x, y, z] = p.map(f64::from);
                let ramp = ((y - top) / (bottom - top)).clamp(0.0, 1.0);
                let jaw = self.jaw * m * ramp * ramp * (3.0 - 2.0 * ramp);
                let d2 = (x - corner[0] as f64).powi(2) + (y - corner[1] as f64).powi(2);
                let lift = self.smile.abs() * m * (-d2 / (2.0 * 0.06f64.powi(2))).exp();
                let q = [x, y + jaw - lift, z];
                let v: [f64; 3] = std::array::from_fn(|i| (0..3).map(|k| r[i][k] * q[k]).sum());
                [
                    ((WIDTH as f64 / 2.0 + self.iod_px * v[0]) / WIDTH as f64) as f32,
                    ((HEIGHT as f64 / 2.0 + self.iod_px * v[1]) / HEIGHT as f64) as f32,
                    (self.iod_px * v[2] / WIDTH as f64) as f32,
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::photo;

    #[test]
    fn the_chin_moves_by_the_opening_and_the_eyes_and_nose_stay() {
        let motion = Motion {
            smile_px: 5.0,
            ..Motion::default()
        };
        let (_, chin) = motion.displacement(1.0, 222.0, 176.0);
        assert!((chin - motion.jaw_px).abs() < 0.01, "{chin}");
        let (_, nose) = motion.displacement(1.0, 225.0, 125.0);
        assert!(nose.abs() < 0.05, "{nose}");
        let (_, eye) = motion.displacement(1.0, 190.0, 95.0);
        assert!(eye.abs() < 1e-9, "{eye}");
        let (_, corner) = motion.displacement(1.0, LEFT_CORNER.0, LEFT_CORNER.1);
        assert!((corner + motion.smile_px).abs() < 1e-9, "{corner}");
        let (_, other) = motion.displacement(1.0, 205.0, 146.0);
        assert!(other.abs() < 0.05, "the right corner stays: {other}");
        assert_eq!(motion.phase(0.0), 0.0);
        assert!((motion.phase(1.0 / 3.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mesh_motion_opens_the_jaw_and_lifts_one_corner_by_the_set_amounts() {
        use gstals::kinematics::Measures;
        let motion = MeshMotion {
            smile: 0.1,
            ..MeshMotion::default()
        };
        let measure = |t: f64| {
            let px: Vec<[f64; 2]> = motion
                .landmarks(t)
                .iter()
                .map(|p| [p[0] as f64 * WIDTH as f64, p[1] as f64 * HEIGHT as f64])
                .collect();
            Measures::from_landmarks(&px).unwrap()
        };
        let (rest, peak) = (measure(0.0), measure(0.5 / motion.rate_hz));
        assert!((rest.interocular_px - 90.0).abs() < 1e-3, "{rest:?}");
        assert!((peak.jaw_opening - rest.jaw_opening - 0.15).abs() < 1e-4);
        assert!((peak.corner_asymmetry - rest.corner_asymmetry - 0.1).abs() < 1e-3);
        assert!(peak.lip_aperture > rest.lip_aperture + 0.02);
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
