// SPDX-License-Identifier: MPL-2.0

mod common;

use common::{frame_buffer, init, texture, video_caps};
use gst::glib;
use gst::prelude::*;
use gst_video::VideoFormat;
use gstals::meta::{Face, FaceMeta, FlowMeta, NormRect, NormRotatedRect, RegionFlow};
use opencv::core::{Mat, Vector};
use opencv::prelude::*;

/// One buffer out per buffer in: `threads=1` holds no frame back.
fn harness(props: &str) -> gst_check::Harness {
    init();
    let mut h = gst_check::Harness::new_parse(&format!("alsflow threads=1 {props}"));
    h.play();
    h
}

fn push(h: &mut gst_check::Harness, buffer: gst::Buffer) -> FlowMeta {
    let out = h
        .push_and_pull(buffer)
        .expect("alsflow passes the buffer on");
    FlowMeta::read(&out)
        .expect("every buffer carries a flow meta")
        .expect("flow meta is well formed")
}

/// The whole-frame flow of the buffer that comes out for `buffer`.
fn push_frame(h: &mut gst_check::Harness, buffer: gst::Buffer) -> RegionFlow {
    let meta = push(h, buffer);
    assert_eq!(meta.region_kind, "frame");
    assert_eq!(meta.regions.len(), 1, "{meta:?}");
    assert_eq!(meta.regions[0].roi, NormRotatedRect::FULL);
    meta.regions.into_iter().next().expect("one region")
}

fn gray(luma: &[u8], w: u32, h: u32) -> gst::Buffer {
    frame_buffer(luma, VideoFormat::Gray8, w, h)
}

/// Farneback + cartToPolar straight from OpenCV with the element's default parameters.
fn opencv_magnitudes(prev: &[u8], next: &[u8], w: i32, h: i32) -> Vec<f32> {
    let prev = Mat::new_rows_cols_with_data::<u8>(h, w, prev).unwrap();
    let next = Mat::new_rows_cols_with_data::<u8>(h, w, next).unwrap();
    let mut flow = Mat::default();
    opencv::video::calc_optical_flow_farneback(&prev, &next, &mut flow, 0.5, 3, 15, 3, 5, 1.2, 0)
        .unwrap();
    let mut xy = Vector::<Mat>::new();
    opencv::core::split(&flow, &mut xy).unwrap();
    let (mut mag, mut ang) = (Mat::default(), Mat::default());
    opencv::core::cart_to_polar(
        &xy.get(0).unwrap(),
        &xy.get(1).unwrap(),
        &mut mag,
        &mut ang,
        true,
    )
    .unwrap();
    mag.data_typed::<f32>().unwrap().to_vec()
}

fn block_mean(mag: &[f32], w: usize, h: usize, gw: usize, gh: usize) -> Vec<f32> {
    let (cw, ch) = (w / gw, h / gh);
    let mut grid = Vec::new();
    for gy in 0..gh {
        for gx in 0..gw {
            let mut sum = 0f64;
            for y in gy * ch..(gy + 1) * ch {
                for x in gx * cw..(gx + 1) * cw {
                    sum += mag[y * w + x] as f64;
                }
            }
            grid.push((sum / (cw * ch) as f64) as f32);
        }
    }
    grid
}

#[test]
fn magnitudes_match_opencv_farneback() {
    let (w, h) = (320u32, 240u32);
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| texture(w as usize, h as usize, 1.5 * i as f32, 0.7 * i as f32))
        .collect();
    for (gw, gh) in [(32usize, 24usize), (0, 0)] {
        let mut hn = harness(&format!("grid-width={gw} grid-height={gh}"));
        hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
        let first = push(&mut hn, gray(&frames[0], w, h));
        assert!(!first.is_valid());
        for pair in 1..frames.len() {
            let meta = push_frame(&mut hn, gray(&frames[pair], w, h));
            let mag = opencv_magnitudes(&frames[pair - 1], &frames[pair], w as i32, h as i32);
            let expected = if gw == 0 {
                mag.clone()
            } else {
                block_mean(&mag, w as usize, h as usize, gw, gh)
            };
            assert_eq!(meta.grid.len(), expected.len());
            for (a, b) in meta.grid.iter().zip(&expected) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
            }
            let stats = meta.stats.expect("second frame on has flow");
            let mean = mag.iter().map(|&m| m as f64).sum::<f64>() / mag.len() as f64;
            assert!((stats.mean - mean).abs() < 1e-4, "{} vs {mean}", stats.mean);
            let max = mag.iter().copied().fold(0f32, f32::max);
            assert_eq!(stats.max, max as f64);
            assert!(stats.mean > 1.0, "the texture moves by 1.6 px per frame");
        }
    }
}

