#!/usr/bin/env bash
# Called by meson: builds the plugin in release mode, telling it where ONNX Runtime and the
# models will be installed, and copies it to meson's output path.
set -euo pipefail
cargo=$1 source=$2 build=$3 output=$4
export GST_ALS_ORT_LIB=$5 GST_ALS_MODEL_DIR=$6
"$cargo" build --release --lib --manifest-path "$source/Cargo.toml" --target-dir "$build/cargo-target"
cp "$build/cargo-target/release/libgstals.so" "$output"
