#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Reads GstAlsClassMeta and the als-summary message with PyGObject from a real
alsmesh ! alsflow ! alsclassify pipeline and checks them against the JSON Lines alsexport
wrote for the same buffers.

Usage: read_class_meta.py CLIP.rgb WIDTH HEIGHT MODEL.onnx (GST_PLUGIN_PATH must hold
libgstals.so).
"""
import json
import math
import struct
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def read_class(buf):
    """The GstAlsClassMeta of buf as a dict, or None."""
    meta = buf.get_custom_meta("GstAlsClassMeta")
    if meta is None:
        return None
    s = meta.get_structure()
    labels = list(s.get_value("labels"))
    n, k = s.get_value("count"), len(labels)
    probabilities = struct.unpack("<%df" % (n * k), s.get_value("probabilities").get_data())
    smoothed = struct.unpack("<%df" % (n * k), s.get_value("smoothed").get_data())
    reasons = list(s.get_value("reasons"))
    face_labels = list(s.get_value("face-labels"))
    faces = []
    for i, face_id in enumerate(s.get_value("ids")):
        face = {"id": face_id, "classified": reasons[i] == ""}
        if face["classified"]:
            face["probabilities"] = list(probabilities[i * k:(i + 1) * k])
        else:
            face["reason"] = reasons[i]
        if face_labels[i]:
            face["label"] = face_labels[i]
            face["smoothed"] = list(smoothed[i * k:(i + 1) * k])
        faces.append(face)
    return {
        "model": s.get_value("model"),
        "synthetic": s.get_value("synthetic"),
        "labels": labels,
        "classified": s.get_value("classified"),
        "reason": s.get_value("reason"),
        "faces": faces,
    }


def main():
    clip, width, height, model = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    Gst.init(None)
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        pipeline = Gst.parse_launch(
            "filesrc location=%s ! rawvideoparse format=rgb width=%d height=%d framerate=30/1 ! "
            "alsmesh ! alsflow region=face grid-width=16 grid-height=16 ! "
            "alsclassify model=%s ! alsexport location=%s landmarks=false ! "
            "appsink name=out sync=false emit-signals=true"
            % (clip, width, height, model, out.name)
        )
        seen = []

        def on_sample(appsink):
            seen.append(read_class(appsink.emit("pull-sample").get_buffer()))
            return Gst.FlowReturn.OK

        pipeline.get_by_name("out").connect("new-sample", on_sample)
        pipeline.set_state(Gst.State.PLAYING)
        bus = pipeline.get_bus()
        summary = None
        while True:
            msg = bus.timed_pop_filtered(
                120 * Gst.SECOND,
                Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT,
            )
            assert msg is not None and msg.type != Gst.MessageType.ERROR, msg
            if msg.type == Gst.MessageType.EOS:
                break
            s = msg.get_structure()
            if s.get_name() == "als-summary":
                summary = s
        pipeline.set_state(Gst.State.NULL)
        lines = [json.loads(line) for line in open(out.name)]

    frames, last = lines[:-1], lines[-1]
    assert len(seen) == len(frames) > 1, (len(seen), len(frames))
    for meta, line in zip(seen, frames):
        exported = line["classification"]
        assert meta["classified"] == exported["classified"]
        assert meta["synthetic"] and exported["synthetic"]
        for face, ex in zip(meta["faces"], exported["faces"]):
            assert face["id"] == ex["id"] and face["classified"] == ex["classified"]
            if face["classified"]:
                for a, b in zip(face["probabilities"], ex["probabilities"]):
                    assert math.isclose(a, b, abs_tol=1e-6), (a, b)
            assert face.get("label") == ex.get("label"), (face, ex)
            for a, b in zip(face.get("smoothed", []), ex.get("smoothed", [])):
                assert math.isclose(a, b, abs_tol=1e-6), (a, b)
        assert meta["reason"] == exported.get("reason", "")
    assert not seen[0]["classified"] and seen[-1]["classified"]
    assert summary is not None, "als-summary posted at EOS"
    faces = summary.get_value("faces")
    first = faces[0]  # a Gst.ValueList of Gst.Structure
    assert "summary" in last and last["summary"]["frames"] == summary.get_value("frames")
    assert last["summary"]["faces"][0]["label"] == first.get_value("label")
    print("python read %d class metas and the summary (%s)" % (len(seen), first.get_value("label")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
