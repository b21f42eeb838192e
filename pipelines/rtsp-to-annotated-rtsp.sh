#!/usr/bin/env bash
# An RTSP camera -> the same picture annotated (landmarks, boxes, flow heat map, classes),
# served at rtsp://THIS-HOST:8554/als to any number of viewers, with the results as JSON Lines.
# The camera may come and go: viewers get a "source lost" card and the relay reconnects.
# Usage: pipelines/rtsp-to-annotated-rtsp.sh rtsp://camera/stream [OUTPUT.jsonl] [als-rtsp relay options]
# (als-rtsp relay --help lists them: --port, --mount, --width/--height/--fps, --model, ...)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
url=${1:?usage: rtsp-to-annotated-rtsp.sh rtsp://camera/stream [OUTPUT.jsonl] [options]}
shift
jsonl=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  jsonl=(--jsonl "$1")
  shift
fi
relay=${ALS_RTSP:-}
if [ -z "$relay" ]; then
  if [ -x "$root/target/release/als-rtsp" ]; then
    relay="$root/target/release/als-rtsp"
  elif command -v als-rtsp >/dev/null; then
    relay=als-rtsp
  else
    echo "rtsp-to-annotated-rtsp: no als-rtsp: cargo build --release -p als-rtsp" >&2
    exit 1
  fi
fi
exec "$relay" relay "$url" "${jsonl[@]}" "$@"
