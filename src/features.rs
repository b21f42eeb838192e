// SPDX-License-Identifier: MPL-2.0

//! The classifier's inputs: one frame's face and flow metas turned into the two branch
//! vectors of the paper's network, per face. The element that classifies and the trainer
//! that makes its models both call [`extract`], so the features they see cannot drift apart.
//! No GStreamer types: the metas come in as the plain structs of [`crate::meta`].

use crate::flow::{DisParams, FarnebackParams, FlowMethod, face_square};
use crate::mesh::Roi;
use crate::meta::{Face, FaceMeta, FlowMeta, LANDMARKS_PER_FACE, REGION_FACE, REGION_FRAME};

/// How the landmark branch sees the 468 points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LandmarkMode {
    /// In the face's own axes: turned back by its roll (MediaPipe's ROI angle, the line
    /// through the outer eye corners), centred on the landmarks' box in those axes and divided
    /// by the side of the ROI square around it (1.5 times the box's longer side), so that
    /// position, size and head roll do not dominate.
    Roi,
    /// Fractions of the frame, as MediaPipe returns them (the paper).
    Frame,
}

/// Where the flow branch's magnitudes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMode {
    /// That face's grid of `alsflow region=face`.
    Face,
    /// The whole frame's full-resolution magnitudes (`alsflow region=frame grid-width=0
    /// grid-height=0`), as the paper did.
    Frame,
}

/// What a model was trained on: checked against every frame it classifies.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSpec {
    pub landmark_mode: LandmarkMode,
    pub flow_mode: FlowMode,
    /// The flow grid: `FlowMode::Face`'s cells, or the frame size for `FlowMode::Frame`.
    pub grid_width: u32,
    pub grid_height: u32,
    pub landmarks: usize,
    /// The `alsflow` method and settings the training flow was computed with.
    pub flow_method: FlowMethod,
    /// `alsflow region-size` of the training flow (`FlowMode::Face`).
    pub region_size: u32,
    /// Frame rate of the training videos: magnitudes are pixels per frame.
    pub fps: f64,
}

impl FeatureSpec {
    /// Values in the landmark branch: x and y of every point.
    pub fn landmark_len(&self) -> usize {
        self.landmarks * 2
    }

    /// Values in the flow branch: one per grid cell.
    pub fn flow_len(&self) -> usize {
        self.grid_width as usize * self.grid_height as usize
    }

    /// The spec as `gst-als.feature.*` key-value pairs, for a model file's metadata.
    pub fn to_props(&self) -> Vec<(String, String)> {
        let mut props: Vec<(&str, String)> = vec![
            (
                "landmark-mode",
                mode_name(self.landmark_mode == LandmarkMode::Roi, "roi", "frame"),
            ),
            (
                "flow-mode",
                mode_name(self.flow_mode == FlowMode::Face, "face", "frame"),
            ),
            ("grid-width", self.grid_width.to_string()),
            ("grid-height", self.grid_height.to_string()),
            ("landmarks", self.landmarks.to_string()),
            ("region-size", self.region_size.to_string()),
            ("fps", self.fps.to_string()),
            ("flow-method", self.flow_method.name().to_string()),
        ];
        match &self.flow_method {
            FlowMethod::Farneback(p) => props.extend([
                ("pyr-scale", p.pyr_scale.to_string()),
                ("levels", p.levels.to_string()),
                ("winsize", p.winsize.to_string()),
                ("iterations", p.iterations.to_string()),
                ("poly-n", p.poly_n.to_string()),
                ("poly-sigma", p.poly_sigma.to_string()),
                ("gaussian-window", p.gaussian_window.to_string()),
            ]),
            FlowMethod::Dis(p) => props.extend([
                ("dis-finest-scale", p.finest_scale.to_string()),
                ("dis-patch-size", p.patch_size.to_string()),
                ("dis-patch-stride", p.patch_stride.to_string()),
                (
                    "dis-gradient-descent-iterations",
                    p.gradient_descent_iterations.to_string(),
                ),
                (
                    "dis-variational-refinement-iterations",
                    p.variational_refinement_iterations.to_string(),
                ),
            ]),
        }
        props
            .into_iter()
            .map(|(k, v)| (format!("{PROP_PREFIX}{k}"), v))
            .collect()
    }

