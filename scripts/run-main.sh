#!/usr/bin/env bash
# The main job: sets up what is missing, builds the plugin, generates a synthetic face clip
# and runs face mesh + per-face optical flow over it, then classifies one "typical" and one
# "impaired" synthetic subject with the synthetic demonstration model (not for clinical
# use), leaving the results in output/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --lib --example make_face_clip -p gst-plugin-als
cargo build --release -p als-train
./scripts/build-demo-model.sh release
source scripts/env.sh

./scripts/make-sample.sh output/face.mp4
gst-launch-1.0 -q filesrc location=output/face.mp4 ! decodebin ! videoconvert \
  ! queue ! alsmesh ! queue ! alsflow region=face grid-width=16 grid-height=16 \
  ! alsexport location=output/face.jsonl flow-grid=true \
  ! fakesink

frames=$(wc -l < output/face.jsonl)
with_face=$(grep -c '"faces":\[{' output/face.jsonl || true)
with_flow=$(grep -c '"valid":true' output/face.jsonl || true)
echo "run-main: output/face.mp4 (synthetic clip) -> output/face.jsonl: $frames frames," \
  "$with_face with a face, $with_flow with per-face optical flow"
[ "$frames" -gt 0 ] && [ "$with_face" -eq "$frames" ] && [ "$with_flow" -eq $((frames - 1)) ]

# Two subjects the demonstration model never saw (seed 7): 0 is "typical", 1 "impaired".
target/release/als-train synth output/subjects --subjects 2 --seed 7 --frames 90 --tasks pa 2>/dev/null
for subject in 0 1; do
  clip=output/subjects/subject-00$subject-pa.mp4
  jsonl=output/classified-$subject.jsonl
  gst-launch-1.0 -q filesrc location="$clip" ! decodebin ! videoconvert \
    ! queue ! alsmesh ! queue ! alsflow region=face grid-width=16 grid-height=16 \
    ! alsclassify ! alsexport location="$jsonl" landmarks=false ! fakesink
  echo "run-main: $(grep "^subject-00$subject" output/subjects/subjects.txt)"
  echo "run-main: summary of $clip: $(tail -n 1 "$jsonl")"
  tail -n 1 "$jsonl" | grep -q '"summary"'
done
