#!/usr/bin/env bash
# Provides the face photo the synthetic clips are made from: astronaut.png (Eileen Collins,
# NASA, public domain) from the scikit-image wheel on PyPI. Output:
# third_party/photos/astronaut.png. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=third_party/photos
png_sha=88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
if [ -f "$dest/astronaut.png" ] && echo "$png_sha  $dest/astronaut.png" | sha256sum --check --status; then
  exit 0
fi
mkdir -p "$dest/download"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
  scikit-image==0.26.0 -d "$dest/download"
unzip -o -q -j "$dest"/download/scikit_image-0.26.0-*.whl skimage/data/astronaut.png -d "$dest"
echo "$png_sha  $dest/astronaut.png" | sha256sum --check --quiet
