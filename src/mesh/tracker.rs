// SPDX-License-Identifier: MPL-2.0

//! MediaPipe Face Mesh's per-frame logic: faces tracked from the previous frame's landmarks,
//! the detector only while fewer faces than wanted are tracked, and a face dropped when the
//! landmark model's presence score falls below the tracking threshold.

use super::anchors::ssd_anchors;
use super::crop::{Border, Cropper, Frame};
use super::detection::{Letterbox, decode, sigmoid, weighted_nms};
use super::roi::Roi;
use crate::flow::roi_is_usable;

pub const DETECTOR_SIDE: usize = 128;
pub const LANDMARK_SIDE: usize = 192;
pub const LANDMARKS: usize = 468;
const NMS_IOU: f32 = 0.3;
/// A detection overlapping a tracked face this much is that face.
const SAME_FACE_IOU: f64 = 0.5;

/// The two networks, behind a trait so that the logic can be tested without them.
pub trait FaceModels {
    /// `[1, 3, 128, 128]` input in -1..1; returns `[896 * 16]` regressors and `[896]` logits.
    fn detect(&mut self, input: &[f32]) -> Result<(Vec<f32>, Vec<f32>), String>;
    /// `[1, 3, 192, 192]` input in 0..1; returns `[468 * 3]` crop-pixel landmarks and the
    /// face-presence logit.
    fn landmarks(&mut self, input: &[f32]) -> Result<(Vec<f32>, f32), String>;
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackerSettings {
    pub max_faces: usize,
    pub min_detection_confidence: f32,
    pub min_tracking_confidence: f32,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        Self {
            max_faces: 1,
            min_detection_confidence: 0.5,
            min_tracking_confidence: 0.5,
        }
    }
}

/// A face found in the current frame.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedFace {
    /// Stable while the face stays tracked.
    pub id: u32,
    /// Score of the detection that started the track.
    pub detection_score: f32,
    pub presence: f32,
    /// The square the landmarks were computed in.
    pub roi: Roi,
    /// Frame pixels; z on the scale of x.
    pub landmarks: Vec<[f64; 3]>,
}

pub struct FaceTracker {
    anchors: Vec<[f32; 2]>,
    cropper: Cropper,
    input: Vec<f32>,
    faces: Vec<TrackedFace>,
    next_id: u32,
}

impl Default for FaceTracker {
    fn default() -> Self {
        Self {
            anchors: ssd_anchors(),
            cropper: Cropper::default(),
            input: Vec::new(),
            faces: Vec::new(),
            next_id: 1,
        }
    }
}

/// Landmarks a face can have: finite, and within ten frame sizes of the frame (a face may
/// stick out of the picture, a broken model output lands anywhere).
fn landmarks_are_sane(landmarks: &[[f64; 3]], width: usize, height: usize) -> bool {
    let reach = 10.0 * width.max(height).max(1) as f64;
    landmarks
        .iter()
        .flatten()
        .all(|v| v.is_finite() && v.abs() <= reach)
}

impl FaceTracker {
    /// Forgets the tracked faces: the next frame starts from the detector.
    pub fn reset(&mut self) {
        self.faces.clear();
    }

    pub fn faces(&self) -> &[TrackedFace] {
        &self.faces
    }

