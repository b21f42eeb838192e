// SPDX-License-Identifier: MPL-2.0

//! The classifier's ONNX model: inputs `landmarks` [N, L] and `flow` [N, F] of raw features,
//! output `probabilities` [N, K], and in its metadata the feature specification, the class
//! labels and whether it was trained on synthetic data. Everything is checked at load, so a
//! wrong file fails once with a message naming the file, not on every frame.

use std::path::Path;

use ort::session::Session;
use ort::value::TensorRef;

use super::{LABELS_KEY, NAME_KEY, SYNTHETIC_KEY};
use crate::features::{FaceFeatures, FeatureSpec};
use crate::mesh::model::{environment, open_session};

pub const INPUT_LANDMARKS: &str = "landmarks";
pub const INPUT_FLOW: &str = "flow";
pub const OUTPUT: &str = "probabilities";

/// What a model says about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    pub labels: Vec<String>,
    pub synthetic: bool,
    pub spec: FeatureSpec,
}

impl ModelInfo {
    /// Reads the info from metadata key-value pairs (`get` returns a key's value).
    pub fn from_props(path: &Path, get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let fail = |what: String| format!("{} is not a gst-als model: {what}", path.display());
        let spec = FeatureSpec::from_props(&get).map_err(fail)?;
        let labels: Vec<String> = get(LABELS_KEY)
            .ok_or_else(|| fail(format!("no {LABELS_KEY} in its metadata")))?
            .split(',')
            .map(|l| l.trim().to_string())
            .collect();
        if labels.len() < 2 || labels.iter().any(String::is_empty) {
            return Err(fail(format!("{LABELS_KEY} must name two or more classes")));
        }
        let synthetic = match get(SYNTHETIC_KEY).as_deref() {
            Some("true") => true,
            Some("false") => false,
            other => {
                return Err(fail(format!(
                    "{SYNTHETIC_KEY} is {other:?}, not true/false"
                )));
            }
        };
        let name = get(NAME_KEY).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Self {
            name,
            labels,
            synthetic,
            spec,
        })
    }
}

pub struct ClassModel {
    session: Session,
    pub info: ModelInfo,
}

/// `shape` is [dynamic, `width`]: a frame with several faces is one batch.
fn is_batch_of(shape: Option<Vec<i64>>, width: usize) -> bool {
    shape.is_some_and(|s| s.len() == 2 && s[0] < 0 && s[1] == width as i64)
}

impl ClassModel {
    /// Loads `path` on the ONNX Runtime library `library`, running on `threads` threads.
    pub fn load(library: &Path, path: &Path, threads: usize) -> Result<Self, String> {
        let env = environment(library)?;
        let session = open_session(&env, path, threads)?;
        let metadata = session
            .metadata()
            .map_err(|e| format!("could not read the metadata of {}: {e}", path.display()))?;
        let info = ModelInfo::from_props(path, |key| metadata.custom(key))?;
        drop(metadata);
        let spec = &info.spec;
        let input = |name: &str| {
            session
                .inputs()
                .iter()
                .find(|i| i.name() == name)
                .map(|i| i.dtype().tensor_shape().map(|s| s.to_vec()))
        };
        for (name, width) in [
            (INPUT_LANDMARKS, spec.landmark_len()),
            (INPUT_FLOW, spec.flow_len()),
        ] {
            match input(name) {
                None => {
                    return Err(format!(
                        "{} has no input named {name}: not a gst-als classifier",
                        path.display()
                    ));
                }
                Some(shape) if !is_batch_of(shape.clone(), width) => {
                    return Err(format!(
                        "{}: input {name} has shape {shape:?}, its metadata says [N, {width}]",
                        path.display()
                    ));
                }
                Some(_) => {}
            }
        }
        if session.inputs().len() != 2 {
            return Err(format!(
                "{} takes {} inputs, 2 expected ({INPUT_LANDMARKS}, {INPUT_FLOW})",
                path.display(),
                session.inputs().len()
            ));
        }
        let output = session
            .outputs()
            .iter()
            .find(|o| o.name() == OUTPUT)
            .map(|o| o.dtype().tensor_shape().map(|s| s.to_vec()))
            .ok_or_else(|| format!("{} has no output named {OUTPUT}", path.display()))?;
        if !is_batch_of(output.clone(), info.labels.len()) {
            return Err(format!(
                "{}: output {OUTPUT} has shape {output:?}, but the model names {} classes",
                path.display(),
                info.labels.len()
            ));
        }
        Ok(Self { session, info })
    }

