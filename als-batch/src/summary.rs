// SPDX-License-Identifier: MPL-2.0

//! What one video's JSON Lines (schema 5, `docs/metadata.md`) say, and the summary CSV: one
//! row per video, read back for `--resume`.

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;

pub const STATUS_OK: &str = "ok";
pub const STATUS_INTERRUPTED: &str = "interrupted";
const MEAN_PREFIX: &str = "mean_p_";
/// The columns of the records published to the broker and of those waiting in the spool
/// (last, so that scripts reading columns by position still find the others).
const PUBLISHED: &str = "mqtt_published";
const WAITING: &str = "mqtt_waiting";

/// One row of the summary. Numbers are absent for videos that failed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// The video's path relative to the input folder, `/`-separated.
    pub file: String,
    pub duration_s: Option<f64>,
    pub frames: Option<u64>,
    pub frames_with_face: Option<u64>,
    pub frames_classified: Option<u64>,
    /// Mean probability per class over every classified face of every frame.
    pub means: Vec<(String, f64)>,
    /// The class with the highest mean probability; empty when nothing was classified.
    pub label: String,
    /// `ok`, `error: <why>` or `interrupted`.
    pub status: String,
    /// With `--broker`: records the broker acknowledged (QoS 1; at QoS 0, written to it).
    pub published: Option<u64>,
    /// With `--broker`: records waiting in the on-disk spool for a later run to send.
    pub waiting: Option<u64>,
}

impl Row {
    pub fn failed(file: String, status: String) -> Self {
        Self {
            file,
            status,
            ..Self::default()
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == STATUS_OK
    }
}

/// `error: <why>` on one line.
pub fn error_status(why: &str) -> String {
    let one_line: Vec<&str> = why.split_whitespace().collect();
    format!("error: {}", one_line.join(" "))
}

/// What a video's JSON Lines hold: its row (status `ok`) and how many of its records are not
/// frame records (summaries, windows), which `alspublish` publishes as well.
pub struct Jsonl {
    pub row: Row,
    pub other_records: u64,
}

/// Reads a video's JSON Lines into its row (status `ok`), line by line: the file is never
/// held in memory whole (an hour with landmarks is over a gigabyte).
#[cfg(test)]
pub fn row_from_jsonl(file: String, reader: impl BufRead) -> Result<Row, String> {
    read_jsonl(file, reader).map(|jsonl| jsonl.row)
}

/// Reads a video's JSON Lines into its row (status `ok`) and counts its other records, line by
/// line: the file is never held in memory whole (an hour with landmarks is over a gigabyte).
pub fn read_jsonl(file: String, mut reader: impl BufRead) -> Result<Jsonl, String> {
    let mut row = Row {
        file,
        status: STATUS_OK.into(),
        ..Row::default()
    };
    let (mut frames, mut with_face, mut classified, mut others) = (0u64, 0u64, 0u64, 0u64);
    let mut labels: Vec<String> = Vec::new();
    let (mut sums, mut counted): (Vec<f64>, u64) = (Vec::new(), 0);
    let (mut first_pts, mut previous_pts, mut last_pts) = (None, None, None);
    let mut line = String::new();
    for i in 0u64.. {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|e| format!("could not read line {} of the JSON Lines: {e}", i + 1))?;
        if read == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| format!("line {} of the JSON Lines is not JSON: {e}", i + 1))?;
        if value.get("frame").is_none() {
            others += 1;
        }
        if let Some(summary) = value.get("summary") {
            if labels.is_empty() {
                labels = string_list(&summary["labels"]);
            }
            continue;
        }
        if value.get("frame").is_none() {
            continue;
        }
        frames += 1;
        if let Some(pts) = value["pts_ns"].as_u64() {
            first_pts = first_pts.or(Some(pts));
            previous_pts = last_pts;
            last_pts = Some(pts);
        }
        if value["faces"].as_array().is_some_and(|f| !f.is_empty()) {
            with_face += 1;
        }
        let class = &value["classification"];
        if class["classified"].as_bool() == Some(true) {
            classified += 1;
        }
        if labels.is_empty() {
            labels = string_list(&class["labels"]);
        }
        for face in class["faces"].as_array().into_iter().flatten() {
            if face["classified"].as_bool() != Some(true) {
                continue;
            }
            let Some(p) = face["probabilities"].as_array() else {
                continue;
            };
            let p: Vec<f64> = p.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
            if p.iter().any(|v| !v.is_finite()) {
                continue;
            }
            if sums.len() < p.len() {
                sums.resize(p.len(), 0.0);
            }
            for (s, v) in sums.iter_mut().zip(&p) {
                *s += v;
            }
            counted += 1;
        }
    }
    row.frames = Some(frames);
    row.frames_with_face = Some(with_face);
    row.frames_classified = Some(classified);
    if let (Some(first), Some(last)) = (first_pts, last_pts) {
        // The last frame lasts as long as the gap before it.
        let last_duration = previous_pts.map_or(0, |p| last.saturating_sub(p));
        row.duration_s = Some((last + last_duration).saturating_sub(first) as f64 / 1e9);
    }
    if counted > 0 {
        row.means = sums
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let label = labels
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("class{i}"));
                (label, s / counted as f64)
            })
            .collect();
        row.label = row
            .means
            .iter()
            .fold(None::<&(String, f64)>, |best, m| match best {
                Some(b) if b.1 >= m.1 => Some(b),
                _ => Some(m),
            })
            .map(|(l, _)| l.clone())
            .unwrap_or_default();
    }
    Ok(Jsonl {
        row,
        other_records: others,
    })
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// The classes with a column: `first` (the model's, in its order), then any other class of
/// `rows` in order of appearance.
pub fn labels(first: &[String], rows: &[Row]) -> Vec<String> {
    let mut all: Vec<String> = first.to_vec();
    for (label, _) in rows.iter().flat_map(|r| &r.means) {
        if !all.contains(label) {
            all.push(label.clone());
        }
    }
    all
}

