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
    let (w, h, clip) = common::face_clip(als_synthetic::Scenario::Face);
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
    let (w, h, _) = als_synthetic::Scenario::Face.geometry();
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

/// What `alsoverlay` draws on a gray `format` frame, converted to RGB by `videoconvert`.
fn drawn_as_rgb(format: VideoFormat, w: u32, h: u32) -> Vec<u8> {
    common::init();
    let pipeline = gst::parse::launch(
        "appsrc name=src format=time ! alsoverlay draw-flow=false ! videoconvert ! \
         video/x-raw,format=RGB ! appsink name=out sync=false",
    )
    .expect("pipeline parses");
    let (src, sink) = (common::appsrc(&pipeline), common::appsink(&pipeline));
    src.set_caps(Some(&common::video_caps(format, w, h)));
    pipeline.set_state(gst::State::Playing).expect("plays");
    let mut frame = common::frame_buffer(&vec![128u8; (w * h) as usize], format, w, h);
    {
        let b = frame.get_mut().expect("writable");
        b.set_pts(gst::ClockTime::ZERO);
        circle_face(0.5, 0.5, 0.3).attach(b).expect("meta attaches");
    }
    src.push_buffer(frame).expect("pushed");
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(10))
        .expect("a frame");
    pipeline.set_state(gst::State::Null).expect("stops");
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("info");
    let buffer = sample.buffer().expect("buffer");
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("maps");
    let stride = frame.plane_stride()[0] as usize;
    let plane = frame.plane_data(0).expect("plane");
    (0..h as usize)
        .flat_map(|y| plane[y * stride..y * stride + 3 * w as usize].to_vec())
        .collect()
}

#[test]
fn every_format_draws_the_same_colours() {
    let (w, h) = (160u32, 120u32);
    let reference = drawn_as_rgb(VideoFormat::Rgbx, w, h);
    // The pixels the reference drew on (not the gray background), and their mean colour.
    let drawn: Vec<usize> = (0..(w * h) as usize)
        .filter(|&i| {
            reference[3 * i..3 * i + 3]
                .iter()
                .any(|&c| c.abs_diff(128) > 40)
        })
        .collect();
    assert!(drawn.len() > 200, "{} pixels drawn", drawn.len());
    let mean = |rgb: &[u8]| -> [f64; 3] {
        std::array::from_fn(|c| {
            drawn.iter().map(|&i| rgb[3 * i + c] as f64).sum::<f64>() / drawn.len() as f64
        })
    };
    let expected = mean(&reference);
    // Its colour is no gray: a swapped chroma plane or channel would show.
    let spread = expected.iter().cloned().fold(f64::MIN, f64::max)
        - expected.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 30.0, "the drawing is coloured: {expected:?}");
    let formats = [
        VideoFormat::I420,
        VideoFormat::Yv12,
        VideoFormat::Nv12,
        VideoFormat::Nv21,
        VideoFormat::Rgb,
        VideoFormat::Bgr,
        VideoFormat::Rgbx,
        VideoFormat::Bgrx,
        VideoFormat::Xrgb,
        VideoFormat::Xbgr,
        VideoFormat::Rgba,
        VideoFormat::Bgra,
        VideoFormat::Argb,
        VideoFormat::Abgr,
    ];
    for format in formats {
        let got = mean(&drawn_as_rgb(format, w, h));
        let worst = (0..3)
            .map(|c| (got[c] - expected[c]).abs())
            .fold(0.0, f64::max);
        eprintln!("{format:?}: mean drawn colour {got:.0?} vs RGBx {expected:.0?}");
        // Chroma at half resolution blurs thin lines' colour into the gray; a swapped plane or
        // channel moves a channel by the colour's whole spread.
        let tolerance = if format.to_str().starts_with(['I', 'Y', 'N']) {
            spread / 3.0
        } else {
            1.0
        };
        assert!(
            worst <= tolerance,
            "{format:?}: {got:?} vs {expected:?} (tolerance {tolerance:.1})"
        );
    }
}

/// The pixels `alsoverlay` paints for a synthetic model's notice alone (no bars, no other
/// layer) on a black RGBx `w` x `h` frame with a face at (`cx`, `cy`): their count, and
/// whether any lies on the frame's border (the notice's masks have a blank margin, so a whole
/// notice never touches it).
fn notice_alone(w: u32, h: u32, cx: f32, cy: f32) -> (usize, bool) {
    common::init();
    let mut harness = gst_check::Harness::new_parse(
        "alsoverlay draw-landmarks=false draw-boxes=false draw-flow=false",
    );
    harness.set_src_caps(common::video_caps(VideoFormat::Rgbx, w, h));
    let mut frame = common::frame_buffer(&vec![0u8; (w * h) as usize], VideoFormat::Rgbx, w, h);
    let class = gstals::meta::ClassMeta {
        model: "als-synthetic-demo".into(),
        synthetic: true,
        labels: vec!["typical".into(), "impaired".into()],
        faces: vec![gstals::meta::FaceClass {
            face_id: 1,
            ..Default::default()
        }],
        reason: None,
    };
    {
        let b = frame.get_mut().expect("writable");
        circle_face(cx, cy, 0.2)
            .attach(b)
            .expect("face meta attaches");
        class.attach(b).expect("class meta attaches");
    }
    let out = harness.push_and_pull(frame).expect("frame passes");
    let (w, h) = (w as usize, h as usize);
    let pixels = bytes(&out);
    let painted = |x: usize, y: usize| pixels[(y * w + x) * 4] > 0;
    let count = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| painted(x, y))
        .count();
    let border = (0..w).any(|x| painted(x, 0) || painted(x, h - 1))
        || (0..h).any(|y| painted(0, y) || painted(w - 1, y));
    (count, border)
}

#[test]
fn the_synthetic_notice_is_drawn_whole_at_small_odd_and_portrait_sizes() {
    for (w, h) in [(160, 120), (120, 160), (201, 113), (180, 320), (360, 288)] {
        let (whole, _) = notice_alone(w, h, 0.5, 0.5);
        assert!(whole > 100, "{w}x{h}: only {whole} notice pixels");
        for (cx, cy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 0.95)] {
            let (count, border) = notice_alone(w, h, cx, cy);
            assert_eq!(
                count, whole,
                "{w}x{h}, face at ({cx}, {cy}): the notice is cut"
            );
            assert!(
                !border,
                "{w}x{h}, face at ({cx}, {cy}): the notice touches the edge"
            );
        }
    }
}
