// SPDX-License-Identifier: MPL-2.0

//! The JSON records of a buffer or of an upstream summary event, as `alsexport` writes them
//! and `alspublish` sends them: the one place the GStreamer side builds [`crate::jsonl`] lines.

use crate::jsonl::{
    FrameRecord, LineOptions, Origin, write_kinematics_summary_line, write_kinematics_window_line,
    write_line, write_summary_line,
};
use crate::meta::{
    ClassMeta, ClassSummary, FaceMeta, FlowMeta, KINEMATICS_SUMMARY, KINEMATICS_WINDOW,
    KinematicsMeta, MetaError, SUMMARY, kinematics_summary_from_structure, window_from_structure,
};
use crate::origin;

/// What a line is, for publishers that route summaries apart from frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Frame,
    Summary,
}

/// Where the frame is in the stream, for its record.
pub(crate) struct FrameContext<'a> {
    pub element: &'a gst::Element,
    pub segment: &'a gst::Segment,
    pub frame: u64,
    pub width: u32,
    pub height: u32,
    pub stream: Option<&'a str>,
    pub options: LineOptions,
}

/// The line of `buffer` (newline included). Malformed metas are left out and reported to
/// `warn`.
pub(crate) fn frame_line(
    buffer: &gst::BufferRef,
    context: &FrameContext<'_>,
    warn: impl Fn(&MetaError),
) -> String {
    fn read<T>(meta: Option<Result<T, MetaError>>, warn: &impl Fn(&MetaError)) -> Option<T> {
        match meta? {
            Ok(meta) => Some(meta),
            Err(err) => {
                warn(&err);
                None
            }
        }
    }
    let flow = read(FlowMeta::read(buffer), &warn);
    let faces = read(FaceMeta::read(buffer), &warn);
    let classification = read(ClassMeta::read(buffer), &warn);
    let kinematics = read(KinematicsMeta::read(buffer), &warn);
    let (utc_ns, utc_source) = origin::frame_utc(context.element, context.segment, buffer);
    let record = FrameRecord {
        origin: Origin {
            stream: context.stream,
            utc_ns,
            utc_source,
        },
        frame: context.frame,
        pts_ns: buffer.pts().map(gst::ClockTime::nseconds),
        width: context.width,
        height: context.height,
        flow: flow.as_ref(),
        faces: faces.as_ref(),
        classification: classification.as_ref(),
        kinematics: kinematics.as_ref(),
    };
    let mut line = String::new();
    write_line(&mut line, &record, context.options);
    line
}

/// The line of an upstream element's summary or window event, `None` for other events.
pub(crate) fn event_line(
    s: &gst::StructureRef,
    stream: Option<&str>,
) -> Option<Result<(String, Kind), MetaError>> {
    let (utc_ns, utc_source) = origin::emitted();
    let origin = Origin {
        stream,
        utc_ns,
        utc_source,
    };
    let mut text = String::new();
    let kind = match s.name().as_str() {
        SUMMARY => ClassSummary::from_structure(s)
            .map(|summary| write_summary_line(&mut text, &summary, &origin))
            .map(|()| Kind::Summary),
        KINEMATICS_WINDOW => window_from_structure(s)
            .map(|(w, mm)| write_kinematics_window_line(&mut text, &w, mm, &origin))
            .map(|()| Kind::Frame),
        KINEMATICS_SUMMARY => kinematics_summary_from_structure(s)
            .map(|(f, mm)| write_kinematics_summary_line(&mut text, &f, mm, &origin))
            .map(|()| Kind::Summary),
        _ => return None,
    };
    Some(kind.map(|k| (text, k)))
}