#[test]
fn every_format_gives_the_flow_of_its_full_range_luma() {
    let (w, h) = (96u32, 64u32);
    let a = texture(w as usize, h as usize, 0.0, 0.0);
    let b = texture(w as usize, h as usize, 2.0, 1.0);
    // What a limited-range (16-235) YUV encoder writes for the same pictures.
    let limited = |luma: &[u8]| -> Vec<u8> {
        luma.iter()
            .map(|&v| (16.0 + v as f64 * 219.0 / 255.0).round() as u8)
            .collect()
    };
    let flow_for = |format, a: &[u8], b: &[u8]| {
        let mut hn = harness("grid-width=8 grid-height=4");
        hn.set_src_caps(video_caps(format, w, h));
        push_frame(&mut hn, frame_buffer(a, format, w, h));
        push_frame(&mut hn, frame_buffer(b, format, w, h))
    };
    let reference = flow_for(VideoFormat::Gray8, &a, &b);
    let mean = reference.stats.expect("valid").mean;
    assert!(mean > 0.5);
    use VideoFormat::*;
    for format in [Rgb, Bgr, Rgbx, Bgrx, Xrgb, Xbgr, Rgba, Bgra, Argb, Abgr] {
        assert_eq!(flow_for(format, &a, &b), reference, "{format:?}");
    }
    for format in [I420, Yv12, Nv12, Nv21, Y42b, Y444] {
        let m = flow_for(format, &limited(&a), &limited(&b));
        let yuv_mean = m.stats.expect("valid").mean;
        eprintln!(
            "{format:?} (limited range) vs GRAY8: {:+.3}%",
            (yuv_mean / mean - 1.0) * 100.0
        );
        // Measured +0.53% for each (the 8-bit rounding of the limited-range values).
        assert!(
            (yuv_mean - mean).abs() < 0.01 * mean,
            "{format:?}: {yuv_mean} vs {mean}"
        );
        let raw = flow_for(format, &a, &b).stats.expect("valid").mean;
        assert!(
            (raw - mean).abs() > 0.01 * mean,
            "{format:?}: luma taken as limited range is expanded ({raw} vs {mean})"
        );
    }
}

#[test]
fn flush_restarts_the_frame_pair() {
    let (w, h) = (64u32, 48u32);
    let mut hn = harness("");
    hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
    let a = texture(64, 48, 0.0, 0.0);
    let b = texture(64, 48, 1.0, 0.0);
    assert_eq!(
        push_frame(&mut hn, gray(&a, w, h)).reset_reason.as_deref(),
        Some("start")
    );
    assert!(push_frame(&mut hn, gray(&b, w, h)).is_valid());
    assert!(hn.push_event(gst::event::FlushStart::new()));
    assert!(hn.push_event(gst::event::FlushStop::new(true)));
    let segment = gst::FormattedSegment::<gst::ClockTime>::new();
    assert!(hn.push_event(gst::event::Segment::new(&segment)));
    let after = push_frame(&mut hn, gray(&a, w, h));
    assert!(!after.is_valid());
    assert_eq!(after.reset_reason.as_deref(), Some("flush"));
    assert!(after.grid.is_empty());
    assert!(push_frame(&mut hn, gray(&b, w, h)).is_valid());
}

#[test]
fn discont_and_gap_restart_the_frame_pair() {
    let (w, h) = (64u32, 48u32);
    let mut hn = harness("");
    hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
    let a = texture(64, 48, 0.0, 0.0);
    push_frame(&mut hn, gray(&a, w, h));
    assert!(push_frame(&mut hn, gray(&a, w, h)).is_valid());

    let mut discont = gray(&a, w, h);
    discont
        .get_mut()
        .unwrap()
        .set_flags(gst::BufferFlags::DISCONT);
    assert_eq!(
        push_frame(&mut hn, discont).reset_reason.as_deref(),
        Some("discont")
    );
    assert!(push_frame(&mut hn, gray(&a, w, h)).is_valid());

    assert!(hn.push_event(gst::event::Gap::builder(gst::ClockTime::ZERO).build()));
    assert_eq!(
        push_frame(&mut hn, gray(&a, w, h)).reset_reason.as_deref(),
        Some("gap")
    );

    let mut gap = gray(&a, w, h);
    gap.get_mut().unwrap().set_flags(gst::BufferFlags::GAP);
    assert_eq!(
        push_frame(&mut hn, gap).reset_reason.as_deref(),
        Some("gap")
    );
    assert!(
        !push_frame(&mut hn, gray(&a, w, h)).is_valid(),
        "a gap buffer is no pair partner"
    );
    assert!(push_frame(&mut hn, gray(&a, w, h)).is_valid());
}

