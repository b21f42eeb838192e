#!/usr/bin/env bash
# Called by meson: builds the plugin in release mode and copies it to meson's output path.
set -euo pipefail
cargo=$1 source=$2 build=$3 output=$4
"$cargo" build --release --lib --manifest-path "$source/Cargo.toml" --target-dir "$build/cargo-target"
cp "$build/cargo-target/release/libgstals.so" "$output"
