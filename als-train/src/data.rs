// SPDX-License-Identifier: MPL-2.0

//! The extracted-features folder: `index.csv` (one row per video) and one safetensors file per
//! video with `landmarks` [rows, L], `flow` [rows, F], `frame` and `face` [rows], and in its
//! metadata the video, label, subject and the feature specification. Python reads it with
//! `safetensors.numpy.load_file` and `csv`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use gstals::features::FeatureSpec;

pub const INDEX: &str = "index.csv";

/// One row of `index.csv`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexRow {
    pub file: String,
    pub path: String,
    pub label: String,
    pub subject: String,
    pub task: String,
    pub frames: u64,
    pub rows: u64,
}

/// The features of one video, as written by `extract`.
pub struct VideoFeatures {
    pub landmarks: Vec<f32>,
    pub flow: Vec<f32>,
    pub frame: Vec<i64>,
    pub face: Vec<i64>,
}

fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>, String> {
    TensorView::new(dtype, shape, data).map_err(|e| format!("bad tensor: {e}"))
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn spec_metadata(spec: &FeatureSpec) -> HashMap<String, String> {
    spec.to_props().into_iter().collect()
}

pub fn write_video(
    path: &Path,
    spec: &FeatureSpec,
    features: &VideoFeatures,
    mut metadata: HashMap<String, String>,
) -> Result<(), String> {
    let rows = features.frame.len();
    let (l, f) = (spec.landmark_len(), spec.flow_len());
    metadata.extend(spec_metadata(spec));
    let (lm, fl) = (f32_bytes(&features.landmarks), f32_bytes(&features.flow));
    let (fr, fa) = (i64_bytes(&features.frame), i64_bytes(&features.face));
    let tensors = vec![
        ("landmarks", view(Dtype::F32, vec![rows, l], &lm)?),
        ("flow", view(Dtype::F32, vec![rows, f], &fl)?),
        ("frame", view(Dtype::I64, vec![rows], &fr)?),
        ("face", view(Dtype::I64, vec![rows], &fa)?),
    ];
    let partial = path.with_extension("part");
    safetensors::serialize_to_file(tensors, Some(metadata), &partial)
        .map_err(|e| format!("could not write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("could not write {}: {e}", path.display()))
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn i64s(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        .collect()
}

/// The video fields of the index that each features file repeats in its metadata, so a file
/// can be checked against the row that points at it.
pub const VIDEO_FIELDS: [&str; 4] = ["path", "label", "subject", "task"];

impl IndexRow {
    fn field(&self, name: &str) -> &str {
        match name {
            "path" => &self.path,
            "label" => &self.label,
            "subject" => &self.subject,
            _ => &self.task,
        }
    }

    /// Whether the file's metadata describes this row's video, label, subject and task; an
    /// index and files from different runs (an extract interrupted after a manifest was
    /// reordered) would otherwise pair one video's features with another's label.
    pub fn check(&self, metadata: &HashMap<String, String>) -> Result<(), String> {
        for name in VIDEO_FIELDS {
            let stored = metadata.get(name).map(String::as_str).unwrap_or("");
            if stored != self.field(name) {
                return Err(format!(
                    "{}: {INDEX} gives {name} {:?} but the file holds {:?}; the folder mixes \
                     two extract runs (one interrupted?): run als-train extract again",
                    self.file,
                    self.field(name),
                    stored
                ));
            }
        }
        Ok(())
    }
}

/// The metadata of a features file.
pub fn read_metadata(bytes: &[u8]) -> Result<HashMap<String, String>, String> {
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    Ok(metadata.metadata().clone().unwrap_or_default())
}

/// Reads one video's file, checking its spec against `spec` and, given its index row, that
/// it holds that row's video.
pub fn read_video(
    path: &Path,
    spec: &FeatureSpec,
    row: Option<&IndexRow>,
) -> Result<VideoFeatures, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("could not read {}: {e}", path.display()))?;
    let fail =
        |e: &dyn std::fmt::Display| format!("{} is not a features file: {e}", path.display());
    if let Some(row) = row {
        row.check(&read_metadata(&bytes).map_err(|e| fail(&e))?)?;
    }
    let file_spec = read_spec(&bytes).map_err(|e| fail(&e))?;
    if &file_spec != spec {
        return Err(format!(
            "{} was extracted with other features than the rest of the folder",
            path.display()
        ));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(&e))?;
    let get = |name: &str, dtype: Dtype, width: Option<usize>| {
        let t = st.tensor(name).map_err(|e| fail(&e))?;
        let ok = t.dtype() == dtype
            && match width {
                Some(w) => t.shape().len() == 2 && t.shape()[1] == w,
                None => t.shape().len() == 1,
            };
        if !ok {
            return Err(fail(&format!("tensor {name} has shape {:?}", t.shape())));
        }
        Ok(t.data().to_vec())
    };
    let features = VideoFeatures {
        landmarks: f32s(&get("landmarks", Dtype::F32, Some(spec.landmark_len()))?),
        flow: f32s(&get("flow", Dtype::F32, Some(spec.flow_len()))?),
        frame: i64s(&get("frame", Dtype::I64, None)?),
        face: i64s(&get("face", Dtype::I64, None)?),
    };
    let rows = features.frame.len();
    if features.landmarks.len() != rows * spec.landmark_len()
        || features.flow.len() != rows * spec.flow_len()
        || features.face.len() != rows
    {
        return Err(fail(&"tensors of different row counts"));
    }
    // The extractor never writes them; a file made elsewhere might, and one NaN would
    // poison the PCA and every weight.
    if !features
        .landmarks
        .iter()
        .chain(&features.flow)
        .all(|v| v.is_finite())
    {
        return Err(fail(&"values that are not finite (NaN or infinity)"));
    }
    Ok(features)
}

fn read_spec(bytes: &[u8]) -> Result<FeatureSpec, String> {
    let map = read_metadata(bytes)?;
    FeatureSpec::from_props(|k| map.get(k).cloned())
}

/// An extracted folder: its index and the spec every file shares.
pub struct Dataset {
    pub dir: PathBuf,
    pub videos: Vec<IndexRow>,
    pub spec: FeatureSpec,
}

impl Dataset {
    pub fn open(dir: &Path) -> Result<Self, String> {
        let index = dir.join(INDEX);
        let mut reader = csv::Reader::from_path(&index).map_err(|e| {
            format!(
                "could not read {} (run als-train extract first): {e}",
                index.display()
            )
        })?;
        let videos: Vec<IndexRow> = reader
            .deserialize()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", index.display()))?;
        let videos: Vec<IndexRow> = videos.into_iter().filter(|v| v.rows > 0).collect();
        let first = videos
            .first()
            .ok_or_else(|| format!("{} lists no video with features", index.display()))?;
        let bytes = std::fs::read(dir.join(&first.file))
            .map_err(|e| format!("could not read {}: {e}", first.file))?;
        let spec = read_spec(&bytes)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            videos,
            spec,
        })
    }

    pub fn read(&self, video: usize) -> Result<VideoFeatures, String> {
        let row = &self.videos[video];
        read_video(&self.dir.join(&row.file), &self.spec, Some(row))
    }
}
