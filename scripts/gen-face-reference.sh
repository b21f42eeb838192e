#!/bin/sh
# Rebuilds src/kinematics/reference.rs, the frontal reference face the head pose is measured
# against, from the face photo and the face models (scripts/setup.sh makes both).
set -eu
cd "$(dirname "$0")/.."
out=src/kinematics/reference.rs
tmp=$(mktemp)
cargo run --quiet --example derive_face_reference -- third_party/photos/astronaut.png > "$tmp"
mv "$tmp" "$out"
echo "wrote $out"