#[test]
fn resolution_change_mid_stream_restarts_at_the_new_size() {
    let mut hn = harness("grid-width=0 grid-height=0");
    hn.set_src_caps(video_caps(VideoFormat::I420, 640, 480));
    let big = texture(640, 480, 0.0, 0.0);
    push(&mut hn, frame_buffer(&big, VideoFormat::I420, 640, 480));
    let m = push(&mut hn, frame_buffer(&big, VideoFormat::I420, 640, 480));
    assert_eq!(
        (m.grid_width, m.grid_height, m.regions[0].grid.len()),
        (640, 480, 640 * 480)
    );

    hn.set_src_caps(video_caps(VideoFormat::I420, 320, 240));
    let small = texture(320, 240, 0.0, 0.0);
    let moved = texture(320, 240, 1.0, 1.0);
    let first = push_frame(&mut hn, frame_buffer(&small, VideoFormat::I420, 320, 240));
    assert_eq!(first.reset_reason.as_deref(), Some("caps"));
    let m = push(&mut hn, frame_buffer(&moved, VideoFormat::I420, 320, 240));
    assert_eq!(
        (m.grid_width, m.grid_height, m.regions[0].grid.len()),
        (320, 240, 320 * 240)
    );
    assert!(m.regions[0].stats.expect("valid").mean > 0.5);
}

#[test]
fn tiny_and_odd_frames_give_finite_flow() {
    for (w, h) in [(1u32, 1u32), (2, 2), (3, 1), (641, 481)] {
        for format in [VideoFormat::Gray8, VideoFormat::I420, VideoFormat::Rgb] {
            let mut hn = harness("");
            hn.set_src_caps(video_caps(format, w, h));
            let a = texture(w as usize, h as usize, 0.0, 0.0);
            let b = texture(w as usize, h as usize, 1.0, 0.5);
            push_frame(&mut hn, frame_buffer(&a, format, w, h));
            let meta = push(&mut hn, frame_buffer(&b, format, w, h));
            // The grid has at most one cell per pixel.
            let cells = (32.min(w) * 32.min(h)) as usize;
            assert_eq!(
                (meta.grid_width, meta.grid_height),
                (32.min(w), 32.min(h)),
                "{w}x{h} {format:?}"
            );
            let m = &meta.regions[0];
            let s = m.stats.expect("valid");
            assert_eq!(m.grid.len(), cells, "{w}x{h} {format:?}");
            assert!(
                m.grid.iter().all(|v| v.is_finite())
                    && [s.mean, s.max, s.p99, s.mean_direction]
                        .iter()
                        .all(|v| v.is_finite()),
                "{w}x{h} {format:?}: {m:?}"
            );
        }
    }
}

/// A face whose landmarks span `bbox` with level eyes, so that its square is centred on the
/// box with 1.5 times its longer side (in pixels of a `w` x `h` frame) and no roll.
fn face_in(id: u32, bbox: NormRect) -> Face {
    let (x, y, bw, bh) = (
        bbox.x as f32,
        bbox.y as f32,
        bbox.width as f32,
        bbox.height as f32,
    );
    let mut landmarks = vec![[x + bw / 2.0, y + bh / 2.0, 0.0]; gstals::meta::LANDMARKS_PER_FACE];
    landmarks[0] = [x, y, 0.0];
    landmarks[1] = [x + bw, y + bh, 0.0];
    landmarks[33] = [x + 0.3 * bw, y + 0.4 * bh, 0.0];
    landmarks[263] = [x + 0.7 * bw, y + 0.4 * bh, 0.0];
    Face {
        id,
        detection_score: 0.9,
        presence_score: 0.9,
        bbox,
        landmarks,
        ..Default::default()
    }
}

fn with_faces(mut buffer: gst::Buffer, faces: &[(u32, NormRect)]) -> gst::Buffer {
    let meta = FaceMeta {
        faces: faces.iter().map(|&(id, bbox)| face_in(id, bbox)).collect(),
        fresh: true,
    };
    meta.attach(buffer.get_mut().unwrap()).unwrap();
    buffer
}

fn rect(x: f64, y: f64, width: f64, height: f64) -> NormRect {
    NormRect {
        x,
        y,
        width,
        height,
    }
}

