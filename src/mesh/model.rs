// SPDX-License-Identifier: MPL-2.0

//! The face networks on ONNX Runtime, loaded from a shared library chosen at run time.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use super::tracker::{DETECTOR_SIDE, FaceModels, LANDMARK_SIDE, LANDMARKS};

pub const DETECTOR_FILE: &str = "face_detection_short_range.onnx";
pub const LANDMARK_FILE: &str = "face_landmark.onnx";

/// Where the project's setup put ONNX Runtime and the models when this crate was built
/// (`GST_ALS_ORT_LIB` and `GST_ALS_MODEL_DIR` at build time change them).
pub const DEFAULT_ORT_LIBRARY: &str = env!("GST_ALS_DEFAULT_ORT_LIB");
pub const DEFAULT_MODEL_DIR: &str = env!("GST_ALS_DEFAULT_MODEL_DIR");

const FIX_HINT: &str = "run scripts/fetch-onnxruntime.sh and scripts/build-models.sh, or set \
                        the element's ort-library / model-dir properties";

/// ONNX Runtime allows one environment per process; it stays loaded from its first library.
static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// The library to load: `configured` (the element's `ort-library`) if set, else the
/// `ORT_DYLIB_PATH` environment variable if set, else [`DEFAULT_ORT_LIBRARY`]. Relative paths
/// are taken from the current directory (ort itself would take them from the executable's
/// folder).
pub fn resolve_library(configured: Option<&Path>) -> PathBuf {
    choose_library(configured, std::env::var_os("ORT_DYLIB_PATH"))
}

fn choose_library(configured: Option<&Path>, from_env: Option<std::ffi::OsString>) -> PathBuf {
    let from_env = from_env.filter(|p| !p.is_empty());
    let chosen = match (configured, from_env) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => PathBuf::from(DEFAULT_ORT_LIBRARY),
    };
    std::path::absolute(&chosen).unwrap_or(chosen)
}

pub(crate) fn environment(library: &Path) -> Result<Environment, String> {
    let mut env = ENVIRONMENT
        .lock()
        .map_err(|_| "ONNX Runtime state poisoned".to_string())?;
    if let Some((loaded, env)) = env.as_ref() {
        if loaded != library {
            return Err(format!(
                "ONNX Runtime is already loaded from {} in this process; cannot switch to {}",
                loaded.display(),
                library.display()
            ));
        }
        return Ok(env.clone());
    }
    if !library.is_file() {
        return Err(format!(
            "ONNX Runtime library {} not found: {FIX_HINT}",
            library.display()
        ));
    }
    let built = ort::init_from(library)
        .map_err(|e| {
            format!(
                "could not load ONNX Runtime from {}: {e}",
                library.display()
            )
        })?
        .with_name("gst-als")
        .build()
        .map_err(|e| format!("could not start ONNX Runtime: {e}"))?;
    *env = Some((library.to_path_buf(), built.clone()));
    Ok(built)
}

/// Checks that `session` has one input of shape `[1, 3, side, side]` and returns the
/// indexes of the outputs named `outputs`, so that a wrong model fails at start, not on
/// every frame.
fn check_io<const N: usize>(
    session: &Session,
    path: &Path,
    side: usize,
    outputs: [&str; N],
) -> Result<[usize; N], String> {
    let mut found = [0; N];
    for (slot, name) in found.iter_mut().zip(outputs) {
        *slot = session
            .outputs()
            .iter()
            .position(|o| o.name() == name)
            .ok_or_else(|| {
                format!(
                    "{} has no output {name}: not the expected model",
                    path.display()
                )
            })?;
    }
    if session.inputs().len() != 1 {
        return Err(format!(
            "{} takes {} inputs, 1 expected",
            path.display(),
            session.inputs().len()
        ));
    }
    let expected = [1, 3, side as i64, side as i64];
    let shape = session.inputs()[0]
        .dtype()
        .tensor_shape()
        .map(|s| s.to_vec());
    // A dimension of -1 (dynamic) accepts the size we feed.
    let fits = shape.as_ref().is_some_and(|shape| {
        shape.len() == 4 && shape.iter().zip(expected).all(|(&d, e)| d == e || d < 0)
    });
    if !fits {
        return Err(format!(
            "{} takes input of shape {shape:?}, {expected:?} expected: not the expected model",
            path.display()
        ));
    }
    Ok(found)
}

