// SPDX-License-Identifier: MPL-2.0

//! Blending into a video frame in place, in the frame's own pixel format: packed RGB with
//! any channel order, and 4:2:0 YUV (planar or semi-planar), so that an overlay never forces
//! a conversion.

/// Where the colour components of a frame lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelLayout {
    /// One plane of `bytes_per_pixel`-byte pixels; `r`, `g`, `b` are byte offsets in a pixel.
    Packed {
        bytes_per_pixel: usize,
        r: usize,
        g: usize,
        b: usize,
    },
    /// 4:2:0 with luma in plane 0 and chroma at half resolution in both directions: planar
    /// (I420, YV12: U and V in their own planes) or semi-planar (NV12, NV21: one plane of
    /// interleaved pairs, `u` and `v` the byte offsets within a pair).
    Yuv420 {
        u_plane: usize,
        v_plane: usize,
        /// Bytes per chroma sample pair position: 1 for planar, 2 for interleaved.
        chroma_step: usize,
        u: usize,
        v: usize,
    },
}

impl PixelLayout {
    pub const I420: Self = Self::Yuv420 {
        u_plane: 1,
        v_plane: 2,
        chroma_step: 1,
        u: 0,
        v: 0,
    };
    pub const YV12: Self = Self::Yuv420 {
        u_plane: 2,
        v_plane: 1,
        chroma_step: 1,
        u: 0,
        v: 0,
    };
    pub const NV12: Self = Self::Yuv420 {
        u_plane: 1,
        v_plane: 1,
        chroma_step: 2,
        u: 0,
        v: 1,
    };
    pub const NV21: Self = Self::Yuv420 {
        u_plane: 1,
        v_plane: 1,
        chroma_step: 2,
        u: 1,
        v: 0,
    };

    pub fn packed(bytes_per_pixel: usize, r: usize, g: usize, b: usize) -> Self {
        Self::Packed {
            bytes_per_pixel,
            r,
            g,
            b,
        }
    }

    fn planes(&self) -> usize {
        match *self {
            Self::Packed { .. } => 1,
            Self::Yuv420 {
                u_plane, v_plane, ..
            } => 1 + u_plane.max(v_plane),
        }
    }
}

/// An sRGB colour, and its limited-range BT.601 YUV form for YUV frames (the range decoders
/// and encoders use; an overlay's colours need not be colorimetrically exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Color {
    pub const WHITE: Self = Self::rgb(255, 255, 255);
    pub const BLACK: Self = Self::rgb(0, 0, 0);

    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }

    fn yuv(self) -> [u8; 3] {
        let (r, g, b) = (self.r as f32, self.g as f32, self.b as f32);
        let y = 16.0 + 0.257 * r + 0.504 * g + 0.098 * b;
        let u = 128.0 - 0.148 * r - 0.291 * g + 0.439 * b;
        let v = 128.0 + 0.439 * r - 0.368 * g - 0.071 * b;
        [y, u, v].map(|c| c.round().clamp(0.0, 255.0) as u8)
    }
}

/// A colour ready to blend into one layout's components.
#[derive(Clone, Copy, Debug)]
struct Paint {
    /// R, G, B for packed layouts; Y, U, V for YUV.
    components: [u8; 3],
}

/// `dst + (src - dst) * alpha / 255`, rounded.
#[inline]
fn mix(dst: u8, src: u8, alpha: u32) -> u8 {
    let d = dst as u32;
    let s = src as u32;
    ((d * (255 - alpha) + s * alpha + 127) / 255) as u8
}

/// Where a `columns` x `rows` grid lies on the frame: the centre of pixel (x, y) falls in
/// cell (u, v) with u = (x + 0.5 - cx) * ux + (y + 0.5 - cy) * uy + columns / 2 and
/// v = (x + 0.5 - cx) * vx + (y + 0.5 - cy) * vy + rows / 2; `bounds` (x0, y0, x1, y1) hold
/// every pixel of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridPlacement {
    pub cx: f32,
    pub cy: f32,
    pub ux: f32,
    pub uy: f32,
    pub vx: f32,
    pub vy: f32,
    pub columns: usize,
    pub rows: usize,
    pub bounds: (i64, i64, i64, i64),
}

