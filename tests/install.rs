// SPDX-License-Identifier: MPL-2.0

//! The meson build as a packager runs it: into a temporary prefix, the plugin stripped and
//! under `<prefix>/<libdir>/gstreamer-1.0`, `meson install` copying without building, and the
//! installed plugin working with only `GST_PLUGIN_PATH` pointing at the prefix after the
//! source tree's `third_party/` (ONNX Runtime, models) is gone.
//!
//! The build runs in a copy of the checkout (its `third_party/` hard-linked), so removing
//! that `third_party/` touches nothing of the checkout's, and a killed test leaves the
//! checkout as it was.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

/// A copy of the checkout at `to`: every file except `target/` and `.git/`, `third_party/`
/// hard-linked (the same file system, no space, and nothing that leads back to the
/// checkout's own paths).
fn copy_checkout(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("copy folder");
    for entry in std::fs::read_dir(from)
        .expect("checkout readable")
        .flatten()
    {
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let flags = if name == "third_party" { "-al" } else { "-a" };
        run(
            "cp",
            &[
                flags,
                &entry.path().display().to_string(),
                &to.display().to_string(),
            ],
            from,
        );
    }
}

#[test]
fn meson_installs_a_stripped_self_contained_plugin_under_the_prefix() {
    common::init();
    let scratch = common::scratch_dir("meson-install");
    let source = scratch.join("source");
    copy_checkout(Path::new(env!("CARGO_MANIFEST_DIR")), &source);
    let source = source.as_path();
    let (build, prefix) = (scratch.join("build"), scratch.join("prefix"));
    let clip = scratch.join("face.mp4");
    common::face_mp4(&clip, 8, true);
    // The test's own build (dev profile, this target directory) so that only the plugin
    // crate is compiled again, for the prefix's paths.
    let target = common::target_dir()
        .parent()
        .expect("target/debug has a parent")
        .to_path_buf();
    run(
        "meson",
        &[
            "setup",
            &build.display().to_string(),
            &format!("--prefix={}", prefix.display()),
            "-Dcargo-profile=dev",
            &format!("-Dcargo-target-dir={}", target.display()),
        ],
        source,
    );
    run(
        "meson",
        &["compile", "-C", &build.display().to_string()],
        source,
    );
    let built = build.join("libgstals.so");
    let built_at = std::fs::metadata(&built)
        .and_then(|m| m.modified())
        .expect("built");
    let install = run(
        "meson",
        &["install", "-C", &build.display().to_string()],
        source,
    );
    let install_log = String::from_utf8_lossy(&install.stdout);
    assert!(
        install_log.contains("no work to do"),
        "meson install built something:\n{install_log}"
    );
    assert_eq!(
        std::fs::metadata(&built)
            .and_then(|m| m.modified())
            .expect("built"),
        built_at,
        "meson install rebuilt the plugin"
    );

    let plugin = find(&prefix, "libgstals.so").expect("libgstals.so installed under the prefix");
    let plugin_dir = plugin.parent().expect("plugin folder").to_path_buf();
    assert_eq!(
        plugin_dir.file_name().and_then(|n| n.to_str()),
        Some("gstreamer-1.0")
    );
    assert!(plugin_dir.starts_with(&prefix));
    let sections = run("readelf", &["-S", &plugin.display().to_string()], source);
    let sections = String::from_utf8_lossy(&sections.stdout);
    assert!(sections.contains(".text"), "{sections}");
    assert!(
        !sections.contains(".debug_info"),
        "the installed plugin is not stripped"
    );
    for asset in [
        "libonnxruntime.so.1.31.1",
        "face_landmark.onnx",
        "als-synthetic-demo.onnx",
    ] {
        let found = find(&prefix, asset).unwrap_or_else(|| panic!("{asset} installed"));
        assert!(found.starts_with(&prefix));
    }

    std::fs::remove_dir_all(source.join("third_party")).expect("the copy's third_party goes");
    let jsonl = scratch.join("out.jsonl");
    let out = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "filesrc",
            &format!("location={}", clip.display()),
            "!",
            "decodebin",
            "!",
            "videoconvert",
            "!",
            "alsmesh",
            "!",
            "alsflow",
            "region=face",
            "!",
            "alsclassify",
            "!",
            "alsexport",
            &format!("location={}", jsonl.display()),
            "!",
            "fakesink",
        ])
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", scratch.join("registry.bin"))
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("gst-launch-1.0 runs");
    assert!(
        out.status.success(),
        "the installed plugin failed without the source's third_party:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = std::fs::read_to_string(&jsonl).expect("JSON Lines written");
    let last = records.lines().last().expect("a summary line");
    assert!(
        last.contains("\"summary\"") && last.contains("als-synthetic-demo"),
        "{last}"
    );
    assert!(
        records.contains("\"classified\":true"),
        "faces were classified"
    );
}
