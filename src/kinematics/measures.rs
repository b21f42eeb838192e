// SPDX-License-Identifier: MPL-2.0

//! One frame's orofacial measures from the 468 Face Mesh landmarks, in units of the face's
//! inter-ocular distance (so they do not depend on the face's size in the picture or its
//! roll), and in millimetres under an assumed inter-ocular distance. Taken in the head's own
//! frame ([`Measures::in_head_frame`]: the 3-D landmarks turned back by the fitted head pose),
//! they do not change with yaw or pitch either: seen in the picture, a vertical distance over
//! the horizontal inter-ocular one grows as 1/cos(yaw), +10% at 25 degrees.
//!
//! MediaPipe Face Mesh landmark indices used (the subject's left is the picture's right):
//!
//! | measure | landmarks |
//! | --- | --- |
//! | inter-ocular distance | outer eye corners 33 (right eye) and 263 (left eye) |
//! | lip aperture | inner lip midpoints 13 (upper) and 14 (lower) |
//! | mouth width | mouth corners 61 (right) and 291 (left) |
//! | jaw opening | nose tip 1 to chin 152 |
//! | mouth area | the inner lip contour 78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95 |
//! | lip-corner symmetry | corners 61 and 291, heights taken perpendicular to the eye line 33-263 |
//! | brow raise | brow points 105 (right) and 334 (left) to upper eyelids 159 and 386 |

/// Landmark indices, named.
pub mod index {
    pub const RIGHT_EYE_OUTER: usize = 33;
    pub const LEFT_EYE_OUTER: usize = 263;
    pub const UPPER_LIP_INNER: usize = 13;
    pub const LOWER_LIP_INNER: usize = 14;
    pub const RIGHT_MOUTH_CORNER: usize = 61;
    pub const LEFT_MOUTH_CORNER: usize = 291;
    pub const NOSE_TIP: usize = 1;
    pub const CHIN: usize = 152;
    pub const RIGHT_BROW: usize = 105;
    pub const LEFT_BROW: usize = 334;
    pub const RIGHT_UPPER_LID: usize = 159;
    pub const LEFT_UPPER_LID: usize = 386;
    /// The inner lip contour, in order around the mouth opening.
    pub const INNER_LIPS: [usize; 20] = [
        78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
    ];
}

/// The adult inter-ocular (outer eye corner) distance assumed for millimetres, by default.
pub const DEFAULT_INTEROCULAR_MM: f64 = 63.0;

/// One face's measures in one frame, in inter-ocular distances (areas in their square).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measures {
    pub lip_aperture: f64,
    pub mouth_width: f64,
    pub jaw_opening: f64,
    pub mouth_area: f64,
    /// Height of the subject's left mouth corner above the right one, perpendicular to the
    /// eye line: positive when the left corner is higher (a one-sided smile on the left).
    pub corner_asymmetry: f64,
    pub brow_raise_right: f64,
    pub brow_raise_left: f64,
    /// The inter-ocular distance in pixels, the unit of the others.
    pub interocular_px: f64,
}

/// The measures' names, in the order of [`Measures::values`].
pub const NAMES: [&str; COUNT] = [
    "lip-aperture",
    "mouth-width",
    "jaw-opening",
    "mouth-area",
    "corner-asymmetry",
    "brow-raise-right",
    "brow-raise-left",
];
pub const COUNT: usize = 7;
/// The position in [`NAMES`] of the one measure that is an area (mm², not mm).
pub const AREA: usize = 3;

impl Measures {
    /// The measures in the order of [`NAMES`].
    pub fn values(&self) -> [f64; COUNT] {
        [
            self.lip_aperture,
            self.mouth_width,
            self.jaw_opening,
            self.mouth_area,
            self.corner_asymmetry,
            self.brow_raise_right,
            self.brow_raise_left,
        ]
    }

