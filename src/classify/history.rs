// SPDX-License-Identifier: MPL-2.0

//! Per-face memory of a classified stream: the last `window` probability vectors of each face
//! (the smoothed result) and the totals of the whole stream (the summary at EOS). A face not
//! seen for a while is handed back to be summed up on its own and forgotten
//! ([`Histories::depart`]), so memory stays with the faces in view.

use std::collections::{BTreeMap, VecDeque};

/// One face's recent probabilities and running totals.
#[derive(Clone, Debug, Default)]
pub struct FaceHistory {
    recent: VecDeque<Vec<f32>>,
    pub frames_seen: u64,
    pub frames_classified: u64,
    sum: Vec<f64>,
    /// Classified frames per label (by the per-frame label).
    label_counts: Vec<u64>,
    last_smoothed: Option<Vec<f32>>,
    /// The stream frame at which this face was last seen.
    last_seen: u64,
}

impl FaceHistory {
    /// Records one frame of this face: `probabilities` when it was classified.
    pub fn push(&mut self, probabilities: Option<&[f32]>, window: usize, label: Option<usize>) {
        self.frames_seen += 1;
        let Some(p) = probabilities else {
            return;
        };
        self.frames_classified += 1;
        if self.sum.len() != p.len() {
            self.sum = vec![0.0; p.len()];
            self.label_counts = vec![0; p.len()];
            self.recent.clear();
        }
        for (s, &v) in self.sum.iter_mut().zip(p) {
            *s += v as f64;
        }
        if let Some(l) = label.and_then(|l| self.label_counts.get_mut(l)) {
            *l += 1;
        }
        self.recent.push_back(p.to_vec());
        while self.recent.len() > window.max(1) {
            self.recent.pop_front();
        }
        self.last_smoothed = self.smoothed_now();
    }

    fn smoothed_now(&self) -> Option<Vec<f32>> {
        let first = self.recent.front()?;
        let mut mean = vec![0.0f64; first.len()];
        for p in &self.recent {
            for (m, &v) in mean.iter_mut().zip(p) {
                *m += v as f64;
            }
        }
        let n = self.recent.len() as f64;
        Some(mean.into_iter().map(|m| (m / n) as f32).collect())
    }

    /// The mean of the last `window` classified frames, if any.
    pub fn smoothed(&self) -> Option<&[f32]> {
        self.last_smoothed.as_deref()
    }

    /// Mean probability per class over every classified frame.
    pub fn mean(&self) -> Option<Vec<f32>> {
        (self.frames_classified > 0).then(|| {
            self.sum
                .iter()
                .map(|s| (s / self.frames_classified as f64) as f32)
                .collect()
        })
    }

    pub fn summary(&self, face_id: u32) -> FaceSummary {
        let classified = self.frames_classified.max(1) as f64;
        FaceSummary {
            face_id,
            frames_seen: self.frames_seen,
            frames_classified: self.frames_classified,
            mean: self.mean(),
            smoothed: self.last_smoothed.clone(),
            label_shares: self
                .label_counts
                .iter()
                .map(|&c| (c as f64 / classified) as f32)
                .collect(),
        }
    }
}

/// What one face amounted to over a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceSummary {
    pub face_id: u32,
    pub frames_seen: u64,
    pub frames_classified: u64,
    pub mean: Option<Vec<f32>>,
    pub smoothed: Option<Vec<f32>>,
    /// Share of classified frames given each label.
    pub label_shares: Vec<f32>,
}

/// Every face of a stream, by id.
#[derive(Clone, Debug, Default)]
pub struct Histories {
    pub faces: BTreeMap<u32, FaceHistory>,
}

impl Histories {
    /// The history of face `id`, seen at stream frame `frame`.
    pub fn face(&mut self, id: u32, frame: u64) -> &mut FaceHistory {
        let face = self.faces.entry(id).or_default();
        face.last_seen = frame;
        face
    }

    /// Removes and returns the summaries of the faces last seen `after` frames or more before
    /// `frame`.
    pub fn depart(&mut self, frame: u64, after: u64) -> Vec<FaceSummary> {
        let gone: Vec<u32> = self
            .faces
            .iter()
            .filter(|(_, h)| frame.saturating_sub(h.last_seen) >= after)
            .map(|(&id, _)| id)
            .collect();
        gone.into_iter()
            .filter_map(|id| self.faces.remove(&id).map(|h| h.summary(id)))
            .collect()
    }

    pub fn summaries(&self) -> Vec<FaceSummary> {
        self.faces.iter().map(|(&id, h)| h.summary(id)).collect()
    }

    pub fn clear(&mut self) {
        self.faces.clear();
    }

    /// Forgets the recent frames of every face (their smoothing), keeping the totals.
    pub fn restart_windows(&mut self) {
        for face in self.faces.values_mut() {
            face.recent.clear();
            face.last_smoothed = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_averages_the_last_window_classified_frames() {
        let mut h = FaceHistory::default();
        h.push(Some(&[1.0, 0.0]), 2, Some(0));
        h.push(None, 2, None);
        h.push(Some(&[0.0, 1.0]), 2, Some(1));
        assert_eq!(h.smoothed(), Some(&[0.5, 0.5][..]));
        h.push(Some(&[0.0, 1.0]), 2, Some(1));
        assert_eq!(h.smoothed(), Some(&[0.0, 1.0][..]));
        let s = h.summary(3);
        assert_eq!((s.frames_seen, s.frames_classified), (4, 3));
        let mean = s.mean.unwrap();
        assert!((mean[1] - 2.0 / 3.0).abs() < 1e-6);
        assert!((s.label_shares[1] - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn faces_gone_long_enough_are_summed_up_and_forgotten() {
        let mut all = Histories::default();
        // A thousand short-lived faces, three frames each: memory holds only the recent.
        let mut departed = Vec::new();
        let mut most = 0;
        for frame in 0..3000u64 {
            let id = (frame / 3) as u32;
            all.face(id, frame).push(Some(&[0.25, 0.75]), 5, Some(1));
            departed.extend(all.depart(frame, 10));
            most = most.max(all.faces.len());
        }
        assert!(most <= 5, "{most} faces held at once");
        assert_eq!(departed.len() + all.faces.len(), 1000);
        assert!(departed.iter().all(|s| s.frames_classified == 3));
        let ids: Vec<u32> = departed.iter().map(|s| s.face_id).collect();
        assert_eq!(ids, (0..ids.len() as u32).collect::<Vec<_>>(), "in order");
    }

    #[test]
    fn a_face_never_classified_has_no_result() {
        let mut all = Histories::default();
        all.face(7, 0).push(None, 5, None);
        let s = &all.summaries()[0];
        assert_eq!((s.face_id, s.frames_seen, s.frames_classified), (7, 1, 0));
        assert!(s.mean.is_none() && s.smoothed.is_none());
    }
}
