// SPDX-License-Identifier: MPL-2.0

//! The one table from GStreamer's packed RGB video formats to their channel layouts, shared
//! by the elements that read RGB pixels.

use gst_video::VideoFormat;

use crate::flow::RgbLayout;

/// Packed RGB formats in order of preference, with where their channels lie. Alpha is
/// ignored, so RGBA reads as RGBx.
pub const RGB_FORMATS: &[(VideoFormat, RgbLayout)] = &[
    (VideoFormat::Rgb, RgbLayout::RGB),
    (VideoFormat::Bgr, RgbLayout::BGR),
    (VideoFormat::Rgbx, RgbLayout::RGBX),
    (VideoFormat::Bgrx, RgbLayout::BGRX),
    (VideoFormat::Xrgb, RgbLayout::XRGB),
    (VideoFormat::Xbgr, RgbLayout::XBGR),
    (VideoFormat::Rgba, RgbLayout::RGBX),
    (VideoFormat::Bgra, RgbLayout::BGRX),
    (VideoFormat::Argb, RgbLayout::XRGB),
    (VideoFormat::Abgr, RgbLayout::XBGR),
];

/// The channel layout of `format`, if it is one of [`RGB_FORMATS`].
pub fn rgb_layout(format: VideoFormat) -> Option<RgbLayout> {
    RGB_FORMATS
        .iter()
        .find(|(f, _)| *f == format)
        .map(|(_, layout)| *layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rgb_format_has_its_layout_and_others_none() {
        assert_eq!(rgb_layout(VideoFormat::Bgra), Some(RgbLayout::BGRX));
        assert_eq!(rgb_layout(VideoFormat::Xrgb), Some(RgbLayout::XRGB));
        assert_eq!(rgb_layout(VideoFormat::I420), None);
        for (format, layout) in RGB_FORMATS {
            let info = gst_video::VideoFormatInfo::from_format(*format);
            assert_eq!(info.pixel_stride()[0] as usize, layout.bytes_per_pixel);
        }
    }
}