    /// The measures of `landmarks` (x, y in pixels; at least 468 points). `None` when the
    /// eyes coincide or a coordinate is not finite.
    pub fn from_landmarks(landmarks: &[[f64; 2]]) -> Option<Self> {
        use index::*;
        if landmarks.len() < crate::meta::LANDMARKS_PER_FACE
            || !landmarks.iter().flatten().all(|v| v.is_finite())
        {
            return None;
        }
        let p = |i: usize| landmarks[i];
        let (right_eye, left_eye) = (p(RIGHT_EYE_OUTER), p(LEFT_EYE_OUTER));
        let iod = distance(right_eye, left_eye);
        if iod < 1e-6 {
            return None;
        }
        // The face's own axes: x along the eye line (towards the subject's left), y down.
        let ex = [
            (left_eye[0] - right_eye[0]) / iod,
            (left_eye[1] - right_eye[1]) / iod,
        ];
        let down = [-ex[1], ex[0]];
        let height =
            |q: [f64; 2]| (q[0] - right_eye[0]) * down[0] + (q[1] - right_eye[1]) * down[1];
        let area = polygon_area(&INNER_LIPS.map(p));
        Some(Self {
            lip_aperture: distance(p(UPPER_LIP_INNER), p(LOWER_LIP_INNER)) / iod,
            mouth_width: distance(p(RIGHT_MOUTH_CORNER), p(LEFT_MOUTH_CORNER)) / iod,
            jaw_opening: distance(p(NOSE_TIP), p(CHIN)) / iod,
            mouth_area: area / (iod * iod),
            corner_asymmetry: (height(p(RIGHT_MOUTH_CORNER)) - height(p(LEFT_MOUTH_CORNER))) / iod,
            brow_raise_right: (height(p(RIGHT_UPPER_LID)) - height(p(RIGHT_BROW))) / iod,
            brow_raise_left: (height(p(LEFT_UPPER_LID)) - height(p(LEFT_BROW))) / iod,
            interocular_px: iod,
        })
    }

    /// The measures of `landmarks` (x, y, z in pixels, z on the scale of x; at least 468
    /// points) as a frontal camera would see them: every point turned back by the inverse of
    /// the head's rotation `pose` first. `interocular_px` is then the face's inter-ocular
    /// distance whatever its turn.
    pub fn in_head_frame(landmarks: &[[f64; 3]], pose: &super::HeadPose) -> Option<Self> {
        let r = pose.matrix();
        // The inverse of a rotation is its transpose.
        let frontal: Vec<[f64; 2]> = landmarks
            .iter()
            .map(|p| {
                let back = |i: usize| (0..3).map(|k| r[k][i] * p[k]).sum::<f64>();
                [back(0), back(1)]
            })
            .collect();
        Self::from_landmarks(&frontal)
    }

