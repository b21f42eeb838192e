// SPDX-License-Identifier: MPL-2.0

//! One JSON object per frame (JSON Lines), schema version [`SCHEMA`], as documented in
//! `docs/metadata.md`. Metas are normalised to the frame; the JSON gives pixels of the frame.

use std::fmt::Write;

use crate::kinematics::measures::{AREA, NAMES};
use crate::kinematics::{Stats, WindowStats};
use crate::meta::{
    ClassMeta, ClassSummary, FaceKinematics, FaceMeta, FlowMeta, KinematicsMeta, NormRect,
    REGION_FRAME, RegionFlow,
};

pub const SCHEMA: u32 = 5;

/// Where and when a record comes from: the stream's name and the wall-clock time (UTC) of
/// its frame, with how that time was found.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Origin<'a> {
    pub stream: Option<&'a str>,
    /// Nanoseconds since 1970-01-01 UTC.
    pub utc_ns: Option<i64>,
    /// `ntp` (the sender's clock, from RTCP), `unix` (a reference timestamp in Unix time),
    /// `clock` (the pipeline clock when the frame was captured), `emitted` (when the record
    /// was written: summaries and windows).
    pub utc_source: &'a str,
}

/// `ns` since the Unix epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ns: i64) -> String {
    let ms = ns.div_euclid(1_000_000);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// `{"schema":N,"stream":..,"utc":..,"utc_source":..` (no closing brace).
fn header(out: &mut String, origin: &Origin<'_>) {
    let _ = write!(out, "{{\"schema\":{SCHEMA},\"stream\":");
    match origin.stream {
        Some(name) => string(out, name),
        None => out.push_str("null"),
    }
    out.push_str(",\"utc\":");
    match origin.utc_ns {
        Some(ns) => {
            let _ = write!(out, "\"{}\",\"utc_source\":", rfc3339(ns));
            string(out, origin.utc_source);
        }
        None => out.push_str("null,\"utc_source\":null"),
    }
}

/// Everything known about one frame.
#[derive(Debug, Default)]
pub struct FrameRecord<'a> {
    pub origin: Origin<'a>,
    pub frame: u64,
    pub pts_ns: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub flow: Option<&'a FlowMeta>,
    pub faces: Option<&'a FaceMeta>,
    pub classification: Option<&'a ClassMeta>,
    pub kinematics: Option<&'a KinematicsMeta>,
}

/// What goes into a line besides the always-present fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct LineOptions {
    /// Write the flow magnitude grid.
    pub flow_grid: bool,
    /// Write the face landmarks.
    pub landmarks: bool,
}

fn number(out: &mut String, v: f64) {
    let short = v as f32;
    if short.is_finite() {
        // f32 precision is all any producer has; its shortest form keeps lines compact.
        let _ = write!(out, "{short}");
    } else if v.is_finite() {
        // Beyond the f32 range: "inf" is not JSON, the value itself is.
        let _ = write!(out, "{v:e}");
    } else {
        out.push_str("null");
    }
}

/// A time in seconds, at full precision: a week of stream time in f32 is 0.06 s coarse.
fn seconds(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else {
        out.push_str("null");
    }
}

fn numbers(out: &mut String, values: impl IntoIterator<Item = f64>) {
    out.push('[');
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        number(out, v);
    }
    out.push(']');
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn pixel_box(out: &mut String, r: &NormRect, width: f64, height: f64) {
    numbers(
        out,
        [
            r.x * width,
            r.y * height,
            r.width * width,
            r.height * height,
        ],
    );
}

/// The flow of one region, without the braces: validity, reason, statistics and grid.
fn region_flow(out: &mut String, r: &RegionFlow, options: LineOptions) {
    let _ = write!(out, "\"valid\":{}", r.stats.is_some());
    if let Some(reason) = &r.reset_reason {
        out.push_str(",\"reason\":");
        string(out, reason);
    }
    if let Some(s) = &r.stats {
        for (key, v) in [
            ("mean", s.mean),
            ("max", s.max),
            ("p99", s.p99),
            ("direction", s.mean_direction),
        ] {
            let _ = write!(out, ",\"{key}\":");
            number(out, v);
        }
        if options.flow_grid {
            out.push_str(",\"grid\":");
            numbers(out, r.grid.iter().map(|&v| v as f64));
        }
    }
}

