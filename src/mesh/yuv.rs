// SPDX-License-Identifier: MPL-2.0

//! A YUV frame as its planes, and the conversion of a Y'CbCr sample to R'G'B': what the face
//! models need of a camera's frame, sampled in their crops only, so that no full-frame RGB
//! copy is ever made.

/// One plane of 8-bit samples, `channels` interleaved per pixel.
#[derive(Clone, Copy, Debug)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    pub channels: usize,
}

impl Plane<'_> {
    /// Whether `data` holds every row the geometry says.
    pub fn is_complete(&self) -> bool {
        let row = self.width * self.channels;
        self.width > 0
            && self.height > 0
            && self.channels > 0
            && self.stride >= row
            && self.data.len() >= self.stride * (self.height - 1) + row
    }
}

/// Where a frame's colour difference samples are.
#[derive(Clone, Copy, Debug)]
pub enum Chroma<'a> {
    /// U and V in planes of their own (I420, YV12, Y42B, Y444).
    Planar { u: Plane<'a>, v: Plane<'a> },
    /// U and V interleaved in one plane (NV12; NV21 has V first).
    SemiPlanar { uv: Plane<'a>, v_first: bool },
}

/// A planar or semi-planar YUV frame.
#[derive(Clone, Copy, Debug)]
pub struct YuvFrame<'a> {
    pub luma: Plane<'a>,
    pub chroma: Chroma<'a>,
    /// Luma pixels per chroma sample, across and down (2, 2 for 4:2:0).
    pub subsampling: (usize, usize),
    /// Where a chroma sample sits, in luma pixels from the first luma pixel it covers: 0 when
    /// co-sited with it, half the block less half a pixel when centred (JPEG, MPEG-1).
    pub chroma_offset: (f64, f64),
    pub matrix: YuvMatrix,
}

impl YuvFrame<'_> {
    /// Whether the planes hold what the geometry says, the chroma planes sized for the
    /// subsampling.
    pub fn is_complete(&self) -> bool {
        let (sx, sy) = self.subsampling;
        if sx == 0 || sy == 0 || !self.luma.is_complete() || self.luma.channels != 1 {
            return false;
        }
        let (cw, ch) = (self.luma.width.div_ceil(sx), self.luma.height.div_ceil(sy));
        let sized = |p: &Plane, channels| {
            p.is_complete() && p.width >= cw && p.height >= ch && p.channels == channels
        };
        match &self.chroma {
            Chroma::Planar { u, v } => sized(u, 1) && sized(v, 1),
            Chroma::SemiPlanar { uv, .. } => sized(uv, 2),
        }
    }
}

/// The Y'CbCr to R'G'B' conversion of a frame's colorimetry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct YuvMatrix {
    /// The luma weights of red and blue.
    pub kr: f64,
    pub kb: f64,
    /// 0-255 for every component (JPEG), rather than 16-235 for luma and 16-240 for chroma.
    pub full_range: bool,
}

impl YuvMatrix {
    pub const BT601: Self = Self::new(0.299, 0.114);
    pub const BT709: Self = Self::new(0.2126, 0.0722);
    pub const BT2020: Self = Self::new(0.2627, 0.0593);
    pub const SMPTE240M: Self = Self::new(0.212, 0.087);
    pub const FCC: Self = Self::new(0.30, 0.11);

    const fn new(kr: f64, kb: f64) -> Self {
        Self {
            kr,
            kb,
            full_range: false,
        }
    }

    pub fn with_full_range(self, full_range: bool) -> Self {
        Self { full_range, ..self }
    }

    /// The luma sample of black.
    pub fn black(&self) -> f64 {
        if self.full_range { 0.0 } else { 16.0 }
    }

    /// The converter from 8-bit samples to R'G'B' in 0..=255.
    pub fn converter(&self) -> ToRgb {
        let (kr, kb) = (self.kr, self.kb);
        let kg = 1.0 - kr - kb;
        let (y_scale, c_scale, y_black) = if self.full_range {
            (1.0, 1.0, 0.0)
        } else {
            (255.0 / 219.0, 255.0 / 224.0, 16.0)
        };
        let cr_r = 2.0 * (1.0 - kr) * c_scale;
        let cb_b = 2.0 * (1.0 - kb) * c_scale;
        ToRgb {
            y_scale: y_scale as f32,
            y_black: y_black as f32,
            cr_r: cr_r as f32,
            cb_b: cb_b as f32,
            cb_g: (-kb * cb_b / kg) as f32,
            cr_g: (-kr * cr_r / kg) as f32,
        }
    }
}

