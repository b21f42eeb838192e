// SPDX-License-Identifier: MPL-2.0

//! Model inputs cut from a frame the way MediaPipe's OpenCV `ImageToTensorCalculator` does:
//! the corners of a rotated rectangle map to the edges of the output, bilinear sampling,
//! values scaled into a range, laid out as planar RGB (NCHW).

use opencv::core::{self, Mat, Point2f, RotatedRect, Scalar, Size, Size2f};
use opencv::imgproc;
use opencv::prelude::*;

use super::roi::Roi;
use crate::flow::RgbLayout;

/// A packed RGB frame in memory.
#[derive(Clone, Copy, Debug)]
pub struct RgbFrame<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    pub layout: RgbLayout,
}

/// What the crop shows outside the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Border {
    /// Black, as the detector's letterbox.
    Zero,
    /// The nearest edge pixel, as the landmark crop.
    Replicate,
}

#[derive(Default)]
pub struct Cropper {
    warped: Mat,
}

impl Cropper {
    /// Fills `out` with a `side` x `side` planar RGB crop of `roi`, values mapped from
    /// 0..255 to `range`.
    pub fn crop(
        &mut self,
        frame: &RgbFrame<'_>,
        roi: &Roi,
        side: usize,
        border: Border,
        range: (f32, f32),
        out: &mut Vec<f32>,
    ) -> opencv::Result<()> {
        let bpp = frame.layout.bytes_per_pixel;
        let needed = frame.stride * frame.height.saturating_sub(1) + frame.width * bpp;
        if frame.width == 0
            || frame.height == 0
            || frame.stride < frame.width * bpp
            || frame.data.len() < needed
            || ![roi.cx, roi.cy, roi.size, roi.rotation]
                .iter()
                .all(|v| v.is_finite())
            || roi.size < 1.0
        {
            return Err(opencv::Error::new(
                core::StsBadArg,
                format!(
                    "cannot crop {roi:?} from a {}x{} frame",
                    frame.width, frame.height
                ),
            ));
        }
        // SAFETY: the Mat only reads `frame.data` (checked above to hold every row) and is
        // dropped before this function returns.
        let src = unsafe {
            Mat::new_rows_cols_with_data_unsafe(
                frame.height as i32,
                frame.width as i32,
                core::CV_MAKETYPE(core::CV_8U, bpp as i32),
                frame.data.as_ptr() as *mut std::ffi::c_void,
                frame.stride,
            )?
        };
        let rect = RotatedRect::new(
            Point2f::new(roi.cx as f32, roi.cy as f32),
            Size2f::new(roi.size as f32, roi.size as f32),
            roi.rotation.to_degrees() as f32,
        )?;
        let mut corners = [Point2f::default(); 4];
        rect.points(&mut corners)?;
        let s = side as f32;
        let edges = [
            Point2f::new(0.0, s),
            Point2f::new(0.0, 0.0),
            Point2f::new(s, 0.0),
            Point2f::new(s, s),
        ];
        let transform = imgproc::get_perspective_transform_slice(corners, edges, core::DECOMP_LU)?;
        let border_mode = match border {
            Border::Zero => core::BORDER_CONSTANT,
            Border::Replicate => core::BORDER_REPLICATE,
        };
        imgproc::warp_perspective(
            &src,
            &mut self.warped,
            &transform,
            Size::new(side as i32, side as i32),
            imgproc::INTER_LINEAR,
            border_mode,
            Scalar::all(0.0),
        )?;
        let pixels = self.warped.data_bytes()?;
        let plane = side * side;
        out.clear();
        out.resize(3 * plane, 0.0);
        let scale = (range.1 - range.0) / 255.0;
        for (channel, offset) in [frame.layout.r, frame.layout.g, frame.layout.b]
            .into_iter()
            .enumerate()
        {
            let dst = &mut out[channel * plane..(channel + 1) * plane];
            for (d, px) in dst.iter_mut().zip(pixels.chunks_exact(bpp)) {
                *d = px[offset] as f32 * scale + range.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: usize, height: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend([x as u8, y as u8, 200]);
            }
        }
        data
    }