#[test]
fn face_region_samples_both_frames_with_the_current_square() {
    let (w, h) = (160u32, 120u32);
    let still = texture(160, 120, 0.0, 0.0);
    let face_a = rect(0.25, 0.25, 0.4, 0.4);
    let face_b = rect(0.3, 0.2, 0.4, 0.4);
    let run = |props: &str| {
        let mut hn = harness(&format!("region=face grid-width=4 grid-height=4 {props}"));
        hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
        let first = push(&mut hn, with_faces(gray(&still, w, h), &[(1, face_a)]));
        assert_eq!(first.regions[0].reset_reason.as_deref(), Some("start"));
        push(&mut hn, with_faces(gray(&still, w, h), &[(1, face_b)]))
    };
    // The scene stands still while the face box moves: one square for both frames sees no
    // motion; each frame's own square (stabilize) sees the box's shift as motion.
    let m = run("region-size=64");
    assert_eq!((m.region_kind.as_str(), m.region_size), ("face", 64));
    assert_eq!((m.grid_width, m.grid_height), (4, 4));
    let face = &m.regions[0];
    assert_eq!(face.face_id, 1);
    // Face B: 64 x 48 pixels around (80, 48); its square is 1.5 x 64 = 96 pixels.
    let expected = NormRotatedRect {
        cx: 0.5,
        cy: 0.4,
        width: 0.6,
        height: 0.8,
        rotation: 0.0,
    };
    for (a, b) in [
        (face.roi.cx, expected.cx),
        (face.roi.cy, expected.cy),
        (face.roi.width, expected.width),
        (face.roi.height, expected.height),
        (face.roi.rotation, expected.rotation),
    ] {
        assert!((a - b).abs() < 1e-4, "{:?}", face.roi);
    }
    assert!(face.stats.expect("valid").max < 0.5, "{m:?}");
    assert_eq!(face.grid.len(), 16);
    let stable = run("region-size=64 stabilize=true");
    assert!(
        stable.regions[0].stats.expect("valid").mean > 1.0,
        "{stable:?}"
    );
}

#[test]
fn face_region_measures_only_motion_inside_the_face() {
    let (w, h) = (160usize, 120usize);
    let a = texture(w, h, 0.0, 0.0);
    let mut b = a.clone();
    // Motion in the left third only; the face's square (x 84..156) lies right of it.
    let moved = texture(w, h, 3.0, 0.0);
    for y in 0..h {
        b[y * w..y * w + w / 3].copy_from_slice(&moved[y * w..y * w + w / 3]);
    }
    let face = rect(0.6, 0.3, 0.3, 0.4);
    let run = |props: &str| {
        let mut hn = harness(props);
        hn.set_src_caps(video_caps(VideoFormat::Gray8, w as u32, h as u32));
        push(
            &mut hn,
            with_faces(gray(&a, w as u32, h as u32), &[(1, face)]),
        );
        push(
            &mut hn,
            with_faces(gray(&b, w as u32, h as u32), &[(1, face)]),
        )
        .regions[0]
            .stats
            .expect("valid")
    };
    let frame = run("region=frame");
    let face = run("region=face");
    eprintln!(
        "still face in a moving frame: face flow {:.4} vs frame flow {:.3}",
        face.mean, frame.mean
    );
    // Measured 0.0000 vs 0.690.
    assert!(frame.mean > 0.5, "{frame:?}");
    assert!(face.mean < 0.1 * frame.mean, "{face:?} vs {frame:?}");
}

#[test]
fn every_face_gets_its_own_flow_and_new_or_missing_faces_say_so() {
    let (w, h) = (200u32, 100u32);
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|i| texture(200, 100, 0.0, 1.5 * i as f32))
        .collect();
    let left = rect(0.1, 0.3, 0.2, 0.4);
    let right = rect(0.6, 0.3, 0.2, 0.4);
    let mut hn = harness("region=face region-size=32 grid-width=8 grid-height=8");
    hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
    let reasons = |m: &FlowMeta| -> Vec<(u32, Option<String>)> {
        m.regions
            .iter()
            .map(|r| (r.face_id, r.reset_reason.clone()))
            .collect()
    };
    let m = push(&mut hn, with_faces(gray(&frames[0], w, h), &[(1, left)]));
    assert_eq!(reasons(&m), vec![(1, Some("start".into()))]);
    let m = push(
        &mut hn,
        with_faces(gray(&frames[1], w, h), &[(1, left), (2, right)]),
    );
    assert_eq!(reasons(&m), vec![(1, None), (2, Some("new-face".into()))]);
    // The grid is clamped to the square: 8 x 8 cells of a 32-pixel square.
    assert_eq!((m.grid_width, m.grid_height), (8, 8));
    let m = push(
        &mut hn,
        with_faces(gray(&frames[2], w, h), &[(2, right), (1, left)]),
    );
    assert_eq!(reasons(&m), vec![(2, None), (1, None)]);
    // Both faces are 40 x 40 pixels, so their squares are 60 frame pixels resampled to 32:
    // 1.5 pixels of motion become 0.8.
    for r in &m.regions {
        let mean = r.stats.expect("valid").mean;
        // Measured 0.762 and 0.768 (the resampling smooths the texture a little).
        eprintln!("face {}: flow {mean:.3} for a known 0.8", r.face_id);
        assert!((mean - 0.8).abs() < 0.1, "{r:?}");
    }
    let m = push(&mut hn, with_faces(gray(&frames[3], w, h), &[]));
    assert!(m.regions.is_empty());
    assert_eq!(m.reset_reason.as_deref(), Some("no-face"));
    assert!(!m.is_valid());
    let m = push(&mut hn, with_faces(gray(&frames[4], w, h), &[(2, right)]));
    assert_eq!(reasons(&m), vec![(2, Some("new-face".into()))]);

    // Without a face meta, region=face measures the whole frame.
    let m = push_frame(&mut hn, gray(&frames[0], w, h));
    assert!(m.is_valid(), "{m:?}");
}