    /// Finds the faces of `frame`.
    pub fn process(
        &mut self,
        frame: &Frame<'_>,
        models: &mut dyn FaceModels,
        settings: &TrackerSettings,
    ) -> Result<&[TrackedFace], String> {
        let mut candidates: Vec<(Option<u32>, f32, Roi)> = self
            .faces
            .iter()
            .filter_map(|f| {
                Roi::from_landmarks(&f.landmarks).map(|roi| (Some(f.id), f.detection_score, roi))
            })
            .take(settings.max_faces)
            .collect();
        if candidates.len() < settings.max_faces {
            for (score, roi) in self.detect(frame, models, settings)? {
                if candidates.len() >= settings.max_faces {
                    break;
                }
                if candidates.iter().all(|c| c.2.iou(&roi) <= SAME_FACE_IOU) {
                    candidates.push((None, score, roi));
                }
            }
        }

        let mut faces = Vec::with_capacity(candidates.len());
        for (id, detection_score, roi) in candidates {
            // A broken detection or landmark set gives no usable square: that candidate is
            // skipped, the stream goes on.
            if !roi_is_usable(&roi) {
                continue;
            }
            self.cropper
                .crop(
                    frame,
                    &roi,
                    LANDMARK_SIDE,
                    Border::Replicate,
                    (0.0, 1.0),
                    &mut self.input,
                )
                .map_err(|e| format!("landmark crop failed: {e}"))?;
            let (raw, logit) = models.landmarks(&self.input)?;
            if raw.len() < LANDMARKS * 3 {
                return Err(format!(
                    "landmark model gave {} values, {} expected",
                    raw.len(),
                    LANDMARKS * 3
                ));
            }
            let presence = sigmoid(logit);
            // A NaN presence (broken model output) drops the face too.
            if presence.is_nan() || presence < settings.min_tracking_confidence {
                continue;
            }
            let side = LANDMARK_SIDE as f64;
            let landmarks: Vec<[f64; 3]> = raw
                .chunks_exact(3)
                .take(LANDMARKS)
                .map(|p| {
                    let [x, y] = roi.to_frame(p[0] as f64 / side, p[1] as f64 / side);
                    [x, y, p[2] as f64 / side * roi.size]
                })
                .collect();
            if !landmarks_are_sane(&landmarks, frame.width(), frame.height()) {
                continue;
            }
            let id = id.unwrap_or_else(|| {
                let id = self.next_id;
                self.next_id = self.next_id.wrapping_add(1).max(1);
                id
            });
            faces.push(TrackedFace {
                id,
                detection_score,
                presence,
                roi,
                landmarks,
            });
        }
        self.faces = faces;
        Ok(&self.faces)
    }

