#!/usr/bin/env bash
# Trains the demonstration model alsclassify loads by default,
# third_party/models/als-synthetic-demo.onnx, from labelled synthetic subjects the project
# generates itself (als-train synth: the face photo's mouth and jaw moved after a "typical"
# and an "impaired" profile). Synthetic data: the model is for trying the pipeline, not for
# any diagnosis; its name and metadata say so. Deterministic from the seeds below.
# Beside it, in third_party/demo-model/: the training clips (the kinematics model of
# scripts/check-demo.sh is fitted on them) and a control model trained on labels shuffled
# between subjects, which must stay near chance on new subjects.
# Usage: build-demo-model.sh [release|debug] (the cargo profile to build als-train with).
# Rebuilds only when the recipe or the code that makes the features and the model changed.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
out=third_party/models/als-synthetic-demo.onnx
work=third_party/demo-model
recipe="subjects=60 seed=1 frames=40 tasks=open,spread,pa grid=16 region-size=128 folds=5 epochs=20 pca-components=16 seed=1 control=shuffled
$(cat als-synthetic/src/*.rs src/features.rs src/flow/*.rs src/mesh/*.rs \
  src/alsflow/*.rs src/alsmesh/*.rs als-train/src/*.rs third_party/models/face_*.onnx | sha256sum)"
control=$work/shuffled-control.onnx
if [ -s "$out" ] && [ -s "$control" ] && [ -s "$work/clips/manifest.csv" ] \
  && [ "$(cat "$out.recipe" 2>/dev/null)" = "$recipe" ]; then
  exit 0
fi
flag=()
[ "$profile" = release ] && flag=(--release)
cargo build "${flag[@]}" -p als-train
bin=target/$profile/als-train
rm -rf "$work"
mkdir -p "$work" "$(dirname "$out")"
"$bin" synth "$work/clips" --subjects 60 --seed 1 --frames 40 --tasks open,spread,pa \
  2> "$work/synth.log" || { tail -n 5 "$work/synth.log" >&2; exit 1; }
"$bin" extract "$work/clips/manifest.csv" --out "$work/features" --jobs 2 --grid 16 --region-size 128
"$bin" fit "$work/features" --out "$out" --report "$work/report" --synthetic \
  --name als-synthetic-demo --folds 5 --epochs 20 --pca-components 16 --seed 1 \
  --classes typical,impaired
"$bin" fit "$work/features" --out "$control" --report "$work/shuffled-control-report" \
  --synthetic --name als-synthetic-demo-shuffled-control --shuffle-labels --folds 2 \
  --epochs 20 --pca-components 16 --seed 1 --classes typical,impaired > /dev/null
rm -rf "$work/features"
echo "$recipe" > "$out.recipe"
echo "build-demo-model: $out (synthetic demo, not for clinical use); tables in $work/report" >&2
