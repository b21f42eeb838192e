#!/usr/bin/env bash
# The camera bench with the same-work Python peer beside it: makes a virtual environment with
# MediaPipe 0.10.21 (PyPI; the release whose models alsmesh runs) under target/peer-venv once,
# then runs `cargo bench --bench camera` with it. Extra variables as for that bench, e.g.
# ALS_BENCH_SIZES=640x480.
# Usage: scripts/bench-python-peer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
venv=target/peer-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import mediapipe" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet mediapipe==0.10.21
fi
ALS_BENCH_PEER="$PWD/$venv/bin/python" cargo bench --bench camera
