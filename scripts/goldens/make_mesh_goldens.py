#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Golden Face Mesh landmarks from MediaPipe 0.10.21 itself, for the alsmesh accuracy test.

Usage: make_mesh_goldens.py CLIP.rgb WIDTH HEIGHT FRAMES OUT.json
CLIP.rgb holds raw RGB frames (examples/make_face_clip.rs, scenario "face").
"""
import json
import sys

import mediapipe as mp
import numpy as np


def main():
    clip, width, height, frames, out = sys.argv[1:6]
    width, height, frames = int(width), int(height), int(frames)
    data = np.fromfile(clip, dtype=np.uint8)
    data = data[: frames * width * height * 3].reshape(frames, height, width, 3)
    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, max_num_faces=1, refine_landmarks=False
    )
    results = []
    for rgb in data:
        found = mesh.process(np.ascontiguousarray(rgb)).multi_face_landmarks
        if not found:
            results.append(None)
            continue
        points = []
        for lm in found[0].landmark:
            points += [round(lm.x * width, 2), round(lm.y * height, 2)]
        results.append(points)
    golden = {
        "producer": "mediapipe %s FaceMesh(static_image_mode=False, max_num_faces=1, "
        "refine_landmarks=False)" % mp.__version__,
        "clip": "examples/make_face_clip.rs scenario face",
        "width": width,
        "height": height,
        "units": "pixels, x and y of the 468 landmarks per frame; null when no face",
        "frames": results,
    }
    with open(out, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
