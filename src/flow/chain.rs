// SPDX-License-Identifier: MPL-2.0

//! The chain of consecutive frames that flow is measured between: which previous frame (and
//! which of its faces) the next frame pairs with, why a frame has none, and the gray images
//! kept for reuse once no pending flow reads them.

use std::sync::Arc;

use super::faces::pair_faces;
use super::gray::GrayImage;
use super::pool::FacePair;
use crate::mesh::Roi;

/// Why the first frame of a stream has no flow.
pub const START: &str = "start";

/// What a frame of faces pairs with.
#[derive(Debug)]
pub struct FacesStep {
    /// Per face of the frame, in its order: the squares to compare, or why there are none.
    pub plan: Vec<Result<FacePair, &'static str>>,
    /// The previous frame's image, when at least one face pairs with it.
    pub prev: Option<Arc<GrayImage>>,
}

#[derive(Debug)]
pub struct FrameChain {
    prev: Option<Arc<GrayImage>>,
    /// The faces of `prev` and their squares.
    prev_faces: Vec<(u32, Roi)>,
    /// Why the next frame has no flow, set when the chain is broken.
    broken: Option<&'static str>,
    spare: Vec<Arc<GrayImage>>,
    /// Images in flight at once (one per flow thread, the two frames being paired) are all
    /// that are worth keeping.
    spare_limit: usize,
}

impl Default for FrameChain {
    fn default() -> Self {
        Self::new(1)
    }
}

impl FrameChain {
    /// A chain whose flow runs on `threads` threads at once.
    pub fn new(threads: usize) -> Self {
        Self {
            prev: None,
            prev_faces: Vec::new(),
            broken: Some(START),
            spare: Vec::new(),
            spare_limit: threads.max(1) + 2,
        }
    }

    /// Breaks the chain: the next frame has no flow, for `reason`. The first reason since the
    /// last paired frame wins, so a flush followed by its segment reads "flush".
    pub fn break_with(&mut self, reason: &'static str) {
        self.forget_prev();
        self.broken.get_or_insert(reason);
    }

    /// Drops the previous frame without breaking the chain: the next frame's faces are new
    /// (a frame without faces, or one whose faces were not analysed).
    pub fn forget_prev(&mut self) {
        if let Some(prev) = self.prev.take() {
            self.recycle(prev);
        }
        self.prev_faces.clear();
    }

    /// An image to fill with the next frame: a spare one that no pending flow reads any
    /// more, or a new one.
    pub fn blank_image(&mut self) -> Arc<GrayImage> {
        match self
            .spare
            .iter()
            .position(|img| Arc::strong_count(img) == 1)
        {
            Some(i) => self.spare.swap_remove(i),
            None => Arc::new(GrayImage::default()),
        }
    }

    /// Adds a frame of faces (id and square, `None` when the face gives no usable square) and
    /// says which faces pair with the previous frame. With `stabilize`, each frame is sampled
    /// with its own square.
    pub fn push_faces(
        &mut self,
        image: &Arc<GrayImage>,
        faces: &[(u32, Option<Roi>)],
        stabilize: bool,
    ) -> FacesStep {
        let previous = self.prev.is_some().then_some(self.prev_faces.as_slice());
        let plan = pair_faces(previous, self.broken, faces, stabilize);
        let pairs = plan.iter().any(Result::is_ok);
        let prev = self.replace_prev(image);
        self.prev_faces = faces
            .iter()
            .filter_map(|&(id, roi)| Some((id, roi?)))
            .collect();
        FacesStep {
            plan,
            prev: prev.filter(|_| pairs),
        }
    }