    /// The same measures in millimetres (areas in mm²), for a face whose outer eye corners
    /// are `interocular_mm` apart.
    pub fn in_mm(&self, interocular_mm: f64) -> Self {
        let k = interocular_mm;
        Self {
            lip_aperture: self.lip_aperture * k,
            mouth_width: self.mouth_width * k,
            jaw_opening: self.jaw_opening * k,
            mouth_area: self.mouth_area * k * k,
            corner_asymmetry: self.corner_asymmetry * k,
            brow_raise_right: self.brow_raise_right * k,
            brow_raise_left: self.brow_raise_left * k,
            interocular_px: self.interocular_px,
        }
    }
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Shoelace area of a simple polygon.
fn polygon_area(points: &[[f64; 2]]) -> f64 {
    let n = points.len();
    let twice: f64 = (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    twice.abs() / 2.0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::index::*;
    use super::*;

    /// A face with eyes `iod` pixels apart at (cx, cy), turned by `roll` radians, its mouth
    /// `aperture` inter-ocular distances open and its left corner `lift` higher.
    pub(crate) fn face(
        cx: f64,
        cy: f64,
        iod: f64,
        roll: f64,
        aperture: f64,
        lift: f64,
    ) -> Vec<[f64; 2]> {
        let (sin, cos) = roll.sin_cos();
        // Face-frame coordinates in inter-ocular units: x to the subject's left, y down.
        let at = |x: f64, y: f64| {
            [
                cx + iod * (cos * x - sin * y),
                cy + iod * (sin * x + cos * y),
            ]
        };
        let mut points = vec![at(0.0, 0.0); crate::meta::LANDMARKS_PER_FACE];
        points[RIGHT_EYE_OUTER] = at(-0.5, 0.0);
        points[LEFT_EYE_OUTER] = at(0.5, 0.0);
        points[RIGHT_UPPER_LID] = at(-0.3, -0.05);
        points[LEFT_UPPER_LID] = at(0.3, -0.05);
        points[RIGHT_BROW] = at(-0.3, -0.3);
        points[LEFT_BROW] = at(0.3, -0.3);
        points[NOSE_TIP] = at(0.0, 0.5);
        points[CHIN] = at(0.0, 1.2 + aperture);
        points[RIGHT_MOUTH_CORNER] = at(-0.4, 0.8);
        points[LEFT_MOUTH_CORNER] = at(0.4, 0.8 - lift);
        points[UPPER_LIP_INNER] = at(0.0, 0.8 - aperture / 2.0);
        points[LOWER_LIP_INNER] = at(0.0, 0.8 + aperture / 2.0);
        // The inner contour: an ellipse through the corners and the lip midpoints.
        for (k, &i) in INNER_LIPS.iter().enumerate() {
            let a = std::f64::consts::TAU * k as f64 / INNER_LIPS.len() as f64;
            if i != UPPER_LIP_INNER && i != LOWER_LIP_INNER {
                points[i] = at(-0.35 * a.cos(), 0.8 - aperture / 2.0 * a.sin());
            }
        }
        points
    }

    #[test]
    fn measures_are_in_interocular_units_whatever_the_size_and_roll() {
        let a = Measures::from_landmarks(&face(320.0, 240.0, 100.0, 0.0, 0.3, 0.0)).unwrap();
        let b = Measures::from_landmarks(&face(100.0, 90.0, 50.0, 20f64.to_radians(), 0.3, 0.0))
            .unwrap();
        assert!((a.lip_aperture - 0.3).abs() < 1e-9, "{a:?}");
        assert!((a.mouth_width - 0.8).abs() < 1e-9);
        assert!((a.jaw_opening - 1.0).abs() < 1e-9);
        assert!((a.brow_raise_left - 0.25).abs() < 1e-9);
        for (x, y) in [
            (a.lip_aperture, b.lip_aperture),
            (a.mouth_area, b.mouth_area),
            (a.jaw_opening, b.jaw_opening),
            (a.corner_asymmetry, b.corner_asymmetry),
        ] {
            assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
        }
        assert!((a.interocular_px - 100.0).abs() < 1e-9);
        assert!((a.in_mm(63.0).lip_aperture - 18.9).abs() < 1e-9);
    }

    #[test]
    fn a_lifted_left_corner_is_positive_asymmetry_of_its_size() {
        let m = Measures::from_landmarks(&face(0.0, 0.0, 80.0, -0.2, 0.1, 0.12)).unwrap();
        assert!((m.corner_asymmetry - 0.12).abs() < 1e-9, "{m:?}");
        let mirrored = Measures::from_landmarks(&face(0.0, 0.0, 80.0, -0.2, 0.1, -0.12)).unwrap();
        assert!((mirrored.corner_asymmetry + 0.12).abs() < 1e-9);
    }

    #[test]
    fn mouth_area_grows_with_the_opening_and_bad_input_gives_none() {
        let closed = Measures::from_landmarks(&face(0.0, 0.0, 80.0, 0.0, 0.05, 0.0)).unwrap();
        let open = Measures::from_landmarks(&face(0.0, 0.0, 80.0, 0.0, 0.4, 0.0)).unwrap();
        assert!(open.mouth_area > 5.0 * closed.mouth_area);
        let mut bad = face(0.0, 0.0, 80.0, 0.0, 0.1, 0.0);
        bad[7] = [f64::NAN, 0.0];
        assert!(Measures::from_landmarks(&bad).is_none());
        assert!(Measures::from_landmarks(&bad[..100]).is_none());
        let mut same_eyes = face(0.0, 0.0, 80.0, 0.0, 0.1, 0.0);
        same_eyes[LEFT_EYE_OUTER] = same_eyes[RIGHT_EYE_OUTER];
        assert!(Measures::from_landmarks(&same_eyes).is_none());
    }
}
