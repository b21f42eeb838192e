// SPDX-License-Identifier: MPL-2.0

//! 8-bit grayscale frames, filled from a luma plane or from packed RGB.

/// Byte positions of the colour channels inside one packed RGB pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RgbLayout {
    pub bytes_per_pixel: usize,
    pub r: usize,
    pub g: usize,
    pub b: usize,
}

impl RgbLayout {
    pub const RGB: Self = Self::new(3, 0, 1, 2);
    pub const BGR: Self = Self::new(3, 2, 1, 0);
    pub const RGBX: Self = Self::new(4, 0, 1, 2);
    pub const BGRX: Self = Self::new(4, 2, 1, 0);
    pub const XRGB: Self = Self::new(4, 1, 2, 3);
    pub const XBGR: Self = Self::new(4, 3, 2, 1);

    const fn new(bytes_per_pixel: usize, r: usize, g: usize, b: usize) -> Self {
        Self {
            bytes_per_pixel,
            r,
            g,
            b,
        }
    }
}

/// The code values an 8-bit luma plane uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LumaRange {
    /// 0..255: OpenCV's gray, and what every RGB format converts to.
    #[default]
    Full,
    /// 16..235, the "limited" (TV) range of most YUV video.
    Limited,
}

/// `round((v - 16) * 255 / 219)` clamped to 0..255, with 255 / 219 in 16-bit fixed point
/// (exact for every code value: see the test), which the compiler vectorises where a table
/// lookup per pixel took most of a millisecond per 1080p frame.
#[inline]
fn limited_to_full(v: u8) -> u8 {
    const SCALE: u32 = (255 << 16) / 219;
    ((u32::from(v.max(16) - 16) * SCALE + (1 << 15)) >> 16).min(255) as u8
}

/// A rectangle in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelRect {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl PixelRect {
    pub fn full(width: usize, height: usize) -> Self {
        Self {
            x: 0,
            y: 0,
            width,
            height,
        }
    }

    /// Maps a rectangle given in frame fractions (0..1) onto pixels, clipped to the frame.
    /// Returns `None` when nothing of it lies inside the frame.
    pub fn from_normalized(
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        frame_width: usize,
        frame_height: usize,
    ) -> Option<Self> {
        if ![x, y, w, h].iter().all(|v| v.is_finite()) {
            return None;
        }
        let fw = frame_width as f64;
        let fh = frame_height as f64;
        // Rounding, not floor/ceil, so that 0.3 * 160 = 48.000000000000007 stays 48.
        let x0 = (x * fw).round().clamp(0.0, fw);
        let y0 = (y * fh).round().clamp(0.0, fh);
        let x1 = ((x + w) * fw).round().clamp(0.0, fw);
        let y1 = ((y + h) * fh).round().clamp(0.0, fh);
        if x1 - x0 < 1.0 || y1 - y0 < 1.0 {
            return None;
        }
        Some(Self {
            x: x0 as usize,
            y: y0 as usize,
            width: (x1 - x0) as usize,
            height: (y1 - y0) as usize,
        })
    }
}

/// A tightly packed 8-bit grayscale image whose storage is reused from frame to frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrayImage {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

/// The source plane is smaller than its declared geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortPlane {
    pub needed: usize,
    pub got: usize,
}

impl std::fmt::Display for ShortPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plane holds {} bytes, {} needed", self.got, self.needed)
    }
}

impl std::error::Error for ShortPlane {}

fn check_plane(
    plane: &[u8],
    stride: usize,
    row_bytes: usize,
    height: usize,
) -> Result<(), ShortPlane> {
    let needed = if height == 0 {
        0
    } else {
        stride * (height - 1) + row_bytes
    };
    if stride < row_bytes || plane.len() < needed {
        return Err(ShortPlane {
            needed,
            got: plane.len(),
        });
    }
    Ok(())
}

impl GrayImage {
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn from_vec(width: usize, height: usize, data: Vec<u8>) -> Option<Self> {
        (data.len() == width * height).then_some(Self {
            width,
            height,
            data,
        })
    }

    fn reshape(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.data.resize(width * height, 0);
    }

    /// Copies an 8-bit luma plane (GRAY8 or the Y plane of a YUV frame), expanding
    /// limited-range values to the full range that OpenCV's gray of the same picture has.
    pub fn fill_from_luma(
        &mut self,
        plane: &[u8],
        stride: usize,
        width: usize,
        height: usize,
        range: LumaRange,
    ) -> Result<(), ShortPlane> {
        check_plane(plane, stride, width, height)?;
        self.reshape(width, height);
        if width == 0 {
            return Ok(());
        }
        let rows = self.data.chunks_exact_mut(width).zip(plane.chunks(stride));
        match range {
            LumaRange::Full => rows.for_each(|(dst, src)| dst.copy_from_slice(&src[..width])),
            LumaRange::Limited => rows.for_each(|(dst, src)| {
                for (d, &v) in dst.iter_mut().zip(&src[..width]) {
                    *d = limited_to_full(v);
                }
            }),
        }
        Ok(())
    }

