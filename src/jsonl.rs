// SPDX-License-Identifier: MPL-2.0

//! One JSON object per frame (JSON Lines), schema version [`SCHEMA`], as documented in
//! `docs/metadata.md`. Metas are normalised to the frame; the JSON gives pixels of the frame.

use std::fmt::Write;

use crate::meta::{FaceMeta, FlowMeta, NormRect};

pub const SCHEMA: u32 = 1;

/// Everything known about one frame.
#[derive(Debug, Default)]
pub struct FrameRecord<'a> {
    pub frame: u64,
    pub pts_ns: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub flow: Option<&'a FlowMeta>,
    pub faces: Option<&'a FaceMeta>,
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
    if v.is_finite() {
        // f32 precision is all any producer has; its shortest form keeps lines compact.
        let _ = write!(out, "{}", v as f32);
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

fn flow(out: &mut String, f: &FlowMeta, width: f64, height: f64, options: LineOptions) {
    let _ = write!(out, "{{\"valid\":{}", f.stats.is_some());
    if let Some(reason) = &f.reset_reason {
        out.push_str(",\"reason\":");
        string(out, reason);
    }
    if let Some(s) = &f.stats {
        for (key, v) in [
            ("mean", s.mean),
            ("max", s.max),
            ("p99", s.p99),
            ("direction", s.mean_direction),
        ] {
            let _ = write!(out, ",\"{key}\":");
            number(out, v);
        }
    }
    out.push_str(",\"region\":");
    string(out, &f.region_kind);
    out.push_str(",\"region_box\":");
    pixel_box(out, &f.region, width, height);
    let _ = write!(
        out,
        ",\"grid_width\":{},\"grid_height\":{}",
        f.grid_width, f.grid_height
    );
    if options.flow_grid && f.stats.is_some() {
        out.push_str(",\"grid\":");
        numbers(out, f.grid.iter().map(|&v| v as f64));
    }
    out.push('}');
}

fn faces(out: &mut String, meta: &FaceMeta, width: f64, height: f64, options: LineOptions) {
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
        out.push('}');
    }
    out.push(']');
}

/// Appends `record` as one line, newline included, to `out`.
pub fn write_line(out: &mut String, record: &FrameRecord<'_>, options: LineOptions) {
    let (w, h) = (record.width as f64, record.height as f64);
    let _ = write!(out, "{{\"schema\":{SCHEMA},\"frame\":{}", record.frame);
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
        flow(out, f, w, h, options);
    }
    if let Some(meta) = record.faces {
        out.push_str(",\"faces\":");
        faces(out, meta, w, h, options);
        let _ = write!(out, ",\"faces_fresh\":{}", meta.fresh);
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{Face, FlowStats};

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
            "{\"schema\":1,\"frame\":3,\"pts_ns\":null,\"width\":640,\"height\":480}\n"
        );
    }

    #[test]
    fn flow_is_written_in_pixels_with_optional_grid() {
        let flow = FlowMeta {
            stats: Some(FlowStats {
                mean: 0.5,
                max: 2.0,
                p99: 1.5,
                mean_direction: 90.0,
            }),
            reset_reason: None,
            region_kind: "face".into(),
            region: NormRect {
                x: 0.25,
                y: 0.5,
                width: 0.5,
                height: 0.25,
            },
            grid_width: 2,
            grid_height: 1,
            grid: vec![0.25, f32::NAN],
        };
        let record = FrameRecord {
            frame: 0,
            pts_ns: Some(33_333_333),
            width: 200,
            height: 100,
            flow: Some(&flow),
            faces: None,
        };
        let with_grid = line(
            &record,
            LineOptions {
                flow_grid: true,
                landmarks: false,
            },
        );
        assert!(with_grid.contains("\"pts_ns\":33333333"));
        assert!(with_grid.contains(
            "\"flow\":{\"valid\":true,\"mean\":0.5,\"max\":2,\"p99\":1.5,\"direction\":90,\
             \"region\":\"face\",\"region_box\":[50,50,100,25],\"grid_width\":2,\
             \"grid_height\":1,\"grid\":[0.25,null]}"
        ));
        assert!(!line(&record, LineOptions::default()).contains("\"grid\""));
    }

    #[test]
    fn invalid_flow_says_why_and_invents_no_numbers() {
        let flow = FlowMeta {
            reset_reason: Some("caps".into()),
            region_kind: "frame".into(),
            region: NormRect::FULL,
            grid_width: 1,
            grid_height: 1,
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
        assert!(out.contains("\"valid\":false,\"reason\":\"caps\""));
        assert!(!out.contains("mean") && !out.contains("\"grid\""));
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
}