/// A face's flow: its square (centre, side in pixels, rotation in degrees clockwise) and
/// what was measured in it.
fn face_flow(out: &mut String, r: &RegionFlow, width: f64, height: f64, options: LineOptions) {
    out.push('{');
    region_flow(out, r, options);
    out.push_str(",\"roi\":");
    let q = r.roi;
    numbers(
        out,
        [
            q.cx as f64 * width,
            q.cy as f64 * height,
            q.width as f64 * width,
            (q.rotation as f64).to_degrees(),
        ],
    );
    out.push('}');
}

/// The frame's flow object. For `region=frame` it holds the one region's flow; for
/// `region=face` the faces' flows go into their face objects, and only flows of faces that
/// the record's face list lacks are listed here.
fn flow(
    out: &mut String,
    f: &FlowMeta,
    faces: Option<&FaceMeta>,
    width: f64,
    height: f64,
    options: LineOptions,
) {
    out.push_str("{\"region\":");
    string(out, &f.region_kind);
    let _ = write!(
        out,
        ",\"grid_width\":{},\"grid_height\":{}",
        f.grid_width, f.grid_height
    );
    if f.region_kind == REGION_FRAME {
        if let Some(r) = f.regions.first() {
            out.push(',');
            region_flow(out, r, options);
        }
    } else {
        let _ = write!(out, ",\"region_size\":{}", f.region_size);
        if let Some(reason) = &f.reset_reason {
            out.push_str(",\"reason\":");
            string(out, reason);
        }
        let listed = |id: u32| faces.is_some_and(|m| m.faces.iter().any(|face| face.id == id));
        let unlisted: Vec<&RegionFlow> = f.regions.iter().filter(|r| !listed(r.face_id)).collect();
        if !unlisted.is_empty() {
            out.push_str(",\"faces\":[");
            for (i, r) in unlisted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"id\":{},\"flow\":", r.face_id);
                face_flow(out, r, width, height, options);
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push('}');
}

/// `"key":{"lip_aperture":v,...}` for one value per measure, each times `scale` (its square
/// for the area).
fn per_measure(out: &mut String, key: &str, values: impl Fn(usize) -> f64, scale: f64) {
    let _ = write!(out, "\"{key}\":{{");
    for (i, name) in NAMES.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\":", name.replace('-', "_"));
        let k = if i == AREA { scale * scale } else { scale };
        number(out, values(i) * k);
    }
    out.push('}');
}

fn face_kinematics(out: &mut String, k: &FaceKinematics, interocular_mm: f64) {
    out.push_str("{\"pose\":{\"roll\":");
    number(out, k.pose[0] as f64);
    out.push_str(",\"yaw\":");
    number(out, k.pose[1] as f64);
    out.push_str(",\"pitch\":");
    number(out, k.pose[2] as f64);
    let _ = write!(out, "}},\"pose_ok\":{},\"interocular_px\":", k.pose_ok);
    number(out, k.interocular_px as f64);
    out.push(',');
    per_measure(out, "iod", |i| k.values[i] as f64, 1.0);
    out.push(',');
    per_measure(out, "mm", |i| k.values[i] as f64, interocular_mm);
    out.push(',');
    per_measure(out, "velocity", |i| k.velocities[i] as f64, 1.0);
    out.push(',');
    per_measure(out, "acceleration", |i| k.accelerations[i] as f64, 1.0);
    out.push('}');
}

