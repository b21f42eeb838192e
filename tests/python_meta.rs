// SPDX-License-Identifier: MPL-2.0

//! Consumers outside Rust: PyGObject reads the metas from buffers of a real pipeline.

mod common;

use std::process::Command;

#[test]
fn python_reads_the_flow_meta() {
    let plugin_dir = common::target_dir();
    assert!(
        plugin_dir.join("libgstals.so").exists(),
        "{} is missing: run `cargo build --lib` first (scripts/test.sh does)",
        plugin_dir.join("libgstals.so").display()
    );
    // Debian's interpreter: it is the one with python3-gi.
    let output = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/read_flow_meta.py"
        ))
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("python-registry.bin"))
        .output()
        .expect("/usr/bin/python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("python read 6 flow metas"), "{stdout}");
}
