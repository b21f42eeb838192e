#!/usr/bin/env python3
"""Prints the kinematics summary (alskinematics, written by alsexport) of a JSON Lines file:
per face, each measure's mean, range, amplitude, repetition rate and peak speeds, in mm."""
import json
import sys


def main(path):
    summary = None
    with open(path) as lines:
        for line in lines:
            record = json.loads(line)
            summary = record.get("kinematics_summary", summary)
    if summary is None:
        print(f"{path}: no kinematics summary (is alskinematics in the pipeline?)")
        return 1
    if not summary["faces"]:
        print(f"{path}: no face was measured")
    for face in summary["faces"]:
        print(
            f"{path}: face {face['face_id']}: {face['frames']} frames measured, "
            f"{face['frames_off_pose']} left out for head pose; assumed inter-ocular "
            f"{face['interocular_mm']:g} mm"
        )
        for name, s in face["mm"].items():
            unit = "mm2" if name == "mouth_area" else "mm"
            fmt = lambda v: "-" if v is None else f"{v:.2f}"
            print(
                f"  {name:17} mean {fmt(s['mean'])} {unit}, range {fmt(s['range'])}, "
                f"amplitude {fmt(s['amplitude'])}, rate {fmt(s['rate_hz'])} Hz, "
                f"peak speeds +{fmt(s['peak_opening_speed'])}/-{fmt(s['peak_closing_speed'])} "
                f"{unit}/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
