// SPDX-License-Identifier: MPL-2.0

//! The frame formats `alsmesh` reads, and a mapped frame seen as the face models' input:
//! packed RGB as it is, YUV as its planes with the caps' colorimetry, never converted whole.

use gst_video::prelude::*;
use gst_video::{VideoChromaSite, VideoColorMatrix, VideoColorRange, VideoFormat};

use crate::flow::RgbLayout;
use crate::mesh::{Chroma, Frame, Plane, RgbFrame, YuvFrame, YuvMatrix};
use crate::video_formats::rgb_layout;

/// The planar and semi-planar YUV formats, preferred to RGB: what decoders give.
pub const YUV_FORMATS: &[VideoFormat] = &[
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Yv12,
    VideoFormat::Nv21,
    VideoFormat::Y42b,
    VideoFormat::Y444,
];

/// How a negotiated format is read.
#[derive(Clone, Copy, Debug)]
pub enum Input {
    Rgb(RgbLayout),
    Yuv {
        subsampling: (usize, usize),
        chroma_offset: (f64, f64),
        matrix: YuvMatrix,
    },
}

impl Input {
    pub fn of(info: &gst_video::VideoInfo) -> Option<Self> {
        if let Some(layout) = rgb_layout(info.format()) {
            return Some(Input::Rgb(layout));
        }
        if !YUV_FORMATS.contains(&info.format()) {
            return None;
        }
        let format = info.format_info();
        let subsampling = (1usize << format.w_sub()[1], 1usize << format.h_sub()[1]);
        // GStreamer fills the siting in when the caps give no colorimetry (MPEG-2's, co-sited
        // across, above 576 lines; centred below); an unknown one is taken as centred, as
        // videoconvert does. Interlaced chroma (DV's ALT_LINE) is not told apart.
        let site = info.chroma_site();
        let centred = |cosited: bool, sub: usize| {
            if cosited {
                0.0
            } else {
                (sub as f64 - 1.0) / 2.0
            }
        };
        let chroma_offset = (
            centred(site.contains(VideoChromaSite::H_COSITED), subsampling.0),
            centred(site.contains(VideoChromaSite::V_COSITED), subsampling.1),
        );
        let colorimetry = info.colorimetry();
        let matrix = match colorimetry.matrix() {
            VideoColorMatrix::Bt709 => YuvMatrix::BT709,
            VideoColorMatrix::Bt2020 => YuvMatrix::BT2020,
            VideoColorMatrix::Smpte240m => YuvMatrix::SMPTE240M,
            VideoColorMatrix::Fcc => YuvMatrix::FCC,
            VideoColorMatrix::Bt601 => YuvMatrix::BT601,
            // Unknown: GStreamer's own default, by picture size.
            _ if info.height() > 576 => YuvMatrix::BT709,
            _ => YuvMatrix::BT601,
        }
        .with_full_range(colorimetry.range() == VideoColorRange::Range0_255);
        Some(Input::Yuv {
            subsampling,
            chroma_offset,
            matrix,
        })
    }
}

