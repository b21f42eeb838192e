#!/usr/bin/env bash
# Everything the build, the tests and the main job need that is not in git: Debian packages,
# ONNX Runtime, the face models and the face photo. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/fetch-onnxruntime.sh
./scripts/build-models.sh
./scripts/fetch-face-photo.sh
