// SPDX-License-Identifier: MPL-2.0

//! `alskinematics` in real pipelines. The proofs of accuracy run on generated landmark clips
//! whose motion is known exactly (`MeshMotion`: the reference face with a jaw opening of set
//! size and rate, a one-sided smile, any size, roll, head turn and frame rate), pushed as
//! `GstAlsFaceMeta` through `appsrc ! alskinematics ! appsink`; a video clip then goes through
//! `alsmesh ! alskinematics ! alsexport` to show the whole chain.

mod common;

use als_synthetic::motion::{HEIGHT, MeshMotion, Motion, WIDTH};
use gst::prelude::*;
use gstals::kinematics::measures::NAMES;
use gstals::kinematics::{HeadPose, Measures, Stats, WindowStats};
use gstals::meta::{
    Face, FaceMeta, KINEMATICS_SUMMARY, KINEMATICS_WINDOW, KinematicsMeta,
    kinematics_summary_from_structure, window_from_structure,
};

fn measure(name: &str) -> usize {
    NAMES
        .iter()
        .position(|n| *n == name)
        .expect("a known measure")
}

/// What one run gave: the metas, the window messages and the summary, per face.
struct Run {
    metas: Vec<Option<KinematicsMeta>>,
    windows: Vec<WindowStats>,
    summary: Vec<WindowStats>,
    warnings: Vec<String>,
}

/// Pushes `seconds` of `motion` at `fps` as face metas on blank frames through
/// `alskinematics {properties}`.
fn run(motion: &MeshMotion, fps: f64, seconds: f64, properties: &str) -> Run {
    run_every(motion, fps, seconds, properties, 1)
}

/// [`run`] with fresh landmarks on every `interval`th frame only, as `alsmesh
/// inference-interval={interval}` gives: the frames between repeat the last landmarks, marked
/// not fresh.
fn run_every(
    motion: &MeshMotion,
    fps: f64,
    seconds: f64,
    properties: &str,
    interval: usize,
) -> Run {
    let frames = (fps * seconds).round() as usize;
    let buffers = (0..frames).map(move |i| {
        let t = i as f64 / fps;
        let inferred_at = (i - i % interval) as f64 / fps;
        let mut buffer = gst::Buffer::from_slice(vec![0u8; WIDTH * HEIGHT]);
        {
            let b = buffer.get_mut().expect("writable");
            b.set_pts(gst::ClockTime::from_nseconds((t * 1e9).round() as u64));
            FaceMeta {
                faces: vec![Face {
                    id: 1,
                    landmarks: motion.landmarks(inferred_at),
                    ..Face::default()
                }],
                fresh: i % interval == 0,
            }
            .attach(b)
            .expect("meta attaches");
        }
        buffer
    });
    run_buffers(buffers, properties)
}

fn run_buffers(buffers: impl Iterator<Item = gst::Buffer>, properties: &str) -> Run {
    common::init();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=GRAY8,width={WIDTH},\
         height={HEIGHT},framerate=30/1 ! alskinematics {properties} ! appsink name=out \
         sync=false"
    ))
    .expect("pipeline parses");
    let src = common::appsrc(&pipeline);
    let sink = common::appsink(&pipeline);
    let metas = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let collected = metas.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let meta = sample
                    .buffer()
                    .and_then(KinematicsMeta::read)
                    .map(|m| m.expect("readable meta"));
                collected.lock().unwrap().push(meta);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).expect("plays");
    for buffer in buffers {
        src.push_buffer(buffer).expect("pushed");
    }
    src.end_of_stream().expect("eos");
    let bus = pipeline.bus().expect("bus");
    let (mut windows, mut summary, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => match e.structure() {
                Some(s) if s.name() == KINEMATICS_WINDOW => {
                    windows.push(window_from_structure(s).expect("window").0)
                }
                Some(s) if s.name() == KINEMATICS_SUMMARY => {
                    summary = kinematics_summary_from_structure(s).expect("summary").0
                }
                _ => {}
            },
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("stops");
    let metas = std::mem::take(&mut *metas.lock().unwrap());
    Run {
        metas,
        windows,
        summary,
        warnings,
    }
}

