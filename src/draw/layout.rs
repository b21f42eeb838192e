// SPDX-License-Identifier: MPL-2.0

//! Where the overlay's labels go: inside the frame at any size, clear of each other, next to
//! the face they belong to.

/// A rectangle of frame pixels, `x0..x1` by `y0..y1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Rect {
    pub fn sized(x: i64, y: i64, width: i64, height: i64) -> Self {
        Self {
            x0: x,
            y0: y,
            x1: x.saturating_add(width),
            y1: y.saturating_add(height),
        }
    }

    pub fn width(&self) -> i64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> i64 {
        self.y1 - self.y0
    }

    pub fn intersects(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    fn overlap_area(&self, other: &Rect) -> i64 {
        let w = self.x1.min(other.x1) - self.x0.max(other.x0);
        let h = self.y1.min(other.y1) - self.y0.max(other.y0);
        w.max(0).saturating_mul(h.max(0))
    }

    #[cfg(test)]
    pub fn inside(&self, (width, height): (i64, i64)) -> bool {
        self.x0 >= 0 && self.y0 >= 0 && self.x1 <= width && self.y1 <= height
    }

    /// Moved the least distance that puts it inside the frame; a rectangle larger than the
    /// frame keeps its top-left corner in it, so that its first line shows.
    pub fn shifted_into(&self, (width, height): (i64, i64)) -> Self {
        let shift = |lo: i64, size: i64, room: i64| lo.min(room - size).max(0);
        Self::sized(
            shift(self.x0, self.width(), width),
            shift(self.y0, self.height(), height),
            self.width(),
            self.height(),
        )
    }
}

/// Where a `size` panel goes for the face boxed by `face`: below it, above it (over `above`
/// pixels the face's own label takes), right of it or left of it, `gap` pixels away, slid
/// along the face's side to stay in the frame. The first that fits on its side of the face
/// and is clear of `taken` wins; when none does, the one moved into the frame that covers
/// least of `taken` and the face together (what it covers gives way, the face cannot).
pub fn place_panel(
    face: Rect,
    above: i64,
    (width, height): (i64, i64),
    frame: (i64, i64),
    taken: &[Rect],
    gap: i64,
) -> Rect {
    let sides = [
        (Rect::sized(face.x0, face.y1 + gap, width, height), true),
        (
            Rect::sized(face.x0, face.y0 - above - gap - height, width, height),
            true,
        ),
        (Rect::sized(face.x1 + gap, face.y0, width, height), false),
        (
            Rect::sized(face.x0 - gap - width, face.y0, width, height),
            false,
        ),
    ];
    let overlap = |r: &Rect| taken.iter().map(|t| r.overlap_area(t)).sum::<i64>();
    let moved = sides.map(|(r, vertical)| {
        let inside = r.shifted_into(frame);
        let on_its_side = if vertical {
            inside.y0 == r.y0
        } else {
            inside.x0 == r.x0
        };
        (inside, on_its_side)
    });
    moved
        .iter()
        .find(|(r, on_its_side)| *on_its_side && overlap(r) == 0)
        .map(|(r, _)| *r)
        .or_else(|| {
            moved
                .iter()
                .map(|(r, _)| *r)
                .min_by_key(|r| overlap(r) + r.overlap_area(&face))
        })
        .unwrap_or(moved[0].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: (i64, i64) = (160, 120);

    #[test]
    fn a_rectangle_is_moved_into_the_frame_by_the_least_distance() {
        let r = Rect::sized(150, -5, 30, 20).shifted_into(FRAME);
        assert_eq!(r, Rect::sized(130, 0, 30, 20));
        let inside = Rect::sized(10, 10, 30, 20);
        assert_eq!(inside.shifted_into(FRAME), inside);
        let huge = Rect::sized(-40, 50, 400, 300).shifted_into(FRAME);
        assert_eq!((huge.x0, huge.y0), (0, 0));
    }

    #[test]
    fn the_panel_goes_below_then_above_then_beside_the_face() {
        let size = (60, 30);
        let middle = Rect::sized(60, 20, 30, 30);
        assert_eq!(
            place_panel(middle, 10, size, FRAME, &[], 4),
            Rect::sized(60, 54, 60, 30)
        );
        let low = Rect::sized(50, 80, 30, 30);
        assert_eq!(
            place_panel(low, 10, size, FRAME, &[], 4),
            Rect::sized(50, 36, 60, 30)
        );
        // Below fits in the frame but covers the scale: the panel goes above instead.
        let face = Rect::sized(20, 50, 30, 30);
        assert_eq!(
            place_panel(face, 10, size, FRAME, &[], 4),
            Rect::sized(20, 84, 60, 30)
        );
        let scale = Rect::sized(0, 90, 70, 30);
        assert_eq!(
            place_panel(face, 10, size, FRAME, &[scale], 4),
            Rect::sized(20, 6, 60, 30)
        );
    }

    #[test]
    fn with_no_clear_place_the_least_overlap_is_taken() {
        let everything = [Rect::sized(0, 0, 160, 60), Rect::sized(0, 60, 80, 60)];
        let placed = place_panel(
            Rect::sized(60, 40, 20, 20),
            0,
            (40, 30),
            FRAME,
            &everything,
            4,
        );
        assert!(placed.inside(FRAME));
        // Below the face overlaps 20 x 30 pixels; right of it 40 x 20, above and left more.
        assert_eq!(placed, Rect::sized(60, 64, 40, 30));
    }
}