fn faces(
    out: &mut String,
    meta: &FaceMeta,
    flows: Option<&FlowMeta>,
    kinematics: Option<&KinematicsMeta>,
    width: f64,
    height: f64,
    options: LineOptions,
) {
    out.push('[');
    for (i, face) in meta.faces.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":{},\"score\":", face.id);
        number(out, face.detection_score as f64);
        out.push_str(",\"presence\":");
        number(out, face.presence_score as f64);
        out.push_str(",\"box\":");
        pixel_box(out, &face.bbox, width, height);
        if options.landmarks {
            out.push_str(",\"landmarks\":[");
            for (j, p) in face.landmarks.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                numbers(
                    out,
                    [
                        p[0] as f64 * width,
                        p[1] as f64 * height,
                        p[2] as f64 * width,
                    ],
                );
            }
            out.push(']');
        }
        let face_flows = flows.filter(|f| f.region_kind != REGION_FRAME);
        if let Some(r) = face_flows.and_then(|f| f.face(face.id)) {
            out.push_str(",\"flow\":");
            face_flow(out, r, width, height, options);
        }
        if let Some(meta) = kinematics
            && let Some(k) = meta.face(face.id)
        {
            out.push_str(",\"kinematics\":");
            face_kinematics(out, k, meta.interocular_mm);
        }
        out.push('}');
    }
    out.push(']');
}

/// Appends `record` as one line, newline included, to `out`.
pub fn write_line(out: &mut String, record: &FrameRecord<'_>, options: LineOptions) {
    let (w, h) = (record.width as f64, record.height as f64);
    header(out, &record.origin);
    let _ = write!(out, ",\"frame\":{}", record.frame);
    match record.pts_ns {
        Some(pts) => {
            let _ = write!(out, ",\"pts_ns\":{pts}");
        }
        None => out.push_str(",\"pts_ns\":null"),
    }
    let _ = write!(
        out,
        ",\"width\":{},\"height\":{}",
        record.width, record.height
    );
    if let Some(f) = record.flow {
        out.push_str(",\"flow\":");
        flow(out, f, record.faces, w, h, options);
    }
    if let Some(meta) = record.faces {
        out.push_str(",\"faces\":");
        faces(out, meta, record.flow, record.kinematics, w, h, options);
        let _ = write!(out, ",\"faces_fresh\":{}", meta.fresh);
    }
    if let Some(c) = record.classification {
        out.push_str(",\"classification\":");
        classification(out, c);
    }
    out.push_str("}\n");
}

fn strings(out: &mut String, values: &[String]) {
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, v);
    }
    out.push(']');
}

fn model_fields(out: &mut String, model: &str, synthetic: bool, labels: &[String]) {
    out.push_str("\"model\":");
    string(out, model);
    let _ = write!(out, ",\"synthetic\":{synthetic},\"labels\":");
    strings(out, labels);
}

fn classification(out: &mut String, c: &ClassMeta) {
    out.push('{');
    model_fields(out, &c.model, c.synthetic, &c.labels);
    let _ = write!(out, ",\"classified\":{}", c.classified());
    if let Some(reason) = &c.reason {
        out.push_str(",\"reason\":");
        string(out, reason);
    }
    out.push_str(",\"faces\":[");
    for (i, f) in c.faces.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{},\"classified\":{}",
            f.face_id,
            f.classified()
        );
        match &f.reason {
            Some(reason) => {
                out.push_str(",\"reason\":");
                string(out, reason);
            }
            None => {
                out.push_str(",\"probabilities\":");
                numbers(out, f.probabilities.iter().map(|&v| v as f64));
            }
        }
        if let Some(label) = &f.label {
            out.push_str(",\"smoothed\":");
            numbers(out, f.smoothed.iter().map(|&v| v as f64));
            out.push_str(",\"label\":");
            string(out, label);
        }
        out.push('}');
    }
    out.push_str("]}");
}