    /// Reads the spec back from a model's metadata; an error names the missing or bad key.
    pub fn from_props(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let landmark_mode = match parse::<String>(&get, "landmark-mode")?.as_str() {
            "roi" => LandmarkMode::Roi,
            "frame" => LandmarkMode::Frame,
            other => return Err(format!("unknown landmark mode {other}")),
        };
        let flow_mode = match parse::<String>(&get, "flow-mode")?.as_str() {
            "face" => FlowMode::Face,
            "frame" => FlowMode::Frame,
            other => return Err(format!("unknown flow mode {other}")),
        };
        Ok(Self {
            landmark_mode,
            flow_mode,
            grid_width: parse(&get, "grid-width")?,
            grid_height: parse(&get, "grid-height")?,
            landmarks: parse(&get, "landmarks")?,
            region_size: parse(&get, "region-size")?,
            fps: parse(&get, "fps")?,
            flow_method: method_from_props(&get)?,
        })
    }
}

/// The value of `key` in a model's metadata.
fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
) -> Result<T, String> {
    let full = format!("{PROP_PREFIX}{key}");
    let text = get(&full).ok_or_else(|| format!("model metadata lacks {full}"))?;
    text.parse()
        .map_err(|_| format!("model metadata {full}={text} is not valid"))
}

/// The flow method of a model's metadata; models made before DIS name none, and were
/// trained on Farneback.
fn method_from_props(get: &impl Fn(&str) -> Option<String>) -> Result<FlowMethod, String> {
    let method = get(&format!("{PROP_PREFIX}flow-method")).unwrap_or_else(|| "farneback".into());
    match method.as_str() {
        "farneback" => Ok(FlowMethod::Farneback(FarnebackParams {
            pyr_scale: parse(get, "pyr-scale")?,
            levels: parse(get, "levels")?,
            winsize: parse(get, "winsize")?,
            iterations: parse(get, "iterations")?,
            poly_n: parse(get, "poly-n")?,
            poly_sigma: parse(get, "poly-sigma")?,
            gaussian_window: parse(get, "gaussian-window")?,
        })),
        "dis" => Ok(FlowMethod::Dis(DisParams {
            finest_scale: parse(get, "dis-finest-scale")?,
            patch_size: parse(get, "dis-patch-size")?,
            patch_stride: parse(get, "dis-patch-stride")?,
            gradient_descent_iterations: parse(get, "dis-gradient-descent-iterations")?,
            variational_refinement_iterations: parse(get, "dis-variational-refinement-iterations")?,
        })),
        other => Err(format!(
            "unknown flow method {other} in the model's metadata"
        )),
    }
}

/// Prefix of the spec's keys in a model's metadata.
pub const PROP_PREFIX: &str = "gst-als.feature.";

fn mode_name(first: bool, a: &str, b: &str) -> String {
    if first { a } else { b }.to_string()
}

/// The frame's flow or faces do not match what the model was trained on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecMismatch(pub String);

impl std::fmt::Display for SpecMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecMismatch {}

/// Why one face of a frame gives no features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotClassified {
    /// The flow meta has no valid flow for this face (start, new face, gap...).
    NoFlow,
    /// The landmarks give no usable square, or are not finite.
    BadLandmarks,
    /// A flow value is not finite.
    BadFlow,
}

impl NotClassified {
    pub fn reason(self) -> &'static str {
        match self {
            NotClassified::NoFlow => "no-flow",
            NotClassified::BadLandmarks => "bad-landmarks",
            NotClassified::BadFlow => "bad-flow",
        }
    }
}

