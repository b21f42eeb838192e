#!/usr/bin/env bash
# A V4L2 camera -> JSON Lines file, until interrupted (Ctrl-C sends EOS with -e).
# The leaky queue (two seconds of frames) drops the oldest frames rather than falling behind
# the live camera; alsmesh keeps tracking across the drops.
# Usage: pipelines/camera-to-jsonl.sh OUTPUT.jsonl [/dev/video0]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
als_require_plugin
exec gst-launch-1.0 -e v4l2src device="${2:-/dev/video0}" ! $ALS_AS_PLAYED \
  ! queue leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 \
  ! alsmesh ! queue ! alsflow region=face ! alsexport location="${1:?output .jsonl}" ! fakesink