/// Y'CbCr to R'G'B' with the coefficients worked out once.
#[derive(Clone, Copy, Debug)]
pub struct ToRgb {
    y_scale: f32,
    y_black: f32,
    cr_r: f32,
    cb_b: f32,
    cb_g: f32,
    cr_g: f32,
}

impl ToRgb {
    /// R', G', B' in 0..=255 from 8-bit Y', Cb, Cr samples.
    #[inline]
    pub fn rgb(&self, y: u8, u: u8, v: u8) -> [f32; 3] {
        let luma = (y as f32 - self.y_black) * self.y_scale;
        let (cb, cr) = (u as f32 - 128.0, v as f32 - 128.0);
        [
            luma + self.cr_r * cr,
            luma + self.cb_g * cb + self.cr_g * cr,
            luma + self.cb_b * cb,
        ]
        .map(|c| c.clamp(0.0, 255.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forward conversion (R'G'B' 0..=255 to 8-bit samples), as an encoder does it.
    fn to_yuv(m: &YuvMatrix, rgb: [f64; 3]) -> [u8; 3] {
        let [r, g, b] = rgb.map(|c| c / 255.0);
        let y = m.kr * r + (1.0 - m.kr - m.kb) * g + m.kb * b;
        let (cb, cr) = (
            (b - y) / (2.0 * (1.0 - m.kb)),
            (r - y) / (2.0 * (1.0 - m.kr)),
        );
        let (ys, yo, cs) = if m.full_range {
            (255.0, 0.0, 255.0)
        } else {
            (219.0, 16.0, 224.0)
        };
        [y * ys + yo, cb * cs + 128.0, cr * cs + 128.0].map(|v| v.round().clamp(0.0, 255.0) as u8)
    }

    #[test]
    fn colours_come_back_within_the_rounding_of_their_samples() {
        let colours = [
            [0.0, 0.0, 0.0],
            [255.0, 255.0, 255.0],
            [255.0, 0.0, 0.0],
            [0.0, 255.0, 0.0],
            [0.0, 0.0, 255.0],
            [230.0, 180.0, 150.0],
            [40.0, 90.0, 200.0],
        ];
        for matrix in [YuvMatrix::BT601, YuvMatrix::BT709, YuvMatrix::BT2020] {
            for full_range in [false, true] {
                let m = matrix.with_full_range(full_range);
                let to_rgb = m.converter();
                for rgb in colours {
                    let [y, u, v] = to_yuv(&m, rgb);
                    let back = to_rgb.rgb(y, u, v);
                    for (a, b) in back.iter().zip(rgb) {
                        assert!((*a as f64 - b).abs() < 2.5, "{m:?} {rgb:?} -> {back:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn black_is_the_range_minimum_and_grey_has_no_colour() {
        let limited = YuvMatrix::BT709.converter();
        assert_eq!(limited.rgb(16, 128, 128), [0.0; 3]);
        assert_eq!(limited.rgb(235, 128, 128), [255.0; 3]);
        let full = YuvMatrix::BT601.with_full_range(true).converter();
        assert_eq!(full.rgb(0, 128, 128), [0.0; 3]);
        let [r, g, b] = full.rgb(100, 128, 128);
        assert!(r == 100.0 && g == 100.0 && b == 100.0);
    }

    #[test]
    fn planes_too_short_for_their_geometry_are_incomplete() {
        let luma = vec![0u8; 16 * 8];
        let chroma = vec![0u8; 8 * 4];
        let plane = |data, width, height, channels| Plane {
            data,
            width,
            height,
            stride: width * channels,
            channels,
        };
        let frame = YuvFrame {
            luma: plane(&luma, 16, 8, 1),
            chroma: Chroma::Planar {
                u: plane(&chroma, 8, 4, 1),
                v: plane(&chroma, 8, 4, 1),
            },
            subsampling: (2, 2),
            chroma_offset: (0.0, 0.5),
            matrix: YuvMatrix::BT601,
        };
        assert!(frame.is_complete());
        let short = YuvFrame {
            luma: plane(&luma[..100], 16, 8, 1),
            ..frame
        };
        assert!(!short.is_complete());
        let small_chroma = YuvFrame {
            chroma: Chroma::Planar {
                u: plane(&chroma, 4, 4, 1),
                v: plane(&chroma, 8, 4, 1),
            },
            ..frame
        };
        assert!(!small_chroma.is_complete());
        let nv12 = YuvFrame {
            chroma: Chroma::SemiPlanar {
                uv: plane(&luma, 8, 4, 2),
                v_first: false,
            },
            ..frame
        };
        assert!(nv12.is_complete());
    }
}
