// SPDX-License-Identifier: MPL-2.0

//! Bad manifests and videos: a clear error, or a skipped video named in the summary, never a
//! panic, and the features already written stay.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn als_train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_als-train"))
        .args(args)
        .output()
        .expect("als-train runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("als-bad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn manifests_with_unknown_or_missing_columns_are_refused() {
    let dir = workdir("columns");
    let manifest = dir.join("m.csv");
    std::fs::write(&manifest, "path,label,subject,camera\na.mp4,als,s1,c1\n").unwrap();
    let out = als_train(&["extract", &s(&manifest), "--out", &s(&dir.join("f"))]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown column \"camera\""),
        "{}",
        stderr(&out)
    );

    std::fs::write(&manifest, "path,label\na.mp4,als\n").unwrap();
    let out = als_train(&["extract", &s(&manifest), "--out", &s(&dir.join("f"))]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("path, label and subject"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_and_faceless_videos_are_skipped_and_one_class_or_mixed_labels_are_refused() {
    let dir = workdir("videos");
    let clips = dir.join("clips");
    let out = als_train(&[
        "synth",
        &s(&clips),
        "--subjects",
        "1",
        "--frames",
        "8",
        "--tasks",
        "pa",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(clips.join("corrupt.mp4"), b"this is not a video").unwrap();
    let faceless = clips.join("faceless.mp4");
    let status = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "num-buffers=8",
            "!",
            "video/x-raw,width=320,height=240",
            "!",
            "x264enc",
            "!",
            "mp4mux",
            "!",
            "filesink",
        ])
        .arg(format!("location={}", faceless.display()))
        .status()
        .expect("gst-launch-1.0 runs");
    assert!(status.success());
    let manifest = clips.join("bad.csv");
    std::fs::write(
        &manifest,
        "path,label,subject\nsubject-000-pa.mp4,typical,s1\nmissing.mp4,typical,s2\n\
         corrupt.mp4,impaired,s3\nfaceless.mp4,impaired,s4\n",
    )
    .unwrap();
    let features = dir.join("features");
    let out = als_train(&["extract", &s(&manifest), "--out", &s(&features)]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("extract: 1 videos"), "{err}");
    assert!(
        err.contains("skipped") && err.contains("missing.mp4: file not found"),
        "{err}"
    );
    assert!(err.contains("corrupt.mp4"), "{err}");
    assert!(err.contains("faceless.mp4: no frame with a face"), "{err}");
    let index = std::fs::read_to_string(features.join("index.csv")).unwrap();
    assert_eq!(index.lines().count(), 2, "{index}");

    let out = als_train(&["fit", &s(&features), "--out", &s(&dir.join("m.onnx"))]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("one class only"), "{}", stderr(&out));
    assert!(!dir.join("m.onnx").exists());

    // Two labels for one person.
    std::fs::write(
        &manifest,
        "path,label,subject\nsubject-000-pa.mp4,typical,s1\nsubject-000-pa.mp4,impaired,s1\n",
    )
    .unwrap();
    let out = als_train(&["extract", &s(&manifest), "--out", &s(&features)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = als_train(&["fit", &s(&features), "--out", &s(&dir.join("m.onnx"))]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("subject s1 has videos labelled both typical and impaired"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
