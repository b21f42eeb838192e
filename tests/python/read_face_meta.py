#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Reads GstAlsFaceMeta and the per-face GstAlsFlowMeta with PyGObject from a real
alsmesh ! alsflow region=face pipeline and checks them against the JSON Lines alsexport wrote
for the same buffers.

Usage: read_face_meta.py CLIP.rgb WIDTH HEIGHT (GST_PLUGIN_PATH must hold libgstals.so).
"""
import json
import math
import struct
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from read_flow_meta import read_flow  # noqa: E402


def read_faces(buf, width, height):
    meta = buf.get_custom_meta("GstAlsFaceMeta")
    assert meta is not None, "every buffer carries a face meta"
    s = meta.get_structure()
    n = s.get_value("count")
    per_face = s.get_value("landmarks-per-face")
    ids = list(s.get_value("ids"))
    boxes = struct.unpack("<%df" % (4 * n), s.get_value("boxes").get_data())
    landmarks = struct.unpack("<%df" % (3 * per_face * n), s.get_value("landmarks").get_data())
    faces = []
    for i in range(n):
        pts = landmarks[i * per_face * 3:(i + 1) * per_face * 3]
        faces.append({
            "id": ids[i],
            "box": [boxes[4 * i] * width, boxes[4 * i + 1] * height],
            "landmarks": [(pts[3 * k] * width, pts[3 * k + 1] * height) for k in range(per_face)],
        })
    return faces


def main():
    clip, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    Gst.init(None)
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        pipeline = Gst.parse_launch(
            "filesrc location=%s ! rawvideoparse format=rgb width=%d height=%d framerate=30/1 ! "
            "alsmesh ! alsflow region=face grid-width=4 grid-height=4 ! "
            "alsexport location=%s flow-grid=true ! "
            "appsink name=out sync=false emit-signals=true"
            % (clip, width, height, out.name)
        )
        seen = []

        def on_sample(appsink):
            buf = appsink.emit("pull-sample").get_buffer()
            seen.append((read_faces(buf, width, height), read_flow(buf)))
            return Gst.FlowReturn.OK

        pipeline.get_by_name("out").connect("new-sample", on_sample)
        pipeline.set_state(Gst.State.PLAYING)
        msg = pipeline.get_bus().timed_pop_filtered(
            120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
        )
        pipeline.set_state(Gst.State.NULL)
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg
        lines = [json.loads(line) for line in open(out.name)]

    assert len(seen) == len(lines) > 0, (len(seen), len(lines))
    for i, ((faces, flow), line) in enumerate(zip(seen, lines)):
        assert len(faces) == 1 == len(line["faces"]), (faces, line)
        face, exported = faces[0], line["faces"][0]
        assert face["id"] == exported["id"]
        assert flow["region"] == "face" and len(flow["regions"]) == 1, flow
        region = flow["regions"][0]
        assert region["id"] == face["id"]
        assert region["valid"] == (i > 0) == exported["flow"]["valid"], (i, region)
        if region["valid"]:
            assert math.isclose(region["mean"], exported["flow"]["mean"], rel_tol=1e-6)
            assert len(region["grid"]) == len(exported["flow"]["grid"]) == 16
            # The square's centre, in pixels, as alsexport writes it.
            assert math.isclose(region["roi"][0] * width, exported["flow"]["roi"][0], rel_tol=1e-5)
        assert len(face["landmarks"]) == len(exported["landmarks"]) == 468
        for (x, y), (ex, ey, _) in zip(face["landmarks"], exported["landmarks"]):
            assert math.isclose(x, ex, abs_tol=1e-3) and math.isclose(y, ey, abs_tol=1e-3)
        assert math.isclose(face["box"][0], exported["box"][0], abs_tol=1e-3)
    print("python read %d face metas" % len(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
