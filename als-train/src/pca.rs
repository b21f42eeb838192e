// SPDX-License-Identifier: MPL-2.0

//! Principal components of the flow vectors, with nalgebra's symmetric eigen-decomposition.
//! Narrow vectors (a face grid) use the covariance matrix; wide ones (the paper's whole-frame
//! magnitudes, 307,200 values) the Gram matrix of a sample of rows, whose size is the sample's,
//! not the vector's.
//!
//! The same rows give the same components on any x86_64 CPU: the matrix products are plain
//! loops here, every sum in one fixed order (nalgebra's `*` on large matrices goes to
//! `matrixmultiply`, which picks AVX, FMA or SSE kernels at run time, and a fused multiply-add
//! rounds differently); the eigen-decomposition itself is nalgebra's plain Rust loops.

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

/// The sum of `a[i] b[i]` in a fixed order whatever the CPU: eight running sums (over i mod
/// 8, each in ascending i), then added pairwise. The compiler may run the eight lanes as SIMD;
/// that changes no rounding.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    for ((s, &x), &y) in acc.iter_mut().zip(ra).zip(rb) {
        *s += x * y;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// `scale` times the matrix of dot products of the `m` rows (each `len` long) of `rows`: m x m,
/// row-major, symmetric.
fn products(rows: &[f64], len: usize, scale: f64) -> Vec<f64> {
    let m = rows.len() / len.max(1);
    let mut out = vec![0.0f64; m * m];
    for a in 0..m {
        let ra = &rows[a * len..(a + 1) * len];
        for b in a..m {
            let v = dot(ra, &rows[b * len..(b + 1) * len]) * scale;
            out[a * m + b] = v;
            out[b * m + a] = v;
        }
    }
    out
}

/// Fits on `rows` (each `width` values).
pub fn fit(rows: &[f32], width: usize, keep: Keep) -> Result<Pca, String> {
    let n = rows.len() / width.max(1);
    if n < 2 {
        return Err(format!("PCA needs at least 2 frames, got {n}"));
    }
    let rows = &rows[..n * width];
    let mut mean = vec![0.0f64; width];
    for r in rows.chunks_exact(width) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += v as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    // Centred rows, [n, width] row-major.
    let x: Vec<f64> = rows
        .chunks_exact(width)
        .flat_map(|r| r.iter().zip(&mean).map(|(&v, m)| v as f64 - m))
        .collect();
    let scale = 1.0 / (n as f64 - 1.0);
    let covariance = width <= COVARIANCE_LIMIT;
    // The eigenvectors (as columns) and their variances.
    let eig = if covariance {
        // The covariance's entries are dot products of the columns of x.
        let mut columns = vec![0.0f64; width * n];
        for (i, r) in x.chunks_exact(width).enumerate() {
            for (j, &v) in r.iter().enumerate() {
                columns[j * n + i] = v;
            }
        }
        let c = products(&columns, n, scale);
        SymmetricEigen::new(DMatrix::from_row_slice(width, width, &c))
    } else {
        let g = products(&x, width, scale);
        SymmetricEigen::new(DMatrix::from_row_slice(n, n, &g))
    };
    let variances: Vec<f64> = eig.eigenvalues.iter().copied().collect();
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
    // Each kept direction, `width` long.
    let direction = |j: usize| -> Vec<f64> {
        let u = eig.eigenvectors.column(j);
        if covariance {
            return u.iter().copied().collect();
        }
        // v = X^T u / |X^T u| spans the same direction as the covariance's eigenvector.
        let mut v = vec![0.0f64; width];
        for (r, &ui) in x.chunks_exact(width).zip(u.iter()) {
            for (s, &xv) in v.iter_mut().zip(r) {
                *s += ui * xv;
            }
        }
        let norm = dot(&v, &v).sqrt();
        if norm > 0.0 {
            for s in &mut v {
                *s /= norm;
            }
        }
        v
    };
    let directions: Vec<Vec<f64>> = kept
        .iter()
        .map(|&j| {
            let mut v = direction(j);
            // A fixed sign (largest loading positive) makes the components reproducible.
            let largest = v
                .iter()
                .fold(0.0f64, |a, &b| if b.abs() > a.abs() { b } else { a });
            if largest < 0.0 {
                for s in &mut v {
                    *s = -*s;
                }
            }
            v
        })
        .collect();
    let mut matrix = Vec::with_capacity(width * k);
    for r in 0..width {
        for d in &directions {
            matrix.push(d[r] as f32);
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
