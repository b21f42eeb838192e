// SPDX-License-Identifier: MPL-2.0

//! The whole chain on labelled synthetic subjects: generate 24 subjects, extract with the real elements,
//! train and evaluate with subject-grouped folds, then classify held-out clips with
//! `alsclassify` in a real pipeline. The same run with labels shuffled between subjects must
//! stay near chance, so a pass shows the motion is learned, not leaked.

use std::path::{Path, PathBuf};
use std::process::Command;

use gst::prelude::*;

fn als_train(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_als-train"))
        .args(args)
        .output()
        .expect("als-train runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "als-train {args:?} failed:\n{text}");
    text
}

fn subject_accuracy(report: &Path) -> f64 {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(report.join("evaluation.json")).expect("report written"),
    )
    .expect("valid JSON");
    json["subjects"]["accuracy"]
        .as_f64()
        .expect("subject accuracy")
}

fn workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("als-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `alsmesh ! alsflow ! alsclassify ! alsexport` over `clip`; returns the JSON lines.
fn classify_clip(clip: &Path, model: &Path, jsonl: &Path) -> Vec<serde_json::Value> {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! alsmesh ! \
         alsflow region=face grid-width=16 grid-height=16 ! alsclassify model={} ! \
         alsexport location={} landmarks=false ! fakesink",
        clip.display(),
        model.display(),
        jsonl.display()
    ))
    .expect("pipeline parses");
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the pipeline ends");
    pipeline.set_state(gst::State::Null).unwrap();
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("pipeline error: {} ({:?})", e.error(), e.debug());
    }
    std::fs::read_to_string(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// How many new subjects the models are tried on.
const HELD_OUT: usize = 12;

#[test]
fn held_out_subjects_are_classified_and_shuffled_labels_are_not() {
    let dir = workdir();
    let (clips, features) = (dir.join("clips"), dir.join("features"));
    let s = |p: &Path| p.display().to_string();
    als_train(&[
        "synth",
        &s(&clips),
        "--subjects",
        "24",
        "--frames",
        "40",
        "--tasks",
        "pa",
    ]);
    als_train(&[
        "extract",
        &s(&clips.join("manifest.csv")),
        "--out",
        &s(&features),
        "--jobs",
        "2",
    ]);

    let (model, report) = (dir.join("model.onnx"), dir.join("report"));
    let fit = als_train(&[
        "fit",
        &s(&features),
        "--out",
        &s(&model),
        "--report",
        &s(&report),
        "--synthetic",
    ]);
    assert!(fit.contains("subject-grouped 5-fold"), "{fit}");
    let accuracy = subject_accuracy(&report);
    eprintln!("end-to-end: network, subject-grouped 5-fold, subject accuracy {accuracy}");
    // The trainer is deterministic (same features and seed: the same model on any thread
    // count and x86_64 CPU) and so are the clips on one machine (one x264 thread). Measured
    // here with seed 1 since alsmesh reads the decoder's YUV: 0.917 (22 of 24) in three
    // clean runs of the suite; before, from videoconvert's RGB, 0.958 (23 of 24), also on
    // features extracted on an emulated CPU without AVX or FMA, and seeds 1-6 gave
    // 0.917-1.00. The clips and features still differ in detail between CPUs (encoder, face
    // mesh and flow SIMD), so 0.875 leaves one subject of margin below the measured figure.
    // With the earlier, CPU-dependent trainer, clean CI runs gave 0.875 to 1.00.
    assert!(
        accuracy >= 0.875,
        "held-out subject accuracy {accuracy}\n{fit}"
    );
    for file in ["tables.txt", "epochs.csv", "accuracy.png", "loss.png"] {
        assert!(report.join(file).is_file(), "{file} in the report");
    }
    assert!(fit.contains("Farneback flow (the paper's)"), "{fit}");

    // The same subjects, folds and seed on DIS flow: a cheaper flow that must not cost the
    // model more than a subject's worth of accuracy.
    let (dis_features, dis_report) = (dir.join("features-dis"), dir.join("report-dis"));
    als_train(&[
        "extract",
        &s(&clips.join("manifest.csv")),
        "--out",
        &s(&dis_features),
        "--jobs",
        "2",
        "--flow-method",
        "dis",
    ]);
    let dis_fit = als_train(&[
        "fit",
        &s(&dis_features),
        "--out",
        &s(&dir.join("model-dis.onnx")),
        "--report",
        &s(&dis_report),
        "--synthetic",
    ]);
    assert!(dis_fit.contains("DIS flow (preset fast)"), "{dis_fit}");
    let dis_accuracy = subject_accuracy(&dis_report);
    eprintln!(
        "end-to-end: network on DIS flow, subject accuracy {dis_accuracy} (Farneback: \
         {accuracy})"
    );
    assert!(
        dis_accuracy >= accuracy - 0.05,
        "DIS {dis_accuracy} vs Farneback {accuracy}\n{dis_fit}"
    );

    // New subjects no model here ever saw: enough that a model right on three in four fails.
    let held_out = dir.join("held-out");
    als_train(&[
        "synth",
        &s(&held_out),
        "--subjects",
        &HELD_OUT.to_string(),
        "--seed",
        "99",
        "--frames",
        "60",
        "--tasks",
        "pa",
    ]);

    // The interpretable model on alskinematics' window statistics, by subject too, and then
    // fitted on every window and applied to the new subjects.
    let kinematics_report = dir.join("kinematics");
    let kinematics = als_train(&[
        "kinematics",
        &s(&clips.join("manifest.csv")),
        "--window",
        "2",
        "--jobs",
        "2",
        "--report",
        &s(&kinematics_report),
        "--held-out",
        &s(&held_out.join("manifest.csv")),
    ]);
    assert!(
        kinematics.contains("subject-grouped 5-fold"),
        "{kinematics}"
    );
    assert!(kinematics.contains("jaw-opening.amplitude"), "{kinematics}");
    let accuracy = subject_accuracy(&kinematics_report);
    eprintln!("end-to-end: kinematics model, subject accuracy {accuracy}");
    // Measured 1.00 (24 of 24); the bound leaves two subjects of margin.
    assert!(
        accuracy >= 0.9,
        "kinematics model: subject accuracy {accuracy}\n{kinematics}"
    );
    assert!(kinematics.contains("it never saw"), "{kinematics}");
    let unseen = subject_accuracy(&kinematics_report.join("held-out-1"));
    eprintln!("end-to-end: kinematics model on {HELD_OUT} new subjects, subject accuracy {unseen}");
    // Measured 1.00 (12 of 12); one subject of margin.
    assert!(
        unseen * HELD_OUT as f64 >= (HELD_OUT - 1) as f64 - 1e-9,
        "kinematics model on new subjects: {unseen}\n{kinematics}"
    );
    // Its control: the same windows with labels shuffled between subjects.
    let kinematics_shuffled = dir.join("kinematics-shuffled");
    als_train(&[
        "kinematics",
        &s(&clips.join("manifest.csv")),
        "--window",
        "2",
        "--jobs",
        "2",
        "--shuffle-labels",
        "--report",
        &s(&kinematics_shuffled),
    ]);
    let chance = subject_accuracy(&kinematics_shuffled);
    eprintln!("end-to-end: kinematics model, shuffled labels, subject accuracy {chance}");
    // Measured 0.458 at these 24 subjects (0.375 from RGB). Chance is 0.5 give or take 0.1 (one standard
    // deviation at 24 subjects); 0.7 is two above it, and well below the real model's 1.00.
    assert!(
        chance <= 0.7,
        "kinematics model with shuffled labels must stay near chance, got {chance}"
    );
    let coefficients = std::fs::read_to_string(kinematics_report.join("coefficients.csv"))
        .expect("coefficients written");
    assert_eq!(
        coefficients.lines().count(),
        1 + 49 + 1,
        "header, 49 features, intercept"
    );

    let shuffled_report = dir.join("shuffled");
    als_train(&[
        "fit",
        &s(&features),
        "--out",
        &s(&dir.join("shuffled.onnx")),
        "--report",
        &s(&shuffled_report),
        "--synthetic",
        "--shuffle-labels",
    ]);
    let chance = subject_accuracy(&shuffled_report);
    eprintln!("end-to-end: shuffled labels, subject accuracy {chance}");
    // Measured 0.292 at these 24 subjects (0.333 from RGB); the bound as for the kinematics
    // control.
    assert!(
        chance <= 0.7,
        "shuffled labels must stay near chance, got {chance}"
    );

    // The new subjects: `alsclassify` must give each the mean
    // probabilities `als-train eval` computes from the extracted features (one feature
    // definition, one model), and the held-out labels must mostly be right.
    let held_features = dir.join("held-out-features");
    als_train(&[
        "extract",
        &s(&held_out.join("manifest.csv")),
        "--out",
        &s(&held_features),
    ]);
    let held_report = dir.join("held-out-report");
    als_train(&[
        "eval",
        &s(&model),
        &s(&held_features),
        "--report",
        &s(&held_report),
    ]);
    let evaluation: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(held_report.join("evaluation.json")).unwrap(),
    )
    .unwrap();
    gst::init().unwrap();
    gstals::plugin_register_static().unwrap();
    let mut right = 0;
    for (i, expected) in evaluation["per_subject"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let clip = held_out.join(format!("subject-{i:03}-pa.mp4"));
        let lines = classify_clip(&clip, &model, &dir.join(format!("{i}.jsonl")));
        let (summary, frames) = lines.split_last().expect("lines written");
        assert_eq!(frames.len(), 60);
        let classified = frames
            .iter()
            .filter(|l| l["classification"]["classified"] == true)
            .count();
        eprintln!("end-to-end: new subject {i}: {classified} of 60 frames classified");
        // Measured 59 on every new subject: all but the first, which has no flow yet.
        assert!(classified >= 58, "{classified} of 60 frames classified");
        let model_name = frames[1]["classification"]["model"].as_str().unwrap();
        assert!(model_name.contains("synthetic"), "{model_name}");
        assert_eq!(summary["summary"]["synthetic"], true);
        let face = &summary["summary"]["faces"][0];
        for (a, b) in face["mean"]
            .as_array()
            .unwrap()
            .iter()
            .zip(expected["mean"].as_array().unwrap())
        {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() < 1e-3,
                "element {a} vs als-train eval {b} for {clip:?}"
            );
        }
        if face["label"] == expected["label"] {
            right += 1;
        }
    }
    eprintln!("end-to-end: {right} of {HELD_OUT} new subjects labelled right by alsclassify");
    // Measured 12 of 12; one subject of margin (a model right on three subjects in four
    // passes this one time in six).
    assert!(
        right >= HELD_OUT - 1,
        "{right} of {HELD_OUT} new subjects labelled right"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
