#!/usr/bin/env bash
# Regenerates tests/goldens/face_mesh.json: MediaPipe 0.10.21's own Face Mesh landmarks over
# the synthetic face clip. Needs only the package registries; takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/fetch-face-photo.sh
venv=third_party/golden-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# mediapipe 0.10.21 declares dependencies (jax, opencv-contrib, ...) that Face Mesh does not
# use and that pin old versions: install it alone, then what it needs.
"$venv/bin/pip" install --quiet --no-deps mediapipe==0.10.21
"$venv/bin/pip" install --quiet opencv-python-headless==4.11.0.86 numpy==1.26.4 \
  protobuf==4.25.8 absl-py==2.5.1 attrs==26.1.0 flatbuffers==25.12.19 matplotlib==3.11.2
clip=third_party/clips/face.rgb
mkdir -p third_party/clips
geometry=$(cargo run --quiet --release --example make_face_clip -- \
  third_party/photos/astronaut.png face "$clip")
IFS=x read -r width height _ <<< "$geometry"
"$venv/bin/python" scripts/goldens/make_mesh_goldens.py "$clip" "$width" "$height" 45 \
  tests/goldens/face_mesh.json
echo "make-goldens: tests/goldens/face_mesh.json"
