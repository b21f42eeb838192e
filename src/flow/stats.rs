// SPDX-License-Identifier: MPL-2.0

//! Grid pooling and summary statistics of a flow field.

/// Summary of one flow field. Magnitudes are in pixels per frame, the direction in degrees
/// in `cartToPolar`'s convention (0 = +x, 90 = +y, i.e. downwards in the image).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlowSummary {
    pub mean: f32,
    pub max: f32,
    pub p99: f32,
    /// Direction of the mean flow vector; 0 when the field does not move.
    pub mean_direction: f32,
}

/// The half-open range of source indices that grid cell `cell` of `cells` covers along an
/// axis of `len` samples. Every cell covers at least one sample, so grids larger than the
/// source repeat samples instead of producing empty cells.
fn cell_span(cell: usize, cells: usize, len: usize) -> (usize, usize) {
    let start = (cell * len / cells).min(len - 1);
    let end = ((cell + 1) * len / cells).max(start + 1);
    (start, end)
}

/// Average-pools a `width` x `height` row-major field onto a `grid_width` x `grid_height`
/// grid. A grid of the field's own size copies it unchanged.
pub fn pool_average(
    values: &[f32],
    width: usize,
    height: usize,
    grid_width: usize,
    grid_height: usize,
    out: &mut Vec<f32>,
) {
    out.clear();
    if width == 0 || height == 0 || grid_width == 0 || grid_height == 0 {
        out.resize(grid_width * grid_height, 0.0);
        return;
    }
    debug_assert!(values.len() >= width * height);
    let mut row_sums = vec![0f64; grid_width];
    for gy in 0..grid_height {
        let (y0, y1) = cell_span(gy, grid_height, height);
        row_sums.iter_mut().for_each(|s| *s = 0.0);
        for row in values[y0 * width..y1 * width].chunks_exact(width) {
            for (gx, sum) in row_sums.iter_mut().enumerate() {
                let (x0, x1) = cell_span(gx, grid_width, width);
                *sum += row[x0..x1].iter().map(|&v| v as f64).sum::<f64>();
            }
        }
        for (gx, sum) in row_sums.iter().enumerate() {
            let (x0, x1) = cell_span(gx, grid_width, width);
            out.push((sum / ((x1 - x0) * (y1 - y0)) as f64) as f32);
        }
    }
}

/// Mean, maximum and 99th percentile (nearest rank) of `magnitudes`, and the direction of
/// the mean of the interleaved (dx, dy) vectors in `flow_xy`. `scratch` is reused storage.
pub fn summarize(magnitudes: &[f32], flow_xy: &[f32], scratch: &mut Vec<f32>) -> FlowSummary {
    if magnitudes.is_empty() {
        return FlowSummary::default();
    }
    let n = magnitudes.len();
    let mut sum = 0f64;
    let mut max = 0f32;
    for &m in magnitudes {
        sum += m as f64;
        max = max.max(m);
    }
    scratch.clear();
    scratch.extend_from_slice(magnitudes);
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n) - 1;
    let (_, p99, _) = scratch.select_nth_unstable_by(rank, f32::total_cmp);

    let (mut sx, mut sy) = (0f64, 0f64);
    for xy in flow_xy.chunks_exact(2) {
        sx += xy[0] as f64;
        sy += xy[1] as f64;
    }
    let mean_direction = if sx == 0.0 && sy == 0.0 {
        0.0
    } else {
        sy.atan2(sx).to_degrees().rem_euclid(360.0) as f32
    };
    FlowSummary {
        mean: (sum / n as f64) as f32,
        max,
        p99: *p99,
        mean_direction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_averages_whole_cells() {
        #[rustfmt::skip]
        let field = [
            1.0, 3.0, 10.0, 10.0,
            1.0, 3.0, 20.0, 20.0,
        ];
        let mut out = Vec::new();
        pool_average(&field, 4, 2, 2, 1, &mut out);
        assert_eq!(out, vec![2.0, 15.0]);
        pool_average(&field, 4, 2, 1, 1, &mut out);
        assert_eq!(out, vec![8.5]);
    }

    #[test]
    fn grid_of_field_size_is_identity() {
        let field: Vec<f32> = (0..12).map(|v| v as f32 * 0.5).collect();
        let mut out = Vec::new();
        pool_average(&field, 4, 3, 4, 3, &mut out);
        assert_eq!(out, field);
    }

    #[test]
    fn uneven_and_oversized_grids_have_no_empty_cells() {
        let field: Vec<f32> = (0..15).map(|v| v as f32).collect();
        let mut out = Vec::new();
        pool_average(&field, 5, 3, 2, 2, &mut out);
        assert_eq!(out.len(), 4);
        // cell (0,0) covers columns 0..2 of row 0
        assert_eq!(out[0], 0.5);
        // A grid larger than the field repeats its samples rather than filling with zeros.
        pool_average(&[7.5], 1, 1, 3, 2, &mut out);
        assert_eq!(out, vec![7.5; 6]);
        pool_average(&[1.0, 3.0], 2, 1, 4, 1, &mut out);
        assert_eq!(out, vec![1.0, 1.0, 3.0, 3.0]);
    }

    #[test]
    fn summary_of_known_values() {
        let mags: Vec<f32> = (1..=200).map(|v| v as f32).collect();
        let flow: Vec<f32> = std::iter::repeat_n([0.0, 2.0], 200).flatten().collect();
        let s = summarize(&mags, &flow, &mut Vec::new());
        assert_eq!(s.mean, 100.5);
        assert_eq!(s.max, 200.0);
        assert_eq!(s.p99, 198.0);
        assert!((s.mean_direction - 90.0).abs() < 1e-6);
    }

    #[test]
    fn still_field_has_zero_direction_and_stats() {
        let s = summarize(&[0.0; 4], &[0.0; 8], &mut Vec::new());
        assert_eq!(s, FlowSummary::default());
        assert_eq!(summarize(&[], &[], &mut Vec::new()), FlowSummary::default());
    }

    #[test]
    fn leftward_motion_points_to_180_degrees() {
        let s = summarize(&[1.0], &[-1.0, 0.0], &mut Vec::new());
        assert!((s.mean_direction - 180.0).abs() < 1e-6);
    }
}
