// SPDX-License-Identifier: MPL-2.0

//! `alsflow region=face` behind the real `alsmesh` on synthetic face clips.

mod common;

use als_synthetic::Scenario;
use common::{face_clip, init, run_frames};
use gst_video::VideoFormat;
use gstals::meta::{FaceMeta, FlowMeta};

fn metas(buffers: &[gst::Buffer]) -> Vec<(FaceMeta, FlowMeta)> {
    buffers
        .iter()
        .map(|b| {
            let faces = FaceMeta::read(b).expect("face meta").expect("well formed");
            let flow = FlowMeta::read(b).expect("flow meta").expect("well formed");
            (faces, flow)
        })
        .collect()
}

/// The mean over the clip of each frame's mean flow magnitude, of region `index`.
fn clip_mean(metas: &[(FaceMeta, FlowMeta)]) -> f64 {
    let means: Vec<f64> = metas
        .iter()
        .filter_map(|(_, flow)| flow.regions.first()?.stats.map(|s| s.mean))
        .collect();
    assert!(
        means.len() + 2 >= metas.len(),
        "almost every frame has flow"
    );
    means.iter().sum::<f64>() / means.len() as f64
}

fn talking(scale_percent: u32, roll_degrees: i32) -> Scenario {
    Scenario::Talking {
        scale_percent,
        roll_degrees,
    }
}

fn run_clip(scenario: Scenario, elements: &str) -> Vec<(FaceMeta, FlowMeta)> {
    init();
    let (w, h, frames) = face_clip(scenario);
    let out = run_frames(elements, VideoFormat::Rgb, w, h, &frames).expect("pipeline runs");
    assert_eq!(out.len(), frames.len());
    metas(&out)
}

#[test]
fn face_flow_does_not_depend_on_face_size_or_roll() {
    let face = "alsmesh ! alsflow region=face";
    let whole = "alsmesh ! alsflow region=frame";
    // The same jaw motion on a face a third and on one three times the usual size.
    let small = clip_mean(&run_clip(talking(75, 0), face));
    let large = clip_mean(&run_clip(talking(225, 0), face));
    assert!(small > 0.05, "the jaw's motion is measured: {small}");
    eprintln!(
        "face flow: small vs large face {:+.2}%",
        (small / large - 1.0) * 100.0
    );
    assert!(
        // Measured: 0.08% apart.
        (small - large).abs() < 0.03 * large,
        "small face {small}, large face {large}"
    );
    // Measured on the frame instead, the same motion differs several times over.
    let small_frame = clip_mean(&run_clip(talking(75, 0), whole));
    let large_frame = clip_mean(&run_clip(talking(225, 0), whole));
    eprintln!(
        "frame flow: large vs small face {:.2}x",
        large_frame / small_frame
    );
    // Measured 19.3x; the face region's own figures agree within 0.1%.
    assert!(
        large_frame > 2.0 * small_frame,
        "{small_frame} vs {large_frame}"
    );

    let upright_clip = run_clip(talking(150, 0), face);
    let rolled_clip = run_clip(talking(150, 30), face);
    let (upright, rolled) = (clip_mean(&upright_clip), clip_mean(&rolled_clip));
    eprintln!(
        "face flow: rolled 30 degrees vs upright {:+.2}%",
        (rolled / upright - 1.0) * 100.0
    );
    assert!(
        // Measured: 11% apart (the rolled face's square resamples the warped photo).
        (upright - rolled).abs() < 0.15 * upright,
        "upright {upright}, rolled {rolled}"
    );
    // The square turned with the face: frame by frame, the motion has the same direction in
    // the rolled face's square as in the upright one's (ignoring the roll would turn it by
    // 30 degrees, a wrong sign by 60).
    let directions = |clip: &[(FaceMeta, FlowMeta)]| -> Vec<Option<f64>> {
        clip.iter()
            .map(|(_, flow)| {
                let s = flow.regions.first()?.stats?;
                (s.mean > 0.5 * upright).then_some(s.mean_direction)
            })
            .collect()
    };
    let pairs: Vec<(f64, f64)> = directions(&upright_clip)
        .into_iter()
        .zip(directions(&rolled_clip))
        .filter_map(|(a, b)| Some((a?, b?)))
        .collect();
    assert!(pairs.len() >= 5, "{pairs:?}");
    let worst = pairs
        .iter()
        .map(|(a, b)| {
            let apart = (a - b).rem_euclid(360.0);
            apart.min(360.0 - apart)
        })
        .fold(0.0, f64::max);
    eprintln!(
        "face flow: direction, rolled vs upright, worst of {} frames {worst:.1} degrees",
        pairs.len()
    );
    // Measured: 3.1 degrees at worst; ignoring the roll gives 30.
    assert!(worst < 12.0, "{pairs:?}");
}

#[test]
fn two_faces_each_get_their_own_flow() {
    let metas = run_clip(
        Scenario::TwoFaces,
        "alsmesh max-faces=2 ! alsflow region=face grid-width=8 grid-height=8",
    );
    for (i, (faces, flow)) in metas.iter().enumerate() {
        assert_eq!(faces.faces.len(), 2, "frame {i}");
        let ids: Vec<u32> = faces.faces.iter().map(|f| f.id).collect();
        let flow_ids: Vec<u32> = flow.regions.iter().map(|r| r.face_id).collect();
        assert_eq!(flow_ids, ids, "frame {i}: one flow per face, in face order");
        assert_ne!(ids[0], ids[1]);
        for (face, region) in faces.faces.iter().zip(&flow.regions) {
            // The square is centred on the face's landmarks.
            let cx = face.bbox.x + face.bbox.width / 2.0;
            assert!(
                (region.roi.cx as f64 - cx).abs() < 0.02,
                "frame {i}: {region:?}"
            );
            if i == 0 {
                assert_eq!(region.reset_reason.as_deref(), Some("start"));
            } else {
                assert!(region.is_valid(), "frame {i}: {region:?}");
                assert_eq!(region.grid.len(), 64);
            }
        }
    }
}

