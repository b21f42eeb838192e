#!/usr/bin/env bash
# The whole test suite: formatting, lints and every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The tests that load libgstals.so from another process (gst-launch-1.0, Python) build it
# themselves, so a plain `cargo test` runs everything.
cargo test
