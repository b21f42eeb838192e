#!/usr/bin/env bash
# The main job: sets up what is missing, builds the plugin, generates a synthetic face clip
# and runs face mesh + jaw and lip kinematics + per-face optical flow + the classifier + the
# overlay over it (JSON Lines, an annotated MP4 and a PNG of one annotated frame), then
# measures and classifies one "typical" and one "impaired" synthetic subject with the
# synthetic demonstration model (not for clinical use), leaving the results in output/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --lib --example make_face_clip -p gst-plugin-als
cargo build --release -p als-train
./scripts/build-demo-model.sh release
source scripts/env.sh

./scripts/make-sample.sh output/face.mp4
# The typical line: face mesh, per-face flow, the (synthetic) classifier, JSON Lines, and the
# overlay encoded as a browser-playable H.264 MP4.
rm -f output/annotated-*.png
gst-launch-1.0 -q -e filesrc location=output/face.mp4 ! $ALS_FILE_DECODE \
  ! queue ! alsmesh ! queue ! alskinematics ! alsflow region=face ! alsclassify \
  ! alsexport location=output/face.jsonl flow-grid=true ! alsoverlay flow-max=5 \
  ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast \
  ! video/x-h264,profile=main ! h264parse ! mp4mux faststart=true \
  ! filesink location=output/annotated.mp4
# One annotated frame a second as PNG; the README shows the second one.
gst-launch-1.0 -q filesrc location=output/annotated.mp4 ! decodebin ! videoconvert \
  ! videorate drop-only=true ! video/x-raw,framerate=1/1 ! pngenc \
  ! multifilesink location=output/annotated-%d.png
cp output/annotated-1.png output/annotated-frame.png

frame_lines() { grep '"frame":' output/face.jsonl; }
frames=$(frame_lines | wc -l)
with_face=$(frame_lines | grep -c '"faces":\[{' || true)
with_flow=$(frame_lines | grep -c '"valid":true' || true)
classified=$(frame_lines | grep -c '"classified":true' || true)
echo "run-main: output/face.mp4 (synthetic clip) -> output/face.jsonl: $frames frames," \
  "$with_face with a face, $with_flow with per-face optical flow, $classified classified" \
  "(synthetic demo model); annotated: output/annotated.mp4, output/annotated-frame.png"
[ "$frames" -gt 0 ] && [ "$with_face" -eq "$frames" ] && [ "$with_flow" -eq $((frames - 1)) ]
[ "$classified" -eq $((frames - 1)) ] && [ -s output/annotated.mp4 ]
echo "run-main: kinematics of the synthetic clip (motion invented; not a measurement of anyone):"
scripts/print-kinematics.py output/face.jsonl

# Two subjects the demonstration model never saw (seed 7): 0 is "typical", 1 "impaired".
target/release/als-train synth output/subjects --subjects 2 --seed 7 --frames 90 --tasks pa 2>/dev/null
for subject in 0 1; do
  clip=output/subjects/subject-00$subject-pa.mp4
  jsonl=output/classified-$subject.jsonl
  gst-launch-1.0 -q filesrc location="$clip" ! decodebin ! videoconvert \
    ! queue ! alsmesh ! queue ! alskinematics ! alsflow region=face grid-width=16 grid-height=16 \
    ! alsclassify ! alsexport location="$jsonl" landmarks=false ! fakesink
  echo "run-main: $(grep "^subject-00$subject" output/subjects/subjects.txt)"
  echo "run-main: summary of $clip: $(tail -n 1 "$jsonl")"
  tail -n 1 "$jsonl" | grep -q '"summary"'
  scripts/print-kinematics.py "$jsonl"
done
# The demo judged on subjects it never saw, beside the kinematics model and a shuffled control.
./scripts/check-demo.sh release