fn header(labels: &[String]) -> Vec<String> {
    let mut h: Vec<String> = [
        "file",
        "duration_s",
        "frames",
        "frames_with_face",
        "frames_classified",
    ]
    .map(String::from)
    .to_vec();
    h.extend(labels.iter().map(|l| format!("{MEAN_PREFIX}{l}")));
    h.push("label".into());
    h.push("status".into());
    h.push(PUBLISHED.into());
    h.push(WAITING.into());
    h
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The summary as CSV text.
pub fn to_csv(labels: &[String], rows: &[Row]) -> Result<String, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(header(labels))
        .map_err(|e| e.to_string())?;
    for row in rows {
        let mut record = vec![
            row.file.clone(),
            opt(row.duration_s.map(|d| format!("{d:.3}"))),
            opt(row.frames),
            opt(row.frames_with_face),
            opt(row.frames_classified),
        ];
        for label in labels {
            let mean = row.means.iter().find(|(l, _)| l == label);
            record.push(opt(mean.map(|(_, m)| format!("{m:.4}"))));
        }
        record.push(row.label.clone());
        record.push(row.status.clone());
        record.push(opt(row.published));
        record.push(opt(row.waiting));
        writer.write_record(&record).map_err(|e| e.to_string())?;
    }
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// Reads a summary written by [`to_csv`] (columns found by name).
pub fn from_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(file), Some(status)) = (column("file"), column("status")) else {
        return Err("needs the columns file and status".into());
    };
    let means: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.strip_prefix(MEAN_PREFIX).map(|l| (i, l.to_string())))
        .collect();
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", n + 2))?;
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        let number = |name: &str| get(column(name)).parse::<u64>().ok();
        rows.push(Row {
            file: get(Some(file)).to_string(),
            duration_s: get(column("duration_s")).parse().ok(),
            frames: number("frames"),
            frames_with_face: number("frames_with_face"),
            frames_classified: number("frames_classified"),
            means: means
                .iter()
                .filter_map(|(i, l)| get(Some(*i)).parse().ok().map(|m| (l.clone(), m)))
                .collect(),
            label: get(column("label")).to_string(),
            status: get(Some(status)).to_string(),
            published: number(PUBLISHED),
            waiting: number(WAITING),
        });
    }
    Ok(rows)
}