#[test]
fn region_size_has_its_documented_range() {
    init();
    let e = gst::ElementFactory::make("alsflow").build().unwrap();
    assert_eq!(e.property::<u32>("region-size"), 128);
    assert!(!e.property::<bool>("stabilize"));
    let pspec = e.find_property("region-size").unwrap();
    let pspec = pspec.downcast_ref::<glib::ParamSpecUInt>().unwrap();
    assert_eq!((pspec.minimum(), pspec.maximum()), (32, 512));
}

#[test]
fn properties_have_the_documented_defaults_and_ranges() {
    init();
    let e = gst::ElementFactory::make("alsflow").build().unwrap();
    assert_eq!(e.property::<f64>("pyr-scale"), 0.5);
    assert_eq!(e.property::<i32>("levels"), 3);
    assert_eq!(e.property::<i32>("winsize"), 15);
    assert_eq!(e.property::<i32>("iterations"), 3);
    assert_eq!(e.property::<i32>("poly-n"), 5);
    assert_eq!(e.property::<f64>("poly-sigma"), 1.2);
    assert!(!e.property::<bool>("gaussian-window"));
    assert_eq!(e.property::<u32>("grid-width"), 32);
    assert_eq!(
        e.property::<gstals::FlowRegion>("region"),
        gstals::FlowRegion::Frame
    );
    e.set_property_from_str("region", "face");
    assert_eq!(
        e.property::<gstals::FlowRegion>("region"),
        gstals::FlowRegion::Face
    );
    let pspec = e.find_property("poly-n").unwrap();
    let pspec = pspec.downcast_ref::<glib::ParamSpecInt>().unwrap();
    assert_eq!((pspec.minimum(), pspec.maximum()), (5, 7));
}

#[test]
fn farneback_properties_reach_opencv() {
    let (w, h) = (96u32, 64u32);
    let a = texture(96, 64, 0.0, 0.0);
    let b = texture(96, 64, 2.5, 1.0);
    // (properties, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags)
    let cases = [
        ("poly-n=7 poly-sigma=1.5", 0.5, 3, 15, 3, 7, 1.5, 0),
        ("gaussian-window=true", 0.5, 3, 15, 3, 5, 1.2, 256),
        ("winsize=7 iterations=1", 0.5, 3, 7, 1, 5, 1.2, 0),
        ("levels=1 pyr-scale=0.8", 0.8, 1, 15, 3, 5, 1.2, 0),
    ];
    let mut means = Vec::new();
    for (props, pyr, levels, win, iters, n, sigma, flags) in cases {
        let mut hn = harness(&format!("grid-width=0 grid-height=0 {props}"));
        hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
        push_frame(&mut hn, gray(&a, w, h));
        let got = push_frame(&mut hn, gray(&b, w, h)).grid;
        let prev = Mat::new_rows_cols_with_data::<u8>(h as i32, w as i32, &a).unwrap();
        let next = Mat::new_rows_cols_with_data::<u8>(h as i32, w as i32, &b).unwrap();
        let mut flow = Mat::default();
        opencv::video::calc_optical_flow_farneback(
            &prev, &next, &mut flow, pyr, levels, win, iters, n, sigma, flags,
        )
        .unwrap();
        let xy = flow.data_typed::<opencv::core::Vec2f>().unwrap();
        assert_eq!(got.len(), xy.len(), "{props}");
        for (m, v) in got.iter().zip(xy) {
            assert!((m - v[0].hypot(v[1])).abs() < 1e-4, "{props}");
        }
        means.push(got.iter().sum::<f32>());
    }
    // Each setting changed the result, so none was ignored.
    for i in 0..means.len() {
        for j in i + 1..means.len() {
            assert_ne!(means[i], means[j], "{} vs {}", cases[i].0, cases[j].0);
        }
    }
}