    /// Detections as (score, ROI), best first.
    fn detect(
        &mut self,
        frame: &Frame<'_>,
        models: &mut dyn FaceModels,
        settings: &TrackerSettings,
    ) -> Result<Vec<(f32, Roi)>, String> {
        let (w, h) = (frame.width(), frame.height());
        let square = Roi {
            cx: w as f64 / 2.0,
            cy: h as f64 / 2.0,
            size: w.max(h) as f64,
            rotation: 0.0,
        };
        self.cropper
            .crop(
                frame,
                &square,
                DETECTOR_SIDE,
                Border::Zero,
                (-1.0, 1.0),
                &mut self.input,
            )
            .map_err(|e| format!("detector input failed: {e}"))?;
        let (regressors, logits) = models.detect(&self.input)?;
        let detections = decode(
            &regressors,
            &logits,
            &self.anchors,
            settings.min_detection_confidence,
        );
        let letterbox = Letterbox::square(w, h);
        Ok(weighted_nms(detections, NMS_IOU)
            .iter()
            .map(|d| {
                let d = letterbox.remove(d);
                (d.score, Roi::from_detection(&d, w, h))
            })
            .filter(|(_, roi)| roi_is_usable(roi))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::RgbLayout;
    use crate::mesh::RgbFrame;
    use crate::mesh::anchors::ANCHOR_COUNT;

    /// Finds a face at a fixed anchor while `face_visible`; its landmarks fill the middle of
    /// the crop, with the eye corners level.
    struct FakeModels {
        detections: usize,
        face_visible: bool,
        anchor: usize,
        presence_logit: f32,
        /// Replaces every landmark coordinate (a broken model).
        landmark_value: Option<f32>,
        /// Replaces the detection box size regressors (a broken detector).
        box_size: f32,
    }

    impl FakeModels {
        fn new() -> Self {
            Self {
                detections: 0,
                face_visible: true,
                anchor: 512 + 6 * 27,
                presence_logit: 5.0,
                landmark_value: None,
                box_size: 40.0,
            }
        }
    }

    impl FaceModels for FakeModels {
        fn detect(&mut self, input: &[f32]) -> Result<(Vec<f32>, Vec<f32>), String> {
            assert_eq!(input.len(), 3 * 128 * 128);
            self.detections += 1;
            let mut regressors = vec![0.0; ANCHOR_COUNT * 16];
            let mut logits = vec![-20.0; ANCHOR_COUNT];
            if self.face_visible {
                logits[self.anchor] = 3.0;
                let r = &mut regressors[self.anchor * 16..(self.anchor + 1) * 16];
                r[2] = self.box_size;
                r[3] = self.box_size;
                r[4] = -10.0;
                r[6] = 10.0;
            }
            Ok((regressors, logits))
        }

        fn landmarks(&mut self, input: &[f32]) -> Result<(Vec<f32>, f32), String> {
            assert_eq!(input.len(), 3 * 192 * 192);
            let mut out = Vec::with_capacity(LANDMARKS * 3);
            for i in 0..LANDMARKS {
                out.extend([
                    64.0 + (i % 22) as f32 * 3.0,
                    64.0 + (i / 22) as f32 * 3.0,
                    1.0,
                ]);
            }
            out[33 * 3 + 1] = 80.0;
            out[263 * 3 + 1] = 80.0;
            if let Some(v) = self.landmark_value {
                out.fill(v);
            }
            Ok((out, self.presence_logit))
        }
    }

    fn frame_data() -> Vec<u8> {
        vec![100; 320 * 240 * 3]
    }

    fn frame(data: &[u8]) -> Frame<'_> {
        Frame::Rgb(RgbFrame {
            data,
            width: 320,
            height: 240,
            stride: 960,
            layout: RgbLayout::RGB,
        })
    }

    #[test]
    fn detector_runs_only_until_a_face_is_tracked() {
        let data = frame_data();
        let mut models = FakeModels::new();
        let mut tracker = FaceTracker::default();
        let settings = TrackerSettings::default();
        let first = tracker
            .process(&frame(&data), &mut models, &settings)
            .unwrap()
            .to_vec();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].landmarks.len(), LANDMARKS);
        for _ in 0..3 {
            let faces = tracker
                .process(&frame(&data), &mut models, &settings)
                .unwrap();
            assert_eq!(faces.len(), 1);
            assert_eq!(faces[0].id, first[0].id, "the tracked face keeps its id");
        }
        assert_eq!(models.detections, 1);
    }

    #[test]
    fn low_presence_drops_the_face_and_the_detector_returns() {
        let data = frame_data();
        let mut models = FakeModels::new();
        let mut tracker = FaceTracker::default();
        let settings = TrackerSettings::default();
        let id = tracker
            .process(&frame(&data), &mut models, &settings)
            .unwrap()[0]
            .id;
        models.presence_logit = -3.0;
        models.face_visible = false;
        assert!(
            tracker
                .process(&frame(&data), &mut models, &settings)
                .unwrap()
                .is_empty()
        );
        assert!(
            tracker
                .process(&frame(&data), &mut models, &settings)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            models.detections, 2,
            "no face tracked: the detector runs each frame"
        );
        models.presence_logit = 5.0;
        models.face_visible = true;
        let back = tracker
            .process(&frame(&data), &mut models, &settings)
            .unwrap();
        assert_eq!(back.len(), 1);
        assert_ne!(back[0].id, id, "a face that comes back is a new track");
    }

    #[test]
    fn broken_model_outputs_give_no_face_and_no_error() {
        let data = frame_data();
        let settings = TrackerSettings::default();
        for value in [f32::NAN, f32::INFINITY, 1e12] {
            let mut models = FakeModels::new();
            models.landmark_value = Some(value);
            let mut tracker = FaceTracker::default();
            let faces = tracker
                .process(&frame(&data), &mut models, &settings)
                .unwrap();
            assert!(faces.is_empty(), "landmarks of {value}");
        }
        for size in [0.0, -40.0, f32::NAN, f32::INFINITY] {
            let mut models = FakeModels::new();
            models.box_size = size;
            let mut tracker = FaceTracker::default();
            let faces = tracker
                .process(&frame(&data), &mut models, &settings)
                .unwrap();
            assert!(faces.is_empty(), "box of {size}");
        }
    }

    #[test]
    fn no_face_gives_an_empty_list() {
        let data = frame_data();
        let mut models = FakeModels::new();
        models.face_visible = false;
        let mut tracker = FaceTracker::default();
        let faces = tracker
            .process(&frame(&data), &mut models, &TrackerSettings::default())
            .unwrap();
        assert!(faces.is_empty());
    }

    #[test]
    fn landmarks_are_projected_into_the_frame() {
        let data = frame_data();
        let mut models = FakeModels::new();
        let mut tracker = FaceTracker::default();
        let faces = tracker
            .process(&frame(&data), &mut models, &TrackerSettings::default())
            .unwrap();
        let face = &faces[0];
        // Crop pixel (64, 64) is a third of the way into the ROI on both axes.
        let expected = face.roi.to_frame(64.0 / 192.0, 64.0 / 192.0);
        assert!((face.landmarks[0][0] - expected[0]).abs() < 1e-9);
        assert!((face.landmarks[0][1] - expected[1]).abs() < 1e-9);
        assert!((face.landmarks[0][2] - face.roi.size / 192.0).abs() < 1e-9);
        assert_eq!(face.roi.rotation, 0.0, "keypoints 0 and 1 are level");
    }
}
