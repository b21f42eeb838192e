#!/usr/bin/env bash
# Builds the face models alsmesh runs, from the PyPI wheel mediapipe==0.10.21 (Apache-2.0),
# the last release that bundles the BlazeFace and Face Mesh .tflite files, converted to ONNX
# by scripts/models/convert_face_models.py. Output: third_party/models/*.onnx.
# Checks what it downloads and what it writes; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=third_party/models
work=third_party/model-build
detector_tflite_sha=bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8
landmark_tflite_sha=1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814
detector_onnx_sha=ab6a1a34e39e50d42aada9834c6f97973f05f3b3da8aa9e68648ca8b215d16c1
landmark_onnx_sha=18543fd64c328594efcb39f1176acf8fa194a162ae8d73979df289d92015b5e1

outputs_ok() {
  echo "$detector_onnx_sha  $out/face_detection_short_range.onnx
$landmark_onnx_sha  $out/face_landmark.onnx" | sha256sum --check --status 2>/dev/null
}
outputs_ok && exit 0

mkdir -p "$work" "$out"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
  mediapipe==0.10.21 -d "$work"
wheel=$(ls "$work"/mediapipe-0.10.21-*.whl)
unzip -o -q -j "$wheel" \
  mediapipe/modules/face_detection/face_detection_short_range.tflite \
  mediapipe/modules/face_landmark/face_landmark.tflite -d "$work"
echo "$detector_tflite_sha  $work/face_detection_short_range.tflite
$landmark_tflite_sha  $work/face_landmark.tflite" | sha256sum --check --quiet

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/pip" install --quiet tflite2onnx==0.4.1 tflite==2.18.0 onnx==1.23.2 \
  numpy==2.4.6 protobuf==7.36.2 flatbuffers==25.12.19 ml_dtypes==0.6.0 typing_extensions==4.16.0
"$work/venv/bin/python" scripts/models/convert_face_models.py \
  "$work/face_detection_short_range.tflite" "$work/face_landmark.tflite" "$out" \
  2> >(grep -v "float16 not supported" >&2)
if ! outputs_ok; then
  echo "build-models: converted models differ from the expected checksums" >&2
  sha256sum "$out"/*.onnx >&2
  exit 1
fi
echo "build-models: $out"
