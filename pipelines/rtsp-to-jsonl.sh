#!/usr/bin/env bash
# A live RTSP camera -> JSON Lines on stdout (one line per frame, flushed as it goes).
# RTSP delivers in bursts: the leaky queue holds up to two seconds of frames, so bursts pass
# whole and only a machine that cannot keep up drops (the oldest frames, evenly); alsmesh keeps
# tracking across the drops. The second queue puts the flow on its own core.
# Usage: pipelines/rtsp-to-jsonl.sh rtsp://camera/stream
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
als_require_plugin
exec gst-launch-1.0 -q rtspsrc location="${1:?rtsp url}" latency=200 ! decodebin ! $ALS_AS_PLAYED \
  ! queue leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 \
  ! alsmesh ! queue ! alsflow region=face ! alsexport location=- ! fakesink sync=false