    #[test]
    fn axis_aligned_crop_scales_and_orders_channels() {
        let data = frame(64, 64);
        let f = RgbFrame {
            data: &data,
            width: 64,
            height: 64,
            stride: 64 * 3,
            layout: RgbLayout::RGB,
        };
        let roi = Roi {
            cx: 32.0,
            cy: 32.0,
            size: 64.0,
            rotation: 0.0,
        };
        let mut out = Vec::new();
        Cropper::default()
            .crop(&f, &roi, 64, Border::Zero, (0.0, 1.0), &mut out)
            .unwrap();
        assert_eq!(out.len(), 3 * 64 * 64);
        // Same size: pixel (x, y) maps to itself.
        let at = |c: usize, x: usize, y: usize| out[c * 4096 + y * 64 + x];
        assert!((at(0, 10, 20) - 10.0 / 255.0).abs() < 1e-6);
        assert!((at(1, 10, 20) - 20.0 / 255.0).abs() < 1e-6);
        assert!((at(2, 10, 20) - 200.0 / 255.0).abs() < 1e-6);

        let bgr = RgbFrame {
            layout: RgbLayout::BGR,
            ..f
        };
        Cropper::default()
            .crop(&bgr, &roi, 64, Border::Zero, (0.0, 1.0), &mut out)
            .unwrap();
        assert!(
            (out[10 + 20 * 64] - 200.0 / 255.0).abs() < 1e-6,
            "red comes from byte 2"
        );
    }

    #[test]
    fn letterbox_padding_is_the_range_minimum() {
        let data = frame(64, 32);
        let f = RgbFrame {
            data: &data,
            width: 64,
            height: 32,
            stride: 64 * 3,
            layout: RgbLayout::RGB,
        };
        let roi = Roi {
            cx: 32.0,
            cy: 16.0,
            size: 64.0,
            rotation: 0.0,
        };
        let mut out = Vec::new();
        Cropper::default()
            .crop(&f, &roi, 32, Border::Zero, (-1.0, 1.0), &mut out)
            .unwrap();
        assert_eq!(out[2 * 1024], -1.0, "top rows are padding");
        assert!(
            out[2 * 1024 + 16 * 32 + 16] > 0.5,
            "the middle is the frame's blue 200"
        );
    }

    #[test]
    fn rotated_crop_turns_the_picture() {
        let data = frame(64, 64);
        let f = RgbFrame {
            data: &data,
            width: 64,
            height: 64,
            stride: 64 * 3,
            layout: RgbLayout::RGB,
        };
        let roi = Roi {
            cx: 32.0,
            cy: 32.0,
            size: 64.0,
            rotation: std::f64::consts::FRAC_PI_2,
        };
        let mut out = Vec::new();
        Cropper::default()
            .crop(&f, &roi, 64, Border::Replicate, (0.0, 255.0), &mut out)
            .unwrap();
        // Crop point (u, v) samples frame point roi.to_frame(u, v).
        let (x, y) = (40usize, 12usize);
        let p = roi.to_frame((x as f64 + 0.5) / 64.0, (y as f64 + 0.5) / 64.0);
        let red = out[y * 64 + x];
        assert!((red as f64 - (p[0] - 0.5)).abs() < 1.01, "{red} vs {p:?}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let data = frame(8, 8);
        let f = RgbFrame {
            data: &data[..10],
            width: 8,
            height: 8,
            stride: 24,
            layout: RgbLayout::RGB,
        };
        let roi = Roi {
            cx: 4.0,
            cy: 4.0,
            size: 8.0,
            rotation: 0.0,
        };
        let mut out = Vec::new();
        assert!(
            Cropper::default()
                .crop(&f, &roi, 8, Border::Zero, (0.0, 1.0), &mut out)
                .is_err()
        );
        let f = RgbFrame { data: &data, ..f };
        let tiny = Roi { size: 0.0, ..roi };
        assert!(
            Cropper::default()
                .crop(&f, &tiny, 8, Border::Zero, (0.0, 1.0), &mut out)
                .is_err()
        );
        let nan = Roi {
            size: f64::NAN,
            ..roi
        };
        assert!(
            Cropper::default()
                .crop(&f, &nan, 8, Border::Zero, (0.0, 1.0), &mut out)
                .is_err()
        );
    }
}
