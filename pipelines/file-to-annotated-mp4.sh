#!/usr/bin/env bash
# Any video file -> an annotated H.264 MP4 (main profile, 4:2:0, index first: plays in browsers
# and VLC) and the JSON Lines of every frame, classification summary last. The queues let
# decoding, the mesh and the flow run on different cores.
# Usage: pipelines/file-to-annotated-mp4.sh INPUT OUTPUT.mp4 OUTPUT.jsonl
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
in=${1:?usage: file-to-annotated-mp4.sh INPUT OUTPUT.mp4 OUTPUT.jsonl}
mp4=${2:?output .mp4}
jsonl=${3:?output .jsonl}
[ -r "$in" ] || { echo "file-to-annotated-mp4: cannot read $in" >&2; exit 1; }
als_require_plugin
exec gst-launch-1.0 -q -e filesrc location="$in" ! $ALS_FILE_DECODE \
  ! queue ! alsmesh ! queue ! alsflow region=face ! alsclassify \
  ! alsexport location="$jsonl" ! alsoverlay \
  ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast \
  ! video/x-h264,profile=main ! h264parse ! mp4mux faststart=true ! filesink location="$mp4"