/// Appends the stream's classification summary as one line, newline included: an object
/// with `"summary"` where frame lines have `"frame"`.
pub fn write_summary_line(out: &mut String, summary: &ClassSummary, origin: &Origin<'_>) {
    header(out, origin);
    out.push_str(",\"summary\":{");
    model_fields(out, &summary.model, summary.synthetic, &summary.labels);
    out.push_str(",\"flow_scale\":");
    number(out, summary.flow_scale);
    let _ = write!(out, ",\"frames\":{},\"faces\":[", summary.frames);
    for (i, f) in summary.faces.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{},\"frames_seen\":{},\"frames_classified\":{},\"mean\":",
            f.face_id, f.frames_seen, f.frames_classified
        );
        numbers(out, f.mean.iter().map(|&v| v as f64));
        out.push_str(",\"smoothed\":");
        numbers(out, f.smoothed.iter().map(|&v| v as f64));
        out.push_str(",\"label_shares\":");
        numbers(out, f.label_shares.iter().map(|&v| v as f64));
        out.push_str(",\"label\":");
        match &f.label {
            Some(l) => string(out, l),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("]}}\n");
}

/// One measure's statistics, lengths times `scale` (areas times its square; rates and
/// variability as they are).
fn stats_object(out: &mut String, st: &Stats, scale: f64) {
    let fields = [
        ("min", st.min, scale),
        ("max", st.max, scale),
        ("range", st.range, scale),
        ("mean", st.mean, scale),
        ("amplitude", st.amplitude, scale),
        ("peak_opening_speed", st.peak_opening_speed, scale),
        ("peak_closing_speed", st.peak_closing_speed, scale),
        ("rate_hz", st.rate, 1.0),
        ("cycle_variability", st.cycle_variability, 1.0),
    ];
    let _ = write!(out, "{{\"samples\":{}", st.samples);
    for (name, v, k) in fields {
        let _ = write!(out, ",\"{name}\":");
        number(out, v * k);
    }
    out.push('}');
}

fn window_object(out: &mut String, w: &WindowStats, interocular_mm: f64) {
    let _ = write!(out, "{{\"face_id\":{},\"start_s\":", w.face_id);
    seconds(out, w.start);
    out.push_str(",\"end_s\":");
    seconds(out, w.end);
    let _ = write!(
        out,
        ",\"frames\":{},\"frames_off_pose\":{},\"interocular_mm\":",
        w.frames, w.frames_off_pose
    );
    number(out, interocular_mm);
    for (key, scale) in [("iod", 1.0), ("mm", interocular_mm)] {
        let _ = write!(out, ",\"{key}\":{{");
        for (i, (name, st)) in NAMES.iter().zip(&w.stats).enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{}\":", name.replace('-', "_"));
            stats_object(out, st, if i == AREA { scale * scale } else { scale });
        }
        out.push('}');
    }
    out.push('}');
}

/// Appends one face's window statistics as a line: `{"schema":..,"kinematics_window":{..}}`.
pub fn write_kinematics_window_line(
    out: &mut String,
    w: &WindowStats,
    interocular_mm: f64,
    origin: &Origin<'_>,
) {
    header(out, origin);
    out.push_str(",\"kinematics_window\":");
    window_object(out, w, interocular_mm);
    out.push_str("}\n");
}