pub struct OrtFaceModels {
    detector: Session,
    detector_outputs: [usize; 2],
    landmarker: Session,
    landmark_outputs: [usize; 2],
}

pub(crate) fn open_session(
    env: &Environment,
    path: &Path,
    threads: usize,
) -> Result<Session, String> {
    if !path.is_file() {
        return Err(format!("model {} not found: {FIX_HINT}", path.display()));
    }
    let fail = |e: String| format!("could not load model {}: {e}", path.display());
    Session::builder(env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| fail(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| fail(e.to_string()))
}

impl OrtFaceModels {
    /// Loads both models from `model_dir`, running each on `threads` threads.
    pub fn load(library: &Path, model_dir: &Path, threads: usize) -> Result<Self, String> {
        let env = environment(library)?;
        let detector_path = model_dir.join(DETECTOR_FILE);
        let landmark_path = model_dir.join(LANDMARK_FILE);
        let detector = open_session(&env, &detector_path, threads)?;
        let landmarker = open_session(&env, &landmark_path, threads)?;
        Ok(Self {
            detector_outputs: check_io(
                &detector,
                &detector_path,
                DETECTOR_SIDE,
                ["regressors", "classificators"],
            )?,
            landmark_outputs: check_io(
                &landmarker,
                &landmark_path,
                LANDMARK_SIDE,
                ["conv2d_21", "conv2d_31"],
            )?,
            detector,
            landmarker,
        })
    }
}

fn run(
    session: &mut Session,
    side: usize,
    input: &[f32],
    outputs: [usize; 2],
) -> Result<[Vec<f32>; 2], String> {
    let tensor = TensorRef::from_array_view(([1usize, 3, side, side], input))
        .map_err(|e| format!("bad model input: {e}"))?;
    let results = session
        .run(ort::inputs![tensor])
        .map_err(|e| format!("inference failed: {e}"))?;
    let extract = |i: usize| -> Result<Vec<f32>, String> {
        results[i]
            .try_extract_tensor::<f32>()
            .map(|(_, data)| data.to_vec())
            .map_err(|e| format!("unexpected model output: {e}"))
    };
    Ok([extract(outputs[0])?, extract(outputs[1])?])
}

impl FaceModels for OrtFaceModels {
    fn detect(&mut self, input: &[f32]) -> Result<(Vec<f32>, Vec<f32>), String> {
        let [regressors, logits] = run(
            &mut self.detector,
            DETECTOR_SIDE,
            input,
            self.detector_outputs,
        )?;
        Ok((regressors, logits))
    }

    fn landmarks(&mut self, input: &[f32]) -> Result<(Vec<f32>, f32), String> {
        let [landmarks, presence] = run(
            &mut self.landmarker,
            LANDMARK_SIDE,
            input,
            self.landmark_outputs,
        )?;
        if landmarks.len() != LANDMARKS * 3 || presence.is_empty() {
            return Err(format!(
                "landmark model gave {} landmark values and {} presence values",
                landmarks.len(),
                presence.len()
            ));
        }
        Ok((landmarks, presence[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_property_wins_over_the_environment() {
        let env = || Some("/from/env/libonnxruntime.so".into());
        let property = Path::new("/from/property/lib.so");
        assert_eq!(choose_library(Some(property), env()), property);
        assert_eq!(
            choose_library(None, env()),
            PathBuf::from("/from/env/libonnxruntime.so")
        );
        let default = choose_library(None, Some("".into()));
        assert!(default.ends_with(Path::new(DEFAULT_ORT_LIBRARY).file_name().unwrap()));
    }
}
