#!/usr/bin/env bash
# A camera -> annotated live display, plus an annotated MP4 and JSON Lines of every frame,
# until interrupted (Ctrl-C sends EOS with -e, so the MP4 is finalised).
#
# Every frame is analysed and recorded: the display branch has a leaky queue of its own and
# a sink that does not sync to the clock, so a slow display drops frames only on the screen.
# (A display sink with sync=true sends QoS events upstream; videoconvert then drops late
# frames before the analysis, and alsflow restarts its frame pair with reason "discont".)
#
# Usage: pipelines/camera-to-display-and-mp4.sh OUTPUT.mp4 OUTPUT.jsonl [/dev/video0]
# ALS_CAMERA_SOURCE and ALS_DISPLAY_SINK replace the camera and the display (the tests use
# videotestsrc and fakesink; autovideosrc picks any camera).
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
mp4=${1:?usage: camera-to-display-and-mp4.sh OUTPUT.mp4 OUTPUT.jsonl [/dev/video0]}
jsonl=${2:?output .jsonl}
source_line=${ALS_CAMERA_SOURCE:-v4l2src device=${3:-/dev/video0}}
display=${ALS_DISPLAY_SINK:-autovideosink}
als_require_plugin
# shellcheck disable=SC2086 # the source and display are launch-line fragments
exec gst-launch-1.0 -e $source_line ! $ALS_AS_PLAYED \
  ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 \
  ! alsmesh ! queue ! alsflow region=face ! alsclassify \
  ! alsexport location="$jsonl" ! alsoverlay ! tee name=annotated \
  annotated. ! queue leaky=downstream max-size-buffers=2 ! videoconvert ! $display sync=false \
  annotated. ! queue ! videoconvert ! video/x-raw,format=I420 \
    ! x264enc tune=zerolatency speed-preset=veryfast ! video/x-h264,profile=main \
    ! h264parse ! mp4mux ! filesink location="$mp4"
