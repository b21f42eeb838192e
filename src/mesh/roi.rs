// SPDX-License-Identifier: MPL-2.0

//! The rotated square a face's landmarks are computed in, after MediaPipe's
//! `DetectionsToRectsCalculator` and `RectTransformationCalculator` (scale 1.5, square long
//! side), and the projection of crop landmarks back to the frame.

use std::f64::consts::PI;

use super::detection::Detection;

/// Right eye and left eye keypoints of a detection.
const DETECTION_EYES: (usize, usize) = (0, 1);
/// Outer eye corners of the Face Mesh.
pub const MESH_EYE_CORNERS: (usize, usize) = (33, 263);
const ROI_SCALE: f64 = 1.5;

/// A rotated square in frame pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roi {
    pub cx: f64,
    pub cy: f64,
    /// Side length.
    pub size: f64,
    /// Radians, positive turns the square clockwise on screen.
    pub rotation: f64,
}

fn normalize_radians(angle: f64) -> f64 {
    angle - 2.0 * PI * ((angle + PI) / (2.0 * PI)).floor()
}

/// Rotation that makes the line from `a` to `b` (pixels) horizontal.
fn rotation(a: [f64; 2], b: [f64; 2]) -> f64 {
    let angle_up = (a[1] - b[1]).atan2(b[0] - a[0]);
    normalize_radians(-angle_up)
}

impl Roi {
    /// From an axis-aligned box and two reference points, all in pixels.
    fn from_box(xmin: f64, ymin: f64, w: f64, h: f64, a: [f64; 2], b: [f64; 2]) -> Self {
        Self {
            cx: xmin + w / 2.0,
            cy: ymin + h / 2.0,
            size: w.max(h) * ROI_SCALE,
            rotation: rotation(a, b),
        }
    }

    /// The ROI of a detection given in fractions of a `width` x `height` frame.
    pub fn from_detection(d: &Detection, width: usize, height: usize) -> Self {
        let (w, h) = (width as f64, height as f64);
        let px = |p: [f32; 2]| [p[0] as f64 * w, p[1] as f64 * h];
        Self::from_box(
            d.xmin as f64 * w,
            d.ymin as f64 * h,
            d.width as f64 * w,
            d.height as f64 * h,
            px(d.keypoints[DETECTION_EYES.0]),
            px(d.keypoints[DETECTION_EYES.1]),
        )
    }

    /// The ROI that tracks a face into the next frame, from its landmarks in pixels.
    pub fn from_landmarks(landmarks: &[[f64; 3]]) -> Option<Self> {
        let (a, b) = MESH_EYE_CORNERS;
        if landmarks.len() <= a.max(b) {
            return None;
        }
        let (mut x0, mut y0) = (f64::INFINITY, f64::INFINITY);
        let (mut x1, mut y1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for p in landmarks {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
        let roi = Self::from_box(
            x0,
            y0,
            x1 - x0,
            y1 - y0,
            [landmarks[a][0], landmarks[a][1]],
            [landmarks[b][0], landmarks[b][1]],
        );
        roi.is_finite().then_some(roi)
    }

    fn is_finite(&self) -> bool {
        [self.cx, self.cy, self.size, self.rotation]
            .iter()
            .all(|v| v.is_finite())
    }

    /// Maps a point given in fractions of the ROI's crop (0..1, y down) to frame pixels.
    pub fn to_frame(&self, u: f64, v: f64) -> [f64; 2] {
        let (x, y) = (u - 0.5, v - 0.5);
        let (sin, cos) = self.rotation.sin_cos();
        [
            self.cx + self.size * (cos * x - sin * y),
            self.cy + self.size * (sin * x + cos * y),
        ]
    }

    /// Intersection over union of the axis-aligned boxes of two ROIs, ignoring rotation as
    /// MediaPipe's `AssociationNormRectCalculator` does.
    pub fn iou(&self, other: &Roi) -> f64 {
        let half = |r: &Roi| r.size / 2.0;
        let x0 = (self.cx - half(self)).max(other.cx - half(other));
        let y0 = (self.cy - half(self)).max(other.cy - half(other));
        let x1 = (self.cx + half(self)).min(other.cx + half(other));
        let y1 = (self.cy + half(self)).min(other.cy + half(other));
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.size * self.size + other.size * other.size - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::detection::KEYPOINTS;

    #[test]
    fn level_eyes_give_no_rotation() {
        let mut keypoints = [[0.0; 2]; KEYPOINTS];
        keypoints[0] = [0.4, 0.5];
        keypoints[1] = [0.6, 0.5];
        let d = Detection {
            score: 1.0,
            xmin: 0.25,
            ymin: 0.25,
            width: 0.5,
            height: 0.25,
            keypoints,
        };
        let roi = Roi::from_detection(&d, 200, 100);
        assert_eq!((roi.cx, roi.cy), (100.0, 37.5));
        assert_eq!(roi.size, 150.0);
        assert_eq!(roi.rotation, 0.0);
    }

    #[test]
    fn rotation_follows_the_eye_line() {
        // Second eye lower on screen: the face leans clockwise, the ROI turns with it.
        let r = rotation([0.0, 0.0], [10.0, 10.0]);
        assert!((r - PI / 4.0).abs() < 1e-12, "{r}");
        let r = rotation([0.0, 0.0], [-10.0, 0.0]);
        assert!((r.abs() - PI).abs() < 1e-12, "{r}");
        assert!((normalize_radians(2.5 * PI) - 0.5 * PI).abs() < 1e-12);
    }

    #[test]
    fn crop_fractions_map_through_rotation() {
        let roi = Roi {
            cx: 50.0,
            cy: 40.0,
            size: 20.0,
            rotation: PI / 2.0,
        };
        let p = roi.to_frame(1.0, 0.5);
        assert!(
            (p[0] - 50.0).abs() < 1e-9 && (p[1] - 50.0).abs() < 1e-9,
            "{p:?}"
        );
        let c = roi.to_frame(0.5, 0.5);
        assert_eq!(c, [50.0, 40.0]);
    }

    #[test]
    fn landmark_roi_uses_their_box_and_eye_corners() {
        let mut lm = vec![[10.0, 20.0, 0.0]; 468];
        lm[0] = [0.0, 0.0, 0.0];
        lm[1] = [40.0, 20.0, 0.0];
        lm[33] = [10.0, 10.0, 0.0];
        lm[263] = [30.0, 10.0, 0.0];
        let roi = Roi::from_landmarks(&lm).unwrap();
        assert_eq!(
            (roi.cx, roi.cy, roi.size, roi.rotation),
            (20.0, 10.0, 60.0, 0.0)
        );
        assert!(Roi::from_landmarks(&lm[..100]).is_none());
        lm[5] = [f64::NAN, 0.0, 0.0];
        lm[33] = [f64::NAN, 0.0, 0.0];
        assert!(Roi::from_landmarks(&lm).is_none());
    }

    #[test]
    fn iou_of_identical_and_disjoint_rois() {
        let a = Roi {
            cx: 10.0,
            cy: 10.0,
            size: 10.0,
            rotation: 0.3,
        };
        assert!((a.iou(&a) - 1.0).abs() < 1e-12);
        let b = Roi { cx: 100.0, ..a };
        assert_eq!(a.iou(&b), 0.0);
    }
}
