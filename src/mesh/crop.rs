// SPDX-License-Identifier: MPL-2.0

//! Model inputs cut from a frame the way MediaPipe's OpenCV `ImageToTensorCalculator` does:
//! the corners of a rotated rectangle map to the edges of the output, bilinear sampling,
//! values scaled into a range, laid out as planar RGB (NCHW). A YUV frame is sampled plane by
//! plane inside the crop and only the crop is converted to RGB.

use opencv::core::{self, Mat, Point2f, RotatedRect, Scalar, Size, Size2f};
use opencv::imgproc;
use opencv::prelude::*;

use super::roi::Roi;
use super::yuv::{Chroma, Plane, YuvFrame};
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

/// A frame as the elements receive it.
#[derive(Clone, Copy, Debug)]
pub enum Frame<'a> {
    Rgb(RgbFrame<'a>),
    Yuv(YuvFrame<'a>),
}

impl Frame<'_> {
    pub fn width(&self) -> usize {
        match self {
            Frame::Rgb(f) => f.width,
            Frame::Yuv(f) => f.luma.width,
        }
    }

    pub fn height(&self) -> usize {
        match self {
            Frame::Rgb(f) => f.height,
            Frame::Yuv(f) => f.luma.height,
        }
    }

    fn is_complete(&self) -> bool {
        match self {
            Frame::Rgb(f) => Plane {
                data: f.data,
                width: f.width,
                height: f.height,
                stride: f.stride,
                channels: f.layout.bytes_per_pixel,
            }
            .is_complete(),
            Frame::Yuv(f) => f.is_complete(),
        }
    }
}

impl<'a> From<RgbFrame<'a>> for Frame<'a> {
    fn from(frame: RgbFrame<'a>) -> Self {
        Frame::Rgb(frame)
    }
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
    /// The crop of a packed RGB frame, or of the luma plane.
    warped: Mat,
    /// The crops of the chroma plane(s).
    warped_u: Mat,
    warped_v: Mat,
}

