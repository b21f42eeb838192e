#!/usr/bin/env bash
# The whole test suite: formatting, lints and every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The PyGObject test loads target/debug/libgstals.so, which `cargo test` alone does not link.
cargo build --lib
cargo test
