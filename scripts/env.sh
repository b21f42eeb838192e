# Sourced by the other scripts: where the built plugin is, and a GStreamer registry of this
# checkout's own so that a stale user cache can never hide or replace the plugin.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$root/target/gst-registry.bin"