/// Writes the summary to `path` through `path.part`, so a reader never sees half of it.
pub fn write(path: &Path, labels: &[String], rows: &[Row]) -> Result<(), String> {
    let text = to_csv(labels, rows)?;
    let partial = crate::discover::part(path);
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = r#"{"schema":3,"frame":0,"pts_ns":1000,"width":320,"height":240,"flow":{"region":"face","grid_width":16,"grid_height":16,"region_size":128,"reason":"no-face"},"faces":[],"faces_fresh":true,"classification":{"model":"m","synthetic":true,"labels":["typical","impaired"],"classified":false,"reason":"no-face","faces":[]}}
{"schema":3,"frame":1,"pts_ns":33334333,"width":320,"height":240,"faces":[{"id":1,"score":0.9,"presence":1,"box":[1,2,3,4]}],"faces_fresh":true,"classification":{"model":"m","synthetic":true,"labels":["typical","impaired"],"classified":false,"faces":[{"id":1,"classified":false,"reason":"no-flow"}]}}
{"schema":3,"frame":2,"pts_ns":66667666,"width":320,"height":240,"faces":[{"id":1,"score":0.9,"presence":1,"box":[1,2,3,4]},{"id":2,"score":0.9,"presence":1,"box":[1,2,3,4]}],"faces_fresh":true,"classification":{"model":"m","synthetic":true,"labels":["typical","impaired"],"classified":true,"faces":[{"id":1,"classified":true,"probabilities":[0.25,0.75],"smoothed":[0.25,0.75],"label":"impaired"},{"id":2,"classified":true,"probabilities":[0.75,0.25],"smoothed":[0.75,0.25],"label":"typical"}]}}
{"schema":3,"frame":3,"pts_ns":100001000,"width":320,"height":240,"faces":[{"id":1,"score":0.9,"presence":1,"box":[1,2,3,4]}],"faces_fresh":true,"classification":{"model":"m","synthetic":true,"labels":["typical","impaired"],"classified":true,"faces":[{"id":1,"classified":true,"probabilities":[0.0,1.0],"smoothed":[0.1,0.9],"label":"impaired"}]}}
{"schema":3,"summary":{"model":"m","synthetic":true,"labels":["typical","impaired"],"flow_scale":1,"frames":4,"faces":[]}}
"#;

    #[test]
    fn counts_frames_faces_and_classified_frames_and_averages_probabilities() {
        let row = row_from_jsonl("a/b.mp4".into(), LINES.as_bytes()).unwrap();
        assert_eq!(row.frames, Some(4));
        assert_eq!(row.frames_with_face, Some(3));
        assert_eq!(row.frames_classified, Some(2));
        // Three classified faces: (0.25 + 0.75 + 0) / 3 and (0.75 + 0.25 + 1) / 3.
        assert_eq!(row.means.len(), 2);
        assert_eq!(row.means[0].0, "typical");
        assert!((row.means[0].1 - 1.0 / 3.0).abs() < 1e-9);
        assert!((row.means[1].1 - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(row.label, "impaired");
        // Four frames of 1/30 s from pts 1000.
        let d = row.duration_s.unwrap();
        assert!((d - 4.0 / 30.0).abs() < 1e-6, "{d}");
        assert!(row.is_ok());
    }

    #[test]
    fn unclassified_streams_have_no_means_or_label_and_garbage_is_an_error() {
        let row = row_from_jsonl(
            "x.mkv".into(),
            "{\"schema\":3,\"frame\":0,\"pts_ns\":null,\"width\":1,\"height\":1}\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (row.frames, row.frames_with_face, row.frames_classified),
            (Some(1), Some(0), Some(0))
        );
        assert!(row.means.is_empty() && row.label.is_empty() && row.duration_s.is_none());
        let err = row_from_jsonl("x".into(), "{\"frame\":0}\nnot json\n".as_bytes()).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn csv_round_trips_with_a_column_per_label_of_any_row() {
        let mut ok = row_from_jsonl("dir/with, comma.mp4".into(), LINES.as_bytes()).unwrap();
        ok.published = Some(5);
        ok.waiting = Some(0);
        let other = Row {
            file: "c.mp4".into(),
            frames: Some(1),
            means: vec![("other".into(), 0.5)],
            label: "other".into(),
            status: STATUS_OK.into(),
            ..Row::default()
        };
        let broken = Row::failed("broken.mp4".into(), error_status("no\ntype found"));
        let rows = vec![ok, other, broken];
        let labels = labels(&["typical".into(), "impaired".into()], &rows);
        assert_eq!(labels, ["typical", "impaired", "other"]);
        let text = to_csv(&labels, &rows).unwrap();
        assert!(text.starts_with(
            "file,duration_s,frames,frames_with_face,frames_classified,\
             mean_p_typical,mean_p_impaired,mean_p_other,label,status,mqtt_published,mqtt_waiting\n"
        ));
        assert!(
            text.contains("broken.mp4,,,,,,,,,error: no type found,,\n"),
            "{text}"
        );
        let back = from_csv(&text).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].file, "dir/with, comma.mp4");
        assert_eq!(back[0].frames_classified, Some(2));
        assert_eq!(back[0].means[1].0, "impaired");
        assert!((back[0].means[1].1 - 0.6667).abs() < 1e-9);
        assert_eq!(back[1].means, vec![("other".to_string(), 0.5)]);
        assert!(back[0].is_ok() && !back[2].is_ok());
        assert_eq!((back[0].published, back[0].waiting), (Some(5), Some(0)));
        assert_eq!((back[2].published, back[2].waiting), (None, None));
        // What was read back writes the same text.
        assert_eq!(to_csv(&labels, &back).unwrap(), text);
        assert!(from_csv("a,b\n1,2\n").is_err());
        // A summary of an earlier version, without the broker columns, still reads.
        let old = "file,frames,label,status\nx.mp4,3,,ok\n";
        let back = from_csv(old).unwrap();
        assert_eq!(back[0].frames, Some(3));
        assert_eq!((back[0].published, back[0].waiting), (None, None));
        assert!(back[0].is_ok());
    }

    /// The row `LINES` gave when the whole file was read into a string (before streaming).
    fn expected_row(file: &str) -> Row {
        Row {
            file: file.into(),
            duration_s: Some(0.133_333_334),
            frames: Some(4),
            frames_with_face: Some(3),
            frames_classified: Some(2),
            means: vec![
                ("typical".into(), (0.25 + 0.75 + 0.0) / 3.0),
                ("impaired".into(), (0.75 + 0.25 + 1.0) / 3.0),
            ],
            label: "impaired".into(),
            status: STATUS_OK.into(),
            published: None,
            waiting: None,
        }
    }

    /// Hands out its text a few bytes at a time, so lines arrive in pieces.
    struct Trickle<'a> {
        rest: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.rest.len());
            buf[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_file_read_line_by_line_gives_the_same_row_as_before() {
        let dir = std::env::temp_dir().join(format!("als-batch-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v.jsonl");
        // Many copies of the frames, with the summary at the end, in a file.
        let frames: String = LINES.lines().take(4).map(|l| format!("{l}\n")).collect();
        let summary = LINES.lines().nth(4).unwrap();
        std::fs::write(&path, LINES).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // A buffer smaller than a line: every line is put together from several reads.
        let row =
            row_from_jsonl("v.mp4".into(), std::io::BufReader::with_capacity(16, file)).unwrap();
        let expected = expected_row("v.mp4");
        assert_eq!(
            (row.frames, row.frames_with_face, row.frames_classified),
            (
                expected.frames,
                expected.frames_with_face,
                expected.frames_classified
            )
        );
        assert_eq!(row.label, expected.label);
        for ((l, m), (el, em)) in row.means.iter().zip(&expected.means) {
            assert_eq!(l, el);
            assert!((m - em).abs() < 1e-12, "{m} {em}");
        }
        assert!((row.duration_s.unwrap() - expected.duration_s.unwrap()).abs() < 1e-12);
        assert_eq!(row.means.len(), expected.means.len());
        // Through any BufRead, in pieces of any size, the same row; and the summary record
        // is counted as the one record that is not a frame.
        for step in [1, 3, 64, 1 << 20] {
            let reader = std::io::BufReader::with_capacity(
                7,
                Trickle {
                    rest: LINES.as_bytes(),
                    step,
                },
            );
            let jsonl = read_jsonl("v.mp4".into(), reader).unwrap();
            assert_eq!(jsonl.row, row, "step {step}");
            assert_eq!(jsonl.other_records, 1);
        }
        // A long file: 3000 copies of the frames, CRLF line ends, no final line end.
        let long = format!("{}{summary}", frames.repeat(3000)).replace('\n', "\r\n");
        std::fs::write(&path, &long).unwrap();
        let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let jsonl = read_jsonl("v.mp4".into(), file).unwrap();
        assert_eq!(jsonl.row.frames, Some(12_000));
        assert_eq!(jsonl.row.frames_with_face, Some(9_000));
        assert_eq!(jsonl.row.frames_classified, Some(6_000));
        for ((l, m), (el, em)) in jsonl.row.means.iter().zip(&row.means) {
            assert_eq!(l, el);
            assert!((m - em).abs() < 1e-9, "{m} {em}");
        }
        assert_eq!(jsonl.other_records, 1);
        // Bad bytes in the middle say which line.
        let mut bad = LINES.as_bytes().to_vec();
        let second = LINES.find('\n').unwrap() + 1;
        bad.insert(second + 3, 0xff);
        let err = row_from_jsonl("v.mp4".into(), bad.as_slice()).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
