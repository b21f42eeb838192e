// SPDX-License-Identifier: MPL-2.0

//! What `alsoverlay` draws from one frame's metas: landmarks, face boxes, the flow grid as a
//! heat map with its colour scale, and the classification bars.

use super::canvas::{Canvas, Color, GridPlacement};
use super::connections::CONTOURS;
use super::layout::{Rect, place_panel};
use super::text::TextRenderer;
use crate::meta::{ClassMeta, FaceClass, FaceMeta, FlowMeta, NormRotatedRect, RegionFlow};

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

/// The notice, broken in two where a narrow frame needs it.
const NOTICE_LINES: [&str; 2] = ["synthetic demo model,", "not for diagnosis"];
/// Pixels between a face and its labels, and between the frame's edge and the notice.
const GAP: i64 = 4;

/// A line of text on a dark panel.
#[derive(Debug)]
struct TextLine {
    rect: Rect,
    text: String,
    color: Color,
}

/// A class's bar with its label and probability.
#[derive(Debug)]
struct Bar {
    rect: Rect,
    text: String,
    probability: f32,
    color: Color,
}

/// One face's classification: the synthetic-model notice, then a bar per class (or why
/// there is none).
#[derive(Debug, Default)]
struct Panel {
    rect: Rect,
    notice: Vec<TextLine>,
    bars: Vec<Bar>,
    reason: Option<TextLine>,
}

/// Where one frame's labels go, decided before any is drawn so that none covers another.
#[derive(Debug, Default)]
struct Plan {
    scale: Option<Rect>,
    ids: Vec<TextLine>,
    panels: Vec<Panel>,
}

impl Plan {
    fn rects(&self) -> impl Iterator<Item = Rect> + '_ {
        self.scale
            .iter()
            .copied()
            .chain(self.ids.iter().map(|l| l.rect))
            .chain(self.panels.iter().map(|p| p.rect))
    }
}

/// Draws frames; keeps the text renderer (and its cache) between them.
pub struct Overlay {
    text: TextRenderer,
    text_height: f32,
    frame: (i64, i64),
    /// The notice's lines: one where it fits the frame's width.
    notice: &'static [&'static str],
}