impl Cropper {
    /// Fills `out` with a `side` x `side` planar RGB crop of `roi`, values mapped from
    /// 0..255 to `range`.
    pub fn crop(
        &mut self,
        frame: &Frame<'_>,
        roi: &Roi,
        side: usize,
        border: Border,
        range: (f32, f32),
        out: &mut Vec<f32>,
    ) -> opencv::Result<()> {
        if !frame.is_complete()
            || ![roi.cx, roi.cy, roi.size, roi.rotation]
                .iter()
                .all(|v| v.is_finite())
            || roi.size < 1.0
        {
            return Err(opencv::Error::new(
                core::StsBadArg,
                format!(
                    "cannot crop {roi:?} from a {}x{} frame",
                    frame.width(),
                    frame.height()
                ),
            ));
        }
        let transform = crop_transform(roi, side)?;
        let plane = side * side;
        out.clear();
        out.resize(3 * plane, 0.0);
        let scale = (range.1 - range.0) / 255.0;
        match frame {
            Frame::Rgb(f) => {
                let bpp = f.layout.bytes_per_pixel;
                // SAFETY: the frame is complete (checked above) and `src` is dropped before
                // this function returns.
                let src = unsafe {
                    plane_mat(&Plane {
                        data: f.data,
                        width: f.width,
                        height: f.height,
                        stride: f.stride,
                        channels: bpp,
                    })?
                };
                warp(&src, &mut self.warped, &transform, side, border)?;
                let pixels = self.warped.data_bytes()?;
                for (channel, offset) in
                    [f.layout.r, f.layout.g, f.layout.b].into_iter().enumerate()
                {
                    let dst = &mut out[channel * plane..(channel + 1) * plane];
                    for (d, px) in dst.iter_mut().zip(pixels.chunks_exact(bpp)) {
                        *d = px[offset] as f32 * scale + range.0;
                    }
                }
            }
            Frame::Yuv(f) => {
                self.warp_yuv(f, &transform, side)?;
                // The planes were sampled with their edges extended: a black border fades in
                // as the RGB crop's does, by how much of each sample lies in the frame.
                let coverage = match border {
                    Border::Zero => Some(Projection::inverse_of(&transform)?),
                    Border::Replicate => None,
                };
                let (width, height) = (f.luma.width as f64, f.luma.height as f64);
                let inside = |i: usize| -> f32 {
                    let Some(to_frame) = &coverage else {
                        return 1.0;
                    };
                    to_frame
                        .apply((i % side) as f64, (i / side) as f64)
                        .map_or(0.0, |(x, y)| {
                            (covered(x, width) * covered(y, height)) as f32
                        })
                };
                let to_rgb = f.matrix.converter();
                let luma = self.warped.data_bytes()?;
                let (r, rest) = out.split_at_mut(plane);
                let (g, b) = rest.split_at_mut(plane);
                let mut put = |i: usize, u: u8, v: u8| {
                    let [red, green, blue] = to_rgb.rgb(luma[i], u, v);
                    let k = inside(i) * scale;
                    r[i] = red * k + range.0;
                    g[i] = green * k + range.0;
                    b[i] = blue * k + range.0;
                };
                match f.chroma {
                    Chroma::Planar { .. } => {
                        let (u, v) = (self.warped_u.data_bytes()?, self.warped_v.data_bytes()?);
                        for i in 0..plane {
                            put(i, u[i], v[i]);
                        }
                    }
                    Chroma::SemiPlanar { v_first, .. } => {
                        let uv = self.warped_u.data_bytes()?;
                        for (i, pair) in uv.chunks_exact(2).enumerate().take(plane) {
                            let (u, v) = if v_first {
                                (pair[1], pair[0])
                            } else {
                                (pair[0], pair[1])
                            };
                            put(i, u, v);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Crops the luma plane into `warped` and the chroma into `warped_u` (and `warped_v`),
    /// each `side` x `side` with the edges extended: the chroma through the crop's transform
    /// after the one from chroma sample positions to luma pixels.
    fn warp_yuv(&mut self, f: &YuvFrame<'_>, transform: &Mat, side: usize) -> opencv::Result<()> {
        let border = Border::Replicate;
        // SAFETY (the plane views here): `crop` checked the frame complete, and the views are
        // dropped before it returns.
        let luma = unsafe { plane_mat(&f.luma)? };
        warp(&luma, &mut self.warped, transform, side, border)?;
        let (sx, sy) = f.subsampling;
        let (ox, oy) = f.chroma_offset;
        let to_luma =
            Mat::from_slice_2d(&[[sx as f64, 0.0, ox], [0.0, sy as f64, oy], [0.0, 0.0, 1.0]])?;
        let mut chroma_transform = Mat::default();
        core::gemm(
            transform,
            &to_luma,
            1.0,
            &core::no_array(),
            0.0,
            &mut chroma_transform,
            0,
        )?;
        match &f.chroma {
            Chroma::Planar { u, v } => {
                let (u, v) = unsafe { (plane_mat(u)?, plane_mat(v)?) };
                warp(&u, &mut self.warped_u, &chroma_transform, side, border)?;
                warp(&v, &mut self.warped_v, &chroma_transform, side, border)?;
            }
            Chroma::SemiPlanar { uv, .. } => {
                let uv = unsafe { plane_mat(uv)? };
                warp(&uv, &mut self.warped_u, &chroma_transform, side, border)?;
            }
        }
        Ok(())
    }
}

/// A perspective transform as plain numbers.
struct Projection([[f64; 3]; 3]);

impl Projection {
    /// The inverse of `transform` (3x3): from the crop's pixels to the frame's.
    fn inverse_of(transform: &Mat) -> opencv::Result<Self> {
        let mut inverse = Mat::default();
        core::invert(transform, &mut inverse, core::DECOMP_LU)?;
        let mut m = [[0.0; 3]; 3];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = *inverse.at_2d::<f64>(r as i32, c as i32)?;
            }
        }
        Ok(Self(m))
    }

    fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let [a, b, c] = self.0;
        let w = c[0] * x + c[1] * y + c[2];
        (w.abs() > 1e-12).then(|| {
            (
                (a[0] * x + a[1] * y + a[2]) / w,
                (b[0] * x + b[1] * y + b[2]) / w,
            )
        })
    }
}

/// How much of a bilinear sample at `p` (pixel centres at integers) lies among `n` pixels:
/// all from 0 to n - 1, fading to none one pixel out.
fn covered(p: f64, n: f64) -> f64 {
    (p + 1.0).min(n - p).clamp(0.0, 1.0)
}

/// The perspective transform taking the corners of `roi` to the edges of a `side` square.
fn crop_transform(roi: &Roi, side: usize) -> opencv::Result<Mat> {
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
    imgproc::get_perspective_transform_slice(corners, edges, core::DECOMP_LU)
}

/// A Mat over `plane`'s memory.
///
/// # Safety
/// `plane` must be complete ([`Plane::is_complete`]), and the Mat must not outlive
/// `plane.data` nor be written to.
unsafe fn plane_mat(plane: &Plane<'_>) -> opencv::Result<Mat> {
    // SAFETY: as the caller promises.
    unsafe {
        Mat::new_rows_cols_with_data_unsafe(
            plane.height as i32,
            plane.width as i32,
            core::CV_MAKETYPE(core::CV_8U, plane.channels as i32),
            plane.data.as_ptr() as *mut std::ffi::c_void,
            plane.stride,
        )
    }
}

/// `src` through `transform` into a `side` square, bilinear; black (0) outside for
/// [`Border::Zero`].
fn warp(
    src: &Mat,
    dst: &mut Mat,
    transform: &Mat,
    side: usize,
    border: Border,
) -> opencv::Result<()> {
    let border_mode = match border {
        Border::Zero => core::BORDER_CONSTANT,
        Border::Replicate => core::BORDER_REPLICATE,
    };
    imgproc::warp_perspective(
        src,
        dst,
        transform,
        Size::new(side as i32, side as i32),
        imgproc::INTER_LINEAR,
        border_mode,
        Scalar::all(0.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::Chroma;

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
            .crop(&f.into(), &roi, 64, Border::Zero, (0.0, 1.0), &mut out)
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
            .crop(&bgr.into(), &roi, 64, Border::Zero, (0.0, 1.0), &mut out)
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
            .crop(&f.into(), &roi, 32, Border::Zero, (-1.0, 1.0), &mut out)
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
            .crop(
                &f.into(),
                &roi,
                64,
                Border::Replicate,
                (0.0, 255.0),
                &mut out,
            )
            .unwrap();
        // Crop point (u, v) samples frame point roi.to_frame(u, v).
        let (x, y) = (40usize, 12usize);
        let p = roi.to_frame((x as f64 + 0.5) / 64.0, (y as f64 + 0.5) / 64.0);
        let red = out[y * 64 + x];
        assert!((red as f64 - (p[0] - 0.5)).abs() < 1.01, "{red} vs {p:?}");
    }

    /// A smooth colour picture, and the same as limited-range BT.601 4:2:0 planes (chroma
    /// the mean of each 2x2 block, so centred) and interleaved as NV12.
    fn colour_picture(width: usize, height: usize) -> ColourPicture {
        let rgb_at = |x: usize, y: usize| -> [f64; 3] {
            let (fx, fy) = (x as f64 / width as f64, y as f64 / height as f64);
            [
                40.0 + 180.0 * fx,
                60.0 + 150.0 * fy,
                120.0 + 80.0 * (6.0 * fx).sin() * (4.0 * fy).cos(),
            ]
        };
        let to_yuv = |[r, g, b]: [f64; 3]| {
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            let (cb, cr) = ((b - y) / 1.772, (r - y) / 1.402);
            (
                16.0 + y * 219.0 / 255.0,
                128.0 + cb * 224.0 / 255.0,
                128.0 + cr * 224.0 / 255.0,
            )
        };
        let mut rgb = Vec::new();
        let mut luma = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let px = rgb_at(x, y);
                rgb.extend(px.map(|c| c.round() as u8));
                luma.push(to_yuv(px).0.round() as u8);
            }
        }
        let (mut u, mut v, mut uv) = (Vec::new(), Vec::new(), Vec::new());
        for y in (0..height).step_by(2) {
            for x in (0..width).step_by(2) {
                let (mut cb, mut cr) = (0.0, 0.0);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (_, b, r) = to_yuv(rgb_at(x + dx, y + dy));
                    cb += b / 4.0;
                    cr += r / 4.0;
                }
                let (cb, cr) = (cb.round() as u8, cr.round() as u8);
                u.push(cb);
                v.push(cr);
                uv.extend([cb, cr]);
            }
        }
        ColourPicture {
            rgb,
            luma,
            u,
            v,
            uv,
        }
    }

    struct ColourPicture {
        rgb: Vec<u8>,
        luma: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
        uv: Vec<u8>,
    }

    #[test]
    fn a_yuv_crop_is_the_rgb_crop_of_the_same_picture() {
        let (w, h) = (96, 64);
        let ColourPicture {
            rgb,
            luma,
            u,
            v,
            uv,
        } = colour_picture(w, h);
        let plane = |data, width, height, channels| Plane {
            data,
            width,
            height,
            stride: width * channels,
            channels,
        };
        let rgb = Frame::Rgb(RgbFrame {
            data: &rgb,
            width: w,
            height: h,
            stride: w * 3,
            layout: RgbLayout::RGB,
        });
        let i420 = YuvFrame {
            luma: plane(&luma, w, h, 1),
            chroma: Chroma::Planar {
                u: plane(&u, w / 2, h / 2, 1),
                v: plane(&v, w / 2, h / 2, 1),
            },
            subsampling: (2, 2),
            chroma_offset: (0.5, 0.5),
            matrix: crate::mesh::YuvMatrix::BT601,
        };
        let nv12 = YuvFrame {
            chroma: Chroma::SemiPlanar {
                uv: plane(&uv, w / 2, h / 2, 2),
                v_first: false,
            },
            ..i420
        };
        let mut cropper = Cropper::default();
        for (roi, border) in [
            (
                Roi {
                    cx: 48.0,
                    cy: 32.0,
                    size: 96.0,
                    rotation: 0.0,
                },
                Border::Zero,
            ),
            (
                Roi {
                    cx: 40.0,
                    cy: 30.0,
                    size: 40.0,
                    rotation: 0.4,
                },
                Border::Replicate,
            ),
        ] {
            let crop = |cropper: &mut Cropper, frame: &Frame| {
                let mut out = Vec::new();
                cropper
                    .crop(frame, &roi, 48, border, (0.0, 255.0), &mut out)
                    .expect("crops");
                out
            };
            let want = crop(&mut cropper, &rgb);
            let got = crop(&mut cropper, &Frame::Yuv(i420));
            let mean_error = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .sum::<f32>()
                / want.len() as f32;
            let worst = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                mean_error < 1.5 && worst < 8.0,
                "{roi:?}: mean {mean_error}, worst {worst} of 255"
            );
            assert_eq!(crop(&mut cropper, &Frame::Yuv(nv12)), got, "NV12 as I420");
        }
    }

