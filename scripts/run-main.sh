#!/usr/bin/env bash
# The main job: builds the plugin, generates a sample clip and runs the analysis pipeline
# over it, leaving the results in output/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --release --lib
source scripts/env.sh

./scripts/make-sample.sh output/sample.mp4
gst-launch-1.0 -q filesrc location=output/sample.mp4 ! decodebin ! videoconvert \
  ! alsflow grid-width=16 grid-height=12 \
  ! alsexport location=output/flow.jsonl flow-grid=true \
  ! fakesink

frames=$(wc -l < output/flow.jsonl)
with_flow=$(grep -c '"valid":true' output/flow.jsonl || true)
echo "run-main: output/flow.jsonl holds $frames frames, $with_flow with optical flow"
[ "$frames" -gt 0 ] && [ "$with_flow" -eq $((frames - 1)) ]