/// One plane of a frame.
pub struct Plane<'a> {
    pub data: &'a mut [u8],
    pub stride: usize,
}

/// A frame to draw on. Coordinates are pixels; everything outside the frame is clipped.
pub struct Canvas<'a> {
    width: usize,
    height: usize,
    layout: PixelLayout,
    planes: Vec<Plane<'a>>,
}

impl<'a> Canvas<'a> {
    /// Checks that `planes` hold a `width` x `height` frame of `layout`.
    pub fn new(
        width: usize,
        height: usize,
        layout: PixelLayout,
        planes: Vec<Plane<'a>>,
    ) -> Result<Self, String> {
        if planes.len() < layout.planes() {
            return Err(format!(
                "{} planes given, {} needed",
                planes.len(),
                layout.planes()
            ));
        }
        let need = |plane: &Plane, rows: usize, row_bytes: usize| {
            rows == 0
                || (plane.stride >= row_bytes
                    && plane.data.len() >= (rows - 1) * plane.stride + row_bytes)
        };
        let fits = match layout {
            PixelLayout::Packed {
                bytes_per_pixel,
                r,
                g,
                b,
            } => {
                r.max(g).max(b) < bytes_per_pixel
                    && need(&planes[0], height, width * bytes_per_pixel)
            }
            PixelLayout::Yuv420 {
                u_plane,
                v_plane,
                chroma_step,
                u,
                v,
            } => {
                let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
                u.max(v) < chroma_step
                    && need(&planes[0], height, width)
                    && need(&planes[u_plane], ch, cw * chroma_step)
                    && need(&planes[v_plane], ch, cw * chroma_step)
            }
        };
        if !fits {
            return Err(format!("the planes do not hold a {width}x{height} frame"));
        }
        Ok(Self {
            width,
            height,
            layout,
            planes,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    fn paint(&self, color: Color) -> Paint {
        match self.layout {
            PixelLayout::Packed { .. } => Paint {
                components: [color.r, color.g, color.b],
            },
            PixelLayout::Yuv420 { .. } => Paint {
                components: color.yuv(),
            },
        }
    }

    /// Blends one pixel; `x`, `y` must lie in the frame. In 4:2:0 frames the chroma sample
    /// shared by a 2x2 block is blended once, from its top-left pixel, so that a shape blends
    /// every sample at most once.
    #[inline]
    fn blend_at(&mut self, x: usize, y: usize, paint: Paint, alpha: u32) {
        match self.layout {
            PixelLayout::Packed {
                bytes_per_pixel,
                r,
                g,
                b,
            } => {
                let plane = &mut self.planes[0];
                let at = y * plane.stride + x * bytes_per_pixel;
                let px = &mut plane.data[at..at + bytes_per_pixel];
                px[r] = mix(px[r], paint.components[0], alpha);
                px[g] = mix(px[g], paint.components[1], alpha);
                px[b] = mix(px[b], paint.components[2], alpha);
            }
            PixelLayout::Yuv420 {
                u_plane,
                v_plane,
                chroma_step,
                u,
                v,
            } => {
                let luma = &mut self.planes[0];
                let at = y * luma.stride + x;
                luma.data[at] = mix(luma.data[at], paint.components[0], alpha);
                if x.is_multiple_of(2) && y.is_multiple_of(2) {
                    let (cx, cy) = (x / 2, y / 2);
                    let p = &mut self.planes[u_plane];
                    let at = cy * p.stride + cx * chroma_step + u;
                    p.data[at] = mix(p.data[at], paint.components[1], alpha);
                    let p = &mut self.planes[v_plane];
                    let at = cy * p.stride + cx * chroma_step + v;
                    p.data[at] = mix(p.data[at], paint.components[2], alpha);
                }
            }
        }
    }

    /// Blends `color` at `alpha` (0..=255) over the pixels of `[x0, x1) x [y0, y1)`.
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, color: Color, alpha: u8) {
        let (x0, x1) = self.clip(x0, x1, self.width);
        let (y0, y1) = self.clip(y0, y1, self.height);
        let paint = self.paint(color);
        if x0 < x1 {
            for y in y0..y1 {
                self.blend_run(x0, x1, y, paint, alpha as u32);
            }
        }
    }

    /// Blends `paint(x, y)`, a colour and its alpha, over the pixels of `[x0, x1) x [y0, y1)`
    /// for which it returns one.
    pub fn fill_with(
        &mut self,
        (x0, y0, x1, y1): (i64, i64, i64, i64),
        mut paint: impl FnMut(usize, usize) -> Option<(Color, u8)>,
    ) {
        let (x0, x1) = self.clip(x0, x1, self.width);
        let (y0, y1) = self.clip(y0, y1, self.height);
        // Shapes come in runs of one colour; convert each colour once per run.
        let mut last: Option<(Color, Paint)> = None;
        for y in y0..y1 {
            for x in x0..x1 {
                if let Some((c, alpha)) = paint(x, y) {
                    let p = match last {
                        Some((lc, lp)) if lc == c => lp,
                        _ => {
                            let p = self.paint(c);
                            last = Some((c, p));
                            p
                        }
                    };
                    self.blend_at(x, y, p, alpha as u32);
                }
            }
        }
    }

    /// Blends a grid of `(colour, alpha)` cells, row-major, placed by `placement`: each pixel
    /// takes the colour of the cell its centre falls in. Rows are scanned only across the
    /// span inside the grid, since a face's map covers a large part of the frame.
    pub fn fill_grid(&mut self, placement: &GridPlacement, cells: &[(Color, u8)]) {
        let g = placement;
        if g.columns == 0 || g.rows == 0 || cells.len() != g.columns * g.rows {
            return;
        }
        let paints: Vec<(Paint, u32)> = cells
            .iter()
            .map(|&(c, a)| (self.paint(c), a as u32))
            .collect();
        let (x0, x1) = self.clip(g.bounds.0, g.bounds.2, self.width);
        let (y0, y1) = self.clip(g.bounds.1, g.bounds.3, self.height);
        if x0 >= x1 {
            return;
        }
        let (cols, rows) = (g.columns as f32, g.rows as f32);
        let last = (x1 - x0 - 1) as f32;
        // Pixels per cell along a row, signed; 0 where the cell does not change along x.
        let reciprocal = |step: f32| if step.abs() > 1e-9 { 1.0 / step } else { 0.0 };
        let (per_u, per_v) = (reciprocal(g.ux), reciprocal(g.vx));
        // Rows in pairs, both blended with the runs of their common centre line: half the run
        // bookkeeping, at most half a pixel off at a cell edge.
        for y in (y0..y1).step_by(2) {
            let pair_end = (y + 2).min(y1);
            let dy = (y + pair_end) as f32 / 2.0 - g.cy;
            let dx = x0 as f32 + 0.5 - g.cx;
            let u0 = dx * g.ux + dy * g.uy + cols / 2.0;
            let v0 = dx * g.vx + dy * g.vy + rows / 2.0;
            // Steps from x0 for which 0 <= u < cols and 0 <= v < rows.
            let (mut lo, mut hi) = (0.0f32, last);
            for (start, step, limit) in [(u0, g.ux, cols), (v0, g.vx, rows)] {
                if step.abs() < 1e-9 {
                    if !(0.0..limit).contains(&start) {
                        (lo, hi) = (1.0, 0.0);
                    }
                } else {
                    let (a, b) = ((0.0 - start) / step, (limit - start) / step);
                    lo = lo.max(a.min(b));
                    hi = hi.min(a.max(b));
                }
            }
            // NaN bounds (a degenerate placement) compare false too.
            if lo.is_nan() || hi.is_nan() || lo > hi {
                continue;
            }
            let (mut i, end) = (
                lo.ceil().max(0.0) as usize,
                (hi.floor().min(last) as usize) + 1,
            );
            // Runs of pixels in one cell, blended with one colour.
            while i < end {
                let (u, v) = (u0 + i as f32 * g.ux, v0 + i as f32 * g.vx);
                let cu = u.clamp(0.0, cols - 1.0) as usize;
                let cv = v.clamp(0.0, rows - 1.0) as usize;
                let steps = |at: f32, cell: usize, per_step: f32| {
                    if per_step > 0.0 {
                        ((cell + 1) as f32 - at) * per_step
                    } else if per_step < 0.0 {
                        (cell as f32 - at) * per_step
                    } else {
                        f32::INFINITY
                    }
                };
                // max() also turns a NaN (a degenerate placement) into one step.
                let run = steps(u, cu, per_u).min(steps(v, cv, per_v)).ceil().max(1.0);
                let run_end = end.min(i + run.min((end - i) as f32) as usize);
                let (paint, alpha) = paints[cv * g.columns + cu];
                if alpha > 0 {
                    for row in y..pair_end {
                        self.blend_run(x0 + i, x0 + run_end, row, paint, alpha);
                    }
                }
                i = run_end;
            }
        }
    }

    /// Blends one colour over pixels `xa..xb` of row `y` (inside the frame).
    #[inline]
    fn blend_run(&mut self, xa: usize, xb: usize, y: usize, paint: Paint, alpha: u32) {
        let inv = 255 - alpha;
        let pre = paint.components.map(|c| c as u32 * alpha + 127);
        let mix = |d: &mut u8, k: usize| *d = ((*d as u32 * inv + pre[k]) / 255) as u8;
        match self.layout {
            PixelLayout::Packed {
                bytes_per_pixel,
                r,
                g,
                b,
            } => {
                let plane = &mut self.planes[0];
                let start = y * plane.stride;
                let row =
                    &mut plane.data[start + xa * bytes_per_pixel..start + xb * bytes_per_pixel];
                // Per byte of a pixel: the weight of what is there and what is added; bytes
                // that are not R, G or B keep their value. A constant pixel size lets the
                // compiler vectorise the loop.
                let mut keep = [255u32; 4];
                let mut add = [127u32; 4];
                for (k, at) in [r, g, b].into_iter().enumerate() {
                    if at < 4 {
                        keep[at] = inv;
                        add[at] = pre[k];
                    }
                }
                fn each<const N: usize>(row: &mut [u8], keep: &[u32; 4], add: &[u32; 4]) {
                    for px in row.chunks_exact_mut(N) {
                        for i in 0..N {
                            px[i] = ((px[i] as u32 * keep[i] + add[i]) / 255) as u8;
                        }
                    }
                }
                match bytes_per_pixel {
                    4 => each::<4>(row, &keep, &add),
                    3 => each::<3>(row, &keep, &add),
                    _ => {
                        for px in row.chunks_exact_mut(bytes_per_pixel) {
                            mix(&mut px[r], 0);
                            mix(&mut px[g], 1);
                            mix(&mut px[b], 2);
                        }
                    }
                }
            }
            PixelLayout::Yuv420 {
                u_plane,
                v_plane,
                chroma_step,
                u,
                v,
            } => {
                let luma = &mut self.planes[0];
                let start = y * luma.stride;
                blend_bytes(&mut luma.data[start + xa..start + xb], 1, 0, inv, pre[0]);
                let (ca, cb) = (xa.div_ceil(2), xb.div_ceil(2));
                if y.is_multiple_of(2) && ca < cb {
                    for (plane, offset, add) in [(u_plane, u, pre[1]), (v_plane, v, pre[2])] {
                        let p = &mut self.planes[plane];
                        let row = (y / 2) * p.stride;
                        let samples = &mut p.data[row + ca * chroma_step..row + cb * chroma_step];
                        blend_bytes(samples, chroma_step, offset, inv, add);
                    }
                }
            }
        }
    }

    /// An opaque line `width` pixels wide from `a` to `b` (pixel centres), with round ends.
    pub fn line(&mut self, a: (f32, f32), b: (f32, f32), width: f32, color: Color) {
        // Coordinates from a broken meta: nothing sensible to draw.
        if ![a.0, a.1, b.0, b.1, width]
            .iter()
            .all(|v| v.is_finite() && v.abs() < 1.0e7)
        {
            return;
        }
        let half = (width.max(1.0)) / 2.0;
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let x0 = (a.0.min(b.0) - half).floor() as i64;
        let x1 = (a.0.max(b.0) + half).ceil() as i64 + 1;
        let y0 = (a.1.min(b.1) - half).floor() as i64;
        let y1 = (a.1.max(b.1) + half).ceil() as i64 + 1;
        // Bounds far outside the frame are a broken meta, not a shape to scan.
        if !(x0 < x1 && y0 < y1) || (x1 - x0) * (y1 - y0) > 4 * (self.width * self.height) as i64 {
            return;
        }
        let limit = half * half;
        self.fill_with((x0, y0, x1, y1), |x, y| {
            let (px, py) = (x as f32 - a.0, y as f32 - a.1);
            let t = if len2 > 0.0 {
                ((px * dx + py * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (ex, ey) = (px - t * dx, py - t * dy);
            (ex * ex + ey * ey <= limit).then_some((color, 255))
        });
    }

    /// An opaque filled disc of diameter `size` pixels centred on `c`.
    pub fn dot(&mut self, c: (f32, f32), size: f32, color: Color) {
        self.line(c, c, size, color);
    }

    /// The outline of the axis-aligned rectangle with corners `a` and `b`.
    pub fn rect_outline(&mut self, a: (f32, f32), b: (f32, f32), width: f32, color: Color) {
        let corners = [a, (b.0, a.1), b, (a.0, b.1)];
        for i in 0..4 {
            self.line(corners[i], corners[(i + 1) % 4], width, color);
        }
    }

    /// Blends `color` through an 8-bit coverage mask (`mask_width` wide, row-major) placed
    /// with its top-left corner at `(x, y)`, scaled by `alpha`.
    pub fn blend_mask(
        &mut self,
        mask: &[u8],
        mask_width: usize,
        (x, y): (i64, i64),
        color: Color,
        alpha: u8,
    ) {
        if mask_width == 0 {
            return;
        }
        let rows = mask.len() / mask_width;
        let paint = self.paint(color);
        for my in 0..rows {
            let fy = y.saturating_add(my as i64);
            if fy < 0 || fy >= self.height as i64 {
                continue;
            }
            for mx in 0..mask_width {
                let fx = x.saturating_add(mx as i64);
                let m = mask[my * mask_width + mx] as u32;
                if m == 0 || fx < 0 || fx >= self.width as i64 {
                    continue;
                }
                self.blend_at(fx as usize, fy as usize, paint, m * alpha as u32 / 255);
            }
        }
    }

    fn clip(&self, lo: i64, hi: i64, size: usize) -> (usize, usize) {
        let lo = lo.clamp(0, size as i64) as usize;
        let hi = hi.clamp(0, size as i64) as usize;
        (lo, hi.max(lo))
    }
}

/// `d = (d * keep + add) / 255` on every `step`-th byte of `bytes` from `offset`: contiguous
/// and free of per-byte indexing, so that it vectorises.
#[inline]
fn blend_bytes(bytes: &mut [u8], step: usize, offset: usize, keep: u32, add: u32) {
    let blend = |d: &mut u8| *d = ((*d as u32 * keep + add) / 255) as u8;
    match step {
        1 => bytes.iter_mut().for_each(blend),
        2 => bytes
            .chunks_exact_mut(2)
            .for_each(|pair| blend(&mut pair[offset & 1])),
        _ => bytes
            .chunks_exact_mut(step)
            .for_each(|group| blend(&mut group[offset])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgbx(width: usize, height: usize) -> Vec<u8> {
        vec![10; width * height * 4]
    }

    #[test]
    fn packed_fill_blends_only_inside_the_rectangle_and_keeps_padding_bytes() {
        let mut data = rgbx(8, 4);
        let layout = PixelLayout::packed(4, 2, 1, 0); // BGRx
        let mut canvas = Canvas::new(
            8,
            4,
            layout,
            vec![Plane {
                data: &mut data,
                stride: 32,
            }],
        )
        .unwrap();
        canvas.fill_rect(2, 1, 4, 3, Color::rgb(250, 130, 10), 255);
        let px = |x: usize, y: usize| &data[y * 32 + x * 4..y * 32 + x * 4 + 4];
        assert_eq!(px(2, 1), &[10, 130, 250, 10]);
        assert_eq!(px(3, 2), &[10, 130, 250, 10]);
        assert_eq!(px(1, 1), &[10, 10, 10, 10]);
        assert_eq!(px(4, 2), &[10, 10, 10, 10]);
    }

    #[test]
    fn half_alpha_lands_halfway() {
        let mut data = rgbx(2, 1);
        let mut canvas = Canvas::new(
            2,
            1,
            PixelLayout::packed(4, 0, 1, 2),
            vec![Plane {
                data: &mut data,
                stride: 8,
            }],
        )
        .unwrap();
        canvas.fill_rect(0, 0, 1, 1, Color::rgb(210, 10, 10), 128);
        assert_eq!(data[0], 110);
        assert_eq!(data[1], 10);
    }

    #[test]
    fn i420_writes_luma_per_pixel_and_each_chroma_sample_once() {
        let (w, h) = (6, 4);
        let mut y = vec![16u8; w * h];
        let mut u = vec![128u8; 3 * 2];
        let mut v = vec![128u8; 3 * 2];
        let mut canvas = Canvas::new(
            w,
            h,
            PixelLayout::I420,
            vec![
                Plane {
                    data: &mut y,
                    stride: w,
                },
                Plane {
                    data: &mut u,
                    stride: 3,
                },
                Plane {
                    data: &mut v,
                    stride: 3,
                },
            ],
        )
        .unwrap();
        let red = Color::rgb(255, 0, 0);
        canvas.fill_rect(0, 0, 4, 2, red, 255);
        let [ry, ru, rv] = red.yuv();
        assert_eq!(&y[..4], &[ry; 4]);
        assert_eq!(y[4], 16);
        assert_eq!(y[w * 2], 16);
        assert_eq!(&u[..3], &[ru, ru, 128]);
        assert_eq!(&v[..3], &[rv, rv, 128]);
        assert_eq!(u[3], 128);
    }

    #[test]
    fn nv12_interleaves_u_then_v() {
        let (w, h) = (4, 2);
        let mut y = vec![16u8; w * h];
        let mut uv = vec![128u8; 4];
        let mut canvas = Canvas::new(
            w,
            h,
            PixelLayout::NV12,
            vec![
                Plane {
                    data: &mut y,
                    stride: w,
                },
                Plane {
                    data: &mut uv,
                    stride: 4,
                },
            ],
        )
        .unwrap();
        let blue = Color::rgb(0, 0, 255);
        canvas.fill_rect(2, 0, 4, 2, blue, 255);
        let [_, bu, bv] = blue.yuv();
        assert_eq!(uv, vec![128, 128, bu, bv]);
    }

    #[test]
    fn lines_are_clipped_and_round_capped() {
        let mut data = vec![0u8; 10 * 10 * 3];
        let mut canvas = Canvas::new(
            10,
            10,
            PixelLayout::packed(3, 0, 1, 2),
            vec![Plane {
                data: &mut data,
                stride: 30,
            }],
        )
        .unwrap();
        canvas.line((-20.0, 5.0), (30.0, 5.0), 1.0, Color::WHITE);
        canvas.dot((2.0, 2.0), 3.0, Color::WHITE);
        let lit = |x: usize, y: usize| data[y * 30 + x * 3] == 255;
        assert!((0..10).all(|x| lit(x, 5)));
        assert!(!lit(0, 4) && !lit(9, 6));
        assert!(lit(2, 2) && lit(1, 2) && lit(2, 1) && !lit(0, 0) && !lit(4, 2));
    }

    #[test]
    fn undersized_planes_are_refused() {
        let mut data = vec![0u8; 10];
        assert!(
            Canvas::new(
                4,
                4,
                PixelLayout::packed(4, 0, 1, 2),
                vec![Plane {
                    data: &mut data,
                    stride: 16
                }]
            )
            .is_err()
        );
        let mut y = vec![0u8; 16];
        assert!(
            Canvas::new(
                4,
                4,
                PixelLayout::I420,
                vec![Plane {
                    data: &mut y,
                    stride: 4
                }]
            )
            .is_err()
        );
    }
}