    #[test]
    fn chroma_sits_where_the_siting_says() {
        // An identity crop of a 32x32 frame.
        // Dark grey but for one bluer chroma sample (column 5), well inside the RGB range.
        let luma = vec![60u8; 32 * 32];
        let mut u = vec![128u8; 16 * 16];
        for row in 0..16 {
            u[row * 16 + 5] = 180;
        }
        let v = vec![128u8; 16 * 16];
        let plane = |data, width, channels| Plane {
            data,
            width,
            height: width,
            stride: width * channels,
            channels,
        };
        let roi = Roi {
            cx: 16.0,
            cy: 16.0,
            size: 32.0,
            rotation: 0.0,
        };
        let blue_along_a_row = |chroma_offset| {
            let frame = Frame::Yuv(YuvFrame {
                luma: plane(&luma, 32, 1),
                chroma: Chroma::Planar {
                    u: plane(&u, 16, 1),
                    v: plane(&v, 16, 1),
                },
                subsampling: (2, 2),
                chroma_offset,
                matrix: crate::mesh::YuvMatrix::BT601,
            });
            let mut out = Vec::new();
            Cropper::default()
                .crop(&frame, &roi, 32, Border::Replicate, (0.0, 255.0), &mut out)
                .expect("crops");
            out[2 * 1024 + 16 * 32..2 * 1024 + 17 * 32].to_vec()
        };
        // Co-sited (MPEG-2): the sample is luma column 10, its neighbours get half of it.
        let cosited = blue_along_a_row((0.0, 0.5));
        assert!(cosited[10] > cosited[9] + 20.0 && cosited[10] > cosited[11] + 20.0);
        assert!((cosited[9] - cosited[11]).abs() < 1.0, "{cosited:?}");
        // Centred (JPEG): half way between columns 10 and 11.
        let centred = blue_along_a_row((0.5, 0.5));
        assert!((centred[10] - centred[11]).abs() < 1.0, "{centred:?}");
        assert!(centred[10] > centred[9] + 20.0 && centred[11] > centred[12] + 20.0);
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
                .crop(&f.into(), &roi, 8, Border::Zero, (0.0, 1.0), &mut out)
                .is_err()
        );
        let f = RgbFrame { data: &data, ..f };
        let tiny = Roi { size: 0.0, ..roi };
        assert!(
            Cropper::default()
                .crop(&f.into(), &tiny, 8, Border::Zero, (0.0, 1.0), &mut out)
                .is_err()
        );
        let nan = Roi {
            size: f64::NAN,
            ..roi
        };
        assert!(
            Cropper::default()
                .crop(&f.into(), &nan, 8, Border::Zero, (0.0, 1.0), &mut out)
                .is_err()
        );
    }
}
