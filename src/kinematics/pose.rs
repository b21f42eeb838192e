// SPDX-License-Identifier: MPL-2.0

//! Head pose from the mesh's 3-D landmarks: the rotation that best carries the frontal
//! reference face ([`super::reference`]) onto this frame's landmarks, over the landmarks that
//! move with the skull only (forehead, nose bridge and tip, eye corners, cheeks; no lips, jaw,
//! lids or brows), found in closed form with Horn's unit-quaternion method (the least-squares
//! rotation, as Kabsch's SVD gives, with a scale).
//!
//! Angles, in degrees, as the picture shows them: `roll` > 0 when the head tilts
//! counter-clockwise, `yaw` > 0 when the nose turns towards the picture's right, `pitch` > 0
//! when the nose turns down. The rotation is `Rz(-roll) * Ry(-yaw) * Rx(pitch)` in camera
//! axes (x right, y down, z away from the camera, as Face Mesh's x, y and z).

use super::reference;

/// Face Mesh landmarks that move with the skull only.
pub const RIGID: [usize; 23] = [
    10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 234, 454, 127, 356, 93, 323, 98,
    327,
];

/// A head's orientation against the frontal reference, in degrees.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HeadPose {
    pub roll: f64,
    pub yaw: f64,
    pub pitch: f64,
}

impl HeadPose {
    /// The pose of `landmarks` (x, y, z in pixels, z on the scale of x; at least 468 points),
    /// or `None` when they are degenerate or not finite.
    pub fn from_landmarks(landmarks: &[[f64; 3]]) -> Option<Self> {
        if landmarks.len() < reference::FACE.len() {
            return None;
        }
        let measured = RIGID.map(|i| landmarks[i]);
        let reference = RIGID.map(|i| reference::FACE[i].map(f64::from));
        let r = best_rotation(&reference, &measured)?;
        Some(Self::from_matrix(&r))
    }

    /// The angles of rotation matrix `r` (rows), per the module's convention.
    pub fn from_matrix(r: &[[f64; 3]; 3]) -> Self {
        let yaw = (-r[2][0]).clamp(-1.0, 1.0).asin();
        let pitch = r[2][1].atan2(r[2][2]);
        let roll = r[1][0].atan2(r[0][0]);
        Self {
            roll: -roll.to_degrees(),
            yaw: -yaw.to_degrees(),
            pitch: pitch.to_degrees(),
        }
    }

    /// The rotation matrix (rows) of these angles: the inverse of [`Self::from_matrix`].
    pub fn matrix(&self) -> [[f64; 3]; 3] {
        let (c, b, a) = (
            -self.roll.to_radians(),
            -self.yaw.to_radians(),
            self.pitch.to_radians(),
        );
        let rz = [
            [c.cos(), -c.sin(), 0.0],
            [c.sin(), c.cos(), 0.0],
            [0.0, 0.0, 1.0],
        ];
        let ry = [
            [b.cos(), 0.0, b.sin()],
            [0.0, 1.0, 0.0],
            [-b.sin(), 0.0, b.cos()],
        ];
        let rx = [
            [1.0, 0.0, 0.0],
            [0.0, a.cos(), -a.sin()],
            [0.0, a.sin(), a.cos()],
        ];
        mul(&mul(&rz, &ry), &rx)
    }

    /// Whether measures taken in this pose can be trusted: yaw and pitch within the limits.
    pub fn within(&self, max_yaw: f64, max_pitch: f64) -> bool {
        self.yaw.abs() <= max_yaw && self.pitch.abs() <= max_pitch
    }
}

/// `points` (468 landmarks in pixels) in the face's own frame, as [`reference::FACE`] is:
/// origin between the outer eye corners (33 and 263), x along the eye line towards the
/// subject's left, y the picture's down made square to x, z away from the camera, one
/// inter-ocular distance as the unit. `scripts/gen-face-reference.sh` applies it to the face
/// photo at rest to make the reference.
pub fn face_frame(points: &[[f64; 3]]) -> Vec<[f64; 3]> {
    if points.len() < reference::FACE.len() {
        return Vec::new();
    }
    let (r, l) = (points[33], points[263]);
    let origin: [f64; 3] = std::array::from_fn(|k| (r[k] + l[k]) / 2.0);
    let d: [f64; 3] = std::array::from_fn(|k| l[k] - r[k]);
    let iod = d
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let x = d.map(|v| v / iod);
    let y = unit([-x[1] * x[0], 1.0 - x[1] * x[1], -x[1] * x[2]]);
    let z = [
        x[1] * y[2] - x[2] * y[1],
        x[2] * y[0] - x[0] * y[2],
        x[0] * y[1] - x[1] * y[0],
    ];
    points
        .iter()
        .map(|p| {
            let q: [f64; 3] = std::array::from_fn(|k| (p[k] - origin[k]) / iod);
            let dot = |a: [f64; 3]| a[0] * q[0] + a[1] * q[1] + a[2] * q[2];
            [dot(x), dot(y), dot(z)]
        })
        .collect()
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = v
        .iter()
        .map(|a| a * a)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    v.map(|a| a / n)
}

pub(crate) fn mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

fn centred<const N: usize>(points: &[[f64; 3]; N]) -> [[f64; 3]; N] {
    let mean: [f64; 3] =
        std::array::from_fn(|k| points.iter().map(|p| p[k]).sum::<f64>() / N as f64);
    points.map(|p| std::array::from_fn(|k| p[k] - mean[k]))
}

