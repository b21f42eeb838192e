// SPDX-License-Identifier: MPL-2.0

//! What a trained model got right: frame (or window) and subject tables from per-row
//! probabilities, shared by `fit`, `eval`, the kinematics model and the report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics::{Table, table};

/// Which subject and label each row belongs to.
pub(crate) struct Grouping<'a> {
    pub(crate) label: &'a [u32],
    pub(crate) subject: &'a [usize],
    /// Subject names, indexed by `subject`.
    pub(crate) subjects: &'a [String],
    pub(crate) subject_label: &'a [u32],
}

#[derive(Serialize)]
pub struct Evaluation {
    pub protocol: String,
    /// What one row of `frames` is: "frame", or "window" for the kinematics model.
    pub row: String,
    pub frames: Table,
    pub subjects: Table,
    pub shuffled_labels: bool,
    /// Per subject: name, true label, mean probability per class, predicted label.
    pub per_subject: Vec<SubjectResult>,
}

#[derive(Serialize)]
pub struct SubjectResult {
    pub subject: String,
    pub label: String,
    pub mean: Vec<f32>,
    pub predicted: String,
}

impl Evaluation {
    pub fn subjects_text(&self) -> String {
        let mut out = String::from("subject, true label, predicted, mean probabilities\n");
        for s in &self.per_subject {
            let mean: Vec<String> = s.mean.iter().map(|p| format!("{p:.3}")).collect();
            out.push_str(&format!(
                "{}, {}, {}, [{}]\n",
                s.subject,
                s.label,
                s.predicted,
                mean.join(", ")
            ));
        }
        out
    }
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Frame and subject tables from per-row probabilities.
pub(crate) fn evaluate(
    labels: &[String],
    rows: &Grouping,
    probabilities: &[Option<Vec<f32>>],
    protocol: &str,
    shuffled: bool,
) -> Evaluation {
    let (mut truth, mut predicted) = (Vec::new(), Vec::new());
    let mut per_subject: BTreeMap<usize, (Vec<f64>, usize)> = BTreeMap::new();
    for (r, p) in probabilities.iter().enumerate() {
        let Some(p) = p else { continue };
        truth.push(rows.label[r] as usize);
        predicted.push(argmax(p));
        let entry = per_subject
            .entry(rows.subject[r])
            .or_insert_with(|| (vec![0.0; p.len()], 0));
        for (s, &v) in entry.0.iter_mut().zip(p) {
            *s += v as f64;
        }
        entry.1 += 1;
    }
    let frames = table(labels, &truth, &predicted);
    let (mut st, mut sp, mut results) = (Vec::new(), Vec::new(), Vec::new());
    for (s, (sum, n)) in per_subject {
        let mean: Vec<f32> = sum.iter().map(|v| (v / n as f64) as f32).collect();
        let (truth, predicted) = (rows.subject_label[s] as usize, argmax(&mean));
        st.push(truth);
        sp.push(predicted);
        results.push(SubjectResult {
            subject: rows.subjects[s].clone(),
            label: labels[truth].clone(),
            mean,
            predicted: labels[predicted].clone(),
        });
    }
    Evaluation {
        protocol: protocol.into(),
        row: "frame".into(),
        frames,
        subjects: table(labels, &st, &sp),
        shuffled_labels: shuffled,
        per_subject: results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_judged_on_their_mean_probability_not_their_majority_of_rows() {
        let labels = ["healthy".to_string(), "als".to_string()];
        let subjects = ["a".to_string(), "b".to_string()];
        // Subject a (als): two rows lean healthy a little, one says als strongly; the mean
        // says als although most rows say healthy. Subject b (healthy): its one row says als.
        let grouping = Grouping {
            label: &[1, 1, 1, 0],
            subject: &[0, 0, 0, 1],
            subjects: &subjects,
            subject_label: &[1, 0],
        };
        let probabilities = [
            Some(vec![0.6, 0.4]),
            Some(vec![0.6, 0.4]),
            Some(vec![0.0, 1.0]),
            Some(vec![0.3, 0.7]),
        ];
        let e = evaluate(&labels, &grouping, &probabilities, "test", false);
        assert_eq!(e.per_subject.len(), 2);
        assert_eq!(e.per_subject[0].subject, "a");
        assert_eq!(e.per_subject[0].predicted, "als");
        assert!((e.per_subject[0].mean[1] - 0.6).abs() < 1e-6);
        assert_eq!(e.per_subject[1].label, "healthy");
        assert_eq!(e.per_subject[1].predicted, "als");
        assert_eq!(e.subjects_text().lines().count(), 3);
    }

    #[test]
    fn rows_without_a_probability_are_left_out() {
        let labels = ["healthy".to_string(), "als".to_string()];
        let subjects = ["a".to_string()];
        let grouping = Grouping {
            label: &[0, 0],
            subject: &[0, 0],
            subjects: &subjects,
            subject_label: &[0],
        };
        let e = evaluate(
            &labels,
            &grouping,
            &[None, Some(vec![0.9, 0.1])],
            "test",
            false,
        );
        assert_eq!(e.per_subject[0].mean, vec![0.9, 0.1]);
        assert_eq!(e.per_subject[0].predicted, "healthy");
    }
}
