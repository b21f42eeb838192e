#!/usr/bin/env bash
# Any video file -> face landmarks and per-face optical flow as JSON Lines. The queues let
# decoding, the mesh and the flow run on different cores.
# Usage: pipelines/file-to-jsonl.sh INPUT OUTPUT.jsonl   (after ./scripts/run-main.sh)
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
als_require_plugin
exec gst-launch-1.0 -e filesrc location="${1:?input video}" ! $ALS_FILE_DECODE \
  ! queue ! alsmesh ! queue ! alsflow region=face ! alsexport location="${2:?output .jsonl}" \
  ! fakesink
