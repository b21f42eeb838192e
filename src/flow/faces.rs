// SPDX-License-Identifier: MPL-2.0

//! Which faces of a frame get flow, and with which squares: the face-aligned ROI of each
//! face, and its pairing with the same face id in the previous frame.

use super::pool::FacePair;
use super::warp::roi_is_usable;
use crate::mesh::Roi;

/// Why a face has no flow although its frame was analysed.
pub const NEW_FACE: &str = "new-face";
/// The face's landmarks and ROI give no usable square.
pub const INVALID_ROI: &str = "invalid-roi";

/// The square a face's flow is measured in, in frame pixels: MediaPipe's ROI of this frame's
/// own landmarks (the square that tracks the face into the next frame), so that the square
/// follows the face in this frame and not one frame late. `landmarks` are fractions of a
/// `width` x `height` frame; `fallback` (centre, side and rotation in pixels) is used when
/// they give no ROI.
pub fn face_square(
    landmarks: &[[f32; 3]],
    fallback: Roi,
    width: usize,
    height: usize,
) -> Option<Roi> {
    let (w, h) = (width as f64, height as f64);
    let pixels: Vec<[f64; 3]> = landmarks
        .iter()
        .map(|p| [p[0] as f64 * w, p[1] as f64 * h, p[2] as f64 * w])
        .collect();
    Roi::from_landmarks(&pixels)
        .filter(roi_is_usable)
        .or_else(|| roi_is_usable(&fallback).then_some(fallback))
}

/// Pairs each face of this frame with its previous frame. `previous` is the previous frame's
/// faces (id and square), or `None` when there is no previous frame to pair with, in which
/// case `broken` says why (`None`: the previous frame had no face). With `stabilize`, each
/// frame is sampled with its own square, which cancels the head's motion; without, both
/// frames use this frame's square, so head motion stays in the flow.
pub fn pair_faces(
    previous: Option<&[(u32, Roi)]>,
    broken: Option<&'static str>,
    current: &[(u32, Option<Roi>)],
    stabilize: bool,
) -> Vec<Result<FacePair, &'static str>> {
    current
        .iter()
        .map(|&(id, roi)| {
            let next = roi.ok_or(INVALID_ROI)?;
            let Some(previous) = previous else {
                return Err(broken.unwrap_or(NEW_FACE));
            };
            let prev_roi = previous
                .iter()
                .find(|(prev_id, _)| *prev_id == id)
                .map(|&(_, roi)| roi)
                .ok_or(NEW_FACE)?;
            Ok(FacePair {
                prev: if stabilize { prev_roi } else { next },
                next,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roi(cx: f64) -> Roi {
        Roi {
            cx,
            cy: 50.0,
            size: 40.0,
            rotation: 0.1,
        }
    }

    #[test]
    fn known_faces_pair_and_new_ones_say_so() {
        let previous = [(1, roi(10.0)), (2, roi(80.0))];
        let current = [(2, Some(roi(82.0))), (3, Some(roi(150.0))), (1, None)];
        let plain = pair_faces(Some(&previous), None, &current, false);
        assert_eq!(
            plain,
            vec![
                Ok(FacePair {
                    prev: roi(82.0),
                    next: roi(82.0)
                }),
                Err(NEW_FACE),
                Err(INVALID_ROI),
            ]
        );
        let stable = pair_faces(Some(&previous), None, &current, true);
        assert_eq!(
            stable[0],
            Ok(FacePair {
                prev: roi(80.0),
                next: roi(82.0)
            })
        );
    }

    #[test]
    fn a_broken_pair_gives_its_reason_to_every_face() {
        let current = [(1, Some(roi(10.0))), (2, Some(roi(90.0)))];
        assert_eq!(
            pair_faces(None, Some("flush"), &current, false),
            vec![Err("flush"), Err("flush")]
        );
        assert_eq!(
            pair_faces(None, None, &current, true),
            vec![Err(NEW_FACE), Err(NEW_FACE)]
        );
    }

    #[test]
    fn the_square_comes_from_the_landmarks_else_the_fallback() {
        let mut landmarks = vec![[0.5f32, 0.5, 0.0]; 468];
        landmarks[0] = [0.25, 0.25, 0.0];
        landmarks[1] = [0.75, 0.75, 0.0];
        landmarks[33] = [0.3, 0.4, 0.0];
        landmarks[263] = [0.7, 0.4, 0.0];
        let fallback = roi(1.0);
        let sq = face_square(&landmarks, fallback, 200, 100).unwrap();
        // Landmark box 100 x 50 pixels around (100, 50), MediaPipe's 1.5 x long side.
        assert_eq!(
            (sq.cx, sq.cy, sq.size, sq.rotation),
            (100.0, 50.0, 150.0, 0.0)
        );
        let nan = vec![[f32::NAN; 3]; 468];
        assert_eq!(face_square(&nan, fallback, 200, 100), Some(fallback));
        let bad = Roi {
            size: f64::NAN,
            ..fallback
        };
        assert_eq!(face_square(&nan, bad, 200, 100), None);
        assert_eq!(face_square(&[], fallback, 200, 100), Some(fallback));
    }
}
