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
    // The interpretable model refuses the same manifest rather than relabelling the second
    // video with the first one's label.
    let out = als_train(&["kinematics", &s(&manifest)]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("subject s1 has videos labelled both typical and impaired"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kinematics_skips_an_unreadable_video_and_measures_the_rest() {
    let dir = workdir("kinematics");
    let clips = dir.join("clips");
    let out = als_train(&[
        "synth",
        &s(&clips),
        "--subjects",
        "4",
        "--frames",
        "30",
        "--tasks",
        "pa",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(clips.join("corrupt.mp4"), b"this is not a video").unwrap();
    let manifest = clips.join("with-corrupt.csv");
    let listed = std::fs::read_to_string(clips.join("manifest.csv")).unwrap();
    std::fs::write(
        &manifest,
        format!("{listed}corrupt.mp4,impaired,subject-099,pa\n"),
    )
    .unwrap();
    let out = als_train(&[
        "kinematics",
        &s(&manifest),
        "--window",
        "1",
        "--min-frames",
        "5",
        "--folds",
        "2",
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("skipped") && err.contains("corrupt.mp4"),
        "{err}"
    );
    assert!(err.contains("1 of 5 videos could not be measured"), "{err}");
    assert!(err.contains("of 4 subjects in 5 videos"), "{err}");
    // Videos it was fitted on are not "new subjects".
    let out = als_train(&[
        "kinematics",
        &s(&manifest),
        "--held-out",
        &s(&clips.join("manifest.csv")),
    ]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("held-out videos must be new"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The index and the features files of two runs must never pair one video's features with
/// another's label, and a run that stopped part way resumes.
#[test]
fn an_interrupted_extract_cannot_mislabel_and_resumes() {
    let dir = workdir("resume");
    let clips = dir.join("clips");
    let out = als_train(&[
        "synth",
        &s(&clips),
        "--subjects",
        "2",
        "--frames",
        "6",
        "--tasks",
        "pa",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let features = dir.join("features");
    let manifest = clips.join("manifest.csv");
    let out = als_train(&["extract", &s(&manifest), "--out", &s(&features)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("already extracted"),
        "{}",
        stderr(&out)
    );
    let index = features.join("index.csv");
    let first_index = std::fs::read_to_string(&index).unwrap();

    // Run again unchanged: every video is kept, none extracted anew.
    let out = als_train(&["extract", &s(&manifest), "--out", &s(&features)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("extract: 2 videos were already extracted by an earlier run"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&index).unwrap(), first_index);

    // The manifest reordered and extracted again, but the run "stops" before the index is
    // replaced: the old index points at files that now hold the other subject.
    let listed = std::fs::read_to_string(&manifest).unwrap();
    let mut lines: Vec<&str> = listed.lines().collect();
    lines[1..].reverse();
    let reordered = clips.join("reordered.csv");
    std::fs::write(&reordered, lines.join("\n") + "\n").unwrap();
    let out = als_train(&["extract", &s(&reordered), "--out", &s(&features)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("already extracted"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&index, &first_index).unwrap();
    let model = dir.join("m.onnx");
    let out = als_train(&["fit", &s(&features), "--out", &s(&model), "--folds", "2"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("the folder mixes two extract runs"), "{err}");
    assert!(!model.exists());

    // Resumed: the files already match the reordered manifest, so nothing is extracted and
    // the index is rewritten to match them.
    let out = als_train(&["extract", &s(&reordered), "--out", &s(&features)]);
    assert!(
        stderr(&out).contains("extract: 2 videos were already extracted"),
        "{}",
        stderr(&out)
    );
    let out = als_train(&[
        "fit",
        &s(&features),
        "--out",
        &s(&model),
        "--folds",
        "2",
        "--epochs",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A video replaced in place is extracted again, not taken from the old file.
    let video = clips.join("subject-000-pa.mp4");
    let bytes = std::fs::read(&video).unwrap();
    std::fs::write(&video, &bytes).unwrap();
    let touched = std::fs::File::options().write(true).open(&video).unwrap();
    touched
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(touched);
    let out = als_train(&["extract", &s(&reordered), "--out", &s(&features)]);
    assert!(
        stderr(&out).contains("extract: 1 videos were already extracted"),
        "{}",
        stderr(&out)
    );
    // And --fresh keeps nothing.
    let out = als_train(&["extract", &s(&reordered), "--out", &s(&features), "--fresh"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("already extracted"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
