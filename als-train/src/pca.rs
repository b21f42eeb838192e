// SPDX-License-Identifier: MPL-2.0

//! Principal components of the flow vectors, with nalgebra's symmetric eigen-decomposition.
//! Narrow vectors (a face grid) use the covariance matrix; wide ones (the paper's whole-frame
//! magnitudes, 307,200 values) the Gram matrix of a sample of rows, whose size is the sample's,
//! not the vector's.

use nalgebra::{DMatrix, SymmetricEigen};

/// How many components to keep.
#[derive(Clone, Copy, Debug)]
pub enum Keep {
    Components(usize),
    /// The fewest components explaining this share of the variance.
    Variance(f64),
}

#[derive(Clone, Debug)]
pub struct Pca {
    pub mean: Vec<f32>,
    /// [values, components], row-major.
    pub matrix: Vec<f32>,
    pub std: Vec<f32>,
    pub components: usize,
    pub variance_explained: f64,
}

/// Vectors up to this wide use the covariance matrix.
const COVARIANCE_LIMIT: usize = 2048;

/// Fits on `rows` (each `width` values).
pub fn fit(rows: &[f32], width: usize, keep: Keep) -> Result<Pca, String> {
    let n = rows.len() / width.max(1);
    if n < 2 {
        return Err(format!("PCA needs at least 2 frames, got {n}"));
    }
    let mut x = DMatrix::from_row_slice(n, width, rows).map(|v| v as f64);
    let mean: Vec<f64> = (0..width).map(|j| x.column(j).mean()).collect();
    for (j, m) in mean.iter().enumerate() {
        x.column_mut(j).add_scalar_mut(-m);
    }
    let scale = 1.0 / (n as f64 - 1.0);
    // Eigenvectors as columns of a width x r matrix and their variances, largest first.
    let (vectors, variances) = if width <= COVARIANCE_LIMIT {
        let eig = SymmetricEigen::new(x.transpose() * &x * scale);
        (
            eig.eigenvectors,
            eig.eigenvalues.iter().copied().collect::<Vec<_>>(),
        )
    } else {
        let eig = SymmetricEigen::new(&x * x.transpose() * scale);
        // v = X^T u / |X^T u| spans the same directions as the covariance's eigenvectors.
        let mut v = x.transpose() * &eig.eigenvectors;
        for mut col in v.column_iter_mut() {
            let norm = col.norm();
            if norm > 0.0 {
                col /= norm;
            }
        }
        (v, eig.eigenvalues.iter().copied().collect())
    };
    let mut order: Vec<usize> = (0..variances.len()).collect();
    order.sort_by(|&a, &b| variances[b].total_cmp(&variances[a]));
    let total: f64 = variances.iter().map(|v| v.max(0.0)).sum();
    let available = order.len().min(n - 1).max(1);
    let k = match keep {
        Keep::Components(k) => k.clamp(1, available),
        Keep::Variance(target) => {
            let mut acc = 0.0;
            let mut k = available;
            for (i, &j) in order.iter().enumerate() {
                acc += variances[j].max(0.0);
                if total > 0.0 && acc / total >= target {
                    k = i + 1;
                    break;
                }
            }
            k.min(available)
        }
    };
    let kept = &order[..k];
    let explained = if total > 0.0 {
        kept.iter().map(|&j| variances[j].max(0.0)).sum::<f64>() / total
    } else {
        0.0
    };
    // A fixed sign (largest loading positive) makes the components reproducible.
    let signs: Vec<f64> = kept
        .iter()
        .map(|&j| {
            let largest = vectors
                .column(j)
                .iter()
                .fold(0.0f64, |a, &b| if b.abs() > a.abs() { b } else { a });
            if largest < 0.0 { -1.0 } else { 1.0 }
        })
        .collect();
    let mut matrix = Vec::with_capacity(width * k);
    for r in 0..width {
        for (&j, sign) in kept.iter().zip(&signs) {
            matrix.push((sign * vectors[(r, j)]) as f32);
        }
    }
    Ok(Pca {
        mean: mean.iter().map(|&m| m as f32).collect(),
        matrix,
        std: kept
            .iter()
            .map(|&j| variances[j].max(0.0).sqrt() as f32)
            .collect(),
        components: k,
        variance_explained: explained,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, width: usize) -> Vec<f32> {
        // Two directions: a strong one along (1, 1, 0...) and a weak one along (0, 0, 1...).
        (0..n)
            .flat_map(|i| {
                let a = ((i * 7919) % 101) as f32 / 10.0 - 5.0;
                let b = ((i * 104_729) % 53) as f32 / 100.0;
                (0..width).map(move |j| match j {
                    0 | 1 => a,
                    2 => b,
                    _ => 0.0,
                })
            })
            .collect()
    }

    #[test]
    fn finds_the_strong_direction_first() {
        let p = fit(&rows(200, 6), 6, Keep::Components(2)).unwrap();
        let first = [p.matrix[0], p.matrix[2], p.matrix[4]];
        assert!(
            (first[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4,
            "{first:?}"
        );
        assert!((first[1] - first[0]).abs() < 1e-4);
        assert!(first[2].abs() < 1e-4);
        assert!(p.std[0] > p.std[1]);
        let q = fit(&rows(200, 6), 6, Keep::Variance(0.99)).unwrap();
        assert_eq!(
            q.components, 1,
            "the weak direction is under 1% of the variance"
        );
    }

    #[test]
    fn wide_vectors_use_the_gram_matrix_and_agree() {
        let width = COVARIANCE_LIMIT + 10;
        let p = fit(&rows(50, width), width, Keep::Components(1)).unwrap();
        assert!((p.matrix[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4);
        assert!((p.matrix[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4);
    }
}