fn jaw(run: &Run) -> Stats {
    run.summary[0].stats[measure("jaw-opening")]
}

fn close(got: f64, want: f64, tolerance: f64) -> bool {
    (got / want - 1.0).abs() <= tolerance
}

#[test]
fn rate_and_amplitude_of_a_known_jaw_movement() {
    // Amplitude tolerances from what was measured (-0.56%, -1.96%, -0.13%, -5.71% in this
    // order), each below what the two-stage smoother (0.03 s) takes without the correction
    // (about 9%, 27%, 2% and 52% at these rates), so an element that lost it fails.
    for (rate_hz, opening, tolerance) in [
        (1.7, 0.15, 0.02),
        (3.2, 0.08, 0.04),
        (0.8, 0.25, 0.01),
        (5.5, 0.05, 0.08),
    ] {
        let motion = MeshMotion {
            rate_hz,
            jaw: opening,
            ..MeshMotion::default()
        };
        let r = run(&motion, 30.0, 8.0, "window=4");
        assert_eq!(r.summary.len(), 1);
        let s = jaw(&r);
        eprintln!(
            "{rate_hz} Hz: rate {:+.2}%, amplitude {:+.2}%",
            (s.rate / rate_hz - 1.0) * 100.0,
            (s.amplitude / opening - 1.0) * 100.0
        );
        assert!(close(s.rate, rate_hz, 0.05), "{rate_hz} Hz: {s:?}");
        assert!(close(s.amplitude, opening, tolerance), "{opening}: {s:?}");
        assert!(s.cycle_variability < 0.05, "{s:?}");
        // One window closed at 4 s, the second at EOS; each on its own is right too.
        assert_eq!(r.windows.len(), 2, "{:?}", r.windows);
        for w in &r.windows {
            let s = w.stats[measure("jaw-opening")];
            assert!(close(s.rate, rate_hz, 0.05), "{rate_hz} Hz window: {s:?}");
            assert!(
                close(s.amplitude, opening, tolerance),
                "{opening} window: {s:?}"
            );
        }
        // The lips open with the jaw; the mouth's width does not change.
        let lips = r.summary[0].stats[measure("lip-aperture")];
        assert!(close(lips.rate, rate_hz, 0.05), "{lips:?}");
        assert!(r.summary[0].stats[measure("mouth-width")].range < 0.01);
    }
}

/// The smile's amplitude at the default 1.7 Hz: measured -0.55% and -0.44% (the swing, from
/// unsmoothed values, 0.00%); without the smoother's correction the amplitude loses about 9%,
/// so 3% fails an element that lost it.
const SMILE_TOLERANCE: f64 = 0.03;

#[test]
fn a_one_sided_smile_has_the_right_sign_and_size() {
    let rest = |smile: f64| {
        let m = MeshMotion {
            jaw: 0.0,
            smile,
            ..MeshMotion::default()
        };
        let px: Vec<[f64; 2]> = m
            .landmarks(0.0)
            .iter()
            .map(|p| [p[0] as f64 * WIDTH as f64, p[1] as f64 * HEIGHT as f64])
            .collect();
        (m, Measures::from_landmarks(&px).expect("measures"))
    };
    for lift in [0.08, -0.08] {
        let (motion, at_rest) = rest(lift);
        let r = run(&motion, 30.0, 6.0, "window=6");
        let s = r.summary[0].stats[measure("corner-asymmetry")];
        // The left corner up is positive, the right one up negative, by the lift.
        let swing = if lift > 0.0 {
            s.max - at_rest.corner_asymmetry
        } else {
            s.min - at_rest.corner_asymmetry
        };
        eprintln!(
            "smile {lift:+}: amplitude {:+.2}%, swing {:+.2}%",
            (s.amplitude / lift.abs() - 1.0) * 100.0,
            (swing / lift - 1.0) * 100.0
        );
        assert!(swing.signum() == lift.signum(), "{lift}: {s:?}");
        assert!(
            close(s.amplitude, lift.abs(), SMILE_TOLERANCE),
            "{lift}: {s:?}"
        );
        assert!(close(swing, lift, SMILE_TOLERANCE), "{lift}: {swing} {s:?}");
    }
}