/// The two branch inputs of one face.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceFeatures {
    pub face_id: u32,
    /// [`FeatureSpec::landmark_len`] values: x0, y0, x1, y1, ...
    pub landmarks: Vec<f32>,
    /// [`FeatureSpec::flow_len`] values, row-major, scaled to the model's frame rate.
    pub flow: Vec<f32>,
}

/// One frame, as the metas describe it.
pub struct Frame<'a> {
    pub faces: &'a FaceMeta,
    pub flow: &'a FlowMeta,
    pub width: u32,
    pub height: u32,
    /// The stream's frame rate, when known.
    pub fps: Option<f64>,
}

impl FeatureSpec {
    /// The `alsflow` element (a launch-line fragment) whose metas give these features, for
    /// the tools that build pipelines for a model.
    pub fn alsflow_launch(&self) -> String {
        let common = self.flow_method.launch_properties();
        match self.flow_mode {
            FlowMode::Face => format!(
                "alsflow region=face region-size={} grid-width={} grid-height={} {common}",
                self.region_size, self.grid_width, self.grid_height
            ),
            FlowMode::Frame => format!("alsflow region=frame grid-width=0 grid-height=0 {common}"),
        }
    }
}

/// The features of every face of `frame`, in the face meta's order: an error when the frame
/// cannot match `spec` at all (wrong flow region or grid: one message naming both sides),
/// else per face the features or why there are none.
#[allow(clippy::type_complexity)]
pub fn extract(
    spec: &FeatureSpec,
    frame: &Frame<'_>,
) -> Result<Vec<(u32, Result<FaceFeatures, NotClassified>)>, SpecMismatch> {
    check_flow(spec, frame)?;
    // Flow is pixels per frame: at a stream frame rate other than the model's, the same
    // motion moves further (lower rate) or less (higher) between frames.
    let rate_scale = match frame.fps {
        Some(fps) if fps > 0.0 && spec.fps > 0.0 => (fps / spec.fps) as f32,
        _ => 1.0,
    };
    Ok(frame
        .faces
        .faces
        .iter()
        .map(|face| (face.id, face_features(spec, frame, face, rate_scale)))
        .collect())
}

fn check_flow(spec: &FeatureSpec, frame: &Frame<'_>) -> Result<(), SpecMismatch> {
    let flow = frame.flow;
    let (want_region, want_grid) = match spec.flow_mode {
        FlowMode::Face => (REGION_FACE, (spec.grid_width, spec.grid_height)),
        FlowMode::Frame => (REGION_FRAME, (frame.width, frame.height)),
    };
    if flow.region_kind != want_region {
        return Err(SpecMismatch(format!(
            "the model wants alsflow region={want_region}, the stream has region={}",
            flow.region_kind
        )));
    }
    if spec.flow_mode == FlowMode::Frame
        && (frame.width, frame.height) != (spec.grid_width, spec.grid_height)
    {
        return Err(SpecMismatch(format!(
            "the model was trained on {}x{} frames, the stream is {}x{}",
            spec.grid_width, spec.grid_height, frame.width, frame.height
        )));
    }
    // A finer face grid whose cells tile the square exactly pools to the model's grid
    // exactly (a mean of equal-sized cell means), so alsflow's default grid fits a model
    // trained on a coarser one.
    let pools_to = |have: u32, want: u32| {
        have == want
            || (spec.flow_mode == FlowMode::Face
                && want > 0
                && have.is_multiple_of(want)
                && flow.region_size.is_multiple_of(have))
    };
    if !pools_to(flow.grid_width, want_grid.0) || !pools_to(flow.grid_height, want_grid.1) {
        return Err(SpecMismatch(format!(
            "the model wants a {}x{} flow grid (or a multiple of it whose cells divide \
             region-size), the stream's alsflow gives {}x{}",
            want_grid.0, want_grid.1, flow.grid_width, flow.grid_height
        )));
    }
    if spec.flow_mode == FlowMode::Face && flow.region_size != spec.region_size {
        return Err(SpecMismatch(format!(
            "the model wants alsflow region-size={}, the stream has {}",
            spec.region_size, flow.region_size
        )));
    }
    if let Some(used) = &flow.method
        && *used != spec.flow_method
    {
        let name = |m: &FlowMethod| match m {
            FlowMethod::Farneback(_) => "Farneback flow",
            FlowMethod::Dis(_) => "DIS flow",
        };
        let what = if used.name() == spec.flow_method.name() {
            format!("{} with other settings", name(used))
        } else {
            format!("{}, not {}", name(used), name(&spec.flow_method))
        };
        return Err(SpecMismatch(format!(
            "the stream's alsflow gives {what}: the model was trained on alsflow {}, the \
             stream's alsflow uses {} (magnitudes differ between methods; train a model on \
             the method you run)",
            spec.flow_method.launch_properties(),
            used.launch_properties()
        )));
    }
    if spec.landmarks != LANDMARKS_PER_FACE {
        return Err(SpecMismatch(format!(
            "the model wants {} landmarks per face, alsmesh gives {LANDMARKS_PER_FACE}",
            spec.landmarks
        )));
    }
    Ok(())
}

