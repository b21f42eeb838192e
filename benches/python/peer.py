#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""The work of `alsmesh ! alsflow region=face` done the way a Python user would: MediaPipe's
Face Mesh (the same BlazeFace and landmark models, tracking from frame to frame) and OpenCV's
Farneback on the face's 128x128 square, over frames decoded beforehand (decoding is not
counted; it is in ours). The square is the same as alsflow's: the landmarks' box, 1.5 times its
larger side, turned by the eye corners' roll, both frames of a pair sampled with this frame's
square. It is warped straight to 128 pixels (no pyramid), which is cheaper than alsflow's.

Usage: peer.py CLIP [REPEAT]   prints frames, seconds and fps of the fastest run.
"""
import math
import sys
import time

import cv2
import mediapipe as mp
import numpy as np

SIZE = 128
EYES = (33, 263)


def decode(path):
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if not frames:
        sys.exit(f"peer.py: no frames in {path}")
    return frames


def square_matrix(landmarks, width, height):
    xs = np.fromiter((p.x for p in landmarks), float) * width
    ys = np.fromiter((p.y for p in landmarks), float) * height
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    side = max(xs.max() - xs.min(), ys.max() - ys.min()) * 1.5
    (ax, ay), (bx, by) = [(xs[i], ys[i]) for i in EYES]
    roll = math.degrees(math.atan2(by - ay, bx - ax))
    matrix = cv2.getRotationMatrix2D((cx, cy), roll, SIZE / side)
    matrix[:, 2] += (SIZE / 2 - cx, SIZE / 2 - cy)
    return matrix


def run(frames):
    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, max_num_faces=1, refine_landmarks=False
    )
    previous = None
    flows = 0
    start = time.perf_counter()
    for rgb in frames:
        result = mesh.process(rgb)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if result.multi_face_landmarks and previous is not None:
            height, width = gray.shape
            matrix = square_matrix(result.multi_face_landmarks[0].landmark, width, height)
            warp = lambda image: cv2.warpAffine(
                image, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            flow = cv2.calcOpticalFlowFarneback(
                warp(previous), warp(gray), None, 0.5, 3, 15, 3, 5, 1.2, 0
            )
            magnitude, _ = cv2.cartToPolar(flow[..., 0], flow[..., 1])
            float(magnitude.mean())
            flows += 1
        previous = gray
    seconds = time.perf_counter() - start
    mesh.close()
    return seconds, flows


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    frames = decode(sys.argv[1])
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seconds, flows = min(run(frames) for _ in range(max(repeat, 1)))
    print(f"peer: {len(frames)} frames, {flows} flows, {seconds:.3f} s, "
          f"{len(frames) / seconds:.1f} fps")


if __name__ == "__main__":
    main()