    /// Converts packed RGB to gray with BT.601 weights in 14-bit fixed point: OpenCV's own
    /// `cvtColor` where it has the layout (RGB, BGR, RGBx, BGRx), the same arithmetic in plain
    /// Rust for the others. A pixel with R = G = B = v becomes exactly v.
    pub fn fill_from_rgb(
        &mut self,
        plane: &[u8],
        stride: usize,
        width: usize,
        height: usize,
        layout: RgbLayout,
    ) -> Result<(), ShortPlane> {
        const R: u32 = 4899;
        const G: u32 = 9617;
        const B: u32 = 1868;
        check_plane(plane, stride, width * layout.bytes_per_pixel, height)?;
        self.reshape(width, height);
        if width == 0 || height == 0 {
            return Ok(());
        }
        // Padding-first layouts leave the last row to the plain loop (see fill_with_opencv).
        let opencv_rows = match layout {
            RgbLayout::XRGB | RgbLayout::XBGR => height - 1,
            _ => height,
        };
        let done = if opencv_rows > 0
            && self
                .fill_with_opencv(plane, stride, opencv_rows, layout)
                .is_ok()
        {
            opencv_rows
        } else {
            0
        };
        let rows = self.data.chunks_exact_mut(width).zip(plane.chunks(stride));
        for (dst, src) in rows.skip(done) {
            for (d, px) in dst.iter_mut().zip(src.chunks_exact(layout.bytes_per_pixel)) {
                let y = R * px[layout.r] as u32 + G * px[layout.g] as u32 + B * px[layout.b] as u32;
                *d = ((y + (1 << 13)) >> 14) as u8;
            }
        }
        Ok(())
    }
}

