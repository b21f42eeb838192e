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
    let (w, h, frames) = common::face_clip(als_synthetic::Scenario::Face);
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
    let (w, h, frames) = common::face_clip(als_synthetic::Scenario::Face);
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

/// The ROI examples of docs/examples (Python and C) list the same faces, as alsmesh put them.
#[test]
fn documented_roi_examples_list_the_faces_in_python_and_c() {
    common::init();
    common::build_plugin();
    let plugin_dir = common::target_dir();
    let dir = common::scratch_dir("roi_examples");
    let clip = dir.join("face.mp4");
    common::face_mp4(&clip, 6, true);
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
    let binary = dir.join("list-rois");
    let flags = Command::new("pkg-config")
        .args([
            "--cflags",
            "--libs",
            "gstreamer-video-1.0",
            "gstreamer-app-1.0",
        ])
        .output()
        .expect("pkg-config runs");
    assert!(
        flags.status.success(),
        "pkg-config knows gstreamer-video-1.0"
    );
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let compiled = Command::new("cc")
        .arg(examples.join("list-rois.c"))
        .arg("-o")
        .arg(&binary)
        .args(flags.split_whitespace())
        .status()
        .expect("cc runs");
    assert!(compiled.success(), "the C example compiles");
    let run = |program: &str, args: &[&std::path::Path]| {
        let out = Command::new(program)
            .args(args)
            .env("GST_PLUGIN_PATH", &plugin_dir)
            .env("GST_REGISTRY", plugin_dir.join("python-registry.bin"))
            .output()
            .expect("example runs");
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let from_c = run(&binary.display().to_string(), &[&clip]);
    let from_python = run("/usr/bin/python3", &[&examples.join("list_rois.py"), &clip]);
    assert_eq!(from_c, from_python);
    let lines: Vec<&str> = from_c.lines().collect();
    assert!(lines.len() >= 5, "{from_c}");
    assert!(
        lines.iter().all(|l| l.contains("face id=1 box=")),
        "{from_c}"
    );
}
