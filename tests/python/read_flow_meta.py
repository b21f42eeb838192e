#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Reads GstAlsFlowMeta from the buffers of a real pipeline with PyGObject and checks its
values against the JSON Lines that alsexport wrote for the same buffers.

Needs GST_PLUGIN_PATH pointing at the folder holding libgstals.so. Exits non-zero on failure.
"""
import json
import math
import struct
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def read_flow(buf):
    """The GstAlsFlowMeta of buf as a dict with one entry per region, or None."""
    meta = buf.get_custom_meta("GstAlsFlowMeta")
    if meta is None:
        return None
    s = meta.get_structure()
    n = s.get_value("count")
    gw, gh = s.get_value("grid-width"), s.get_value("grid-height")
    flow = {
        "region": s.get_string("region"),
        "valid": s.get_value("valid"),
        "grid_width": gw,
        "grid_height": gh,
        "reason": s.get_string("reset-reason"),
    }
    ids = list(s.get_value("ids"))
    reasons = list(s.get_value("reasons"))
    rois = struct.unpack("<%df" % (5 * n), s.get_value("rois").get_data())
    stats = struct.unpack("<%df" % (4 * n), s.get_value("stats").get_data())
    grids = struct.unpack("<%df" % (gw * gh * n), s.get_value("grids").get_data())
    assert len(ids) == len(reasons) == n, (ids, reasons, n)
    flow["regions"] = []
    for i in range(n):
        region = {"id": ids[i], "valid": reasons[i] == "", "roi": rois[5 * i:5 * i + 5]}
        if region["valid"]:
            region["mean"], region["max"], region["p99"], region["direction"] = stats[4 * i:4 * i + 4]
            region["grid"] = list(grids[i * gw * gh:(i + 1) * gw * gh])
        else:
            region["reason"] = reasons[i]
        flow["regions"].append(region)
    return flow


def main():
    Gst.init(None)
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        pipeline = Gst.parse_launch(
            "videotestsrc num-buffers=6 pattern=ball ! video/x-raw,width=160,height=120 ! "
            "alsflow grid-width=5 grid-height=4 ! alsexport flow-grid=true location=%s ! "
            "appsink name=out sync=false emit-signals=true" % out.name
        )
        flows = []
        sink = pipeline.get_by_name("out")

        def on_sample(appsink):
            flows.append(read_flow(appsink.emit("pull-sample").get_buffer()))
            return Gst.FlowReturn.OK

        sink.connect("new-sample", on_sample)
        pipeline.set_state(Gst.State.PLAYING)
        msg = pipeline.get_bus().timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
        )
        pipeline.set_state(Gst.State.NULL)
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg
        lines = [json.loads(line) for line in open(out.name)]

    assert len(flows) == 6 and len(lines) == 6, (len(flows), len(lines))
    assert all(f is not None and f["region"] == "frame" for f in flows), flows
    first = flows[0]["regions"][0]
    assert first["valid"] is False and first["reason"] == "start", first
    moving = 0
    for flow, line in zip(flows[1:], lines[1:]):
        assert flow["valid"] is True and len(flow["regions"]) == 1
        region, exported = flow["regions"][0], line["flow"]
        assert region["id"] == 0 and region["roi"] == (0.5, 0.5, 1.0, 1.0, 0.0), region
        assert (flow["grid_width"], flow["grid_height"]) == (5, 4)
        assert 0 <= region["mean"] <= region["p99"] <= region["max"], region
        assert all(math.isfinite(v) and 0 <= v <= region["max"] + 1e-6 for v in region["grid"])
        assert math.isclose(region["mean"], exported["mean"], rel_tol=1e-6)
        assert all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
            for a, b in zip(region["grid"], exported["grid"])
        )
        moving += region["max"] > 1.0
    assert moving > 0, "the ball moves"
    print("python read %d flow metas" % len(flows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