#[test]
fn dis_properties_reach_opencv_and_the_meta_names_them() {
    use gstals::flow::{DisParams, DisPreset, FlowMethod};
    use opencv::video::{DISOpticalFlow, DISOpticalFlowTrait, DenseOpticalFlowTrait};
    let (w, h) = (96u32, 64u32);
    let a = texture(96, 64, 0.0, 0.0);
    let b = texture(96, 64, 2.5, 1.0);
    let custom = DisParams {
        patch_size: 12,
        ..DisParams::preset(DisPreset::Medium)
    };
    let cases = [
        ("method=dis", DisParams::default()),
        (
            "method=dis dis-preset=ultrafast",
            DisParams::preset(DisPreset::Ultrafast),
        ),
        ("method=dis dis-preset=medium dis-patch-size=12", custom),
    ];
    let mut means = Vec::new();
    for (props, want) in cases {
        let mut hn = harness(&format!("grid-width=0 grid-height=0 {props}"));
        hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
        let first = push(&mut hn, gray(&a, w, h));
        assert_eq!(first.method, Some(FlowMethod::Dis(want)), "{props}");
        let got = push_frame(&mut hn, gray(&b, w, h)).grid;
        let prev = Mat::new_rows_cols_with_data::<u8>(h as i32, w as i32, &a).unwrap();
        let next = Mat::new_rows_cols_with_data::<u8>(h as i32, w as i32, &b).unwrap();
        let mut dis = DISOpticalFlow::create(0).unwrap();
        dis.set_finest_scale(want.finest_scale).unwrap();
        dis.set_patch_size(want.patch_size).unwrap();
        dis.set_patch_stride(want.patch_stride).unwrap();
        dis.set_gradient_descent_iterations(want.gradient_descent_iterations)
            .unwrap();
        dis.set_variational_refinement_iterations(want.variational_refinement_iterations)
            .unwrap();
        let mut flow = Mat::default();
        dis.calc(&prev, &next, &mut flow).unwrap();
        let xy = flow.data_typed::<opencv::core::Vec2f>().unwrap();
        assert_eq!(got.len(), xy.len(), "{props}");
        for (m, v) in got.iter().zip(xy) {
            assert!((m - v[0].hypot(v[1])).abs() < 1e-4, "{props}");
        }
        let mean = got.iter().sum::<f32>() / got.len() as f32;
        // The texture moved 2.5 x 1 pixels: about 2.7 per pixel.
        assert!((mean - 2.69).abs() < 0.5, "{props}: mean {mean}");
        means.push(mean);
    }
    assert!(means[0] != means[1] && means[1] != means[2], "{means:?}");

    init();
    let e = gst::ElementFactory::make("alsflow").build().unwrap();
    let preset = |e: &gst::Element| {
        let value = e.property_value("dis-preset");
        glib::EnumValue::from_value(&value)
            .map(|(_, v)| v.nick().to_string())
            .expect("an enum")
    };
    assert_eq!(preset(&e), "fast");
    e.set_property_from_str("dis-preset", "medium");
    assert_eq!(e.property::<i32>("dis-finest-scale"), 1);
    assert_eq!(e.property::<i32>("dis-patch-stride"), 3);
    assert_eq!(preset(&e), "medium");
    e.set_property_from_str("method", "dis");
    let method = e.property_value("method");
    assert_eq!(
        glib::EnumValue::from_value(&method).map(|(_, v)| v.nick().to_string()),
        Some("dis".to_string())
    );
}

#[test]
fn dis_on_frames_smaller_than_its_patches_posts_an_error() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=24,height=24 \
         ! alsflow method=dis ! fakesink",
    )
    .expect("pipeline parses");
    let err = common::run_to_error(&pipeline);
    assert!(err.to_string().contains("DIS"), "{err}");
    let _ = pipeline.set_state(gst::State::Null);
}

#[test]
fn poly_n_6_is_refused() {
    init();
    let e = gst::ElementFactory::make("alsflow").build().unwrap();
    e.set_property("poly-n", 7i32);
    e.set_property("poly-n", 6i32);
    assert_eq!(e.property::<i32>("poly-n"), 7);
}

