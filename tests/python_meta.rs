// SPDX-License-Identifier: MPL-2.0

//! Consumers outside Rust: PyGObject reads the metas from buffers of a real pipeline.

mod common;

use std::process::Command;

/// Runs a script of tests/python with Debian's interpreter (the one with python3-gi) and the
/// plugin built from these sources; returns its stdout.
fn run_python(script: &str, args: &[&str]) -> String {
    common::build_plugin();
    let plugin_dir = common::target_dir();
    assert!(
        plugin_dir.join("libgstals.so").exists(),
        "{} is missing after cargo build --lib",
        plugin_dir.join("libgstals.so").display()
    );
    let output = Command::new("/usr/bin/python3")
        .arg(format!(
            "{}/tests/python/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("python-registry.bin"))
        .output()
        .expect("/usr/bin/python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

#[test]
fn python_reads_the_flow_meta() {
    let stdout = run_python("read_flow_meta.py", &[]);
    assert!(stdout.contains("python read 6 flow metas"), "{stdout}");
}

#[test]
fn python_reads_the_face_meta() {
    common::init();
    let (w, h, frames) = common::face_clip(gstals::synthetic::Scenario::Face);
    let clip = common::scratch_dir("python_faces").join("face.rgb");
    std::fs::write(&clip, frames[..4].concat()).expect("clip written");
    let stdout = run_python(
        "read_face_meta.py",
        &[&clip.display().to_string(), &w.to_string(), &h.to_string()],
    );
    assert!(stdout.contains("python read 4 face metas"), "{stdout}");
}

#[test]
fn python_reads_the_class_meta_and_summary() {
    common::init();
    let (w, h, frames) = common::face_clip(gstals::synthetic::Scenario::Face);
    let clip = common::scratch_dir("python_class").join("face.rgb");
    std::fs::write(&clip, frames[..6].concat()).expect("clip written");
    let model = common::asset("third_party/models/als-synthetic-demo.onnx");
    let stdout = run_python(
        "read_class_meta.py",
        &[
            &clip.display().to_string(),
            &w.to_string(),
            &h.to_string(),
            &model.display().to_string(),
        ],
    );
    assert!(stdout.contains("python read 6 class metas"), "{stdout}");
}
