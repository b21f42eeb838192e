#!/usr/bin/env bash
# Memory soak of the README's face pipeline: loops the synthetic clip through
# `alsmesh ! alsflow region=face` for FRAMES frames (default 100000) and prints the process's
# resident memory shortly after the start, every minute, and its peak at the end. With
# SOAK_SIZE=WIDTHxHEIGHT the clip is first scaled to that size (borders keep its aspect), as a
# camera at that resolution would send it.
# Usage: [SOAK_SIZE=1920x1080] scripts/soak-rss.sh [FRAMES]
#        (needs ./scripts/run-main.sh or the same build first)
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-100000}
source scripts/env.sh
mkdir -p output
[ -f output/face.mp4 ] || ./scripts/make-sample.sh output/face.mp4
# An Annex B elementary stream loops seamlessly through multifilesrc.
stream=output/soak.h264
if [ -n "${SOAK_SIZE:-}" ]; then
  gst-launch-1.0 -q filesrc location=output/face.mp4 ! decodebin ! videoscale add-borders=true \
    ! "video/x-raw,width=${SOAK_SIZE%x*},height=${SOAK_SIZE#*x},pixel-aspect-ratio=1/1" \
    ! x264enc speed-preset=fast ! video/x-h264,stream-format=byte-stream \
    ! filesink location="$stream"
else
  gst-launch-1.0 -q filesrc location=output/face.mp4 ! qtdemux ! h264parse \
    ! video/x-h264,stream-format=byte-stream ! filesink location="$stream"
fi

gst-launch-1.0 -q multifilesrc location="$stream" loop=true ! h264parse ! avdec_h264 \
  ! identity eos-after="$frames" ! videoconvert ! queue ! alsmesh ! queue \
  ! alsflow region=face ! fakesink &
pid=$!
rss() { awk -v k="$1" '$1 == k":" {print $2 / 1024 " MiB"}' "/proc/$pid/status" 2>/dev/null; }
sleep 10
echo "soak: $frames frames; RSS after 10 s: $(rss VmRSS)"
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
  last_rss=$(rss VmRSS) last_peak=$(rss VmHWM)
  sleep 5
  if [ $(( ($(date +%s) - start) % 60 )) -lt 5 ]; then
    echo "soak: $(( $(date +%s) - start + 10 )) s: RSS ${last_rss:-?}, peak ${last_peak:-?}"
  fi
done
wait "$pid"
echo "soak: done in $(( $(date +%s) - start + 10 )) s; last RSS ${last_rss:-?}, peak ${last_peak:-?}"