/// `frame`'s pixels as `input` reads them.
pub fn view<'a>(
    frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
    input: &Input,
) -> Result<Frame<'a>, String> {
    let info = frame.info();
    // Before any plane is sliced: gstreamer-rs computes a plane's length from its stride.
    if frame.plane_stride().iter().any(|&s| s < 0) {
        return Err("Negative plane strides are not supported".into());
    }
    let format = frame.format_info();
    let planes = format.plane();
    let stride = |component: usize| -> Result<usize, String> {
        let plane = *planes.get(component).ok_or("no such component")? as usize;
        let stride = *frame.plane_stride().get(plane).ok_or("no such plane")?;
        usize::try_from(stride).map_err(|_| "Negative plane strides are not supported".into())
    };
    let plane_of =
        |component: usize, channels: usize, data: &'a [u8]| -> Result<Plane<'a>, String> {
            Ok(Plane {
                data,
                width: info.comp_width(component as u8) as usize,
                height: info.comp_height(component as u8) as usize,
                stride: stride(component)?,
                channels,
            })
        };
    let missing = |err: glib::BoolError| format!("A plane is missing: {err}");
    Ok(match *input {
        Input::Rgb(layout) => Frame::Rgb(RgbFrame {
            data: frame.plane_data(0).map_err(missing)?,
            width: info.width() as usize,
            height: info.height() as usize,
            stride: stride(0)?,
            layout,
        }),
        Input::Yuv {
            subsampling,
            chroma_offset,
            matrix,
        } => {
            let luma = plane_of(0, 1, frame.comp_data(0).map_err(missing)?)?;
            let chroma = if planes[1] == planes[2] {
                let poffset = |c: u8| info.comp_poffset(c);
                let uv = frame.plane_data(planes[1]).map_err(missing)?;
                Chroma::SemiPlanar {
                    uv: plane_of(1, 2, uv)?,
                    v_first: poffset(2) < poffset(1),
                }
            } else {
                Chroma::Planar {
                    u: plane_of(1, 1, frame.comp_data(1).map_err(missing)?)?,
                    v: plane_of(2, 1, frame.comp_data(2).map_err(missing)?)?,
                }
            };
            Frame::Yuv(YuvFrame {
                luma,
                chroma,
                subsampling,
                chroma_offset,
                matrix,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(format: VideoFormat, caps_extra: &str) -> gst_video::VideoInfo {
        gst::init().expect("GStreamer");
        let caps: gst::Caps = format!(
            "video/x-raw,format={},width=64,height=48,framerate=30/1{caps_extra}",
            format.to_str()
        )
        .parse()
        .expect("caps");
        gst_video::VideoInfo::from_caps(&caps).expect("info")
    }

    #[test]
    fn yuv_layouts_follow_the_caps() {
        let Some(Input::Yuv {
            subsampling,
            chroma_offset,
            matrix,
        }) = Input::of(&info(
            VideoFormat::I420,
            ",colorimetry=bt709,chroma-site=mpeg2",
        ))
        else {
            panic!("I420 is YUV");
        };
        assert_eq!(subsampling, (2, 2));
        assert_eq!(chroma_offset, (0.0, 0.5));
        assert_eq!(matrix, YuvMatrix::BT709);
        let Some(Input::Yuv {
            subsampling,
            chroma_offset,
            matrix,
        }) = Input::of(&info(
            VideoFormat::Y42b,
            ",colorimetry=1:4:0:0,chroma-site=jpeg",
        ))
        else {
            panic!("Y42B is YUV");
        };
        assert_eq!(subsampling, (2, 1));
        assert_eq!(chroma_offset, (0.5, 0.0));
        assert!(matrix.full_range);
        assert!(matches!(
            Input::of(&info(VideoFormat::Bgrx, "")),
            Some(Input::Rgb(RgbLayout::BGRX))
        ));
        assert!(Input::of(&info(VideoFormat::Gray8, "")).is_none());
    }

    #[test]
    fn planes_are_found_for_every_yuv_format() {
        for &format in YUV_FORMATS {
            let info = info(format, "");
            let input = Input::of(&info).expect("a YUV input");
            // U samples 50 and V samples 200, wherever the format keeps them.
            let mut buffer = gst::Buffer::with_size(info.size()).expect("buffer");
            {
                let b = buffer.get_mut().expect("writable");
                let mut frame =
                    gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).expect("maps");
                let step = frame.info().comp_pstride(1) as usize;
                for (component, value) in [(1u32, 50u8), (2, 200)] {
                    let data = frame.comp_data_mut(component).expect("component");
                    for i in (0..data.len()).step_by(step) {
                        data[i] = value;
                    }
                }
            }
            let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info)
                .expect("mapped");
            let Ok(Frame::Yuv(yuv)) = view(&frame, &input) else {
                panic!("{format:?} is not read as YUV");
            };
            assert!(yuv.is_complete(), "{format:?}: {yuv:?}");
            let (u, v) = match yuv.chroma {
                Chroma::Planar { u, v } => (u.data[0], v.data[0]),
                Chroma::SemiPlanar { uv, v_first } if v_first => (uv.data[1], uv.data[0]),
                Chroma::SemiPlanar { uv, .. } => (uv.data[0], uv.data[1]),
            };
            assert_eq!((u, v), (50, 200), "{format:?}");
        }
    }
}