#[test]
fn threads_hold_frames_back_and_give_the_same_flow() {
    let (w, h) = (96u32, 64u32);
    let frames: Vec<Vec<u8>> = (0..6)
        .map(|i| texture(96, 64, i as f32 * 0.9, i as f32 * 0.4))
        .collect();
    let serial: Vec<FlowMeta> = {
        let mut hn = harness("grid-width=6 grid-height=4");
        hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
        frames
            .iter()
            .map(|f| push(&mut hn, gray(f, w, h)))
            .collect()
    };

    init();
    let mut hn = gst_check::Harness::new_parse("alsflow threads=3 grid-width=6 grid-height=4");
    hn.play();
    hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
    for f in &frames {
        assert_eq!(hn.push(gray(f, w, h)), Ok(gst::FlowSuccess::Ok));
    }
    assert_eq!(
        hn.buffers_in_queue(),
        4,
        "three threads hold two frames back"
    );
    assert!(hn.push_event(gst::event::Eos::new()));
    assert_eq!(hn.buffers_in_queue(), 6, "EOS sends the held frames on");
    let parallel: Vec<FlowMeta> = (0..6)
        .map(|_| FlowMeta::read(&hn.pull().unwrap()).unwrap().unwrap())
        .collect();
    assert_eq!(parallel, serial);
}

#[test]
fn held_frames_add_to_the_reported_latency() {
    init();
    for (threads, frames) in [(1u64, 0u64), (3, 2)] {
        let mut hn = gst_check::Harness::new_parse(&format!("alsflow threads={threads}"));
        hn.play();
        hn.set_src_caps(video_caps(VideoFormat::Gray8, 32, 32));
        hn.set_upstream_latency(gst::ClockTime::from_mseconds(5));
        let expected = gst::ClockTime::from_mseconds(5)
            + gst::ClockTime::SECOND.mul_div_floor(frames, 30).unwrap();
        assert_eq!(hn.query_latency(), Some(expected), "threads={threads}");
    }
}

#[test]
fn held_frames_leave_before_a_caps_change() {
    init();
    let pipeline = gst::parse::launch(
        "appsrc name=src format=time ! alsflow threads=2 grid-width=0 grid-height=0 ! \
         appsink name=out sync=false",
    )
    .unwrap();
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let src = bin
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let sink = bin
        .by_name("out")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut pts = gst::ClockTime::ZERO;
    for (w, h) in [(64u32, 48u32), (64, 48), (64, 48), (32, 24), (32, 24)] {
        let caps = video_caps(VideoFormat::Gray8, w, h);
        let mut buffer = gray(&texture(w as usize, h as usize, 0.0, 0.0), w, h);
        buffer.get_mut().unwrap().set_pts(pts);
        pts += gst::ClockTime::from_mseconds(33);
        src.push_sample(&gst::Sample::builder().buffer(&buffer).caps(&caps).build())
            .unwrap();
    }
    src.end_of_stream().unwrap();
    let mut sizes = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let s = sample.caps().unwrap().structure(0).unwrap();
        let meta = FlowMeta::read(sample.buffer().unwrap()).unwrap().unwrap();
        let caps_size = (
            s.get::<i32>("width").unwrap() as u32,
            s.get::<i32>("height").unwrap() as u32,
        );
        assert_eq!(
            (meta.grid_width, meta.grid_height),
            caps_size,
            "meta and caps agree"
        );
        sizes.push((caps_size, meta.regions[0].reset_reason.clone()));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let start = Some("start".to_string());
    let caps = Some("caps".to_string());
    assert_eq!(
        sizes,
        vec![
            ((64, 48), start),
            ((64, 48), None),
            ((64, 48), None),
            ((32, 24), caps),
            ((32, 24), None)
        ]
    );
}

#[test]
fn latency_without_a_frame_rate_is_assumed_and_corrected_on_the_bus() {
    init();
    let mut hn = gst_check::Harness::new_parse("alsflow threads=3");
    let bus = gst::Bus::new();
    hn.element().unwrap().set_bus(Some(&bus));
    hn.play();
    hn.set_upstream_latency(gst::ClockTime::ZERO);
    // A live source asks before it has caps: two held frames of an assumed 10 fps.
    assert_eq!(hn.query_latency(), Some(gst::ClockTime::from_mseconds(200)));
    hn.set_src_caps(video_caps(VideoFormat::Gray8, 32, 32));
    let latency_messages = std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Latency]));
    assert_eq!(latency_messages.count(), 1, "the caps' 30 fps changed it");
    assert_eq!(
        hn.query_latency(),
        Some(gst::ClockTime::SECOND.mul_div_floor(2, 30).unwrap())
    );
}

