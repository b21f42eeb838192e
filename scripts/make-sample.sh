#!/usr/bin/env bash
# Generates the sample clip the main job analyses: the synthetic face clip
# (examples/make_face_clip.rs, a real face photo moved, turned and scaled), 3 s of 640x480
# at 30 fps, H.264 in MP4 (x264 on one thread: the same bytes on every machine). Needs the release build of the example and the photo from
# scripts/fetch-face-photo.sh. Safe to run again: an existing clip is kept.
set -euo pipefail
out=${1:?usage: make-sample.sh OUTPUT.mp4}
[ -s "$out" ] && exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$(dirname "$out")"
raw="$out.rgb"
geometry=$("$root/target/release/examples/make_face_clip" "$root/third_party/photos/astronaut.png" face "$raw")
IFS=x read -r width height _ <<< "$geometry"
gst-launch-1.0 -q filesrc location="$raw" \
  ! rawvideoparse format=rgb width="$width" height="$height" framerate=30/1 \
  ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=fast threads=1 ! mp4mux \
  ! filesink location="$out.part"
rm -f "$raw"
mv "$out.part" "$out"