    /// The class probabilities of each face, one batch for the frame.
    pub fn run(&mut self, faces: &[&FaceFeatures]) -> Result<Vec<Vec<f32>>, String> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let (l, f) = (self.info.spec.landmark_len(), self.info.spec.flow_len());
        let mut landmarks = Vec::with_capacity(faces.len() * l);
        let mut flow = Vec::with_capacity(faces.len() * f);
        for face in faces {
            if face.landmarks.len() != l || face.flow.len() != f {
                return Err(format!(
                    "features of {} + {} values, the model takes {l} + {f}",
                    face.landmarks.len(),
                    face.flow.len()
                ));
            }
            landmarks.extend_from_slice(&face.landmarks);
            flow.extend_from_slice(&face.flow);
        }
        let n = faces.len();
        let landmarks = TensorRef::from_array_view(([n, l], &landmarks[..]))
            .map_err(|e| format!("bad model input: {e}"))?;
        let flow = TensorRef::from_array_view(([n, f], &flow[..]))
            .map_err(|e| format!("bad model input: {e}"))?;
        let outputs = self
            .session
            .run(ort::inputs![INPUT_LANDMARKS => landmarks, INPUT_FLOW => flow])
            .map_err(|e| format!("classification failed: {e}"))?;
        let (_, probabilities) = outputs[OUTPUT]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("unexpected model output: {e}"))?;
        let k = self.info.labels.len();
        if probabilities.len() != n * k {
            return Err(format!(
                "the model gave {} probabilities for {n} faces of {k} classes",
                probabilities.len()
            ));
        }
        Ok(probabilities.chunks_exact(k).map(<[f32]>::to_vec).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn props(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let spec = FeatureSpec {
            landmark_mode: crate::features::LandmarkMode::Roi,
            flow_mode: crate::features::FlowMode::Face,
            grid_width: 16,
            grid_height: 16,
            landmarks: 468,
            flow_method: crate::flow::FlowMethod::default(),
            region_size: 128,
            fps: 30.0,
        };
        let mut map: HashMap<String, String> = spec.to_props().into_iter().collect();
        for (k, v) in extra {
            map.insert(k.to_string(), v.to_string());
        }
        map
    }

    #[test]
    fn info_reads_labels_and_synthetic_flag() {
        let map = props(&[(LABELS_KEY, "healthy,als"), (SYNTHETIC_KEY, "true")]);
        let info =
            ModelInfo::from_props(Path::new("/m/demo.onnx"), |k| map.get(k).cloned()).unwrap();
        assert_eq!(info.labels, ["healthy", "als"]);
        assert!(info.synthetic);
        assert_eq!(info.name, "demo");
        assert_eq!(info.spec.flow_len(), 256);
    }

    #[test]
    fn info_refuses_what_is_not_a_model_of_ours() {
        let path = Path::new("/m/x.onnx");
        let one_class = props(&[(LABELS_KEY, "als"), (SYNTHETIC_KEY, "false")]);
        let err = ModelInfo::from_props(path, |k| one_class.get(k).cloned()).unwrap_err();
        assert!(err.contains("two or more classes"), "{err}");
        let no_flag = props(&[(LABELS_KEY, "a,b")]);
        let err = ModelInfo::from_props(path, |k| no_flag.get(k).cloned()).unwrap_err();
        assert!(err.contains(SYNTHETIC_KEY), "{err}");
        let err = ModelInfo::from_props(path, |_| None).unwrap_err();
        assert!(err.contains("/m/x.onnx"), "{err}");
    }
}