impl Overlay {
    /// An overlay for `width` x `height` frames: text scales with the height, and shrinks
    /// where the frame is too narrow for the synthetic-model notice.
    pub fn new(width: usize, height: usize) -> Self {
        let room = width as i64 - 2 * GAP;
        let mut text_height = (height as f32 / 40.0).clamp(9.0, 28.0);
        let mut text = TextRenderer::new(text_height);
        let widest = |text: &mut TextRenderer, lines: &[&str]| {
            lines
                .iter()
                .map(|l| text.render(l).map_or(0, |m| m.width as i64))
                .max()
                .unwrap_or(0)
        };
        while text_height > 5.0 && widest(&mut text, &NOTICE_LINES) > room {
            text_height -= 1.0;
            text = TextRenderer::new(text_height);
        }
        let notice: &'static [&'static str] = if widest(&mut text, &[SYNTHETIC_NOTICE]) <= room {
            &[SYNTHETIC_NOTICE]
        } else {
            &NOTICE_LINES
        };
        Self {
            text,
            text_height,
            frame: (width as i64, height as i64),
            notice,
        }
    }

    /// Draws every enabled layer of `metas` onto `canvas`, heat map first so that lines and
    /// text stay on top. Fails only when text cannot be rendered.
    pub fn draw(&mut self, canvas: &mut Canvas, style: &Style, metas: Metas) -> Result<(), String> {
        let (w, h) = (canvas.width() as f32, canvas.height() as f32);
        self.frame = (canvas.width() as i64, canvas.height() as i64);
        let mut heat_map = false;
        if style.flow
            && let Some(flow) = metas.flow
        {
            for region in &flow.regions {
                heat_map |= draw_heat_map(canvas, region, flow, style);
            }
        }
        let plan = self.plan(style, metas, heat_map, (w, h))?;
        if let Some(scale) = plan.scale {
            self.draw_color_scale(canvas, scale, style)?;
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
            if style.boxes
                && let Some(b) = face_box(face, (w, h))
            {
                let color = ID_COLORS[face.id as usize % ID_COLORS.len()];
                let corners = ((b.x0 as f32, b.y0 as f32), (b.x1 as f32, b.y1 as f32));
                canvas.rect_outline(corners.0, corners.1, style.line_width, color);
            }
        }
        for line in &plan.ids {
            self.draw_text(canvas, line, style)?;
        }
        for panel in &plan.panels {
            self.draw_panel(canvas, panel, style)?;
        }
        Ok(())
    }

    /// Sizes every label and finds it a place: the colour scale bottom left, each face's id
    /// above its box, each face's classification below, above or beside it, all moved into
    /// the frame.
    fn plan(
        &mut self,
        style: &Style,
        metas: Metas,
        heat_map: bool,
        (w, h): (f32, f32),
    ) -> Result<Plan, String> {
        let frame = self.frame;
        let th = self.text_height;
        let mut plan = Plan::default();
        if heat_map {
            plan.scale = Some(self.scale_rect(style)?);
        }
        let faces = metas.faces.map(|f| f.faces.as_slice()).unwrap_or_default();
        let id_height = (th + 6.0) as i64;
        let whole = Rect::sized(0, 0, frame.0, frame.1);
        // A face box outside the frame (a stale or broken meta) gets no label slid into it.
        let visible =
            |face: &crate::meta::Face| face_box(face, (w, h)).filter(|b| b.intersects(&whole));
        if style.boxes {
            for face in faces {
                let Some(b) = visible(face) else {
                    continue;
                };
                let text = format!("id {}", face.id);
                let mask = self.text.render(&text)?;
                let rect = Rect::sized(
                    b.x0,
                    b.y0 - id_height,
                    mask.width as i64,
                    mask.height as i64,
                )
                .shifted_into(frame);
                let color = ID_COLORS[face.id as usize % ID_COLORS.len()];
                plan.ids.push(TextLine { rect, text, color });
            }
        }
        if style.classification
            && let Some(class) = metas.class
        {
            for fc in &class.faces {
                let Some(b) = faces.iter().find(|f| f.id == fc.face_id).and_then(visible) else {
                    continue;
                };
                let mut panel = self.panel_contents(class, fc)?;
                let taken: Vec<Rect> = plan.rects().collect();
                let above = if style.boxes { id_height } else { 0 };
                let size = (panel.rect.width(), panel.rect.height());
                let rect = place_panel(b, above, size, frame, &taken, GAP);
                panel.move_to(rect.x0, rect.y0);
                plan.panels.push(panel);
            }
        }
        // A face's id gives way to a classification that could go nowhere else, the scale to
        // any label.
        let panels: Vec<Rect> = plan.panels.iter().map(|p| p.rect).collect();
        plan.ids
            .retain(|l| !panels.iter().any(|p| p.intersects(&l.rect)));
        if let Some(scale) = plan.scale {
            let labels = plan.ids.iter().map(|l| l.rect);
            if labels
                .chain(plan.panels.iter().map(|p| p.rect))
                .any(|r| r.intersects(&scale))
            {
                plan.scale = None;
            }
        }
        Ok(plan)
    }

    /// A face's panel with its lines laid out from the origin.
    fn panel_contents(&mut self, class: &ClassMeta, face: &FaceClass) -> Result<Panel, String> {
        let row = (self.text_height + 8.0) as i64;
        let bar_width = (self.text_height * 9.0).round() as i64;
        let mut panel = Panel::default();
        let (mut width, mut y) = (0, 0);
        if class.synthetic {
            for line in self.notice {
                let mask = self.text.render(line)?;
                let rect = Rect::sized(0, y, mask.width as i64, mask.height as i64);
                panel.notice.push(TextLine {
                    rect,
                    text: (*line).to_owned(),
                    color: NOTICE_COLOR,
                });
                (width, y) = (width.max(rect.width()), rect.y1);
            }
        }
        let values = if face.smoothed.len() == class.labels.len() {
            &face.smoothed
        } else {
            &face.probabilities
        };
        if values.len() == class.labels.len() && !values.is_empty() {
            for (i, (label, p)) in class.labels.iter().zip(values).enumerate() {
                let probability = if p.is_finite() {
                    p.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let text = format!("{label} {probability:.2}");
                // A long label widens its bar rather than running past the panel.
                let mask = self.text.render(&text)?;
                let rect = Rect::sized(
                    0,
                    y,
                    bar_width.max(mask.width as i64 + 4),
                    (row - 2).max(mask.height as i64),
                );
                panel.bars.push(Bar {
                    rect,
                    text,
                    probability,
                    color: CLASS_COLORS[i % CLASS_COLORS.len()],
                });
                (width, y) = (width.max(rect.width()), rect.y1 + 2);
            }
        } else if let Some(reason) = &face.reason {
            let text = format!("not classified: {reason}");
            let mask = self.text.render(&text)?;
            let rect = Rect::sized(0, y, mask.width as i64, mask.height as i64);
            panel.reason = Some(TextLine {
                rect,
                text,
                color: Color::WHITE,
            });
            (width, y) = (width.max(rect.width()), rect.y1);
        }
        panel.rect = Rect::sized(0, 0, width, y);
        Ok(panel)
    }

    /// A line of text on a dark panel.
    fn draw_text(
        &mut self,
        canvas: &mut Canvas,
        line: &TextLine,
        style: &Style,
    ) -> Result<(), String> {
        let mask = self.text.render(&line.text)?;
        let Rect { x0, y0, .. } = line.rect;
        let panel = (style.opacity.clamp(0.0, 1.0) * 200.0) as u8;
        canvas.fill_rect(
            x0,
            y0,
            x0 + mask.width as i64,
            y0 + mask.height as i64,
            Color::BLACK,
            panel,
        );
        canvas.blend_mask(&mask.coverage, mask.width, (x0, y0), line.color, 255);
        Ok(())
    }

    fn draw_panel(
        &mut self,
        canvas: &mut Canvas,
        panel: &Panel,
        style: &Style,
    ) -> Result<(), String> {
        for line in panel.notice.iter().chain(&panel.reason) {
            self.draw_text(canvas, line, style)?;
        }
        let alpha = (style.opacity.clamp(0.0, 1.0) * 200.0) as u8;
        for bar in &panel.bars {
            let Rect { x0, y0, x1, y1 } = bar.rect;
            canvas.fill_rect(x0, y0, x1, y1, Color::BLACK, alpha);
            let filled = x0 + (bar.rect.width() as f32 * bar.probability).round() as i64;
            canvas.fill_rect(x0, y0, filled, y1, bar.color, 255);
            let mask = self.text.render(&bar.text)?;
            canvas.blend_mask(&mask.coverage, mask.width, (x0 + 2, y0), Color::WHITE, 255);
        }
        Ok(())
    }

    /// The colour scale's bar and label, bottom left.
    fn scale_rect(&mut self, style: &Style) -> Result<Rect, String> {
        let th = self.text_height;
        let (length, thick) = ((th * 8.0) as i64, (th * 0.7).max(4.0) as i64);
        let label = self.text.render(&scale_label(style))?;
        let (lw, lh) = (label.width as i64, label.height as i64);
        let x0 = (th * 0.8) as i64;
        let height = thick + 2 + lh;
        Ok(Rect::sized(
            x0,
            self.frame.1 - GAP - height,
            length.max(lw),
            height,
        ))
    }

    /// The heat map's colour scale in `rect`, labelled in pixels per frame.
    fn draw_color_scale(
        &mut self,
        canvas: &mut Canvas,
        rect: Rect,
        style: &Style,
    ) -> Result<(), String> {
        let th = self.text_height;
        let (length, thick) = ((th * 8.0) as i64, (th * 0.7).max(4.0) as i64);
        let Rect { x0, y0, .. } = rect;
        canvas.fill_with((x0, y0, x0 + length, y0 + thick), |x, _| {
            Some((heat_color((x as i64 - x0) as f32 / length as f32), 255))
        });
        let text = scale_label(style);
        let mask = self.text.render(&text)?;
        let rect = Rect::sized(x0, y0 + thick + 2, mask.width as i64, mask.height as i64);
        self.draw_text(
            canvas,
            &TextLine {
                rect,
                text,
                color: Color::WHITE,
            },
            style,
        )
    }
}

