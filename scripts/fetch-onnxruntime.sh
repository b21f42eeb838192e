#!/usr/bin/env bash
# Provides ONNX Runtime's shared library from the PyPI wheel (ort's own download cannot
# reach its host here): third_party/onnxruntime/libonnxruntime.so.1.31.1. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.31.1
wheel_sha=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
lib_sha=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
dest=third_party/onnxruntime
lib=$dest/libonnxruntime.so.$version

if [ -f "$lib" ] && echo "$lib_sha  $lib" | sha256sum --check --status; then
  exit 0
fi
mkdir -p "$dest/download"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
  "onnxruntime==$version" -d "$dest/download"
wheel=$(ls "$dest"/download/onnxruntime-$version-*.whl)
echo "$wheel_sha  $wheel" | sha256sum --check --quiet
unzip -o -q -j "$wheel" "onnxruntime/capi/libonnxruntime.so.$version" -d "$dest"
echo "$lib_sha  $lib" | sha256sum --check --quiet
echo "fetch-onnxruntime: $lib"
