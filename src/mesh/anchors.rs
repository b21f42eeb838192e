// SPDX-License-Identifier: MPL-2.0

//! SSD anchors of BlazeFace short range, as MediaPipe's `SsdAnchorsCalculator` makes them for
//! 4 layers with strides [8, 16, 16, 16], a fixed anchor size and offset 0.5: 896 anchor
//! centres in the 128x128 input, as fractions of it.

const INPUT_SIZE: usize = 128;
const STRIDES: [usize; 4] = [8, 16, 16, 16];
/// Each layer contributes its aspect-ratio-1 anchor and the interpolated-scale anchor.
const ANCHORS_PER_LAYER: usize = 2;

pub const ANCHOR_COUNT: usize = 896;

pub fn ssd_anchors() -> Vec<[f32; 2]> {
    let mut anchors = Vec::with_capacity(ANCHOR_COUNT);
    let mut layer = 0;
    while layer < STRIDES.len() {
        // Consecutive layers of the same stride share one grid.
        let mut last = layer;
        while last + 1 < STRIDES.len() && STRIDES[last + 1] == STRIDES[layer] {
            last += 1;
        }
        let per_cell = (last - layer + 1) * ANCHORS_PER_LAYER;
        let cells = INPUT_SIZE.div_ceil(STRIDES[layer]);
        for y in 0..cells {
            for x in 0..cells {
                let centre = [
                    (x as f32 + 0.5) / cells as f32,
                    (y as f32 + 0.5) / cells as f32,
                ];
                anchors.extend(std::iter::repeat_n(centre, per_cell));
            }
        }
        layer = last + 1;
    }
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_blazeface_short_range() {
        let anchors = ssd_anchors();
        assert_eq!(anchors.len(), ANCHOR_COUNT);
        // 16x16 cells with 2 anchors, then 8x8 cells with 6.
        assert_eq!(anchors[0], [0.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(anchors[1], anchors[0]);
        assert_eq!(anchors[2], [1.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(anchors[511], [15.5 / 16.0, 15.5 / 16.0]);
        assert_eq!(anchors[512], [0.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(anchors[517], anchors[512]);
        assert_eq!(anchors[518], [1.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(anchors[895], [7.5 / 8.0, 7.5 / 8.0]);
    }
}
