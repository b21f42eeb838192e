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
    meta = buf.get_custom_meta("GstAlsFlowMeta")
    if meta is None:
        return None
    s = meta.get_structure()
    flow = {"valid": s.get_value("valid"), "region": s.get_string("region")}
    flow["grid_width"] = s.get_value("grid-width")
    flow["grid_height"] = s.get_value("grid-height")
    if flow["valid"]:
        for key in ("mean", "max", "p99", "mean-direction"):
            ok, flow[key] = s.get_double(key)
            assert ok, key
        data = s.get_value("grid").get_data()
        cells = flow["grid_width"] * flow["grid_height"]
        assert len(data) == 4 * cells, (len(data), cells)
        flow["grid"] = list(struct.unpack("<%df" % cells, data))
    else:
        flow["reason"] = s.get_string("reset-reason")
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
    assert all(f is not None for f in flows), "every buffer carries a flow meta"
    assert flows[0]["valid"] is False and flows[0]["reason"] == "start", flows[0]
    moving = 0
    for flow, line in zip(flows[1:], lines[1:]):
        assert flow["valid"] is True
        assert (flow["grid_width"], flow["grid_height"]) == (5, 4)
        assert 0 <= flow["mean"] <= flow["p99"] <= flow["max"], flow
        assert all(math.isfinite(v) and 0 <= v <= flow["max"] + 1e-6 for v in flow["grid"])
        assert math.isclose(flow["mean"], line["flow"]["mean"], rel_tol=1e-6)
        assert all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
            for a, b in zip(flow["grid"], line["flow"]["grid"])
        )
        moving += flow["max"] > 1.0
    assert moving > 0, "the ball moves"
    print("python read %d flow metas" % len(flows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
