// SPDX-License-Identifier: MPL-2.0

//! The decoding every entry point shares (`pipelines/`, `als-batch`, `als-rtsp`, `als-train`
//! and the main job), so that each analyses the frames a player would show.
//!
//! The text lives in `pipelines/as-played.gst`, which the shell scripts read too
//! (`scripts/env.sh`).

/// After a decoder: decoded frames as a player shows them. `videoconvert` converts only a
/// format the elements in between do not take (I420, NV12, YV12, NV21 and Y444 pass
/// through; 4:2:2 such as Y42B, which `videoflip` refuses, is converted), `deinterlace`
/// (mode auto) passes progressive video untouched and turns interlaced video into one frame
/// per field by linear interpolation (the motion-adaptive methods, YADIF and greedy, of
/// GStreamer 1.22 repeat a timestamp at the start of a stream, which an MP4 muxer refuses;
/// linear's cost is that still edges move by half a line from field to field), and
/// `videoflip video-direction=auto` applies the container's orientation tag (a phone's
/// sideways pixels are turned upright; untagged video passes untouched).
pub const AS_PLAYED: &str = include_str!("../pipelines/as-played.gst");

/// After a `filesrc`: a file's frames as a player shows them. `queue2` puts the demuxer in
/// push mode. In pull mode GStreamer 1.22's demuxers lost frames (mpegpsdemux analysed 8 of
/// an MPEG-1 program stream's 30) and decodebin can swallow the error a demuxer posts while
/// it is being started (a truncated MP4's "no playable streams"). Push mode's own known loss
/// is smaller: qtdemux delivers one frame of an MP4 of 4 to 6 frames whose index comes last.
pub const FILE_DECODE: &str = concat!(
    "queue2 ! decodebin ! ",
    include_str!("../pipelines/as-played.gst")
);

/// After a `filesrc`, in pull mode: what `als-train` reads training videos with, so that its
/// features are those of `filesrc ! decodebin` pipelines frame for frame (in push mode one
/// held-out MP4 of the end-to-end test gave other features).
pub const FILE_DECODE_PULL: &str =
    concat!("decodebin ! ", include_str!("../pipelines/as-played.gst"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fragments_read_as_one_line_that_ends_where_the_next_element_is_linked() {
        for fragment in [AS_PLAYED, FILE_DECODE] {
            let line = fragment.trim_end();
            assert_eq!(line.lines().count(), 1, "{fragment:?}");
            assert!(!line.ends_with('!'), "{fragment:?}");
            assert!(line.contains("videoflip video-direction=auto"));
            assert!(line.contains("deinterlace"));
        }
        assert!(FILE_DECODE.starts_with("queue2 ! decodebin ! "));
    }
}