/// Appends the stream's kinematics per face as a line:
/// `{"schema":..,"kinematics_summary":{"faces":[..]}}`.
pub fn write_kinematics_summary_line(
    out: &mut String,
    faces: &[WindowStats],
    interocular_mm: f64,
    origin: &Origin<'_>,
) {
    header(out, origin);
    out.push_str(",\"kinematics_summary\":{\"faces\":[");
    for (i, w) in faces.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        window_object(out, w, interocular_mm);
    }
    out.push_str("]}}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{Face, FlowStats, NormRotatedRect, REGION_FACE};

    fn line(record: &FrameRecord<'_>, options: LineOptions) -> String {
        let mut out = String::new();
        write_line(&mut out, record, options);
        out
    }

    #[test]
    fn bare_frame_has_only_the_fixed_fields() {
        let record = FrameRecord {
            frame: 3,
            pts_ns: None,
            width: 640,
            height: 480,
            ..Default::default()
        };
        assert_eq!(
            line(&record, LineOptions::default()),
            "{\"schema\":5,\"stream\":null,\"utc\":null,\"utc_source\":null,\"frame\":3,\"pts_ns\":null,\"width\":640,\"height\":480}\n"
        );
    }

    fn stats() -> Option<FlowStats> {
        Some(FlowStats {
            mean: 0.5,
            max: 2.0,
            p99: 1.5,
            mean_direction: 90.0,
        })
    }

    #[test]
    fn frame_flow_is_one_object_with_optional_grid() {
        let flow = FlowMeta {
            region_kind: REGION_FRAME.into(),
            grid_width: 2,
            grid_height: 1,
            regions: vec![RegionFlow {
                roi: NormRotatedRect::FULL,
                stats: stats(),
                grid: vec![0.25, f32::NAN],
                ..Default::default()
            }],
            ..Default::default()
        };
        let record = FrameRecord {
            origin: Origin::default(),
            frame: 0,
            pts_ns: Some(33_333_333),
            width: 200,
            height: 100,
            flow: Some(&flow),
            faces: None,
            classification: None,
            kinematics: None,
        };
        let with_grid = line(
            &record,
            LineOptions {
                flow_grid: true,
                landmarks: false,
            },
        );
        assert!(with_grid.starts_with("{\"schema\":5,"));
        assert!(with_grid.contains("\"pts_ns\":33333333"));
        assert!(with_grid.contains(
            "\"flow\":{\"region\":\"frame\",\"grid_width\":2,\"grid_height\":1,\
             \"valid\":true,\"mean\":0.5,\"max\":2,\"p99\":1.5,\"direction\":90,\
             \"grid\":[0.25,null]}"
        ));
        assert!(!line(&record, LineOptions::default()).contains("\"grid\""));
    }

    #[test]
    fn face_flows_go_into_their_faces() {
        let face = |id| Face {
            id,
            landmarks: Vec::new(),
            ..Default::default()
        };
        let faces = FaceMeta {
            faces: vec![face(3), face(4)],
            fresh: true,
        };
        let roi = NormRotatedRect {
            cx: 0.5,
            cy: 0.25,
            width: 0.25,
            height: 0.5,
            rotation: std::f32::consts::FRAC_PI_2,
        };
        let flow = FlowMeta {
            region_kind: REGION_FACE.into(),
            region_size: 64,
            grid_width: 1,
            grid_height: 1,
            regions: vec![
                RegionFlow {
                    face_id: 4,
                    roi,
                    stats: stats(),
                    grid: vec![0.5],
                    ..Default::default()
                },
                RegionFlow {
                    face_id: 3,
                    roi,
                    reset_reason: Some("new-face".into()),
                    ..Default::default()
                },
                RegionFlow {
                    face_id: 9,
                    roi,
                    reset_reason: Some("new-face".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let record = FrameRecord {
            width: 200,
            height: 100,
            flow: Some(&flow),
            faces: Some(&faces),
            ..Default::default()
        };
        let out = line(&record, LineOptions::default());
        assert!(
            out.contains(
                "\"flow\":{\"region\":\"face\",\"grid_width\":1,\"grid_height\":1,\
             \"region_size\":64,\"faces\":[{\"id\":9,\"flow\":{\"valid\":false,\
             \"reason\":\"new-face\",\"roi\":[100,25,50,90]}}]}"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "{\"id\":3,\"score\":0,\"presence\":0,\"box\":[0,0,0,0],\
             \"flow\":{\"valid\":false,\"reason\":\"new-face\",\"roi\":[100,25,50,90]}}"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "\"flow\":{\"valid\":true,\"mean\":0.5,\"max\":2,\"p99\":1.5,\
             \"direction\":90,\"roi\":[100,25,50,90]}}]"
            ),
            "{out}"
        );
        serde_check(&out);
    }

    #[test]
    fn a_frame_without_faces_says_why() {
        let flow = FlowMeta {
            region_kind: REGION_FACE.into(),
            region_size: 128,
            grid_width: 1,
            grid_height: 1,
            reset_reason: Some("no-face".into()),
            ..Default::default()
        };
        let record = FrameRecord {
            width: 10,
            height: 10,
            flow: Some(&flow),
            ..Default::default()
        };
        let out = line(
            &record,
            LineOptions {
                flow_grid: true,
                landmarks: true,
            },
        );
        assert!(
            out.contains("\"region_size\":128,\"reason\":\"no-face\"}"),
            "{out}"
        );
        assert!(!out.contains("mean") && !out.contains("\"grid\""));
    }

    /// Every line must be one JSON object.
    fn serde_check(line: &str) {
        assert!(
            line.ends_with("}\n") && line.matches('\n').count() == 1,
            "{line}"
        );
        let value: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        assert!(value.is_object());
    }

    #[test]
    fn faces_scale_landmarks_to_pixels() {
        let meta = FaceMeta {
            faces: vec![Face {
                id: 7,
                detection_score: 0.75,
                presence_score: 1.0,
                bbox: NormRect {
                    x: 0.5,
                    y: 0.5,
                    width: 0.25,
                    height: 0.25,
                },
                landmarks: vec![[0.5, 0.25, -0.125]],
                ..Default::default()
            }],
            fresh: false,
        };
        let record = FrameRecord {
            width: 400,
            height: 200,
            faces: Some(&meta),
            ..Default::default()
        };
        let out = line(
            &record,
            LineOptions {
                flow_grid: false,
                landmarks: true,
            },
        );
        assert!(out.contains(
            "\"faces\":[{\"id\":7,\"score\":0.75,\"presence\":1,\"box\":[200,100,100,50],\
             \"landmarks\":[[200,50,-50]]}],\"faces_fresh\":false"
        ));
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\n");
        assert_eq!(out, "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn classification_and_summary_lines() {
        use crate::meta::{FaceClass, FaceTotals};
        let c = ClassMeta {
            model: "als-synthetic-demo".into(),
            synthetic: true,
            labels: vec!["typical".into(), "impaired".into()],
            faces: vec![
                FaceClass {
                    face_id: 1,
                    probabilities: vec![0.25, 0.75],
                    smoothed: vec![0.5, 0.5],
                    label: Some("impaired".into()),
                    reason: None,
                },
                FaceClass {
                    face_id: 2,
                    reason: Some("no-flow".into()),
                    ..FaceClass::default()
                },
            ],
            reason: None,
        };
        let record = FrameRecord {
            classification: Some(&c),
            ..Default::default()
        };
        let text = line(&record, LineOptions::default());
        serde_check(&text);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let class = &v["classification"];
        assert_eq!(class["synthetic"], true);
        assert_eq!(class["classified"], true);
        assert_eq!(class["faces"][0]["probabilities"][1], 0.75);
        assert_eq!(class["faces"][0]["label"], "impaired");
        assert_eq!(class["faces"][1]["reason"], "no-flow");
        assert!(class["faces"][1].get("probabilities").is_none());

        let summary = ClassSummary {
            model: "m".into(),
            synthetic: false,
            labels: vec!["a".into(), "b".into()],
            flow_scale: 1.25,
            frames: 9,
            faces: vec![FaceTotals {
                face_id: 3,
                frames_seen: 9,
                frames_classified: 0,
                ..FaceTotals::default()
            }],
        };
        let mut out = String::new();
        write_summary_line(&mut out, &summary, &Origin::default());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["summary"]["flow_scale"], 1.25);
        assert_eq!(v["summary"]["faces"][0]["label"], serde_json::Value::Null);
        assert!(v.get("frame").is_none(), "a summary is not a frame");
    }

    #[test]
    fn extreme_values_stay_json_and_times_keep_their_precision() {
        for (v, expected) in [
            (1e36, Some(1e36)),
            (-3.5e39, Some(-3.5e39)),
            (1e308, Some(1e308)),
            (0.1, Some(0.1f32 as f64)),
            (f64::NAN, None),
            (f64::INFINITY, None),
            (f64::NEG_INFINITY, None),
        ] {
            let mut out = String::new();
            number(&mut out, v);
            let parsed: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
                panic!("{v} written as {out:?}, not JSON: {e}");
            });
            match expected {
                Some(x) => {
                    let got = parsed.as_f64().unwrap();
                    assert!((got - x).abs() <= x.abs() * 1e-6, "{v}: {out}");
                }
                None => assert!(parsed.is_null(), "{v}: {out}"),
            }
        }
        // A window a week into a stream.
        let week = 7.0 * 86_400.0;
        let w = WindowStats {
            face_id: 1,
            start: week + 0.0125,
            end: week + 5.0125,
            frames: 150,
            ..Default::default()
        };
        let mut out = String::new();
        let origin = Origin {
            stream: None,
            utc_ns: None,
            utc_source: "clock",
        };
        write_kinematics_window_line(&mut out, &w, 63.0, &origin);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let start = v["kinematics_window"]["start_s"].as_f64().unwrap();
        let end = v["kinematics_window"]["end_s"].as_f64().unwrap();
        assert!((start - (week + 0.0125)).abs() < 1e-6, "{start}");
        assert!((end - start - 5.0).abs() < 1e-6, "{end}");
    }

    #[test]
    fn kinematics_in_faces_and_window_and_summary_lines() {
        use crate::meta::Face;
        let faces = FaceMeta {
            faces: vec![Face {
                id: 4,
                ..Face::default()
            }],
            fresh: true,
        };
        let kinematics = KinematicsMeta {
            interocular_mm: 60.0,
            faces: vec![FaceKinematics {
                id: 4,
                pose: [1.0, 2.0, 3.0],
                pose_ok: true,
                interocular_px: 80.0,
                values: [0.25, 0.75, 1.0, 0.5, -0.125, 0.25, 0.25],
                velocities: [f32::NAN; 7],
                accelerations: [0.0; 7],
            }],
        };
        let record = FrameRecord {
            faces: Some(&faces),
            kinematics: Some(&kinematics),
            ..Default::default()
        };
        let text = line(&record, LineOptions::default());
        serde_check(&text);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let k = &v["faces"][0]["kinematics"];
        assert_eq!(k["pose"]["yaw"], 2.0);
        assert_eq!(k["pose_ok"], true);
        assert_eq!(k["iod"]["lip_aperture"], 0.25);
        assert_eq!(k["mm"]["lip_aperture"], 15.0);
        assert_eq!(k["mm"]["mouth_area"], 1800.0, "areas scale by the square");
        assert_eq!(k["mm"]["corner_asymmetry"], -7.5);
        assert_eq!(k["velocity"]["jaw_opening"], serde_json::Value::Null);

        let mut w = WindowStats {
            face_id: 4,
            start: 0.5,
            end: 5.5,
            frames: 150,
            ..Default::default()
        };
        w.stats[2] = Stats {
            samples: 150,
            range: 0.25,
            rate: 2.0,
            amplitude: 0.2,
            ..Stats::default()
        };
        let mut out = String::new();
        let origin = Origin {
            stream: Some("cam \"1\""),
            utc_ns: Some(1_795_000_000_123_000_000),
            utc_source: "ntp",
        };
        write_kinematics_window_line(&mut out, &w, 60.0, &origin);
        serde_check(&out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let jaw = &v["kinematics_window"]["mm"]["jaw_opening"];
        assert_eq!(jaw["amplitude"], 12.0);
        assert_eq!(jaw["rate_hz"], 2.0, "rates are not lengths");
        assert_eq!(v["kinematics_window"]["iod"]["jaw_opening"]["range"], 0.25);
        out.clear();
        assert_eq!(v["stream"], "cam \"1\"");
        assert_eq!(v["utc"], "2026-11-18T11:06:40.123Z");
        assert_eq!(v["utc_source"], "ntp");
        write_kinematics_summary_line(&mut out, &[w], 60.0, &origin);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["kinematics_summary"]["faces"][0]["face_id"], 4);
        assert!(v.get("frame").is_none());
    }
}