#[test]
fn drain_and_allocation_queries_account_for_held_frames() {
    init();
    let (w, h) = (32u32, 24u32);
    let mut hn = gst_check::Harness::new_parse("alsflow threads=3");
    hn.play();
    let caps = video_caps(VideoFormat::Gray8, w, h);
    hn.set_src_caps(caps.clone());
    let mut allocation = gst::query::Allocation::new(Some(&caps), true);
    assert!(hn.srcpad().unwrap().peer_query(&mut allocation));
    let min_buffers: Vec<u32> = allocation.allocation_pools().map(|p| p.2).collect();
    assert!(
        !min_buffers.is_empty() && min_buffers.iter().all(|&m| m >= 2),
        "{min_buffers:?}"
    );

    let a = texture(32, 24, 0.0, 0.0);
    for _ in 0..4 {
        assert_eq!(hn.push(gray(&a, w, h)), Ok(gst::FlowSuccess::Ok));
    }
    assert_eq!(hn.buffers_in_queue(), 2);
    // A tag overtakes the held frames; a drain query brings them out.
    assert!(hn.push_event(gst::event::Tag::new(gst::TagList::new())));
    assert_eq!(hn.buffers_in_queue(), 2);
    let mut drain = gst::query::Drain::new();
    assert!(hn.srcpad().unwrap().peer_query(&mut drain));
    assert_eq!(hn.buffers_in_queue(), 4);
}

#[test]
fn discont_stays_on_the_buffer_that_had_it() {
    init();
    let (w, h) = (32u32, 24u32);
    let mut hn = gst_check::Harness::new_parse("alsflow threads=3");
    hn.play();
    hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
    let a = texture(32, 24, 0.0, 0.0);
    for i in 0..8u64 {
        let mut b = gray(&a, w, h);
        {
            let b = b.get_mut().unwrap();
            b.set_offset(i);
            if i == 4 {
                b.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        assert_eq!(hn.push(b), Ok(gst::FlowSuccess::Ok));
    }
    assert!(hn.push_event(gst::event::Eos::new()));
    let out: Vec<(u64, bool, Option<String>)> = (0..8)
        .map(|_| {
            let b = hn.pull().unwrap();
            let meta = FlowMeta::read(&b).unwrap().unwrap();
            (
                b.offset(),
                b.flags().contains(gst::BufferFlags::DISCONT),
                meta.regions[0].reset_reason.clone(),
            )
        })
        .collect();
    for (offset, discont, reason) in &out[1..] {
        assert_eq!(*discont, *offset == 4, "{out:?}");
        assert_eq!(reason.is_some(), *offset == 4, "{out:?}");
    }
}

#[test]
fn flush_drops_held_frames_and_restarts() {
    init();
    let (w, h) = (32u32, 24u32);
    let mut hn = gst_check::Harness::new_parse("alsflow threads=3");
    hn.play();
    hn.set_src_caps(video_caps(VideoFormat::Gray8, w, h));
    let a = texture(32, 24, 0.0, 0.0);
    for _ in 0..5 {
        assert_eq!(hn.push(gray(&a, w, h)), Ok(gst::FlowSuccess::Ok));
    }
    assert_eq!(hn.buffers_in_queue(), 3, "two held back");
    for _ in 0..3 {
        hn.pull().unwrap();
    }
    assert!(hn.push_event(gst::event::FlushStart::new()));
    assert!(hn.push_event(gst::event::FlushStop::new(true)));
    let segment = gst::FormattedSegment::<gst::ClockTime>::new();
    assert!(hn.push_event(gst::event::Segment::new(&segment)));
    for _ in 0..3 {
        assert_eq!(hn.push(gray(&a, w, h)), Ok(gst::FlowSuccess::Ok));
    }
    assert!(hn.push_event(gst::event::Eos::new()));
    assert_eq!(
        hn.buffers_in_queue(),
        3,
        "the held frames were dropped, not sent"
    );
    let first = FlowMeta::read(&hn.pull().unwrap()).unwrap().unwrap();
    assert_eq!(first.regions[0].reset_reason.as_deref(), Some("flush"));
}

#[test]
fn region_face_without_face_metas_warns_once() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=6 ! video/x-raw,width=640,height=480 ! \
         alsflow region=face ! fakesink",
    )
    .unwrap();
    let warnings: Vec<String> = common::run_to_eos_collecting(&pipeline)
        .iter()
        .filter_map(|m| match m.view() {
            gst::MessageView::Warning(w) => Some(w.error().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // What the user most likely forgot, and what it costs.
    assert!(warnings[0].contains("alsmesh upstream"), "{warnings:?}");
    assert!(
        warnings[0].contains("640x480 frames") && warnings[0].contains("about 19 times"),
        "{warnings:?}"
    );
}
