// SPDX-License-Identifier: MPL-2.0

//! The frame viewers see while the source is away: dark gray with one line of text, in I420
//! at the relay's output size, so the served stream never changes caps.

use gstals::draw::{Canvas, Color, PixelLayout, Plane, TextRenderer};

/// An I420 frame `width` x `height` (both even) showing `text`.
pub fn status_frame(width: usize, height: usize, text: &str) -> Result<Vec<u8>, String> {
    if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(format!(
            "{width}x{height}: I420 frames need even, non-zero sizes"
        ));
    }
    let (luma, chroma) = (width * height, (width / 2) * (height / 2));
    let mut data = vec![128u8; luma + 2 * chroma];
    data[..luma].fill(40);
    let (y, rest) = data.split_at_mut(luma);
    let (u, v) = rest.split_at_mut(chroma);
    let planes = vec![
        Plane {
            data: y,
            stride: width,
        },
        Plane {
            data: u,
            stride: width / 2,
        },
        Plane {
            data: v,
            stride: width / 2,
        },
    ];
    let mut canvas = Canvas::new(width, height, PixelLayout::I420, planes)?;
    let mut text_renderer = TextRenderer::new((height as f32 / 24.0).clamp(8.0, 40.0));
    let mask = text_renderer.render(text)?;
    let x = (width as i64 - mask.width as i64) / 2;
    let y = (height as i64 - mask.height as i64) / 2;
    canvas.blend_mask(
        &mask.coverage,
        mask.width,
        (x.max(0), y.max(0)),
        Color::WHITE,
        255,
    );
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_is_dark_with_bright_text_in_the_middle() {
        let frame = status_frame(320, 240, "source lost").unwrap();
        assert_eq!(frame.len(), 320 * 240 * 3 / 2);
        let luma = &frame[..320 * 240];
        let bright = luma.iter().filter(|&&v| v > 150).count();
        assert!(
            bright > 50 && bright < 320 * 240 / 10,
            "{bright} bright pixels"
        );
        assert!(luma[..320].iter().all(|&v| v == 40), "top row stays dark");
        assert!(status_frame(321, 240, "x").is_err());
    }
}
