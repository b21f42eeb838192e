#!/usr/bin/env bash
# Called by meson: makes ONNX Runtime and the face models (if missing) and copies them to
# meson's build directory for installation.
set -euo pipefail
source=$1 outdir=$2
"$source/scripts/fetch-onnxruntime.sh"
"$source/scripts/build-models.sh"
cp "$source/third_party/onnxruntime/libonnxruntime.so.1.31.1" "$outdir/"
cp "$source/third_party/models/face_detection_short_range.onnx" \
  "$source/third_party/models/face_landmark.onnx" "$outdir/"
