// SPDX-License-Identifier: MPL-2.0

//! ONNX Runtime loads once per process, so the missing-library case has a process of its own.

mod common;

use common::{init, run_frames};
use gst_video::VideoFormat;

#[test]
fn missing_onnx_runtime_is_a_clear_error() {
    init();
    let err = run_frames(
        "alsmesh ort-library=/nonexistent/libonnxruntime.so.1.31.1",
        VideoFormat::Rgb,
        64,
        64,
        &[vec![0; 64 * 64 * 3]],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(err.matches(gst::LibraryError::Init), "{text}");
    assert!(
        text.contains("/nonexistent/libonnxruntime.so.1.31.1")
            && text.contains("fetch-onnxruntime.sh"),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_onnx_runtime_is_a_clear_error() {
    init();
    let dir = common::scratch_dir("fake_ort");
    let fake = dir.join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let err = run_frames(
        &format!("alsmesh ort-library={}", fake.display()),
        VideoFormat::Rgb,
        64,
        64,
        &[vec![0; 64 * 64 * 3]],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("could not load ONNX Runtime"),
        "{err}"
    );
}
