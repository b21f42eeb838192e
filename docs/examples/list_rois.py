#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Lists the face regions of interest alsmesh adds to each buffer, from Python (PyGObject).

Usage: list_rois.py VIDEO   (GST_PLUGIN_PATH must let GStreamer find alsmesh)

A GstVideoRegionOfInterestMeta per face: type "face", id = the face's tracker id (as in
GstAlsFaceMeta), x/y/w/h in pixels of the frame, and a "face" parameter structure. PyGObject
cannot iterate a read-only buffer's metas, so the ids come from GstAlsFaceMeta and each ROI is
fetched by id.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402


def face_rois(buf):
    meta = buf.get_custom_meta("GstAlsFaceMeta")
    if meta is None:
        return []
    rois = []
    for face_id in meta.get_structure().get_value("ids"):
        roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buf, face_id)
        if roi is None or GLib.quark_to_string(roi.roi_type) != "face":
            continue
        param = roi.get_param("face")
        rois.append((roi.id, roi.x, roi.y, roi.w, roi.h, param.get_value("detection-score")))
    return rois


def main():
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "filesrc name=src ! decodebin ! videoconvert ! alsmesh ! "
        "appsink name=out sync=false emit-signals=true"
    )
    pipeline.get_by_name("src").set_property("location", sys.argv[1])
    frame = [0]

    def on_sample(appsink):
        buf = appsink.emit("pull-sample").get_buffer()
        for face_id, x, y, w, h, score in face_rois(buf):
            print("frame %d: face id=%d box=%d,%d %dx%d detection-score=%.3f"
                  % (frame[0], face_id, x, y, w, h, score))
        frame[0] += 1
        return Gst.FlowReturn.OK

    pipeline.get_by_name("out").connect("new-sample", on_sample)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("error: %s" % msg.parse_error()[0].message)


if __name__ == "__main__":
    main()
