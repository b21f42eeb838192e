#!/usr/bin/env bash
# A V4L2 camera -> JSON Lines file, until interrupted (Ctrl-C sends EOS with -e).
# The leaky queue drops frames rather than falling behind the live camera.
# Usage: pipelines/camera-to-jsonl.sh OUTPUT.jsonl [/dev/video0]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
exec gst-launch-1.0 -e v4l2src device="${2:-/dev/video0}" ! videoconvert \
  ! queue leaky=downstream max-size-buffers=2 \
  ! alsmesh ! alsflow region=face ! alsexport location="${1:?output .jsonl}" ! fakesink