#[test]
fn half_the_size_and_rolled_20_degrees_gives_the_same_measures() {
    let base = MeshMotion {
        smile: 0.05,
        ..MeshMotion::default()
    };
    let moved = MeshMotion {
        iod_px: base.iod_px / 2.0,
        pose: HeadPose {
            roll: 20.0,
            ..Default::default()
        },
        ..base
    };
    let a = run(&base, 30.0, 6.0, "window=6");
    let b = run(&moved, 30.0, 6.0, "window=6");
    for (i, name) in NAMES.iter().enumerate() {
        let (x, y) = (a.summary[0].stats[i], b.summary[0].stats[i]);
        assert!(
            (x.mean - y.mean).abs() <= 0.10 * x.mean.abs().max(0.01),
            "{name}: {x:?} vs {y:?}"
        );
        if x.range > 0.01 {
            assert!(close(y.range, x.range, 0.10), "{name}: {x:?} vs {y:?}");
            assert!(close(y.amplitude, x.amplitude, 0.10), "{name}");
            assert!(close(y.rate, x.rate, 0.05), "{name}");
        }
    }
    let pose = b.metas.last().and_then(|m| m.as_ref()).expect("meta").faces[0].pose;
    assert!((pose[0] - 20.0).abs() < 0.5, "roll {pose:?}");
}

/// The peak opening speed against a sinusoid's at 1.7 Hz: measured -0.46%; without the
/// smoother's correction it loses about 9%, so 3% fails an element that lost it.
const PEAK_SPEED_TOLERANCE: f64 = 0.03;

#[test]
fn velocities_are_the_same_at_25_and_30_frames_per_second() {
    let motion = MeshMotion::default();
    let at25 = jaw(&run(&motion, 25.0, 6.0, "window=6"));
    let at30 = jaw(&run(&motion, 30.0, 6.0, "window=6"));
    for (x, y) in [
        (at25.peak_opening_speed, at30.peak_opening_speed),
        (at25.peak_closing_speed, at30.peak_closing_speed),
    ] {
        assert!(close(x, y, 0.05), "{at25:?} vs {at30:?}");
    }
    // A sinusoid's peak speed is pi * rate * amplitude (the smoothing's loss divided back out).
    let truth = std::f64::consts::PI * motion.rate_hz * motion.jaw;
    eprintln!(
        "peak opening speed at {} Hz: {:+.2}% of pi * rate * amplitude",
        motion.rate_hz,
        (at30.peak_opening_speed / truth - 1.0) * 100.0
    );
    assert!(
        close(at30.peak_opening_speed, truth, PEAK_SPEED_TOLERANCE),
        "{at30:?}"
    );
}

#[test]
fn stale_landmarks_between_inferences_are_no_motion() {
    let motion = MeshMotion::default();
    let every = jaw(&run(&motion, 30.0, 6.0, "window=6"));
    let third_run = run_every(&motion, 30.0, 6.0, "window=6", 3);
    let third = jaw(&third_run);
    for (x, y) in [
        (third.peak_opening_speed, every.peak_opening_speed),
        (third.peak_closing_speed, every.peak_closing_speed),
    ] {
        eprintln!("peak speed with inference-interval=3: {x:.4}, every frame: {y:.4}");
        assert!(close(x, y, 0.10), "{third:?} vs {every:?}");
    }
    assert!(
        close(third.rate, every.rate, 0.05),
        "{third:?} vs {every:?}"
    );
    // A stale frame repeats the last fresh frame's figures, velocities included.
    let metas: Vec<&KinematicsMeta> = third_run.metas.iter().flatten().collect();
    assert_eq!(metas.len(), 180, "every frame has its kinematics");
    for i in (30..180).filter(|i| i % 3 != 0) {
        let (now, fresh) = (&metas[i].faces[0], &metas[i - i % 3].faces[0]);
        assert_eq!(now, fresh, "frame {i}");
    }
    let moving = (30..180)
        .step_by(3)
        .filter(|&i| metas[i].faces[0].velocities[measure("jaw-opening")].abs() > 1e-3)
        .count();
    assert!(moving >= 45, "fresh frames move: {moving} of 50");
}

