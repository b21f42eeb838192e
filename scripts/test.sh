#!/usr/bin/env bash
# The whole test suite: formatting, lints and every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The synthetic demonstration model alsclassify's tests load (built once, from generated
# subjects, with the debug build the tests use).
./scripts/build-demo-model.sh debug
# The tests that load libgstals.so from another process (gst-launch-1.0, Python) build it
# themselves, so a plain `cargo test` runs everything; --workspace adds als-train's unit,
# ONNX parity and end-to-end tests.
# Run as an ordinary Debian user would: without the sbin directories (where Debian puts the
# Mosquitto broker) on the PATH, so that a test that finds a program only through root's PATH
# fails here rather than for the first user who tries.
PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -x -E '(/usr)?(/local)?/sbin' | paste -sd: -)" \
  cargo test --workspace
