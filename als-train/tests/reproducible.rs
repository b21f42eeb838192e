// SPDX-License-Identifier: MPL-2.0

//! `als-train fit` gives the same model and report, byte for byte, whatever the thread count:
//! a small features folder written here (the format `extract` writes: index.csv and one
//! safetensors file per video) is fitted with RAYON_NUM_THREADS=1 and =2, and the ONNX files,
//! every report file and the printed tables must be identical. Another seed must change them,
//! so the comparison is not vacuous. An ignored test runs the same fit on an emulated CPU
//! without AVX or FMA (qemu-user) and compares it with the native one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gstals::features::{FeatureSpec, FlowMode, LandmarkMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safetensors::{Dtype, tensor::TensorView};

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("als-reproducible-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spec() -> FeatureSpec {
    FeatureSpec {
        landmark_mode: LandmarkMode::Roi,
        flow_mode: FlowMode::Face,
        grid_width: 8,
        grid_height: 8,
        landmarks: gstals::meta::LANDMARKS_PER_FACE,
        flow_method: gstals::flow::FlowMethod::default(),
        region_size: 128,
        fps: 30.0,
    }
}

fn bytes<T: Copy, const N: usize>(values: &[T], to: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

/// Ten subjects, half "impaired" (more flow, landmarks shifted), 30 frames each.
fn write_features(dir: &Path) {
    let spec = spec();
    let (l, f, rows) = (spec.landmark_len(), spec.flow_len(), 30);
    std::fs::create_dir_all(dir.join("videos")).unwrap();
    let mut index = String::from("file,path,label,subject,task,frames,rows\n");
    let mut rng = StdRng::seed_from_u64(42);
    for s in 0..10 {
        let (label, shift) = if s % 2 == 0 {
            ("typical", 0.0f32)
        } else {
            ("impaired", 1.0f32)
        };
        let person: Vec<f32> = (0..l).map(|_| rng.random_range(-0.05..0.05)).collect();
        let mut landmarks = Vec::with_capacity(rows * l);
        let mut flow = Vec::with_capacity(rows * f);
        for r in 0..rows {
            let phase = (r as f32 * 0.7).sin();
            for (j, p) in person.iter().enumerate() {
                let moving = if j % 7 == 0 {
                    0.02 * shift * phase
                } else {
                    0.0
                };
                landmarks.push(0.5 + p + moving + rng.random_range(-0.01..0.01));
            }
            for _ in 0..f {
                flow.push((0.3 + 0.4 * shift) * phase.abs() + rng.random_range(0.0..0.3));
            }
        }
        let frame: Vec<i64> = (0..rows as i64).collect();
        let face = vec![0i64; rows];
        let (lm, fl) = (
            bytes(&landmarks, f32::to_le_bytes),
            bytes(&flow, f32::to_le_bytes),
        );
        let (fr, fa) = (
            bytes(&frame, i64::to_le_bytes),
            bytes(&face, i64::to_le_bytes),
        );
        let tensors = vec![
            (
                "landmarks",
                TensorView::new(Dtype::F32, vec![rows, l], &lm).unwrap(),
            ),
            (
                "flow",
                TensorView::new(Dtype::F32, vec![rows, f], &fl).unwrap(),
            ),
            (
                "frame",
                TensorView::new(Dtype::I64, vec![rows], &fr).unwrap(),
            ),
            (
                "face",
                TensorView::new(Dtype::I64, vec![rows], &fa).unwrap(),
            ),
        ];
        let mut metadata: HashMap<String, String> = spec.to_props().into_iter().collect();
        // What `extract` writes and `fit` checks against the index row.
        for (key, value) in [
            ("path", format!("subject-{s}.mp4")),
            ("label", label.to_string()),
            ("subject", format!("subject-{s}")),
            ("task", "pa".to_string()),
        ] {
            metadata.insert(key.to_string(), value);
        }
        let file = format!("videos/{s:05}.safetensors");
        safetensors::serialize_to_file(tensors, Some(metadata), &dir.join(&file)).unwrap();
        index.push_str(&format!(
            "{file},subject-{s}.mp4,{label},subject-{s},pa,{rows},{rows}\n"
        ));
    }
    std::fs::write(dir.join("index.csv"), index).unwrap();
}

/// Fits `features` into `out/model.onnx` and `out/report` with `threads` rayon threads and
/// `extra` arguments, run by `wrapper` (an emulator) if given; returns what it printed on stdout.
fn fit(features: &Path, out: &Path, threads: &str, extra: &[&str], wrapper: &[&str]) -> Vec<u8> {
    let binary = env!("CARGO_BIN_EXE_als-train");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    let run = command
        .env("RAYON_NUM_THREADS", threads)
        .args(["fit", &features.display().to_string(), "--out"])
        .arg(out.join("model.onnx"))
        .arg("--report")
        .arg(out.join("report"))
        .arg("--synthetic")
        .args(extra)
        .output()
        .expect("als-train runs");
    assert!(
        run.status.success(),
        "als-train fit failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    run.stdout
}

/// The model and every report file, by name.
fn outputs(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![(
        "model.onnx".to_string(),
        std::fs::read(out.join("model.onnx")).unwrap(),
    )];
    let mut names: Vec<String> = std::fs::read_dir(out.join("report"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let content = std::fs::read(out.join("report").join(&name)).unwrap();
        files.push((name, content));
    }
    files
}

#[test]
fn one_and_two_threads_give_identical_model_and_report_bytes() {
    let dir = workdir("threads");
    let features = dir.join("features");
    write_features(&features);
    let (one, two, other) = (dir.join("one"), dir.join("two"), dir.join("other-seed"));
    let printed_one = fit(&features, &one, "1", &["--epochs", "6"], &[]);
    let printed_two = fit(&features, &two, "2", &["--epochs", "6"], &[]);
    let (a, b) = (outputs(&one), outputs(&two));
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "model.onnx",
        "tables.txt",
        "evaluation.json",
        "epochs.csv",
        "accuracy.png",
        "loss.png",
    ] {
        assert!(names.contains(&expected), "{expected} written: {names:?}");
    }
    assert_eq!(names, b.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between 1 and 2 threads");
    }
    assert_eq!(
        String::from_utf8_lossy(&printed_one),
        String::from_utf8_lossy(&printed_two)
    );

    // Not vacuous: another seed trains another model.
    fit(
        &features,
        &other,
        "2",
        &["--epochs", "6", "--seed", "2"],
        &[],
    );
    let c = outputs(&other);
    assert!(a[0].1 != c[0].1, "seed 2 gave the same model as seed 1");
    let epochs = |files: &[(String, Vec<u8>)]| {
        files
            .iter()
            .find(|(n, _)| n == "epochs.csv")
            .map(|(_, c)| c.clone())
    };
    assert!(epochs(&a) != epochs(&c), "seed 2 gave the same losses");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same fit natively and on an emulated x86_64 CPU without AVX, AVX2 or FMA (QEMU's
/// `qemu64`: SSE2 and SSE3 only), so any code that picks its kernels or its libm by CPU shows.
/// Needs `qemu-x86_64` (Debian: qemu-user) and about a minute:
/// `cargo test -p als-train --test reproducible -- --ignored`.
#[test]
#[ignore = "needs qemu-x86_64 (qemu-user) and about a minute"]
fn a_cpu_without_avx_or_fma_gives_identical_bytes() {
    let qemu = ["qemu-x86_64", "-cpu", "qemu64"];
    let found = Command::new(qemu[0]).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "qemu-x86_64 not found (apt-get install qemu-user)"
    );
    let dir = workdir("cpu");
    let features = dir.join("features");
    write_features(&features);
    let extra = ["--epochs", "3", "--folds", "2"];
    let (native, emulated) = (dir.join("native"), dir.join("emulated"));
    let printed_native = fit(&features, &native, "2", &extra, &[]);
    let printed_emulated = fit(&features, &emulated, "2", &extra, &qemu);
    let (a, b) = (outputs(&native), outputs(&emulated));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between this CPU and qemu64");
    }
    assert_eq!(printed_native, printed_emulated);
    let _ = std::fs::remove_dir_all(&dir);
}