#[test]
fn a_head_turned_within_the_limits_measures_the_same() {
    let motion = MeshMotion {
        smile: 0.08,
        ..MeshMotion::default()
    };
    let front = run(&motion, 30.0, 4.0, "window=4").summary[0].clone();
    // Just inside the default limits (25 and 20 degrees): the fit of a moving jaw wobbles by a
    // fraction of a degree.
    for (yaw, pitch) in [(-24.0, 0.0), (24.0, -15.0), (12.0, 15.0)] {
        let turned = MeshMotion {
            pose: HeadPose {
                roll: 0.0,
                yaw,
                pitch,
            },
            ..motion
        };
        let got = run(&turned, 30.0, 4.0, "window=4").summary[0].clone();
        assert_eq!(got.frames_off_pose, 0);
        for (i, name) in NAMES.iter().enumerate() {
            let (a, b) = (front.stats[i], got.stats[i]);
            for (what, x, y) in [
                ("mean", a.mean, b.mean),
                ("range", a.range, b.range),
                ("amplitude", a.amplitude, b.amplitude),
                ("peak speed", a.peak_opening_speed, b.peak_opening_speed),
            ] {
                if x.is_nan() && y.is_nan() {
                    continue;
                }
                let error = (x - y).abs() / x.abs().max(0.01);
                assert!(
                    error < 0.03,
                    "{name} {what} at yaw {yaw} pitch {pitch}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn heads_turned_beyond_the_limit_are_flagged_and_not_counted() {
    let turned = MeshMotion {
        pose: HeadPose {
            yaw: 40.0,
            pitch: -10.0,
            ..Default::default()
        },
        ..MeshMotion::default()
    };
    let r = run(&turned, 30.0, 2.0, "");
    let faces: Vec<_> = r
        .metas
        .iter()
        .flatten()
        .map(|m| m.faces[0].clone())
        .collect();
    assert_eq!(faces.len(), 60);
    assert!(faces.iter().all(|f| !f.pose_ok), "default max-yaw is 25");
    assert!((faces[0].pose[1] - 40.0).abs() < 0.5 && (faces[0].pose[2] + 10.0).abs() < 0.5);
    assert!(faces.iter().all(|f| f.velocities[0].is_nan()));
    assert_eq!((r.summary[0].frames, r.summary[0].frames_off_pose), (0, 60));

    let allowed = run(&turned, 30.0, 2.0, "max-yaw=45");
    let last = allowed.metas.last().and_then(|m| m.as_ref()).expect("meta");
    assert!(last.faces[0].pose_ok && last.faces[0].velocities[2].is_finite());
    assert_eq!(allowed.summary[0].frames, 60);
}

#[test]
fn frames_without_faces_or_timestamps_pass_untouched() {
    let motion = MeshMotion::default();
    let buffers = (0..10).map(|i| {
        let mut buffer = gst::Buffer::from_slice(vec![0u8; WIDTH * HEIGHT]);
        let b = buffer.get_mut().expect("writable");
        if i < 5 {
            b.set_pts(gst::ClockTime::from_mseconds(i * 33));
        }
        if i % 2 == 0 {
            FaceMeta {
                faces: vec![Face {
                    id: 7,
                    landmarks: motion.landmarks(0.0),
                    ..Face::default()
                }],
                fresh: true,
            }
            .attach(b)
            .expect("attaches");
        }
        buffer
    });
    let r = run_buffers(buffers, "");
    assert_eq!(r.metas.len(), 10, "every buffer goes through");
    let with_meta: Vec<usize> = (0..10).filter(|&i| r.metas[i].is_some()).collect();
    assert_eq!(with_meta, vec![0, 2, 4], "faces with timestamps only");
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("timestamps"), "{:?}", r.warnings);
}

/// The JSON Lines `alsmesh ! alskinematics window=1 ! alsexport` writes for 2 s of `motion`.
fn video_lines(motion: &Motion, name: &str) -> Vec<serde_json::Value> {
    common::init();
    let photo = als_synthetic::Photo::load(&common::asset("third_party/photos/astronaut.png"))
        .expect("photo");
    let frames = motion.clip(&photo, 30.0, 2.0).expect("clip renders");
    let out = common::scratch_dir(name).join("out.jsonl");
    let buffers = common::run_frames(
        &format!(
            "alsmesh ! alskinematics window=1 ! alsexport landmarks=true location={}",
            out.display()
        ),
        gst_video::VideoFormat::Rgb,
        WIDTH as u32,
        HEIGHT as u32,
        &frames,
    )
    .expect("pipeline runs");
    assert_eq!(buffers.len(), frames.len());
    std::fs::read_to_string(&out)
        .expect("jsonl written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect()
}

#[test]
fn video_through_alsmesh_alskinematics_and_alsexport() {
    // A still face: Face Mesh follows a photo warped at the jaw only in part (see the README),
    // so what video can show is the chain, the pose and the normalisation.
    let still = Motion {
        jaw_px: 0.0,
        ..Motion::default()
    };
    let lines = video_lines(&still, "alskinematics-video");
    let measured = lines
        .iter()
        .filter(|v| v["faces"][0]["kinematics"]["pose_ok"] == true)
        .count();
    assert_eq!(measured, 60, "every frame measured");
    let windows = lines
        .iter()
        .filter(|v| v.get("kinematics_window").is_some())
        .count();
    assert_eq!(windows, 2, "two 1-second windows");
    let summary = |lines: &[serde_json::Value]| {
        lines
            .last()
            .and_then(|v| v.get("kinematics_summary"))
            .expect("the summary is the last line")["faces"][0]
            .clone()
    };
    let base = summary(&lines);
    let (mm, iod) = (
        base["mm"]["jaw_opening"]["mean"].as_f64().expect("mm"),
        base["iod"]["jaw_opening"]["mean"].as_f64().expect("iod"),
    );
    assert!(
        (mm / iod - 63.0).abs() < 0.01,
        "millimetres at the default 63 mm"
    );
    let pose = &lines[10]["faces"][0]["kinematics"]["pose"];
    assert!(
        pose["yaw"].as_f64().is_some_and(|y| y.abs() < 10.0),
        "{pose}"
    );
    // A still face repeats nothing: its landmarks' jitter is no repetition.
    for measure in NAMES {
        let stats = &base["iod"][measure.replace('-', "_")];
        assert_eq!(stats["rate_hz"].as_f64(), Some(0.0), "{measure}: {stats}");
        assert!(stats["amplitude"].is_null(), "{measure}: {stats}");
    }

    let moved = Motion {
        scale: still.scale / 2.0,
        roll_degrees: 20.0,
        ..still
    };
    let lines = video_lines(&moved, "alskinematics-video-moved");
    // The pose agrees with the mesh's own eye line; the mesh of this small face is a few
    // degrees off the photo's roll.
    let face = &lines[10]["faces"][0];
    let roll = face["kinematics"]["pose"]["roll"].as_f64().expect("roll");
    let point = |i: usize| {
        let p = &face["landmarks"][i];
        (p[0].as_f64().expect("x"), p[1].as_f64().expect("y"))
    };
    let ((rx, ry), (lx, ly)) = (point(33), point(263));
    let eye_line = (ry - ly).atan2(lx - rx).to_degrees();
    assert!(
        (roll - eye_line).abs() < 1.0,
        "roll {roll}, eye line {eye_line}"
    );
    assert!((roll - 20.0).abs() < 4.0, "roll {roll}");
    let other = summary(&lines);
    for name in ["jaw_opening", "mouth_width"] {
        let (a, b) = (
            base["iod"][name]["mean"].as_f64().expect("mean"),
            other["iod"][name]["mean"].as_f64().expect("mean"),
        );
        assert!(
            close(b, a, 0.10),
            "{name}: {a} at 1.5x, {b} at 0.75x rolled 20 degrees"
        );
    }
}

#[test]
fn the_committed_reference_face_is_what_the_script_derives() {
    // scripts/gen-face-reference.sh: alsmesh on the face photo at rest, in the face's frame.
    common::init();
    let photo = als_synthetic::Photo::load(&common::asset("third_party/photos/astronaut.png"))
        .expect("photo");
    let rest = Motion::default().render(&photo, 0.0).expect("renders");
    let frames = vec![rest; 5];
    let buffers = common::run_frames(
        "alsmesh",
        gst_video::VideoFormat::Rgb,
        WIDTH as u32,
        HEIGHT as u32,
        &frames,
    )
    .expect("runs");
    let meta = buffers
        .last()
        .and_then(|b| FaceMeta::read(b))
        .expect("face meta")
        .expect("readable");
    let (w, h) = (WIDTH as f64, HEIGHT as f64);
    let points: Vec<[f64; 3]> = meta.faces[0]
        .landmarks
        .iter()
        .map(|p| [p[0] as f64 * w, p[1] as f64 * h, p[2] as f64 * w])
        .collect();
    let derived = gstals::kinematics::pose::face_frame(&points);
    let worst = derived
        .iter()
        .zip(gstals::kinematics::reference::FACE)
        .flat_map(|(d, r)| (0..3).map(move |k| (d[k] - r[k] as f64).abs()))
        .fold(0.0, f64::max);
    assert!(
        worst < 2e-3,
        "reference.rs is stale by {worst}: run scripts/gen-face-reference.sh"
    );
}

fn face_buffer(motion: &MeshMotion, t: f64) -> gst::Buffer {
    let mut buffer = gst::Buffer::from_slice(vec![0u8; WIDTH * HEIGHT]);
    {
        let b = buffer.get_mut().expect("writable");
        b.set_pts(gst::ClockTime::from_nseconds((t * 1e9) as u64));
        FaceMeta {
            faces: vec![Face {
                id: 1,
                landmarks: motion.landmarks(t),
                ..Face::default()
            }],
            fresh: true,
        }
        .attach(b)
        .expect("attaches");
    }
    buffer
}

#[test]
fn a_flush_restarts_the_smoothing_and_a_new_stream_gets_its_own_summary() {
    common::init();
    let mut h = gst_check::Harness::new("alskinematics");
    h.set_src_caps_str(&format!(
        "video/x-raw,format=GRAY8,width={WIDTH},height={HEIGHT},framerate=30/1"
    ));
    let motion = MeshMotion::default();
    let velocity = |b: &gst::Buffer| {
        KinematicsMeta::read(b)
            .expect("meta")
            .expect("readable")
            .faces[0]
            .velocities[2]
    };
    for i in 0..3 {
        let out = h
            .push_and_pull(face_buffer(&motion, i as f64 / 30.0))
            .expect("buffer");
        assert_eq!(velocity(&out).is_nan(), i == 0, "frame {i}");
    }
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    let segment = gst::FormattedSegment::<gst::ClockTime>::new();
    assert!(h.push_event(gst::event::Segment::new(&segment)));
    let out = h.push_and_pull(face_buffer(&motion, 0.1)).expect("buffer");
    assert!(velocity(&out).is_nan(), "no velocity across a flush");

    // A second stream without EOS between: the first one's summary goes downstream first.
    while h.try_pull_event().is_some() {}
    assert!(h.push_event(gst::event::StreamStart::new("second")));
    let mut names = Vec::new();
    while let Some(event) = h.try_pull_event() {
        if let Some(s) = event.structure() {
            names.push(s.name().to_string());
        }
    }
    let summaries = names.iter().filter(|n| *n == KINEMATICS_SUMMARY).count();
    let summary_at = names.iter().position(|n| n == KINEMATICS_SUMMARY);
    let start_at = names.iter().position(|n| n == "GstEventStreamStart");
    assert_eq!(summaries, 1, "events downstream: {names:?}");
    assert!(summary_at < start_at, "the summary goes first: {names:?}");
}

#[test]
fn a_face_that_leaves_is_summed_up_and_forgotten_while_the_other_goes_on() {
    let motion = MeshMotion::default();
    // Face 1 all along; face 2 for the first second only. Windows of 0.5 s.
    let buffers = (0..90).map(|i| {
        let t = i as f64 / 30.0;
        let mut buffer = gst::Buffer::from_slice(vec![0u8; WIDTH * HEIGHT]);
        let b = buffer.get_mut().expect("writable");
        b.set_pts(gst::ClockTime::from_nseconds((t * 1e9) as u64));
        let ids: &[u32] = if i < 30 { &[1, 2] } else { &[1] };
        FaceMeta {
            faces: ids
                .iter()
                .map(|&id| Face {
                    id,
                    landmarks: motion.landmarks(t),
                    ..Face::default()
                })
                .collect(),
            fresh: true,
        }
        .attach(b)
        .expect("attaches");
        buffer
    });
    let r = run_buffers(buffers, "window=0.5");
    let of = |id: u32| r.windows.iter().filter(|w| w.face_id == id).count();
    assert_eq!(of(1), 6, "{:?}", r.windows);
    assert_eq!(
        of(2),
        2,
        "face 2's windows, the second closed once it had gone"
    );
    let ids: Vec<u32> = r.summary.iter().map(|w| w.face_id).collect();
    assert_eq!(
        ids,
        vec![1],
        "face 2 was summed up when it left, not at EOS"
    );
    let last = r.metas.last().and_then(|m| m.as_ref()).expect("meta");
    assert_eq!(last.faces.len(), 1);
}

/// Measured in the head's own frame, a face turned within the accepted range reads the same.
#[test]
fn measures_in_the_head_frame_do_not_change_with_yaw_or_pitch() {
    let measure = |yaw: f64, pitch: f64, t: f64, head_frame: bool| {
        let motion = MeshMotion {
            smile: 0.08,
            pose: HeadPose {
                roll: 5.0,
                yaw,
                pitch,
            },
            ..MeshMotion::default()
        };
        let px: Vec<[f64; 3]> = motion
            .landmarks(t)
            .iter()
            .map(|p| {
                [
                    p[0] as f64 * WIDTH as f64,
                    p[1] as f64 * HEIGHT as f64,
                    p[2] as f64 * WIDTH as f64,
                ]
            })
            .collect();
        if head_frame {
            let pose = HeadPose::from_landmarks(&px).unwrap();
            Measures::in_head_frame(&px, &pose).unwrap()
        } else {
            let flat: Vec<[f64; 2]> = px.iter().map(|p| [p[0], p[1]]).collect();
            Measures::from_landmarks(&flat).unwrap()
        }
    };
    let mut worst = 0.0f64;
    for t in [0.0, 0.15, 0.3] {
        let front = measure(0.0, 0.0, t, true).values();
        for yaw in [-25.0, -12.5, 12.5, 25.0] {
            for pitch in [-15.0, 0.0, 15.0] {
                let turned = measure(yaw, pitch, t, true).values();
                for (i, (a, b)) in front.iter().zip(&turned).enumerate() {
                    // Relative to the measure, or to 0.01 inter-ocular distances for those
                    // near zero (the asymmetry at rest).
                    let error = (a - b).abs() / a.abs().max(0.01);
                    worst = worst.max(error);
                    assert!(
                        error < 0.03,
                        "{} at yaw {yaw} pitch {pitch}: {a} vs {b}",
                        NAMES[i]
                    );
                }
            }
        }
    }
    // In the picture, the same head turned 25 degrees reads about 10% more jaw.
    let picture = measure(25.0, 0.0, 0.3, false).jaw_opening;
    let front = measure(0.0, 0.0, 0.3, false).jaw_opening;
    assert!(picture / front > 1.08, "{picture} vs {front}");
    eprintln!("worst relative change with yaw -25..25 and pitch -15..15: {worst:.2e}");
}
