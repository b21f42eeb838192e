#!/usr/bin/env bash
# Generates the sample clip the main job analyses: 10 s of 640x480 at 30 fps with a moving
# object, H.264 in MP4. Safe to run again: an existing clip is kept.
set -euo pipefail
out=${1:?usage: make-sample.sh OUTPUT.mp4}
[ -s "$out" ] && exit 0
mkdir -p "$(dirname "$out")"
gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=ball motion=sweep \
  ! video/x-raw,width=640,height=480,framerate=30/1 \
  ! x264enc speed-preset=fast ! mp4mux ! filesink location="$out.part"
mv "$out.part" "$out"
