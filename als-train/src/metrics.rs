// SPDX-License-Identifier: MPL-2.0

//! The paper's Table I (precision, recall, F1 and support per class, accuracy, macro and
//! weighted averages) and a confusion matrix.

use std::fmt::Write;

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct ClassRow {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub rows: Vec<ClassRow>,
    pub accuracy: f64,
    pub macro_avg: [f64; 3],
    pub weighted_avg: [f64; 3],
    pub total: usize,
    /// confusion[true][predicted]
    pub confusion: Vec<Vec<usize>>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub fn table(labels: &[String], truth: &[usize], predicted: &[usize]) -> Table {
    let k = labels.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&t, &p) in truth.iter().zip(predicted) {
        if t < k && p < k {
            confusion[t][p] += 1;
        }
    }
    let rows: Vec<ClassRow> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let predicted_c: usize = (0..k).map(|t| confusion[t][c]).sum();
            let support: usize = confusion[c].iter().sum();
            let precision = ratio(tp, predicted_c);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassRow {
                label: labels[c].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let total: usize = rows.iter().map(|r| r.support).sum();
    let right: usize = (0..k).map(|c| confusion[c][c]).sum();
    let avg = |weight: &dyn Fn(&ClassRow) -> f64| {
        let w: f64 = rows.iter().map(weight).sum();
        let f = |g: &dyn Fn(&ClassRow) -> f64| {
            if w > 0.0 {
                rows.iter().map(|r| weight(r) * g(r)).sum::<f64>() / w
            } else {
                0.0
            }
        };
        [f(&|r| r.precision), f(&|r| r.recall), f(&|r| r.f1)]
    };
    Table {
        macro_avg: avg(&|_| 1.0),
        weighted_avg: avg(&|r| r.support as f64),
        rows,
        accuracy: ratio(right, total),
        total,
        confusion,
    }
}

impl Table {
    /// The table as scikit-learn's `classification_report` prints it, then the confusion matrix.
    pub fn to_text(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(0)
            .max(12);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>width$} {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:>width$} {:>9.2} {:>9.2} {:>9.2} {:>9}",
                r.label, r.precision, r.recall, r.f1, r.support
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:>width$} {:>9} {:>9} {:>9.2} {:>9}",
            "accuracy", "", "", self.accuracy, self.total
        );
        for (name, v) in [
            ("macro avg", self.macro_avg),
            ("weighted avg", self.weighted_avg),
        ] {
            let _ = writeln!(
                out,
                "{:>width$} {:>9.2} {:>9.2} {:>9.2} {:>9}",
                name, v[0], v[1], v[2], self.total
            );
        }
        let _ = writeln!(out, "\nconfusion matrix (rows: true, columns: predicted)");
        let _ = write!(out, "{:>width$}", "");
        for r in &self.rows {
            let _ = write!(out, " {:>9}", r.label);
        }
        let _ = writeln!(out);
        for (r, counts) in self.rows.iter().zip(&self.confusion) {
            let _ = write!(out, "{:>width$}", r.label);
            for n in counts {
                let _ = write!(out, " {n:>9}");
            }
            let _ = writeln!(out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_counted_case() {
        let labels = vec!["healthy".to_string(), "als".to_string()];
        // 3 healthy (1 called als), 2 als (both right).
        let t = table(&labels, &[0, 0, 0, 1, 1], &[0, 0, 1, 1, 1]);
        assert_eq!(t.confusion, vec![vec![2, 1], vec![0, 2]]);
        assert!((t.rows[1].precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((t.rows[0].recall - 2.0 / 3.0).abs() < 1e-9);
        assert!((t.accuracy - 0.8).abs() < 1e-9);
        assert_eq!(t.rows[0].support, 3);
        let w = (3.0 * t.rows[0].f1 + 2.0 * t.rows[1].f1) / 5.0;
        assert!((t.weighted_avg[2] - w).abs() < 1e-9);
        assert!(t.to_text().contains("weighted avg"));
    }
}
