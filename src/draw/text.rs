// SPDX-License-Identifier: MPL-2.0

//! Text as coverage masks, rendered with OpenCV's Hershey fonts (built into OpenCV, so
//! nothing is downloaded or looked up on the host) and cached, since the same labels come
//! back frame after frame.

use std::collections::HashMap;

use opencv::core::{CV_8UC1, Mat, Point, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

/// A rendered string: `width` x `height` coverage values, and the baseline's row.
#[derive(Clone, Debug)]
pub struct TextMask {
    pub width: usize,
    pub height: usize,
    pub baseline: usize,
    pub coverage: Vec<u8>,
}

/// Renders strings at one text height; remembers up to `CAPACITY` of them.
pub struct TextRenderer {
    /// Hershey scale for the requested pixel height.
    scale: f64,
    thickness: i32,
    cache: HashMap<String, TextMask>,
}

const CAPACITY: usize = 512;
const FONT: i32 = imgproc::FONT_HERSHEY_SIMPLEX;

impl TextRenderer {
    /// Text whose capital letters are about `pixel_height` pixels tall.
    pub fn new(pixel_height: f32) -> Self {
        // FONT_HERSHEY_SIMPLEX capitals are 22 units tall at scale 1, a little less than
        // the size getTextSize reports.
        let scale = (pixel_height.max(4.0) / 22.0) as f64;
        let thickness = if pixel_height >= 18.0 { 2 } else { 1 };
        Self {
            scale,
            thickness,
            cache: HashMap::new(),
        }
    }

    /// The mask of `text`, rendered once and then cached.
    pub fn render(&mut self, text: &str) -> Result<&TextMask, String> {
        if !self.cache.contains_key(text) {
            if self.cache.len() >= CAPACITY {
                self.cache.clear();
            }
            let mask = self.render_uncached(text)?;
            self.cache.insert(text.to_owned(), mask);
        }
        self.cache
            .get(text)
            .ok_or_else(|| "text cache lost an entry".to_owned())
    }

    fn render_uncached(&self, text: &str) -> Result<TextMask, String> {
        let cv = |e: opencv::Error| format!("OpenCV text rendering: {e}");
        let mut baseline = 0;
        let size = imgproc::get_text_size(text, FONT, self.scale, self.thickness, &mut baseline)
            .map_err(cv)?;
        let pad = self.thickness + 1;
        let (w, h) = (size.width + 2 * pad, size.height + baseline + 2 * pad);
        let mut mat =
            Mat::new_size_with_default(Size::new(w, h), CV_8UC1, Scalar::all(0.0)).map_err(cv)?;
        imgproc::put_text(
            &mut mat,
            text,
            Point::new(pad, pad + size.height),
            FONT,
            self.scale,
            Scalar::all(255.0),
            self.thickness,
            imgproc::LINE_AA,
            false,
        )
        .map_err(cv)?;
        Ok(TextMask {
            width: w as usize,
            height: h as usize,
            baseline: (pad + size.height) as usize,
            coverage: mat.data_bytes().map_err(cv)?.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_renders_to_a_mask_of_its_size_and_longer_text_is_wider() {
        let mut renderer = TextRenderer::new(14.0);
        let short = renderer.render("id 1").unwrap().clone();
        let long = renderer.render("typical 0.93").unwrap().clone();
        assert_eq!(short.coverage.len(), short.width * short.height);
        assert!(short.coverage.iter().any(|&c| c > 200));
        assert!(long.width > short.width);
        assert!((12..40).contains(&short.height), "height {}", short.height);
    }
}
