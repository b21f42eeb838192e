// SPDX-License-Identifier: MPL-2.0

//! BlazeFace output decoding, weighted non-maximum suppression and letterbox removal, after
//! MediaPipe's `TensorsToDetectionsCalculator`, `NonMaxSuppressionCalculator` (weighted) and
//! `DetectionLetterboxRemovalCalculator`.

use super::anchors::ANCHOR_COUNT;

pub const KEYPOINTS: usize = 6;
const COORDS: usize = 4 + 2 * KEYPOINTS;
const INPUT_SCALE: f32 = 128.0;
const SCORE_CLIP: f32 = 100.0;

/// A face detection; coordinates are fractions of the image they were found in.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub score: f32,
    pub xmin: f32,
    pub ymin: f32,
    pub width: f32,
    pub height: f32,
    /// Right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion.
    pub keypoints: [[f32; 2]; KEYPOINTS],
}

impl Detection {
    fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    pub fn iou(&self, other: &Detection) -> f32 {
        let x0 = self.xmin.max(other.xmin);
        let y0 = self.ymin.max(other.ymin);
        let x1 = (self.xmin + self.width).min(other.xmin + other.width);
        let y1 = (self.ymin + self.height).min(other.ymin + other.height);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// The logistic function that turns the networks' logits into scores.
pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Decodes the detector's `[896, 16]` regressors and `[896]` logits into the detections
/// scoring at least `min_score`, in the detector input's fractions.
pub fn decode(
    regressors: &[f32],
    logits: &[f32],
    anchors: &[[f32; 2]],
    min_score: f32,
) -> Vec<Detection> {
    let mut out = Vec::new();
    if regressors.len() < ANCHOR_COUNT * COORDS || logits.len() < ANCHOR_COUNT {
        return out;
    }
    for (i, anchor) in anchors.iter().enumerate().take(ANCHOR_COUNT) {
        let score = sigmoid(logits[i].clamp(-SCORE_CLIP, SCORE_CLIP));
        // A NaN score (a NaN logit) is left out too.
        if score.is_nan() || score < min_score {
            continue;
        }
        let r = &regressors[i * COORDS..(i + 1) * COORDS];
        let xc = r[0] / INPUT_SCALE + anchor[0];
        let yc = r[1] / INPUT_SCALE + anchor[1];
        let w = r[2] / INPUT_SCALE;
        let h = r[3] / INPUT_SCALE;
        let mut keypoints = [[0.0; 2]; KEYPOINTS];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = [
                r[4 + 2 * k] / INPUT_SCALE + anchor[0],
                r[5 + 2 * k] / INPUT_SCALE + anchor[1],
            ];
        }
        out.push(Detection {
            score,
            xmin: xc - w / 2.0,
            ymin: yc - h / 2.0,
            width: w,
            height: h,
            keypoints,
        });
    }
    out
}

/// MediaPipe's weighted NMS: each kept detection is the score-weighted mean of itself and the
/// detections overlapping it by more than `iou_threshold`, with the best score.
pub fn weighted_nms(mut detections: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    // Stable sort: equal scores keep their anchor order, as MediaPipe's does.
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept = Vec::new();
    let mut remaining = detections.into_iter();
    while let Some(best) = remaining.next() {
        // The seed always leaves, even when its box is empty or not finite and so overlaps
        // nothing, itself included; otherwise the loop would never end.
        let (others, rest): (Vec<Detection>, Vec<Detection>) =
            remaining.partition(|d| best.iou(d) > iou_threshold);
        let overlapping: Vec<Detection> = std::iter::once(best.clone()).chain(others).collect();
        let total: f32 = overlapping.iter().map(|d| d.score).sum();
        let mut merged = best.clone();
        if !overlapping.is_empty() && total > 0.0 {
            let weighted = |f: &dyn Fn(&Detection) -> f32| {
                overlapping.iter().map(|d| f(d) * d.score).sum::<f32>() / total
            };
            let xmin = weighted(&|d| d.xmin);
            let ymin = weighted(&|d| d.ymin);
            let xmax = weighted(&|d| d.xmin + d.width);
            let ymax = weighted(&|d| d.ymin + d.height);
            merged.xmin = xmin;
            merged.ymin = ymin;
            merged.width = xmax - xmin;
            merged.height = ymax - ymin;
            for k in 0..KEYPOINTS {
                merged.keypoints[k] = [
                    weighted(&|d| d.keypoints[k][0]),
                    weighted(&|d| d.keypoints[k][1]),
                ];
            }
        }
        kept.push(merged);
        remaining = rest.into_iter();
    }
    kept
}

/// Padding a letterbox added on each side, as fractions of the padded image.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Letterbox {
    pub horizontal: f32,
    pub vertical: f32,
}

impl Letterbox {
    /// The padding that makes a `width` x `height` image square.
    pub fn square(width: usize, height: usize) -> Self {
        let (w, h) = (width as f32, height as f32);
        let aspect = h / w;
        if aspect < 1.0 {
            Self {
                horizontal: 0.0,
                vertical: (1.0 - aspect) / 2.0,
            }
        } else {
            Self {
                horizontal: (1.0 - 1.0 / aspect) / 2.0,
                vertical: 0.0,
            }
        }
    }

