#!/usr/bin/env bash
# Checks the synthetic demonstration model the way a newcomer would judge it: on 40 synthetic
# subjects it never saw (seed 9, "pa", 3 s each) it must label at least 95% right, while the
# control trained on shuffled labels stays near chance; on the main job's two subjects
# (output/subjects, classified by alsclassify into output/classified-N.jsonl) the mean
# probability of the true class must be at least 0.8. The interpretable kinematics model,
# fitted on the demo's training clips, gives its verdict on the same subjects beside it.
# Synthetic motion, invented profiles: this checks the chain, not any diagnosis.
# Usage: check-demo.sh [release|debug]; run by scripts/run-main.sh after its subjects.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
bin=target/$profile/als-train
work=output/demo-check
source scripts/env.sh
rm -rf "$work"
mkdir -p "$work"
# Logged, not shown: a failure names its log.
logged() {
  local log=$1
  shift
  "$@" > "$log" 2>&1 || { echo "check-demo: failed, see $log" >&2; tail -n 5 "$log" >&2; exit 1; }
}
logged "$work/synth.log" "$bin" synth "$work/unseen" --subjects 40 --seed 9 --frames 90 --tasks pa
logged "$work/extract.log" "$bin" extract "$work/unseen/manifest.csv" \
  --out "$work/unseen-features" --jobs 2 --grid 16 --region-size 128
logged "$work/network.txt" "$bin" eval third_party/models/als-synthetic-demo.onnx \
  "$work/unseen-features" --report "$work/network"
logged "$work/shuffled-control.txt" "$bin" eval third_party/demo-model/shuffled-control.onnx \
  "$work/unseen-features" --report "$work/shuffled-control"
# One window per clip: 40 frames of training clip, 90 of a new one.
logged "$work/kinematics.txt" "$bin" kinematics third_party/demo-model/clips/manifest.csv \
  --window 3 --jobs 2 --held-out "$work/unseen/manifest.csv" \
  --held-out output/subjects/manifest.csv --report "$work/kinematics"
exec python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def load(name):
    with open(f"{work}/{name}/evaluation.json") as f:
        return json.load(f)
def labels(evaluation):
    return [row["label"] for row in evaluation["subjects"]["rows"]]
def true_share(evaluation, s):
    return s["mean"][labels(evaluation).index(s["label"])]
network, control = load("network"), load("shuffled-control")
unseen_k, main_k = load("kinematics/held-out-1"), load("kinematics/held-out-2")
acc = lambda e: e["subjects"]["accuracy"]
n = len(network["per_subject"])
for name, e in (("network", network), ("control", control), ("kinematics", unseen_k)):
    if len(e["per_subject"]) != 40:
        sys.exit(f"check-demo: the {name} scored {len(e['per_subject'])} of 40 subjects")
print(f"check-demo: {n} synthetic subjects the demo never saw (seed 9, 'pa', 3 s):")
print(f"  network (als-synthetic-demo)     subject accuracy {acc(network):.3f}, "
      f"lowest p(true class) "
      f"{min(true_share(network, s) for s in network['per_subject']):.2f}")
print(f"  shuffled-label control           subject accuracy {acc(control):.3f} (chance 0.5)")
print(f"  kinematics model (alskinematics) subject accuracy {acc(unseen_k):.3f}")
ok = acc(network) >= 0.95 and acc(control) <= 0.7
print("check-demo: the main job's two subjects (seed 7):")
verdicts = {s["subject"]: s for s in main_k["per_subject"]}
for i in (0, 1):
    summary = None
    with open(f"output/classified-{i}.jsonl") as lines:
        for line in lines:
            summary = json.loads(line).get("summary", summary)
    face = summary["faces"][0]
    names = summary["labels"]
    kin = verdicts[f"subject-00{i}"]
    truth = kin["label"]
    p = face["mean"][names.index(truth)]
    print(f"  subject-00{i} ({truth}): network says {face['label']} "
          f"(mean p({truth}) {p:.2f}); kinematics model says {kin['predicted']} "
          f"(p({truth}) {true_share(main_k, kin):.2f})")
    ok = ok and face["label"] == truth and p >= 0.8
print("check-demo: " + ("the demo holds on new subjects" if ok else
      "FAILED: the demo does not hold on new subjects (see output/demo-check)"))
sys.exit(0 if ok else 1)
PY