#[test]
fn a_face_that_leaves_and_returns_is_new_then_measured() {
    let metas = run_clip(Scenario::LeaveAndReturn, "alsmesh ! alsflow region=face");
    let absent: Vec<usize> = (0..metas.len())
        .filter(|&i| metas[i].0.faces.is_empty())
        .collect();
    assert!(!absent.is_empty(), "the face leaves the frame");
    for &i in &absent {
        let flow = &metas[i].1;
        assert!(flow.regions.is_empty(), "frame {i}");
        assert_eq!(flow.reset_reason.as_deref(), Some("no-face"), "frame {i}");
    }
    let back = absent.last().unwrap() + 1;
    assert!(back + 1 < metas.len(), "the face comes back");
    let returned = &metas[back].1.regions[0];
    assert_eq!(returned.reset_reason.as_deref(), Some("new-face"));
    assert!(metas[back + 1].1.regions[0].is_valid());
    assert_eq!(
        metas[back + 1].1.regions[0].face_id,
        metas[back + 1].0.faces[0].id
    );
}

#[test]
fn yuv_and_rgb_input_give_the_same_magnitudes() {
    init();
    let (w, h, frames) = face_clip(Scenario::Face);
    let frames = &frames[..12];
    let frame_means = |elements: &str| -> Vec<f64> {
        run_frames(elements, VideoFormat::Rgb, w, h, frames)
            .expect("pipeline runs")
            .iter()
            .skip(1)
            .map(|b| {
                let flow = FlowMeta::read(b).expect("flow meta").expect("well formed");
                flow.regions[0].stats.expect("valid").mean
            })
            .collect()
    };
    let rgb = frame_means("alsflow");
    for format in ["I420", "NV12"] {
        let yuv = frame_means(&format!(
            "videoconvert ! video/x-raw,format={format} ! alsflow"
        ));
        let (a, b): (f64, f64) = (rgb.iter().sum(), yuv.iter().sum());
        eprintln!("flow from {format} vs RGB: {:+.3}%", (b / a - 1.0) * 100.0);
        // Measured +0.197% for both (only the colour conversion differs).
        assert!((a - b).abs() < 0.01 * a, "{format}: {b} vs RGB {a}");
    }
}

#[test]
fn face_flow_from_yuv_agrees_with_rgb() {
    // Everything from the decoder's planes (landmarks, face square, luma) against the same
    // frames in RGB: only the colour conversion differs.
    let per_frame = |elements: &str| -> Vec<Option<f64>> {
        run_clip(talking(100, 0), elements)
            .iter()
            .map(|(_, flow)| flow.regions.first()?.stats.map(|s| s.mean))
            .collect()
    };
    let rgb = per_frame("alsmesh ! alsflow region=face");
    for format in ["I420", "NV12"] {
        let yuv = per_frame(&format!(
            "videoconvert ! video/x-raw,format={format} ! alsmesh ! alsflow region=face"
        ));
        let mut differences: Vec<f64> = rgb
            .iter()
            .zip(&yuv)
            .filter_map(|(a, b)| Some((*b)? / (*a)? - 1.0))
            .filter(|d| d.is_finite())
            .map(f64::abs)
            .collect();
        assert!(
            differences.len() + 4 >= rgb.len(),
            "{format}: frames with flow"
        );
        differences.sort_by(f64::total_cmp);
        let median = differences[differences.len() / 2];
        eprintln!(
            "face flow from {format} vs RGB: median relative difference {:.3}% over {} frames",
            median * 100.0,
            differences.len()
        );
        // Measured 0.847% for both; the bound is the one docs/elements.md states.
        assert!(median < 0.01, "{format}: {median}");
    }
}

/// Pearson's correlation of two equally long series.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn dis_face_flow_follows_the_known_jaw_motion_as_farneback_does() {
    let scenario = talking(100, 0);
    let (_, _, n) = scenario.geometry();
    // Frame f's flow measures the jaw's travel from frame f - 1.
    let travel: Vec<f64> = (1..n)
        .map(|f| (scenario.jaw_opening(f) - scenario.jaw_opening(f - 1)).abs())
        .collect();
    let follows = |method: &str| {
        let metas = run_clip(scenario, &format!("alsmesh ! alsflow region=face {method}"));
        let named = metas[1].1.method.expect("the meta names its method").name();
        assert_eq!(format!("method={named}"), method);
        let means: Vec<f64> = metas[1..]
            .iter()
            .map(|(_, flow)| {
                flow.regions
                    .first()
                    .and_then(|r| r.stats)
                    .map_or(f64::NAN, |s| s.mean)
            })
            .collect();
        assert!(means.iter().all(|m| m.is_finite()), "{method}: {means:?}");
        correlation(&means, &travel)
    };
    let farneback = follows("method=farneback");
    let dis = follows("method=dis");
    eprintln!(
        "face flow mean vs known jaw travel per frame, correlation: Farneback {farneback:.3}, \
         DIS (fast) {dis:.3}"
    );
    // Measured: Farneback 0.998, DIS 0.983.
    assert!(farneback > 0.95, "Farneback follows the jaw: {farneback}");
    assert!(dis > 0.95, "DIS follows the jaw: {dis}");
}
