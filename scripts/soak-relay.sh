#!/usr/bin/env bash
# Memory soak of `als-rtsp relay`: a stand-in camera (`als-rtsp serve`) sends the main job's
# synthetic face clip looped to SECONDS of stream (default 3600) at 640x480, 30 fps; the relay
# analyses it with the README's defaults (mesh, face flow, the demo model, JSON Lines) and
# serves it to one viewer. The relay's resident memory is written every 10 s to
# output/soak-relay/rss.csv, and a summary is printed: the first minute against the last.
# Extra arguments go to the relay (for example --width=1280 --height=720). With
# SOAK_RECONNECT=1 the camera serves the 3 s clip as it is instead, so its stream ends every
# 3 s and the relay reconnects: memory across reconnections.
# Usage: [SOAK_RECONNECT=1] scripts/soak-relay.sh [SECONDS] [RELAY OPTIONS...]
#        (needs ./scripts/run-main.sh or the same release build first)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3600}
shift || true
source scripts/env.sh
relay_bin=target/release/als-rtsp
[ -x "$relay_bin" ] || cargo build --release -p als-rtsp
out=output/soak-relay
rm -rf "$out" && mkdir -p "$out"
[ -f output/face.mp4 ] || ./scripts/make-sample.sh output/face.mp4

# The stream: the clip's frames repeated (an Annex B stream loops seamlessly through
# multifilesrc), re-encoded as one MP4, so the camera never ends during the soak.
reconnect=${SOAK_RECONNECT:-0}
frames=$((seconds * 30))
loop=$out/loop.h264
if [ "$reconnect" = 1 ]; then
  cp output/face.mp4 "$out/camera.mp4"
else
  gst-launch-1.0 -q filesrc location=output/face.mp4 ! qtdemux ! h264parse \
    ! video/x-h264,stream-format=byte-stream ! filesink location="$loop"
  gst-launch-1.0 -q multifilesrc location="$loop" loop=true ! h264parse ! avdec_h264 \
    ! identity eos-after="$frames" ! videoconvert ! video/x-raw,format=I420 \
    ! x264enc speed-preset=ultrafast key-int-max=30 ! mp4mux ! filesink location="$out/camera.mp4"
  rm -f "$loop"
fi

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
camera_port=$(port)
relay_port=$(port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$relay_bin" serve "$out/camera.mp4" --port="$camera_port" 2>"$out/camera.log" &
pids+=($!)
"$relay_bin" relay "rtsp://127.0.0.1:$camera_port/stream" --port="$relay_port" \
  --jsonl="$out/relay.jsonl" "$@" \
  2>"$out/relay.log" &
relay=$!
pids+=("$relay")
until grep -q "serving" "$out/relay.log"; do sleep 0.5; kill -0 "$relay"; done
gst-launch-1.0 -q rtspsrc location="rtsp://127.0.0.1:$relay_port/als" protocols=tcp \
  ! fakesink sync=false >"$out/viewer.log" 2>&1 &
pids+=($!)

rss() { awk -v k="$1" '$1 == k":" {print int($2 / 1024)}' "/proc/$relay/status" 2>/dev/null; }
echo "seconds,rss_mib,peak_mib,frames" >"$out/rss.csv"
echo "soak-relay: $seconds s of stream; RSS every 10 s in $out/rss.csv"
start=$(date +%s)
stalled=0
while kill -0 "$relay" 2>/dev/null; do
  elapsed=$(( $(date +%s) - start ))
  [ "$elapsed" -ge $((seconds + 30)) ] && break
  [ "$reconnect" = 1 ] || ! grep -q "source lost" "$out/relay.log" || break
  records=$(grep -c '"frame"' "$out/relay.jsonl" 2>/dev/null || true)
  echo "$elapsed,$(rss VmRSS),$(rss VmHWM),${records:-0}" >>"$out/rss.csv"
  # A relay that stops analysing for a minute is stuck (the source never stops for long).
  if [ "$elapsed" -ge 90 ] && [ "$(tail -n 7 "$out/rss.csv" | cut -d, -f4 | sort -u | wc -l)" = 1 ]; then
    echo "soak-relay: STALLED: no frame analysed for 60 s at $elapsed s (see $out/relay.log)"
    stalled=1
    break
  fi
  [ $((elapsed % 300)) -lt 10 ] && echo "soak-relay: $elapsed s: RSS $(rss VmRSS) MiB, peak $(rss VmHWM) MiB"
  sleep 10
done
kill -INT "$relay" 2>/dev/null || true
wait "$relay" 2>/dev/null || true
abandoned=$(grep -c "did not stop within" "$out/relay.log" || true)
[ "$abandoned" = 0 ] || echo "soak-relay: $abandoned connections hung in their teardown and were left behind"
python3 - "$out/rss.csv" "$(grep -c 'source connected' "$out/relay.log")" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["rss_mib"]]
if len(rows) < 12:
    sys.exit(f"soak-relay: only {len(rows)} samples")
first = [int(r["rss_mib"]) for r in rows if 60 <= int(r["seconds"]) < 120]
last = [int(r["rss_mib"]) for r in rows[-6:]]
peak = max(int(r["peak_mib"]) for r in rows)
print(f"soak-relay: {rows[-1]['seconds']} s, {rows[-1]['frames']} frames analysed, "
      f"{sys.argv[2]} connections; RSS "
      f"second minute {min(first)}-{max(first)} MiB, last minute {min(last)}-{max(last)} MiB, "
      f"peak {peak} MiB")
EOF
[ "$stalled" = 0 ]
