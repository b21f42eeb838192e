// SPDX-License-Identifier: MPL-2.0

//! What `alsoverlay` draws from one frame's metas: landmarks, face boxes, the flow grid as a
//! heat map with its colour scale, and the classification bars.

use super::canvas::{Canvas, Color, GridPlacement};
use super::connections::CONTOURS;
use super::text::TextRenderer;
use crate::meta::{ClassMeta, FaceMeta, FlowMeta, NormRotatedRect, RegionFlow};

/// How landmarks are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LandmarkStyle {
    /// One dot per landmark.
    Points,
    /// MediaPipe's contours of lips, eyes, brows and face oval.
    Contours,
    Both,
}

/// The layers to draw and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    pub landmarks: bool,
    pub landmark_style: LandmarkStyle,
    pub boxes: bool,
    pub flow: bool,
    pub classification: bool,
    pub line_width: f32,
    pub point_size: f32,
    /// Opacity of the heat map and of the panels behind text, 0..=1.
    pub opacity: f32,
    /// Flow magnitude (pixels per frame of the analysed image) at the top of the colour scale.
    pub flow_max: f32,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            landmarks: true,
            landmark_style: LandmarkStyle::Contours,
            boxes: true,
            flow: true,
            classification: true,
            line_width: 2.0,
            point_size: 3.0,
            opacity: 0.5,
            flow_max: 2.0,
        }
    }
}

/// The metas of one frame, as far as they are there.
#[derive(Clone, Copy, Debug, Default)]
pub struct Metas<'a> {
    pub faces: Option<&'a FaceMeta>,
    pub flow: Option<&'a FlowMeta>,
    pub class: Option<&'a ClassMeta>,
}

impl Metas<'_> {
    pub fn is_empty(&self) -> bool {
        self.faces.is_none() && self.flow.is_none() && self.class.is_none()
    }
}

/// True for a pixel coordinate worth drawing at: metas come from outside and may hold NaN,
/// infinities or absurd values, which must neither panic nor cost time.
fn sane(v: f32) -> bool {
    v.is_finite() && v.abs() < 1.0e6
}

/// Shown next to the results of a model trained on synthetic data.
pub const SYNTHETIC_NOTICE: &str = "synthetic demo model, not for diagnosis";

const CLASS_COLORS: [Color; 4] = [
    Color::rgb(60, 200, 90),
    Color::rgb(240, 110, 40),
    Color::rgb(80, 140, 255),
    Color::rgb(220, 80, 220),
];
const ID_COLORS: [Color; 6] = [
    Color::rgb(0, 220, 255),
    Color::rgb(255, 200, 0),
    Color::rgb(255, 90, 200),
    Color::rgb(120, 255, 80),
    Color::rgb(255, 120, 60),
    Color::rgb(170, 130, 255),
];
const NOTICE_COLOR: Color = Color::rgb(255, 220, 60);

fn contour_color(name: &str) -> Color {
    match name {
        "lips" => Color::rgb(255, 70, 90),
        "face-oval" => Color::rgb(230, 230, 230),
        n if n.ends_with("eyebrow") => Color::rgb(255, 200, 0),
        _ => Color::rgb(60, 230, 120),
    }
}