impl GrayImage {
    /// OpenCV's SIMD `cvtColor` on `rows` rows. For xRGB / xBGR the view starts one byte in,
    /// so that its pixels read as RGBA / BGRA: each row's last pixel then reads the first byte
    /// of the next row as its unused alpha, which is why the caller converts the last row of
    /// the frame itself.
    fn fill_with_opencv(
        &mut self,
        plane: &[u8],
        stride: usize,
        rows: usize,
        layout: RgbLayout,
    ) -> opencv::Result<()> {
        use opencv::core::{CV_8U, CV_8UC1, CV_MAKETYPE, Mat, StsBadArg};
        use opencv::imgproc;
        use opencv::prelude::*;
        let (code, offset) = match layout {
            RgbLayout::RGB => (imgproc::COLOR_RGB2GRAY, 0),
            RgbLayout::BGR => (imgproc::COLOR_BGR2GRAY, 0),
            RgbLayout::RGBX => (imgproc::COLOR_RGBA2GRAY, 0),
            RgbLayout::BGRX => (imgproc::COLOR_BGRA2GRAY, 0),
            RgbLayout::XRGB => (imgproc::COLOR_RGBA2GRAY, 1),
            RgbLayout::XBGR => (imgproc::COLOR_BGRA2GRAY, 1),
            _ => return Err(opencv::Error::new(StsBadArg, "no OpenCV conversion")),
        };
        let row_bytes = self.width * layout.bytes_per_pixel;
        let needed = stride * rows.saturating_sub(1) + row_bytes + offset;
        if rows == 0 || rows > self.height || plane.len() < needed {
            return Err(opencv::Error::new(StsBadArg, "plane too short"));
        }
        let cols = self.width as i32;
        // SAFETY: the view covers `rows` rows of `row_bytes` from `offset`, all inside
        // `plane` (checked above), and `self.data` holds `width * height` bytes. Both Mats are
        // dropped before this function returns; OpenCV only writes `dst`.
        let src = unsafe {
            Mat::new_rows_cols_with_data_unsafe(
                rows as i32,
                cols,
                CV_MAKETYPE(CV_8U, layout.bytes_per_pixel as i32),
                plane[offset..].as_ptr() as *mut std::ffi::c_void,
                stride,
            )?
        };
        let mut dst = unsafe {
            Mat::new_rows_cols_with_data_unsafe(
                rows as i32,
                cols,
                CV_8UC1,
                self.data.as_mut_ptr() as *mut std::ffi::c_void,
                self.width,
            )?
        };
        imgproc::cvt_color_def(&src, &mut dst, code)?;
        // cvtColor reallocates instead of failing when sizes disagree; they cannot here.
        debug_assert_eq!(dst.data(), self.data.as_ptr());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_range_expands_exactly_as_rounded_division() {
        for v in 0..=255u8 {
            let twice = (i32::from(v) - 16) * 2 * 255 + 219;
            let expected = (twice.max(0) / (2 * 219)).min(255) as u8;
            assert_eq!(limited_to_full(v), expected, "{v}");
        }
        assert_eq!((limited_to_full(16), limited_to_full(235)), (0, 255));
    }

    #[test]
    fn luma_copy_drops_stride_padding() {
        let plane = [1, 2, 99, 3, 4, 99];
        let mut img = GrayImage::default();
        img.fill_from_luma(&plane, 3, 2, 2, LumaRange::Full)
            .unwrap();
        assert_eq!(img.data(), &[1, 2, 3, 4]);
    }

    #[test]
    fn limited_range_luma_is_expanded_to_full_range() {
        let plane: Vec<u8> = (0..=255).collect();
        let mut img = GrayImage::default();
        img.fill_from_luma(&plane, 256, 256, 1, LumaRange::Limited)
            .unwrap();
        let d = img.data();
        assert_eq!(
            (d[0], d[16], d[17], d[126], d[235], d[255]),
            (0, 0, 1, 128, 255, 255)
        );
        for (v, &full) in d.iter().enumerate().take(236).skip(16) {
            let exact = (v as f64 - 16.0) * 255.0 / 219.0;
            assert!((full as f64 - exact).abs() <= 0.5, "{v}: {full}");
        }
    }

    #[test]
    fn short_plane_is_an_error() {
        let mut img = GrayImage::default();
        assert!(
            img.fill_from_luma(&[0; 5], 3, 2, 2, LumaRange::Full)
                .is_ok()
        );
        assert!(
            img.fill_from_luma(&[0; 4], 3, 2, 2, LumaRange::Limited)
                .is_err()
        );
        assert!(img.fill_from_rgb(&[0; 5], 6, 2, 1, RgbLayout::RGB).is_err());
    }

    #[test]
    fn gray_rgb_keeps_its_value_in_every_layout() {
        for layout in [
            RgbLayout::RGB,
            RgbLayout::BGR,
            RgbLayout::RGBX,
            RgbLayout::BGRX,
            RgbLayout::XRGB,
            RgbLayout::XBGR,
        ] {
            let values: Vec<u8> = (0..=255).collect();
            let mut plane = Vec::new();
            for &v in &values {
                plane.extend(std::iter::repeat_n(v, layout.bytes_per_pixel));
            }
            let mut img = GrayImage::default();
            img.fill_from_rgb(&plane, plane.len(), 256, 1, layout)
                .unwrap();
            assert_eq!(img.data(), values.as_slice(), "{layout:?}");
        }
    }

    #[test]
    fn opencv_and_plain_conversion_agree_on_every_pixel() {
        let (w, h) = (37, 5);
        for layout in [RgbLayout::RGB, RgbLayout::BGRX, RgbLayout::XRGB] {
            let bpp = layout.bytes_per_pixel;
            let stride = w * bpp + 3;
            // Exactly as long as the geometry needs: no padding after the last row.
            let len = stride * (h - 1) + w * bpp;
            let plane: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
            let mut img = GrayImage::default();
            img.fill_from_rgb(&plane, stride, w, h, layout).unwrap();
            for y in 0..h {
                for x in 0..w {
                    let px = &plane[y * stride + x * bpp..];
                    let v = 4899 * px[layout.r] as u32
                        + 9617 * px[layout.g] as u32
                        + 1868 * px[layout.b] as u32;
                    assert_eq!(
                        img.data()[y * w + x],
                        ((v + 8192) >> 14) as u8,
                        "{layout:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn channel_order_is_respected() {
        let mut img = GrayImage::default();
        img.fill_from_rgb(&[255, 0, 0], 3, 1, 1, RgbLayout::RGB)
            .unwrap();
        assert_eq!(img.data(), &[76]);
        img.fill_from_rgb(&[255, 0, 0], 3, 1, 1, RgbLayout::BGR)
            .unwrap();
        assert_eq!(img.data(), &[29]);
        img.fill_from_rgb(&[0, 0, 255, 0], 4, 1, 1, RgbLayout::XRGB)
            .unwrap();
        assert_eq!(img.data(), &[150]);
    }

    #[test]
    fn normalized_rect_is_clipped_to_the_frame() {
        let r = PixelRect::from_normalized(0.25, 0.5, 0.5, 0.25, 100, 40).unwrap();
        assert_eq!(
            r,
            PixelRect {
                x: 25,
                y: 20,
                width: 50,
                height: 10
            }
        );
        let r = PixelRect::from_normalized(-0.5, 0.9, 1.0, 1.0, 10, 10).unwrap();
        assert_eq!(
            r,
            PixelRect {
                x: 0,
                y: 9,
                width: 5,
                height: 1
            }
        );
        assert!(PixelRect::from_normalized(1.5, 0.0, 0.2, 0.2, 10, 10).is_none());
        let r = PixelRect::from_normalized(0.3, 0.2, 0.5, 0.5, 160, 120).unwrap();
        assert_eq!(
            r,
            PixelRect {
                x: 48,
                y: 24,
                width: 80,
                height: 60
            }
        );
        assert!(PixelRect::from_normalized(0.5, 0.5, 0.001, 0.5, 100, 100).is_none());
        assert!(PixelRect::from_normalized(f64::NAN, 0.0, 0.2, 0.2, 10, 10).is_none());
    }
}
