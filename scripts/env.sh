# Sourced by the other scripts: which gst-als plugin GStreamer loads.
# - GST_ALS_PLUGIN_DIR, when set: the folder holding libgstals.so (a test's debug build, say);
# - else this checkout's release build, when there is one;
# - else whatever GStreamer finds (an installed plugin, GST_PLUGIN_PATH).
# A checkout build gets a registry of its own, so a stale user cache can never hide or replace
# it; an installed plugin uses the normal registry. Nothing is created when nothing is built.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
als_plugin_dir=${GST_ALS_PLUGIN_DIR:-}
if [ -z "$als_plugin_dir" ] && [ -f "$root/target/release/libgstals.so" ]; then
  als_plugin_dir="$root/target/release"
fi
if [ -n "$als_plugin_dir" ]; then
  export GST_PLUGIN_PATH="$als_plugin_dir${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
  export GST_REGISTRY="$als_plugin_dir/gst-registry.bin"
fi

# Decoded frames as a player shows them (deinterlaced, turned upright by the container's
# orientation tag), after a decoder; and a file's, after its filesrc. The same text as
# gstals::launch, which als-batch, als-rtsp and als-train use.
ALS_AS_PLAYED=$(tr '\n' ' ' < "$root/pipelines/as-played.gst")
ALS_FILE_DECODE="queue2 ! decodebin ! $ALS_AS_PLAYED"

# Fails with a hint when GStreamer cannot find the elements; the pipeline scripts call it.
als_require_plugin() {
  if ! gst-inspect-1.0 alsmesh >/dev/null 2>&1; then
    echo "gst-als: GStreamer has no element \"alsmesh\"." >&2
    echo "  Build this checkout (cargo build --release --lib, or ./scripts/run-main.sh)," >&2
    echo "  install the plugin (meson setup builddir && meson install -C builddir)," >&2
    echo "  or point GST_PLUGIN_PATH / GST_ALS_PLUGIN_DIR at a folder holding libgstals.so." >&2
    return 1
  fi
}