    /// Maps a detection from the padded square back to fractions of the image.
    pub fn remove(&self, d: &Detection) -> Detection {
        let sx = 1.0 - 2.0 * self.horizontal;
        let sy = 1.0 - 2.0 * self.vertical;
        let mut out = d.clone();
        out.xmin = (d.xmin - self.horizontal) / sx;
        out.ymin = (d.ymin - self.vertical) / sy;
        out.width = d.width / sx;
        out.height = d.height / sy;
        for (o, k) in out.keypoints.iter_mut().zip(&d.keypoints) {
            *o = [(k[0] - self.horizontal) / sx, (k[1] - self.vertical) / sy];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::anchors::ssd_anchors;

    fn det(score: f32, xmin: f32, ymin: f32, size: f32) -> Detection {
        Detection {
            score,
            xmin,
            ymin,
            width: size,
            height: size,
            keypoints: [[xmin, ymin]; KEYPOINTS],
        }
    }

    #[test]
    fn nan_scores_are_no_detections() {
        let anchors = vec![[0.5f32, 0.5]; ANCHOR_COUNT];
        let regressors = vec![0.0; ANCHOR_COUNT * COORDS];
        let logits = vec![f32::NAN; ANCHOR_COUNT];
        assert!(decode(&regressors, &logits, &anchors, 0.0).is_empty());
    }

    #[test]
    fn decode_applies_anchor_offsets_and_threshold() {
        let anchors = ssd_anchors();
        let mut regressors = vec![0.0; ANCHOR_COUNT * COORDS];
        let mut logits = vec![-10.0; ANCHOR_COUNT];
        logits[512] = 2.0;
        let r = &mut regressors[512 * COORDS..513 * COORDS];
        r[..4].copy_from_slice(&[12.8, -6.4, 32.0, 64.0]);
        r[4] = 1.28;
        let out = decode(&regressors, &logits, &anchors, 0.5);
        assert_eq!(out.len(), 1);
        let d = &out[0];
        assert!((d.score - sigmoid(2.0)).abs() < 1e-6);
        let (xc, yc) = (0.0625 + 0.1, 0.0625 - 0.05);
        assert!((d.xmin - (xc - 0.125)).abs() < 1e-6);
        assert!((d.ymin - (yc - 0.25)).abs() < 1e-6);
        assert!((d.width - 0.25).abs() < 1e-6 && (d.height - 0.5).abs() < 1e-6);
        assert!((d.keypoints[0][0] - 0.0725).abs() < 1e-6);
        assert!(decode(&regressors[..10], &logits, &anchors, 0.5).is_empty());
    }

    #[test]
    fn huge_logits_are_clipped_not_nan() {
        let anchors = ssd_anchors();
        let regressors = vec![0.0; ANCHOR_COUNT * COORDS];
        let mut logits = vec![f32::NEG_INFINITY; ANCHOR_COUNT];
        logits[0] = f32::INFINITY;
        let out = decode(&regressors, &logits, &anchors, 0.5);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].score, 1.0);
    }

    #[test]
    fn weighted_nms_ends_on_degenerate_boxes() {
        let mut degenerate = vec![
            det(0.9, 0.1, 0.1, 0.0),
            det(0.8, f32::NAN, 0.1, 0.2),
            det(0.7, 0.1, f32::INFINITY, 0.2),
            det(0.6, 0.5, 0.5, -0.2),
        ];
        degenerate[1].score = f32::NAN;
        degenerate.push(det(0.5, 0.1, 0.1, 0.2));
        // Before the fix this never returned: an empty or NaN seed overlapped nothing.
        let out = weighted_nms(degenerate, 0.3);
        assert!((4..=5).contains(&out.len()), "{out:?}");
        assert!(weighted_nms(vec![det(0.0, 0.0, 0.0, 0.0); 1000], 0.0).len() == 1000);
    }

    #[test]
    fn weighted_nms_merges_overlaps_and_keeps_separate_faces() {
        let out = weighted_nms(
            vec![
                det(0.6, 0.12, 0.1, 0.2),
                det(0.9, 0.1, 0.1, 0.2),
                det(0.8, 0.6, 0.6, 0.2),
            ],
            0.3,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        let expected = (0.1 * 0.9 + 0.12 * 0.6) / 1.5;
        assert!((out[0].xmin - expected).abs() < 1e-6);
        assert!((out[0].keypoints[0][0] - expected).abs() < 1e-6);
        assert!((out[0].width - 0.2).abs() < 1e-6);
        assert_eq!((out[1].score, out[1].xmin), (0.8, 0.6));
        assert!((out[1].width - 0.2).abs() < 1e-6);
    }

    #[test]
    fn letterbox_of_a_landscape_frame_pads_top_and_bottom() {
        let lb = Letterbox::square(640, 480);
        assert_eq!(
            lb,
            Letterbox {
                horizontal: 0.0,
                vertical: 0.125
            }
        );
        let d = lb.remove(&det(1.0, 0.5, 0.125, 0.25));
        assert!((d.ymin - 0.0).abs() < 1e-6);
        assert!((d.height - 0.25 / 0.75).abs() < 1e-6);
        assert!((d.xmin - 0.5).abs() < 1e-6);
        let portrait = Letterbox::square(480, 640);
        assert_eq!(
            portrait,
            Letterbox {
                horizontal: 0.125,
                vertical: 0.0
            }
        );
    }
}