/// The rotation (rows) that best carries `from` onto `to` after centring both, whatever the
/// scale between them (Horn 1987).
fn best_rotation<const N: usize>(
    from: &[[f64; 3]; N],
    to: &[[f64; 3]; N],
) -> Option<[[f64; 3]; 3]> {
    if !to.iter().flatten().all(|v| v.is_finite()) {
        return None;
    }
    let (a, b) = (centred(from), centred(to));
    let mut s = [[0.0; 3]; 3];
    for (p, q) in a.iter().zip(&b) {
        for i in 0..3 {
            for j in 0..3 {
                s[i][j] += p[i] * q[j];
            }
        }
    }
    let norm: f64 = s.iter().flatten().map(|v| v * v).sum();
    if norm < 1e-12 {
        return None;
    }
    let [[sxx, sxy, sxz], [syx, syy, syz], [szx, szy, szz]] = s;
    let n = [
        [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
        [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
        [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
        [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
    ];
    let [w, x, y, z] = largest_eigenvector(n);
    Some([
        [
            w * w + x * x - y * y - z * z,
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            w * w - x * x + y * y - z * z,
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            w * w - x * x - y * y + z * z,
        ],
    ])
}

/// The unit eigenvector of the largest eigenvalue of a symmetric 4x4 matrix, by cyclic
/// Jacobi rotations.
#[allow(clippy::needless_range_loop)] // matrix code reads best with indices
fn largest_eigenvector(mut a: [[f64; 4]; 4]) -> [f64; 4] {
    let mut v = [[0.0; 4]; 4];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..32 {
        let off: f64 = (0..4)
            .flat_map(|i| (i + 1..4).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        let diag: f64 = (0..4).map(|i| a[i][i] * a[i][i]).sum();
        if off <= 1e-24 * diag.max(1e-300) {
            break;
        }
        for p in 0..4 {
            for q in p + 1..4 {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..4 {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..4 {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    let best = (0..4)
        .max_by(|&i, &j| a[i][i].total_cmp(&a[j][j]))
        .unwrap_or(0);
    let e = [v[0][best], v[1][best], v[2][best], v[3][best]];
    let len = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    e.map(|x| x / len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference face turned by `pose`, scaled to `iod` pixels and moved to (cx, cy).
    fn posed(pose: HeadPose, iod: f64, cx: f64, cy: f64) -> Vec<[f64; 3]> {
        let r = pose.matrix();
        reference::FACE
            .iter()
            .map(|p| {
                let p = p.map(f64::from);
                let q: [f64; 3] = std::array::from_fn(|i| (0..3).map(|k| r[i][k] * p[k]).sum());
                [cx + iod * q[0], cy + iod * q[1], iod * q[2]]
            })
            .collect()
    }

    #[test]
    fn recovers_known_poses_at_any_size_and_place() {
        for (roll, yaw, pitch) in [
            (0.0, 0.0, 0.0),
            (20.0, 0.0, 0.0),
            (0.0, 30.0, 0.0),
            (0.0, 0.0, -25.0),
            (-15.0, -40.0, 10.0),
            (170.0, 5.0, 5.0),
        ] {
            let truth = HeadPose { roll, yaw, pitch };
            let got = HeadPose::from_landmarks(&posed(truth, 80.0, 300.0, 200.0)).unwrap();
            for (a, b) in [(got.roll, roll), (got.yaw, yaw), (got.pitch, pitch)] {
                assert!((a - b).abs() < 1e-6, "{truth:?}: {got:?}");
            }
        }
    }

    #[test]
    fn angle_signs_are_as_the_picture_shows_them() {
        let nose = reference::FACE[4].map(f64::from);
        let eyes_mid = [0.0, 0.0, 0.0];
        let turned = |pose: HeadPose| {
            let r = pose.matrix();
            let q: [f64; 3] = std::array::from_fn(|i| (0..3).map(|k| r[i][k] * nose[k]).sum());
            [q[0] - eyes_mid[0], q[1] - eyes_mid[1]]
        };
        let front = turned(HeadPose::default());
        let right = turned(HeadPose {
            yaw: 30.0,
            ..Default::default()
        });
        assert!(right[0] > front[0] + 0.05, "yaw > 0: nose to the right");
        let down = turned(HeadPose {
            pitch: 30.0,
            ..Default::default()
        });
        assert!(down[1] > front[1], "pitch > 0: nose down");
        // Counter-clockwise in a picture whose y axis points down: the left eye goes up.
        let r = HeadPose {
            roll: 20.0,
            ..Default::default()
        }
        .matrix();
        let left_eye = reference::FACE[263].map(f64::from);
        let y = (0..3).map(|k| r[1][k] * left_eye[k]).sum::<f64>();
        assert!(y < left_eye[1] - 0.1, "roll > 0: counter-clockwise");
    }

    #[test]
    fn degenerate_or_bad_landmarks_give_none_and_limits_flag() {
        let mut bad = posed(HeadPose::default(), 80.0, 0.0, 0.0);
        bad[RIGID[3]][0] = f64::NAN;
        assert!(HeadPose::from_landmarks(&bad).is_none());
        assert!(HeadPose::from_landmarks(&bad[..10]).is_none());
        assert!(HeadPose::from_landmarks(&vec![[5.0; 3]; 468]).is_none());
        let pose = HeadPose {
            roll: 80.0,
            yaw: 25.0,
            pitch: -10.0,
        };
        assert!(pose.within(30.0, 20.0));
        assert!(!pose.within(20.0, 20.0));
        assert!(!pose.within(30.0, 5.0));
    }
}