fn face_features(
    spec: &FeatureSpec,
    frame: &Frame<'_>,
    face: &Face,
    rate_scale: f32,
) -> Result<FaceFeatures, NotClassified> {
    let region = match spec.flow_mode {
        FlowMode::Face => frame.flow.face(face.id),
        FlowMode::Frame => frame.flow.regions.first(),
    };
    let grid = region
        .filter(|r| r.is_valid())
        .map(|r| &r.grid)
        .ok_or(NotClassified::NoFlow)?;
    let (fw, fh) = match spec.flow_mode {
        FlowMode::Face => (frame.flow.grid_width, frame.flow.grid_height),
        FlowMode::Frame => (spec.grid_width, spec.grid_height),
    };
    if grid.len() != fw as usize * fh as usize {
        return Err(NotClassified::NoFlow);
    }
    if !grid.iter().all(|v| v.is_finite()) {
        return Err(NotClassified::BadFlow);
    }
    let landmarks = landmark_features(spec.landmark_mode, face, frame.width, frame.height)?;
    let pooled = block_mean(grid, (fw, fh), (spec.grid_width, spec.grid_height));
    Ok(FaceFeatures {
        face_id: face.id,
        landmarks,
        flow: pooled.iter().map(|v| v * rate_scale).collect(),
    })
}

/// Means of `have`'s cells over blocks, down to the `want` grid; `have` must be a whole
/// multiple of `want` in both directions (checked by `check_flow`).
fn block_mean(grid: &[f32], have: (u32, u32), want: (u32, u32)) -> Vec<f32> {
    if have == want {
        return grid.to_vec();
    }
    let (hw, kx, ky) = (
        have.0 as usize,
        (have.0 / want.0) as usize,
        (have.1 / want.1) as usize,
    );
    let n = (kx * ky) as f32;
    (0..want.1 as usize)
        .flat_map(|wy| (0..want.0 as usize).map(move |wx| (wx, wy)))
        .map(|(wx, wy)| {
            let sum: f32 = (0..ky)
                .flat_map(|dy| (0..kx).map(move |dx| (dx, dy)))
                .map(|(dx, dy)| grid[(wy * ky + dy) * hw + wx * kx + dx])
                .sum();
            sum / n
        })
        .collect()
}