/// The heat map's colour for a magnitude `t` in 0..=1: dark blue, blue, green, yellow, red.
pub fn heat_color(t: f32) -> Color {
    const STOPS: [(f32, [f32; 3]); 5] = [
        (0.0, [20.0, 20.0, 140.0]),
        (0.25, [0.0, 120.0, 255.0]),
        (0.5, [0.0, 210.0, 110.0]),
        (0.75, [255.0, 210.0, 0.0]),
        (1.0, [230.0, 30.0, 20.0]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let i = STOPS.iter().rposition(|(s, _)| *s <= t).unwrap_or(0).min(3);
    let (t0, c0) = STOPS[i];
    let (t1, c1) = STOPS[i + 1];
    let f = (t - t0) / (t1 - t0);
    let c = |k: usize| (c0[k] + (c1[k] - c0[k]) * f).round() as u8;
    Color::rgb(c(0), c(1), c(2))
}

/// Draws frames; keeps the text renderer (and its cache) between them.
pub struct Overlay {
    text: TextRenderer,
    text_height: f32,
}

impl Overlay {
    /// An overlay for frames `frame_height` pixels tall; text scales with it.
    pub fn new(frame_height: usize) -> Self {
        let text_height = (frame_height as f32 / 40.0).clamp(9.0, 28.0);
        Self {
            text: TextRenderer::new(text_height),
            text_height,
        }
    }

    /// Draws every enabled layer of `metas` onto `canvas`, heat map first so that lines and
    /// text stay on top. Fails only when text cannot be rendered.
    pub fn draw(&mut self, canvas: &mut Canvas, style: &Style, metas: Metas) -> Result<(), String> {
        let (w, h) = (canvas.width() as f32, canvas.height() as f32);
        if style.flow
            && let Some(flow) = metas.flow
        {
            let mut drawn = false;
            for region in &flow.regions {
                drawn |= draw_heat_map(canvas, region, flow, style);
            }
            if drawn {
                self.draw_color_scale(canvas, style)?;
            }
        }
        let faces = metas.faces.map(|f| f.faces.as_slice()).unwrap_or_default();
        for face in faces {
            let px = |p: &[f32; 3]| (p[0] * w, p[1] * h);
            if style.landmarks && face.landmarks.len() == crate::meta::LANDMARKS_PER_FACE {
                if style.landmark_style != LandmarkStyle::Points {
                    for (name, pairs) in CONTOURS {
                        let color = contour_color(name);
                        for &(a, b) in *pairs {
                            let (a, b) = (&face.landmarks[a as usize], &face.landmarks[b as usize]);
                            canvas.line(px(a), px(b), style.line_width, color);
                        }
                    }
                }
                if style.landmark_style != LandmarkStyle::Contours {
                    for p in &face.landmarks {
                        canvas.dot(px(p), style.point_size, Color::rgb(0, 255, 255));
                    }
                }
            }
            if style.boxes {
                let b = &face.bbox;
                let color = ID_COLORS[face.id as usize % ID_COLORS.len()];
                let (x0, y0) = (b.x as f32 * w, b.y as f32 * h);
                let (x1, y1) = (x0 + b.width as f32 * w, y0 + b.height as f32 * h);
                if ![x0, y0, x1, y1].into_iter().all(sane) {
                    continue;
                }
                canvas.rect_outline((x0, y0), (x1, y1), style.line_width, color);
                let label = format!("id {}", face.id);
                let th = self.text_height + 6.0;
                self.draw_text(canvas, (x0, y0 - th), &label, color, style)?;
            }
        }
        if style.classification
            && let Some(class) = metas.class
        {
            for fc in &class.faces {
                let Some(face) = faces.iter().find(|f| f.id == fc.face_id) else {
                    continue;
                };
                let anchor = (
                    face.bbox.x as f32 * w,
                    (face.bbox.y + face.bbox.height) as f32 * h + 4.0,
                );
                self.draw_class_panel(canvas, anchor, class, fc, style)?;
            }
        }
        Ok(())
    }

    /// A line of text on a dark panel, its top-left corner at `at`.
    fn draw_text(
        &mut self,
        canvas: &mut Canvas,
        at: (f32, f32),
        text: &str,
        color: Color,
        style: &Style,
    ) -> Result<(usize, usize), String> {
        if !sane(at.0) || !sane(at.1) {
            return Ok((0, 0));
        }
        let mask = self.text.render(text)?;
        let (x, y) = (at.0.round() as i64, at.1.round() as i64);
        let (mw, mh) = (mask.width as i64, mask.height as i64);
        let panel = (style.opacity.clamp(0.0, 1.0) * 200.0) as u8;
        canvas.fill_rect(x, y, x + mw, y + mh, Color::BLACK, panel);
        canvas.blend_mask(&mask.coverage, mask.width, (x, y), color, 255);
        Ok((mask.width, mask.height))
    }

    /// A bar per class with its label and smoothed probability, below the face's box.
    fn draw_class_panel(
        &mut self,
        canvas: &mut Canvas,
        (x, mut y): (f32, f32),
        class: &ClassMeta,
        face: &crate::meta::FaceClass,
        style: &Style,
    ) -> Result<(), String> {
        if !sane(x) || !sane(y) {
            return Ok(());
        }
        let row = self.text_height + 8.0;
        let bar_width = (self.text_height * 9.0).round();
        let values = if face.smoothed.len() == class.labels.len() {
            &face.smoothed
        } else {
            &face.probabilities
        };
        if values.len() == class.labels.len() && !values.is_empty() {
            let alpha = (style.opacity.clamp(0.0, 1.0) * 200.0) as u8;
            for (i, (label, p)) in class.labels.iter().zip(values).enumerate() {
                let p = if p.is_finite() {
                    p.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (x0, y0) = (x.round() as i64, y.round() as i64);
                let (x1, y1) = (x0 + bar_width as i64, y0 + row as i64 - 2);
                canvas.fill_rect(x0, y0, x1, y1, Color::BLACK, alpha);
                let filled = x0 + (bar_width * p).round() as i64;
                let color = CLASS_COLORS[i % CLASS_COLORS.len()];
                canvas.fill_rect(x0, y0, filled, y1, color, 255);
                let mask = self.text.render(&format!("{label} {p:.2}"))?;
                canvas.blend_mask(&mask.coverage, mask.width, (x0 + 2, y0), Color::WHITE, 255);
                y += row;
            }
        } else if let Some(reason) = &face.reason {
            let (_, h) = self.draw_text(
                canvas,
                (x, y),
                &format!("not classified: {reason}"),
                Color::WHITE,
                style,
            )?;
            y += h as f32;
        }
        if class.synthetic {
            self.draw_text(canvas, (x, y), SYNTHETIC_NOTICE, NOTICE_COLOR, style)?;
        }
        Ok(())
    }

    /// The heat map's colour scale, bottom left, labelled in pixels per frame.
    fn draw_color_scale(&mut self, canvas: &mut Canvas, style: &Style) -> Result<(), String> {
        let th = self.text_height;
        let (length, thick) = ((th * 8.0) as i64, (th * 0.7).max(4.0) as i64);
        let x0 = (th * 0.8) as i64;
        let y0 = canvas.height() as i64 - (2.2 * th) as i64 - thick;
        canvas.fill_with((x0, y0, x0 + length, y0 + thick), |x, _| {
            Some((heat_color((x as i64 - x0) as f32 / length as f32), 255))
        });
        let label = format!("0 - {:.1} px/frame", style.flow_max);
        self.draw_text(
            canvas,
            (x0 as f32, (y0 + thick + 2) as f32),
            &label,
            Color::WHITE,
            style,
        )?;
        Ok(())
    }
}

/// The heat map of one region's grid, over that region's rotated rectangle. False when the
/// region has no grid to draw.
fn draw_heat_map(canvas: &mut Canvas, region: &RegionFlow, flow: &FlowMeta, style: &Style) -> bool {
    let (gw, gh) = (flow.grid_width as usize, flow.grid_height as usize);
    if gw == 0 || gh == 0 || region.grid.len() != gw * gh || !region.is_valid() {
        return false;
    }
    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    let NormRotatedRect {
        cx,
        cy,
        width,
        height,
        rotation,
    } = region.roi;
    let (cx, cy, rw, rh) = (cx * w, cy * h, width * w, height * h);
    if ![cx, cy, rw, rh, rotation].into_iter().all(sane) || rw < 1.0 || rh < 1.0 {
        return false;
    }
    let (sin, cos) = rotation.sin_cos();
    // Half extents of the rotated rectangle's bounding box.
    let ex = (rw * cos.abs() + rh * sin.abs()) / 2.0;
    let ey = (rw * sin.abs() + rh * cos.abs()) / 2.0;
    let bounds = (
        (cx - ex).floor() as i64,
        (cy - ey).floor() as i64,
        (cx + ex).ceil() as i64 + 1,
        (cy + ey).ceil() as i64 + 1,
    );
    let scale = if style.flow_max > 0.0 {
        1.0 / style.flow_max
    } else {
        0.0
    };
    let opacity = style.opacity.clamp(0.0, 1.0) * 255.0;
    // Opacity grows with the motion, so still parts of the face stay untouched and visible
    // (and cost nothing to draw); the square root makes slight motion show.
    let cells: Vec<(Color, u8)> = region
        .grid
        .iter()
        .map(|m| {
            let t = if m.is_finite() {
                (m * scale).clamp(0.0, 1.0)
            } else {
                0.0
            };
            // Below 5% of the scale a cell counts as still.
            let alpha = if t < 0.05 { 0.0 } else { opacity * t.sqrt() };
            (heat_color(t), alpha.round() as u8)
        })
        .collect();
    // Pixel centres in the rectangle's own axes (the inverse of its rotation), in cells.
    let placement = GridPlacement {
        cx,
        cy,
        ux: cos / rw * gw as f32,
        uy: sin / rw * gw as f32,
        vx: -sin / rh * gh as f32,
        vy: cos / rh * gh as f32,
        columns: gw,
        rows: gh,
        bounds,
    };
    canvas.fill_grid(&placement, &cells);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::canvas::{PixelLayout, Plane};
    use crate::meta::{Face, FlowStats, NormRect};

    fn face_at(id: u32, cx: f32, cy: f32, r: f32) -> Face {
        // Landmarks on a circle: enough for contours and boxes to land somewhere known.
        let landmarks = (0..crate::meta::LANDMARKS_PER_FACE)
            .map(|i| {
                let a = i as f32 * 0.0134;
                [cx + r * a.cos(), cy + r * a.sin(), 0.0]
            })
            .collect();
        Face {
            id,
            bbox: NormRect {
                x: (cx - r) as f64,
                y: (cy - r) as f64,
                width: (2.0 * r) as f64,
                height: (2.0 * r) as f64,
            },
            roi: NormRotatedRect {
                cx,
                cy,
                width: 2.0 * r,
                height: 2.0 * r,
                rotation: 0.0,
            },
            landmarks,
            ..Default::default()
        }
    }

    fn render(style: &Style, metas: Metas) -> Vec<u8> {
        let (w, h) = (160, 120);
        let mut data = vec![0u8; w * h * 4];
        let mut canvas = Canvas::new(
            w,
            h,
            PixelLayout::packed(4, 0, 1, 2),
            vec![Plane {
                data: &mut data,
                stride: w * 4,
            }],
        )
        .unwrap();
        Overlay::new(h).draw(&mut canvas, style, metas).unwrap();
        data
    }

    fn changed(a: &[u8]) -> usize {
        a.chunks_exact(4).filter(|p| p[..3] != [0, 0, 0]).count()
    }

    #[test]
    fn nothing_is_drawn_without_metas_and_each_layer_can_be_turned_off() {
        let faces = FaceMeta {
            faces: vec![face_at(1, 0.5, 0.5, 0.2)],
            fresh: true,
        };
        let metas = Metas {
            faces: Some(&faces),
            ..Default::default()
        };
        assert_eq!(changed(&render(&Style::default(), Metas::default())), 0);
        let all = changed(&render(&Style::default(), metas));
        assert!(all > 100, "{all} pixels drawn");
        let off = Style {
            landmarks: false,
            boxes: false,
            ..Style::default()
        };
        assert_eq!(changed(&render(&off, metas)), 0);
        let boxes_only = Style {
            landmarks: false,
            ..Style::default()
        };
        let n = changed(&render(&boxes_only, metas));
        assert!(n > 0 && n < all);
    }

    #[test]
    fn heat_map_follows_the_grid_cells() {
        let mut region = RegionFlow {
            face_id: 1,
            roi: NormRotatedRect {
                cx: 0.5,
                cy: 0.5,
                width: 0.5,
                height: 2.0 / 3.0,
                rotation: 0.0,
            },
            stats: Some(FlowStats::default()),
            grid: vec![0.0, 2.0, 0.0, 0.0],
            ..Default::default()
        };
        let flow = FlowMeta {
            region_kind: "face".into(),
            grid_width: 2,
            grid_height: 2,
            regions: vec![region.clone()],
            ..Default::default()
        };
        let style = Style {
            opacity: 1.0,
            ..Style::default()
        };
        let data = render(
            &style,
            Metas {
                flow: Some(&flow),
                ..Default::default()
            },
        );
        // The 80x80 square spans x 40..120, y 20..100: top-right cell hot, top-left still.
        let px = |x: usize, y: usize| {
            let at = (y * 160 + x) * 4;
            Color::rgb(data[at], data[at + 1], data[at + 2])
        };
        assert_eq!(px(100, 40), heat_color(1.0));
        // A still cell is left as it is.
        assert_eq!(px(60, 40), Color::BLACK);
        assert_eq!(px(30, 40), Color::BLACK);
        // Rotated a quarter turn clockwise, the hot cell moves to the bottom right.
        region.roi.rotation = std::f32::consts::FRAC_PI_2;
        region.roi.width = 2.0 / 3.0 * 0.75;
        region.roi.height = 2.0 / 3.0;
        let flow = FlowMeta {
            regions: vec![region],
            ..flow
        };
        let data = render(
            &style,
            Metas {
                flow: Some(&flow),
                ..Default::default()
            },
        );
        let at = (80 * 160 + 100) * 4;
        assert_eq!(
            Color::rgb(data[at], data[at + 1], data[at + 2]),
            heat_color(1.0)
        );
    }

    #[test]
    fn synthetic_models_are_marked_and_bars_follow_the_probability() {
        let faces = FaceMeta {
            faces: vec![face_at(1, 0.3, 0.25, 0.12)],
            fresh: true,
        };
        let class = |synthetic, p: f32| ClassMeta {
            model: "m".into(),
            synthetic,
            labels: vec!["typical".into(), "impaired".into()],
            faces: vec![crate::meta::FaceClass {
                face_id: 1,
                probabilities: vec![1.0 - p, p],
                smoothed: vec![1.0 - p, p],
                label: None,
                reason: None,
            }],
            reason: None,
        };
        let style = Style {
            landmarks: false,
            boxes: false,
            ..Style::default()
        };
        let draw = |c: &ClassMeta| {
            render(
                &style,
                Metas {
                    faces: Some(&faces),
                    class: Some(c),
                    ..Default::default()
                },
            )
        };
        let count = |data: &[u8], color: Color| {
            data.chunks_exact(4)
                .filter(|p| p[..3] == [color.r, color.g, color.b][..])
                .count()
        };
        let plain = draw(&class(false, 0.2));
        let marked = draw(&class(true, 0.2));
        let yellow = |d: &[u8]| {
            d.chunks_exact(4)
                .filter(|p| p[0] > 200 && p[1] > 180 && p[2] < 120)
                .count()
        };
        assert_eq!(yellow(&plain), 0);
        assert!(yellow(&marked) > 20);
        let orange = CLASS_COLORS[1];
        let low = count(&draw(&class(false, 0.2)), orange);
        let high = count(&draw(&class(false, 0.8)), orange);
        assert!(high > 2 * low && low > 0, "impaired bar {low} -> {high}");
    }

    #[test]
    fn broken_coordinates_are_skipped_without_a_panic() {
        let mut faces = Vec::new();
        for bad in [f32::NAN, f32::INFINITY, -f32::INFINITY, 1.0e20, -1.0e16] {
            let mut face = face_at(1, 0.5, 0.5, 0.2);
            face.landmarks[10] = [bad, bad, 0.0];
            face.landmarks[61] = [bad, 0.5, 0.0];
            face.bbox.x = bad as f64;
            face.roi.cx = bad;
            faces.push(face);
        }
        let faces = FaceMeta { faces, fresh: true };
        let region = |cx: f32, width: f32| RegionFlow {
            face_id: 1,
            roi: NormRotatedRect {
                cx,
                cy: 0.5,
                width,
                height: 0.5,
                rotation: f32::NAN,
            },
            stats: Some(FlowStats::default()),
            grid: vec![f32::NAN, f32::INFINITY, 1.0, -1.0],
            ..Default::default()
        };
        let flow = FlowMeta {
            region_kind: "face".into(),
            grid_width: 2,
            grid_height: 2,
            regions: vec![
                region(1.0e20, 0.5),
                region(0.5, f32::INFINITY),
                region(f32::NAN, 0.5),
            ],
            ..Default::default()
        };
        let class = ClassMeta {
            labels: vec!["a".into(), "b".into()],
            faces: vec![crate::meta::FaceClass {
                face_id: 1,
                probabilities: vec![f32::NAN, 2.0],
                smoothed: vec![f32::INFINITY, -1.0],
                ..Default::default()
            }],
            ..Default::default()
        };
        let data = render(
            &Style::default(),
            Metas {
                faces: Some(&faces),
                flow: Some(&flow),
                class: Some(&class),
            },
        );
        assert_eq!(data.len(), 160 * 120 * 4);
    }

    #[test]
    fn heat_colors_run_from_blue_to_red() {
        let cold = heat_color(0.0);
        let hot = heat_color(1.0);
        assert!(cold.b > cold.r && hot.r > hot.b);
        assert_eq!(heat_color(f32::NAN), cold);
        assert_eq!(heat_color(7.0), hot);
    }
}