impl Panel {
    fn move_to(&mut self, x: i64, y: i64) {
        let (dx, dy) = (x - self.rect.x0, y - self.rect.y0);
        let shift = |r: &mut Rect| *r = Rect::sized(r.x0 + dx, r.y0 + dy, r.width(), r.height());
        shift(&mut self.rect);
        self.notice.iter_mut().for_each(|l| shift(&mut l.rect));
        self.bars.iter_mut().for_each(|b| shift(&mut b.rect));
        self.reason.iter_mut().for_each(|l| shift(&mut l.rect));
    }
}

fn scale_label(style: &Style) -> String {
    format!("0 - {:.1} px/frame", style.flow_max)
}

/// A face's box in frame pixels, when its numbers are worth drawing.
fn face_box(face: &crate::meta::Face, (w, h): (f32, f32)) -> Option<Rect> {
    let b = &face.bbox;
    let (x0, y0) = (b.x as f32 * w, b.y as f32 * h);
    let (x1, y1) = (x0 + b.width as f32 * w, y0 + b.height as f32 * h);
    [x0, y0, x1, y1].into_iter().all(sane).then(|| Rect {
        x0: x0.round() as i64,
        y0: y0.round() as i64,
        x1: x1.round() as i64,
        y1: y1.round() as i64,
    })
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
    use crate::draw::layout::Rect;
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
        Overlay::new(w, h).draw(&mut canvas, style, metas).unwrap();
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

    fn two_class(synthetic: bool, ids: &[u32]) -> ClassMeta {
        ClassMeta {
            model: "m".into(),
            synthetic,
            labels: vec!["typical".into(), "impaired".into()],
            faces: ids
                .iter()
                .map(|&face_id| crate::meta::FaceClass {
                    face_id,
                    probabilities: vec![0.3, 0.7],
                    smoothed: vec![0.3, 0.7],
                    label: None,
                    reason: None,
                })
                .collect(),
            reason: None,
        }
    }

    fn hot_region(face: &Face) -> RegionFlow {
        RegionFlow {
            face_id: face.id,
            roi: face.roi,
            stats: Some(FlowStats::default()),
            grid: vec![2.0; 4],
            ..Default::default()
        }
    }

    fn render_sized(w: usize, h: usize, metas: Metas) -> (Vec<u8>, Overlay) {
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
        let mut overlay = Overlay::new(w, h);
        overlay.draw(&mut canvas, &Style::default(), metas).unwrap();
        (data, overlay)
    }

    /// The pixels a whole notice paints: every pixel its masks cover at all.
    fn notice_pixels(overlay: &mut Overlay) -> usize {
        overlay
            .notice
            .iter()
            .map(|line| {
                let mask = overlay.text.render(line).unwrap();
                mask.coverage.iter().filter(|&&c| c > 0).count()
            })
            .sum()
    }

    #[test]
    fn the_notice_is_drawn_whole_and_no_label_covers_another_at_any_size() {
        let sizes = [
            (160, 120),
            (120, 160),
            (176, 144),
            (201, 113),
            (180, 320),
            (360, 288),
            (480, 480),
            (1280, 720),
        ];
        let spots = [0.0, 0.1, 0.5, 0.9, 1.0];
        for (w, h) in sizes {
            for cx in spots {
                for cy in spots {
                    for r in [0.08, 0.3] {
                        let face = face_at(1, cx, cy, r);
                        let flow = FlowMeta {
                            region_kind: "face".into(),
                            grid_width: 2,
                            grid_height: 2,
                            regions: vec![hot_region(&face)],
                            ..Default::default()
                        };
                        let faces = FaceMeta {
                            faces: vec![face],
                            fresh: true,
                        };
                        let class = two_class(true, &[1]);
                        let metas = Metas {
                            faces: Some(&faces),
                            flow: Some(&flow),
                            class: Some(&class),
                        };
                        let (data, mut overlay) = render_sized(w, h, metas);
                        let at = format!("{w}x{h}, face at ({cx}, {cy}) radius {r}");
                        let plan = overlay
                            .plan(&Style::default(), metas, true, (w as f32, h as f32))
                            .unwrap();
                        assert_eq!(plan.panels.len(), 1, "{at}");
                        if (w, h) == (1280, 720) && r < 0.1 && (0.1..=0.9).contains(&cx) {
                            // Room for everything: nothing had to give way.
                            assert!(plan.scale.is_some() && plan.ids.len() == 1, "{at}");
                        }
                        let rects: Vec<Rect> = plan.rects().collect();
                        for (i, a) in rects.iter().enumerate() {
                            assert!(
                                a.inside((w as i64, h as i64)),
                                "{at}: {a:?} leaves the frame"
                            );
                            for b in &rects[i + 1..] {
                                assert!(!a.intersects(b), "{at}: {a:?} covers {b:?}");
                            }
                        }
                        let panel = &plan.panels[0];
                        assert_eq!(panel.notice.len(), overlay.notice.len());
                        for line in &panel.notice {
                            let r = line.rect;
                            let p = panel.rect;
                            assert!(r.x0 >= p.x0 && r.y0 >= p.y0 && r.x1 <= p.x1 && r.y1 <= p.y1);
                        }
                        drop(data);

                        // Alone on a black frame (no bars, no other layer), every pixel the
                        // notice's masks cover is painted: none fell outside the frame.
                        let mut bare = two_class(true, &[1]);
                        bare.faces[0].probabilities.clear();
                        bare.faces[0].smoothed.clear();
                        let only_notice = Style {
                            landmarks: false,
                            boxes: false,
                            flow: false,
                            ..Style::default()
                        };
                        let metas = Metas {
                            class: Some(&bare),
                            ..metas
                        };
                        let mut frame = vec![0u8; w * h * 4];
                        let mut canvas = Canvas::new(
                            w,
                            h,
                            PixelLayout::packed(4, 0, 1, 2),
                            vec![Plane {
                                data: &mut frame,
                                stride: w * 4,
                            }],
                        )
                        .unwrap();
                        overlay.draw(&mut canvas, &only_notice, metas).unwrap();
                        let painted = frame.chunks_exact(4).filter(|p| p[0] > 0).count();
                        let whole = notice_pixels(&mut overlay);
                        assert!(whole > 100, "{at}: {whole}");
                        assert_eq!(painted, whole, "{at}: the notice is not drawn whole");
                    }
                }
            }
        }
    }

    #[test]
    fn the_notice_is_one_line_where_it_fits_and_two_where_it_does_not() {
        assert_eq!(NOTICE_LINES.join(" "), SYNTHETIC_NOTICE);
        assert_eq!(Overlay::new(640, 480).notice, &[SYNTHETIC_NOTICE]);
        assert_eq!(Overlay::new(160, 120).notice, &NOTICE_LINES);
        // Text follows the frame's height, and a narrow frame makes it smaller still.
        let (small, large) = (Overlay::new(640, 120), Overlay::new(1920, 1080));
        assert!(large.text_height > small.text_height);
        assert!(Overlay::new(120, 120).text_height < small.text_height);
    }

    #[test]
    fn long_class_labels_widen_their_bars_and_stay_in_the_panel() {
        let faces = FaceMeta {
            faces: vec![face_at(1, 0.5, 0.5, 0.1)],
            fresh: true,
        };
        let mut class = two_class(false, &[1]);
        class.labels = vec![
            "typical-motion-profile".into(),
            "impaired-motion-profile".into(),
        ];
        let metas = Metas {
            faces: Some(&faces),
            class: Some(&class),
            ..Default::default()
        };
        let (_, mut overlay) = render_sized(640, 480, metas);
        let plan = overlay
            .plan(&Style::default(), metas, false, (640.0, 480.0))
            .unwrap();
        let panel = &plan.panels[0];
        assert!(panel.notice.is_empty());
        for bar in &panel.bars {
            let mask = overlay.text.render(&bar.text).unwrap();
            assert!(bar.rect.width() >= mask.width as i64 + 2, "{bar:?}");
            assert!(bar.rect.height() >= mask.height as i64, "{bar:?}");
            let (p, r) = (panel.rect, bar.rect);
            assert!(
                r.x0 >= p.x0 && r.y0 >= p.y0 && r.x1 <= p.x1 && r.y1 <= p.y1,
                "{r:?} {p:?}"
            );
        }
        assert!(!panel.bars[0].rect.intersects(&panel.bars[1].rect));
    }

    #[test]
    fn faces_outside_the_frame_get_no_label() {
        let faces = FaceMeta {
            faces: vec![face_at(1, 3.0, 0.5, 0.1)],
            fresh: true,
        };
        let class = two_class(true, &[1]);
        let metas = Metas {
            faces: Some(&faces),
            class: Some(&class),
            ..Default::default()
        };
        let (data, mut overlay) = render_sized(320, 240, metas);
        let plan = overlay
            .plan(&Style::default(), metas, false, (320.0, 240.0))
            .unwrap();
        assert!(plan.panels.is_empty() && plan.ids.is_empty());
        assert!(data.iter().all(|&b| b == 0));
    }

    #[test]
    fn two_faces_side_by_side_keep_their_panels_apart() {
        for (w, h) in [(640, 480), (320, 240)] {
            let faces = FaceMeta {
                faces: vec![face_at(1, 0.3, 0.45, 0.15), face_at(2, 0.62, 0.45, 0.15)],
                fresh: true,
            };
            let class = two_class(true, &[1, 2]);
            let metas = Metas {
                faces: Some(&faces),
                class: Some(&class),
                ..Default::default()
            };
            let (_, mut overlay) = render_sized(w, h, metas);
            let plan = overlay
                .plan(&Style::default(), metas, false, (w as f32, h as f32))
                .unwrap();
            assert_eq!(plan.panels.len(), 2);
            assert!(
                !plan.panels[0].rect.intersects(&plan.panels[1].rect),
                "{w}x{h}: {plan:?}"
            );
        }
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
