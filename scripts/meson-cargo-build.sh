#!/usr/bin/env bash
# Called by `meson compile`: builds the plugin with cargo, telling it where ONNX Runtime and
# the models will be installed, and leaves in meson's output folder the plugin (stripped
# unless asked not to), its debug info when asked, and a depfile listing every source cargo
# used, so that ninja builds again exactly when one of them changes.
set -euo pipefail
cargo=$1 source=$2 outdir=$3 target=$4 profile=$5 strip=$6 debug_file=$7
export GST_ALS_ORT_LIB=$8 GST_ALS_MODEL_DIR=$9
"$cargo" build --profile "$profile" --lib -p gst-plugin-als \
  --manifest-path "$source/Cargo.toml" --target-dir "$target"
built="$target/$([ "$profile" = dev ] && echo debug || echo "$profile")"
out="$outdir/libgstals.so"
cp "$built/libgstals.so" "$out.tmp"
if [ "$debug_file" = debug-file ]; then
  objcopy --only-keep-debug "$out.tmp" "$outdir/libgstals.so.debug"
fi
if [ "$strip" = strip ]; then
  strip --strip-unneeded "$out.tmp"
fi
if [ "$debug_file" = debug-file ]; then
  objcopy --add-gnu-debuglink="$outdir/libgstals.so.debug" "$out.tmp"
fi
mv "$out.tmp" "$out"
# cargo names its own artefact as the target of the dependency list; ninja wants meson's.
sed -n '1s|^[^:]*:|'"$out"':|p' "$built/libgstals.d" > "$out.d"
