#!/usr/bin/env bash
# Called by meson: makes ONNX Runtime, the face models and the demo classifier (if missing) and copies them to
# meson's build directory for installation.
set -euo pipefail
source=$1 outdir=$2
"$source/scripts/fetch-onnxruntime.sh"
"$source/scripts/build-models.sh"
"$source/scripts/build-demo-model.sh" release
cp "$source/third_party/onnxruntime/libonnxruntime.so.1.31.1" "$outdir/"
cp "$source/third_party/models/face_detection_short_range.onnx" \
  "$source/third_party/models/face_landmark.onnx" \
  "$source/third_party/models/als-synthetic-demo.onnx" "$outdir/"