    /// Adds a whole frame and returns the previous one to pair it with, or why there is none.
    pub fn push_frame(&mut self, image: &Arc<GrayImage>) -> Result<Arc<GrayImage>, &'static str> {
        let broken = self.broken;
        self.prev_faces.clear();
        self.replace_prev(image).ok_or(broken.unwrap_or(START))
    }

    /// Makes `image` the previous frame; the old one goes back to the spares (a pending flow
    /// may still hold it: it is reused only once that flow is done).
    fn replace_prev(&mut self, image: &Arc<GrayImage>) -> Option<Arc<GrayImage>> {
        let prev = self.prev.replace(image.clone());
        self.broken = None;
        if let Some(prev) = &prev {
            self.recycle(prev.clone());
        }
        prev
    }

    fn recycle(&mut self, image: Arc<GrayImage>) {
        if self.spare.len() < self.spare_limit {
            self.spare.push(image);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::NEW_FACE;

    fn image(value: u8) -> Arc<GrayImage> {
        Arc::new(GrayImage::from_vec(2, 2, vec![value; 4]).unwrap())
    }

    fn roi(cx: f64) -> Roi {
        Roi {
            cx,
            cy: 50.0,
            size: 40.0,
            rotation: 0.0,
        }
    }

    #[test]
    fn whole_frames_pair_with_the_one_before_once_started() {
        let mut chain = FrameChain::new(1);
        assert_eq!(chain.push_frame(&image(1)).unwrap_err(), START);
        let prev = chain.push_frame(&image(2)).unwrap();
        assert_eq!(prev.data(), &[1; 4]);
        let prev = chain.push_frame(&image(3)).unwrap();
        assert_eq!(prev.data(), &[2; 4]);
    }

    #[test]
    fn the_first_reason_a_chain_breaks_for_is_the_one_reported() {
        let mut chain = FrameChain::new(1);
        chain.push_frame(&image(1)).unwrap_err();
        chain.push_frame(&image(2)).unwrap();
        chain.break_with("flush");
        chain.break_with("segment");
        assert_eq!(chain.push_frame(&image(3)).unwrap_err(), "flush");
        assert!(chain.push_frame(&image(4)).is_ok());
    }

    #[test]
    fn faces_pair_by_id_and_a_frame_without_faces_makes_the_next_ones_new() {
        let mut chain = FrameChain::new(1);
        let first = chain.push_faces(&image(1), &[(7, Some(roi(10.0)))], true);
        assert_eq!(first.plan, vec![Err(START)]);
        assert!(first.prev.is_none());

        let faces = [(7, Some(roi(12.0))), (8, Some(roi(90.0)))];
        let second = chain.push_faces(&image(2), &faces, true);
        assert_eq!(
            second.plan[0],
            Ok(FacePair {
                prev: roi(10.0),
                next: roi(12.0)
            })
        );
        assert_eq!(second.plan[1], Err(NEW_FACE));
        assert_eq!(second.prev.map(|p| p.data()[0]), Some(1));

        // Face 9 is new: no face pairs, so the previous image is not handed out.
        let third = chain.push_faces(&image(3), &[(9, Some(roi(50.0)))], true);
        assert_eq!(third.plan, vec![Err(NEW_FACE)]);
        assert!(third.prev.is_none());

        chain.forget_prev();
        let after_gap = chain.push_faces(&image(4), &[(9, Some(roi(50.0)))], true);
        assert_eq!(after_gap.plan, vec![Err(NEW_FACE)]);
        let paired = chain.push_faces(&image(5), &[(9, Some(roi(51.0)))], false);
        assert_eq!(
            paired.plan,
            vec![Ok(FacePair {
                prev: roi(51.0),
                next: roi(51.0)
            })]
        );
    }

    #[test]
    fn an_image_a_pending_flow_reads_is_never_handed_out_to_be_filled() {
        let mut chain = FrameChain::new(1);
        chain.push_frame(&image(1)).unwrap_err();
        let pending = chain.push_frame(&image(2)).unwrap();
        // The previous image is a spare now, but `pending` still reads it.
        let blank = chain.blank_image();
        assert!(!Arc::ptr_eq(&blank, &pending));
        assert!(blank.data().is_empty());
        drop(pending);
        let reused = chain.blank_image();
        assert_eq!(reused.data(), &[1; 4]);
    }

    #[test]
    fn spares_are_bounded_by_the_images_in_flight() {
        let mut chain = FrameChain::new(2);
        let mut held = Vec::new();
        for i in 0..20 {
            if let Ok(prev) = chain.push_frame(&image(i)) {
                held.push(prev);
            }
        }
        assert_eq!(chain.spare.len(), 4);
    }
}
