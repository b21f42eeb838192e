/* SPDX-License-Identifier: MPL-2.0
 *
 * Lists the face regions of interest alsmesh adds to each buffer, from C.
 *
 *   cc list-rois.c -o list-rois $(pkg-config --cflags --libs gstreamer-video-1.0 gstreamer-app-1.0)
 *   GST_PLUGIN_PATH=... ./list-rois VIDEO
 *
 * A GstVideoRegionOfInterestMeta per face: type "face", id = the face's tracker id (as in
 * GstAlsFaceMeta), x/y/w/h in pixels of the frame, and a "face" parameter structure with id,
 * detection-score, presence-score and fresh.
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

static void
print_rois (GstBuffer * buf, guint frame)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    GstStructure *face;
    gdouble score = 0.0;

    if (roi->roi_type != g_quark_from_static_string ("face"))
      continue;
    face = gst_video_region_of_interest_meta_get_param (roi, "face");
    if (face)
      gst_structure_get_double (face, "detection-score", &score);
    g_print ("frame %u: face id=%d box=%u,%u %ux%u detection-score=%.3f\n", frame,
        roi->id, roi->x, roi->y, roi->w, roi->h, score);
  }
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *src, *sink;
  GstSample *sample;
  GError *error = NULL;
  guint frame = 0;
  GstMessage *msg;
  int status = 0;

  gst_init (&argc, &argv);
  if (argc != 2) {
    g_printerr ("usage: %s VIDEO\n", argv[0]);
    return 2;
  }
  pipeline = gst_parse_launch ("filesrc name=src ! decodebin ! videoconvert ! alsmesh ! "
      "appsink name=out sync=false", &error);
  if (!pipeline) {
    g_printerr ("error: %s\n", error->message);
    return 1;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_set (src, "location", argv[1], NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    print_rois (gst_sample_get_buffer (sample), frame++);
    gst_sample_unref (sample);
  }
  msg = gst_bus_pop_filtered (GST_ELEMENT_BUS (pipeline), GST_MESSAGE_ERROR);
  if (msg) {
    gst_message_parse_error (msg, &error, NULL);
    g_printerr ("error: %s\n", error->message);
    g_clear_error (&error);
    gst_message_unref (msg);
    status = 1;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return status;
}
