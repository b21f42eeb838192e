#!/usr/bin/env bash
# A live RTSP camera -> JSON Lines on stdout (one line per frame, flushed as it goes).
# `queue leaky=downstream` drops frames rather than falling behind a live source.
# Usage: pipelines/rtsp-to-jsonl.sh rtsp://camera/stream
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
exec gst-launch-1.0 -q rtspsrc location="${1:?rtsp url}" latency=200 ! decodebin ! videoconvert \
  ! queue leaky=downstream max-size-buffers=2 \
  ! alsmesh ! alsflow region=face ! alsexport location=- ! fakesink sync=false
