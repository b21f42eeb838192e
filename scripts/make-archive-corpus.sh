#!/usr/bin/env bash
# Encodes a raw RGB clip (30 fps) into the formats clinical archives hold, with GStreamer's
# own encoders (the packages scripts/install-deps.sh installs), one file each in OUTDIR:
#   hevc.mp4        HEVC in MP4                 vp9.webm        VP9 in WebM
#   mpeg2.ts        MPEG-2 in MPEG-TS           mpeg1.mpg       MPEG-1 in MPEG-PS (as GRID)
#   mjpeg.avi       Motion JPEG in AVI          prores.mov      ProRes 422 in QuickTime
#   asp.avi         MPEG-4 part 2 with B-frames in AVI (as the DivX/Xvid era)
#   interlaced.mkv  interlaced H.264 (fields from consecutive frames) in Matroska
#   rotated.mp4     H.264 stored sideways with a rotate-90 tag (as phones record)
# Usage: make-archive-corpus.sh RAW.rgb WIDTHxHEIGHT OUTDIR
set -euo pipefail
raw=${1:?usage: make-archive-corpus.sh RAW.rgb WIDTHxHEIGHT OUTDIR}
IFS=x read -r width height <<< "${2:?WIDTHxHEIGHT}"
out=${3:?OUTDIR}
mkdir -p "$out"
# gst-launch-1.0 escapes the spaces within each argument, so paths may hold spaces.
source=(filesrc "location=$raw" ! rawvideoparse format=rgb "width=$width" "height=$height"
  framerate=30/1)
encode() {
  local name=$1
  shift
  gst-launch-1.0 -q "${source[@]}" ! "$@" ! filesink "location=$out/$name.part"
  mv "$out/$name.part" "$out/$name"
}
encode hevc.mp4 videoconvert ! x265enc speed-preset=ultrafast ! h265parse ! mp4mux
encode vp9.webm videoconvert ! vp9enc deadline=1 cpu-used=8 ! webmmux
# mjpegtools' encoder: Debian 12's avenc_mpeg2video refuses every frame rate (its time base
# reads 1000000000/1).
encode mpeg2.ts videoconvert ! mpeg2enc format=3 ! mpegvideoparse ! mpegtsmux
encode mpeg1.mpg videoconvert ! mpeg2enc format=0 ! mpegvideoparse ! mpegpsmux
encode mjpeg.avi videoconvert ! jpegenc ! avimux
encode prores.mov videoconvert ! avenc_prores ! qtmux
encode asp.avi videoconvert ! avenc_mpeg4 bitrate=1000000 max-bframes=2 ! avimux
encode interlaced.mkv videoconvert ! interlace field-pattern=1:1 \
  ! x264enc interlaced=true speed-preset=ultrafast ! h264parse ! matroskamux
# Stored turned a quarter counterclockwise, with the track matrix a phone writes to have it
# shown turned a quarter clockwise (upright). mp4mux takes no orientation from a global tag,
# so the matrix is written into the track header afterwards (index first, so that the header
# comes before any coded picture that could hold the same four bytes).
encode rotated.mp4 videoflip video-direction=90l ! videoconvert ! video/x-raw,format=I420 \
  ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux faststart=true
python3 - "$out/rotated.mp4" "$width" <<'PY'
import struct, sys
path, shown_width = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
# The top-level boxes, to look for the track header inside moov only.
at, moov = 0, None
while at + 8 <= len(data):
    size, kind = struct.unpack_from(">I4s", data, at)
    if kind == b"moov":
        moov = (at, at + size)
    if size < 8:
        break
    at += size
if moov is None:
    sys.exit(f"{path}: no moov box")
tkhd = data.find(b"tkhd", *moov)
if tkhd < 0 or data.find(b"tkhd", tkhd + 4, moov[1]) >= 0 or data[tkhd + 4] != 0:
    sys.exit(f"{path}: expected one version-0 track header")
# After the box type: version and flags, times, track id, reserved, duration, reserved,
# layer, group, volume, reserved (40 bytes), then the 3x3 matrix (16.16; 2.30 last column).
one = 1 << 16
matrix = [0, one, 0, -one, 0, 0, shown_width * one, 0, 1 << 30]
struct.pack_into(">9i", data, tkhd + 44, *matrix)
open(path, "wb").write(data)
PY