fn landmark_features(
    mode: LandmarkMode,
    face: &Face,
    width: u32,
    height: u32,
) -> Result<Vec<f32>, NotClassified> {
    if face.landmarks.len() != LANDMARKS_PER_FACE
        || !face
            .landmarks
            .iter()
            .all(|p| p[0].is_finite() && p[1].is_finite())
    {
        return Err(NotClassified::BadLandmarks);
    }
    let out = match mode {
        LandmarkMode::Frame => face.landmarks.iter().flat_map(|p| [p[0], p[1]]).collect(),
        LandmarkMode::Roi => {
            let (w, h) = (width as f64, height as f64);
            let r = face.roi;
            let fallback = Roi {
                cx: r.cx as f64 * w,
                cy: r.cy as f64 * h,
                size: r.width as f64 * w,
                rotation: r.rotation as f64,
            };
            let square = face_square(&face.landmarks, fallback, width as usize, height as usize)
                .ok_or(NotClassified::BadLandmarks)?;
            // Turned back by the roll, the box of the points is the face's own, whatever the
            // roll in the picture (MediaPipe's square uses the picture's axes instead).
            let (sin, cos) = square.rotation.sin_cos();
            let upright: Vec<(f64, f64)> = face
                .landmarks
                .iter()
                .map(|p| {
                    let (x, y) = (p[0] as f64 * w, p[1] as f64 * h);
                    (cos * x + sin * y, -sin * x + cos * y)
                })
                .collect();
            let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for &(x, y) in &upright {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
            let side = 1.5 * (x1 - x0).max(y1 - y0);
            if !(side.is_finite() && side > 0.0) {
                return Err(NotClassified::BadLandmarks);
            }
            let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            upright
                .iter()
                .flat_map(|&(x, y)| [((x - cx) / side) as f32, ((y - cy) / side) as f32])
                .collect()
        }
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{NormRotatedRect, RegionFlow};

    fn spec() -> FeatureSpec {
        FeatureSpec {
            landmark_mode: LandmarkMode::Roi,
            flow_mode: FlowMode::Face,
            grid_width: 2,
            grid_height: 2,
            landmarks: LANDMARKS_PER_FACE,
            flow_method: FlowMethod::default(),
            region_size: 128,
            fps: 30.0,
        }
    }

    /// A face whose landmarks lie on a `side`-pixel box centred at (cx, cy) of a 400x200
    /// frame, turned by `roll` radians (clockwise on screen), eye corners level in its frame.
    fn face(id: u32, cx: f64, cy: f64, side: f64, roll: f64) -> Face {
        let (w, h) = (400.0, 200.0);
        let (sin, cos) = roll.sin_cos();
        let point = |u: f64, v: f64| {
            let (x, y) = (u * side, v * side);
            [
                ((cx + cos * x - sin * y) / w) as f32,
                ((cy + sin * x + cos * y) / h) as f32,
                0.0,
            ]
        };
        let mut landmarks = vec![point(0.0, 0.0); LANDMARKS_PER_FACE];
        landmarks[0] = point(-0.5, -0.5);
        landmarks[1] = point(0.5, 0.5);
        landmarks[2] = point(0.25, 0.1);
        landmarks[33] = point(-0.3, -0.2);
        landmarks[263] = point(0.3, -0.2);
        Face {
            id,
            roi: NormRotatedRect::default(),
            landmarks,
            ..Default::default()
        }
    }

    fn flow_for(ids: &[u32], grid: Vec<f32>) -> FlowMeta {
        FlowMeta {
            region_kind: REGION_FACE.into(),
            region_size: 128,
            grid_width: 2,
            grid_height: 2,
            regions: ids
                .iter()
                .map(|&id| RegionFlow {
                    face_id: id,
                    stats: Some(Default::default()),
                    grid: grid.clone(),
                    ..Default::default()
                })
                .collect(),
            reset_reason: None,
            method: None,
        }
    }

    fn run(
        faces: Vec<Face>,
        flow: &FlowMeta,
        fps: Option<f64>,
    ) -> Vec<(u32, Result<FaceFeatures, NotClassified>)> {
        let faces = FaceMeta { faces, fresh: true };
        extract(
            &spec(),
            &Frame {
                faces: &faces,
                flow,
                width: 400,
                height: 200,
                fps,
            },
        )
        .unwrap()
    }

    #[test]
    fn roi_landmarks_ignore_position_size_and_roll() {
        let flow = flow_for(&[1, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let out = run(
            vec![
                face(1, 100.0, 80.0, 60.0, 0.0),
                face(2, 300.0, 120.0, 150.0, 0.4),
            ],
            &flow,
            None,
        );
        let a = out[0].1.as_ref().unwrap();
        let b = out[1].1.as_ref().unwrap();
        assert_eq!(a.landmarks.len(), 936);
        for (x, y) in a.landmarks.iter().zip(&b.landmarks) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
        // The box's corner sits at -0.5 of the box, which is 1/1.5 of the square's side.
        assert!(
            (a.landmarks[0] + 0.5 / 1.5).abs() < 1e-4,
            "{}",
            a.landmarks[0]
        );
        assert_eq!(a.flow, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn frame_landmarks_are_the_metas_fractions() {
        let flow = flow_for(&[7], vec![0.0; 4]);
        let faces = FaceMeta {
            faces: vec![face(7, 100.0, 80.0, 60.0, 0.0)],
            fresh: true,
        };
        let spec = FeatureSpec {
            landmark_mode: LandmarkMode::Frame,
            ..spec()
        };
        let frame = Frame {
            faces: &faces,
            flow: &flow,
            width: 400,
            height: 200,
            fps: None,
        };
        let out = extract(&spec, &frame).unwrap();
        let f = out[0].1.as_ref().unwrap();
        assert_eq!(f.landmarks[0], faces.faces[0].landmarks[0][0]);
        assert_eq!(f.landmarks[1], faces.faces[0].landmarks[0][1]);
    }

    #[test]
    fn flow_is_scaled_to_the_model_frame_rate() {
        let flow = flow_for(&[1], vec![1.0, 2.0, 3.0, 6.0]);
        // The same motion at 25 fps moves 30/25 as far per frame as at 30 fps.
        let at_25 = run(vec![face(1, 100.0, 80.0, 60.0, 0.0)], &flow, Some(25.0));
        let f = at_25[0].1.as_ref().unwrap();
        let expected: Vec<f32> = [1.0f32, 2.0, 3.0, 6.0]
            .iter()
            .map(|v| v * 25.0 / 30.0)
            .collect();
        assert_eq!(f.flow, expected);
    }

    #[test]
    fn faces_without_flow_or_with_broken_values_say_why() {
        let mut flow = flow_for(&[1, 2, 3], vec![1.0, 0.5, 0.0, 0.0]);
        flow.regions[0].stats = None;
        flow.regions[0].grid.clear();
        flow.regions[1].grid[1] = f32::NAN;
        let mut nan = face(3, 100.0, 80.0, 60.0, 0.0);
        nan.landmarks[5][0] = f32::NAN;
        let out = run(
            vec![
                face(1, 100.0, 80.0, 60.0, 0.0),
                face(2, 300.0, 80.0, 60.0, 0.0),
                nan,
            ],
            &flow,
            None,
        );
        assert_eq!(out[0].1, Err(NotClassified::NoFlow));
        assert_eq!(out[1].1, Err(NotClassified::BadFlow));
        assert_eq!(out[2].1, Err(NotClassified::BadLandmarks));
        let missing = run(vec![face(9, 100.0, 80.0, 60.0, 0.0)], &flow, None);
        assert_eq!(
            missing[0].1,
            Err(NotClassified::NoFlow),
            "face 9 has no flow region"
        );
    }

    #[test]
    fn the_spec_round_trips_through_model_metadata() {
        let spec = FeatureSpec {
            flow_mode: FlowMode::Frame,
            fps: 29.97,
            ..spec()
        };
        let props: std::collections::HashMap<String, String> =
            spec.to_props().into_iter().collect();
        let back = FeatureSpec::from_props(|k| props.get(k).cloned()).unwrap();
        assert_eq!(back, spec);
        let err = FeatureSpec::from_props(|k| {
            (!k.ends_with("winsize"))
                .then(|| props.get(k).cloned())
                .flatten()
        })
        .unwrap_err();
        assert!(err.contains("gst-als.feature.winsize"), "{err}");
    }

    #[test]
    fn a_finer_face_grid_pools_to_the_models_grid() {
        let faces = FaceMeta {
            faces: vec![face(1, 100.0, 80.0, 60.0, 0.0)],
            fresh: true,
        };
        let mut flow = flow_for(&[1], (0..16).map(|v| v as f32).collect());
        (flow.grid_width, flow.grid_height) = (4, 4);
        let frame = Frame {
            faces: &faces,
            flow: &flow,
            width: 400,
            height: 200,
            fps: None,
        };
        let out = extract(&spec(), &frame).unwrap();
        let features = out[0].1.as_ref().unwrap();
        // Blocks {0,1,4,5}, {2,3,6,7}, {8,9,12,13}, {10,11,14,15}.
        assert_eq!(features.flow, vec![2.5, 4.5, 10.5, 12.5]);
    }

    #[test]
    fn a_mismatched_stream_is_one_error_naming_both_sides() {
        let faces = FaceMeta {
            faces: vec![face(1, 100.0, 80.0, 60.0, 0.0)],
            fresh: true,
        };
        let check = |flow: &FlowMeta| {
            let frame = Frame {
                faces: &faces,
                flow,
                width: 400,
                height: 200,
                fps: None,
            };
            extract(&spec(), &frame).unwrap_err().to_string()
        };
        let mut flow = flow_for(&[1], vec![0.0; 4]);
        flow.region_kind = REGION_FRAME.into();
        assert!(check(&flow).contains("region=face") && check(&flow).contains("region=frame"));
        let mut flow = flow_for(&[1], vec![0.0; 6]);
        flow.grid_width = 3;
        let text = check(&flow);
        assert!(text.contains("2x2") && text.contains("3x2"), "{text}");
        // A multiple of the model's grid is refused when its cells do not tile the square.
        let mut flow = flow_for(&[1], vec![0.0; 16]);
        (flow.grid_width, flow.grid_height, flow.region_size) = (4, 4, 126);
        let text = check(&flow);
        assert!(text.contains("4x4"), "{text}");
        let mut flow = flow_for(&[1], vec![0.0; 4]);
        flow.region_size = 64;
        let text = check(&flow);
        assert!(text.contains("128") && text.contains("64"), "{text}");
        let mut flow = flow_for(&[1], vec![0.0; 4]);
        flow.method = Some(FlowMethod::Farneback(FarnebackParams {
            winsize: 21,
            ..FarnebackParams::default()
        }));
        let text = check(&flow);
        assert!(
            text.contains("winsize=15") && text.contains("winsize=21"),
            "{text}"
        );
        // A model trained on one method refuses the other, naming both.
        flow.method = Some(FlowMethod::Dis(DisParams::default()));
        let text = check(&flow);
        assert!(
            text.contains("DIS flow, not Farneback flow")
                && text.contains("method=farneback")
                && text.contains("method=dis"),
            "{text}"
        );
    }

    #[test]
    fn the_flow_method_round_trips_through_a_model_s_metadata() {
        for method in [
            FlowMethod::default(),
            FlowMethod::Dis(DisParams::preset(crate::flow::DisPreset::Medium)),
        ] {
            let spec = FeatureSpec {
                flow_method: method,
                ..spec()
            };
            let props: std::collections::HashMap<String, String> =
                spec.to_props().into_iter().collect();
            let back = FeatureSpec::from_props(|k| props.get(k).cloned()).unwrap();
            assert_eq!(back, spec);
            assert!(spec.alsflow_launch().contains(&method.launch_properties()));
        }
        // Models made before DIS name no method: they were trained on Farneback.
        let props: std::collections::HashMap<String, String> = spec()
            .to_props()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("flow-method"))
            .collect();
        let old = FeatureSpec::from_props(|k| props.get(k).cloned()).unwrap();
        assert_eq!(old.flow_method, FlowMethod::default());
        let mut props = props;
        props.insert(format!("{PROP_PREFIX}flow-method"), "lucas-kanade".into());
        let err = FeatureSpec::from_props(|k| props.get(k).cloned()).unwrap_err();
        assert!(err.contains("lucas-kanade"), "{err}");
    }
}
