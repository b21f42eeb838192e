// SPDX-License-Identifier: MPL-2.0

//! `alsoverlay`: draws in place in every format it offers, leaves buffers without metas
//! untouched, and in a real face pipeline draws each layer where its meta says.

mod common;

use gst::prelude::*;
use gst_video::VideoFormat;
use gst_video::prelude::*;
use gstals::meta::{Face, FaceMeta, NormRect, NormRotatedRect};

const FORMATS: [VideoFormat; 6] = [
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
];

/// A face whose landmarks lie on a circle around (`cx`, `cy`), in fractions of the frame.
fn circle_face(cx: f32, cy: f32, r: f32) -> FaceMeta {
    let landmarks = (0..gstals::meta::LANDMARKS_PER_FACE)
        .map(|i| {
            let a = i as f32 * std::f32::consts::TAU / 468.0;
            [cx + r * a.cos(), cy + r * a.sin(), 0.0]
        })
        .collect();
    FaceMeta {
        faces: vec![Face {
            id: 1,
            detection_score: 1.0,
            presence_score: 1.0,
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
        }],
        fresh: true,
    }
}

fn bytes(buffer: &gst::BufferRef) -> Vec<u8> {
    buffer.map_readable().expect("readable").to_vec()
}

#[test]
fn every_format_is_drawn_in_place_and_bare_buffers_pass_unchanged() {
    common::init();
    let (w, h) = (96u32, 72u32);
    let luma = vec![90u8; (w * h) as usize];
    for format in FORMATS {
        let mut harness = gst_check::Harness::new("alsoverlay");
        harness.set_src_caps(common::video_caps(format, w, h));

        let bare = common::frame_buffer(&luma, format, w, h);
        let expected = bytes(&bare);
        // Still referenced here, so not writable: it must go through, not be copied.
        let kept = bare.clone();
        let out = harness.push_and_pull(bare).expect("bare buffer passes");
        assert_eq!(
            out.as_ptr(),
            kept.as_ptr(),
            "{format:?}: a bare buffer was copied"
        );
        assert_eq!(
            bytes(&out),
            expected,
            "{format:?}: a buffer without metas changed"
        );
        let caps = harness
            .sinkpad()
            .and_then(|p| p.current_caps())
            .expect("caps");
        let info = gst_video::VideoInfo::from_caps(&caps).expect("video caps");
        assert_eq!(info.format(), format, "the overlay forced a conversion");

        let mut annotated = common::frame_buffer(&luma, format, w, h);
        circle_face(0.5, 0.55, 0.25)
            .attach(annotated.get_mut().expect("writable"))
            .expect("meta attaches");
        let out = harness
            .push_and_pull(annotated)
            .expect("annotated buffer passes");
        let drawn = bytes(&out);
        let changed = drawn.iter().zip(&expected).filter(|(a, b)| a != b).count();
        assert!(changed > 100, "{format:?}: only {changed} bytes drawn");
        // Bottom-right corner: far from the face, its box and its label.
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(out.as_ref(), &info).expect("maps");
        let stride = frame.plane_stride()[0] as usize;
        let bpp = frame.format_info().pixel_stride()[0].max(1) as usize;
        let plane = frame.plane_data(0).expect("plane");
        let at = (h as usize - 2) * stride + (w as usize - 2) * bpp;
        let before = common::frame_buffer(&luma, format, w, h);
        let before = gst_video::VideoFrameRef::from_buffer_ref_readable(before.as_ref(), &info)
            .expect("maps");
        assert_eq!(
            plane[at..at + bpp],
            before.plane_data(0).expect("plane")[at..at + bpp],
            "{format:?}: drawn far from the face"
        );
    }
}

const FRAMES: usize = 16;

/// The face clip's first frames through `alsmesh ! alsflow region=face ! alsclassify !
/// {overlay}` as RGBx, with the face meta of each.
fn face_run(overlay: &str) -> Vec<(Vec<u8>, Option<FaceMeta>)> {
    common::init();
    let (w, h, clip) = common::face_clip(gstals::synthetic::Scenario::Face);
    let model = common::asset("third_party/models/als-synthetic-demo.onnx");
    let elements = format!(
        "videoconvert ! video/x-raw,format=RGBx ! alsmesh ! \
         alsflow region=face grid-width=16 grid-height=16 ! \
         alsclassify model=\"{}\" ! {overlay}",
        model.display()
    );
    let buffers = common::run_frames(&elements, VideoFormat::Rgb, w, h, &clip[..FRAMES])
        .expect("pipeline runs");
    assert_eq!(buffers.len(), FRAMES);
    buffers
        .iter()
        .map(|b| {
            (
                bytes(b),
                FaceMeta::read(b).map(|m| m.expect("valid face meta")),
            )
        })
        .collect()
}

#[test]
fn each_layer_lands_where_its_meta_says_and_all_off_changes_nothing() {
    let (w, h, _) = gstals::synthetic::Scenario::Face.geometry();
    let plain = face_run("identity");
    let landmarks_only =
        face_run("alsoverlay draw-boxes=false draw-flow=false draw-classification=false");
    let everything = face_run("alsoverlay");
    let nothing = face_run(
        "alsoverlay draw-landmarks=false draw-boxes=false draw-flow=false \
         draw-classification=false",
    );
    let changed = |a: &[u8], b: &[u8], x0: usize, y0: usize, x1: usize, y1: usize| {
        let mut n = 0;
        for y in y0.min(h)..y1.min(h) {
            for x in x0.min(w)..x1.min(w) {
                let at = (y * w + x) * 4;
                n += usize::from(a[at..at + 3] != b[at..at + 3]);
            }
        }
        n
    };
    let mut panels = 0;
    for i in 0..FRAMES {
        let (base, faces) = &plain[i];
        assert_eq!(&nothing[i].0, base, "frame {i}: every layer off still drew");
        let face = &faces.as_ref().expect("face meta").faces[0];
        let b = face.bbox;
        // The landmarks lie inside their own box; allow the line width around it.
        let (bx0, by0) = ((b.x * w as f64) as usize - 3, (b.y * h as f64) as usize - 3);
        let (bx1, by1) = (
            ((b.x + b.width) * w as f64) as usize + 4,
            ((b.y + b.height) * h as f64) as usize + 4,
        );
        let lm = &landmarks_only[i].0;
        let inside = changed(lm, base, bx0, by0, bx1, by1);
        let all = changed(lm, base, 0, 0, w, h);
        assert!(inside > 300, "frame {i}: {inside} landmark pixels");
        assert_eq!(
            all, inside,
            "frame {i}: landmarks drawn outside the face box"
        );

        let full = &everything[i].0;
        // The colour scale, bottom left, once the flow has started.
        let scale = changed(full, base, 0, h - 40, 150, h);
        assert_eq!(scale > 50, i > 0, "frame {i}: colour scale {scale} pixels");
        // The class bars under the box, once a frame has been classified.
        panels += usize::from(changed(full, base, bx0, by1, bx1, by1 + 60) > 200);
    }
    assert!(
        panels >= FRAMES - 2,
        "class panels on {panels} of {FRAMES} frames"
    );
}
