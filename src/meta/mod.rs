// SPDX-License-Identifier: MPL-2.0

//! Typed access to the metadata the als elements attach to buffers.
//!
//! Every meta is a `GstCustomMeta` whose `GstStructure` any language can read without
//! linking to this crate (`gst_buffer_get_custom_meta(buf, "GstAlsFlowMeta")` in C,
//! `buf.get_custom_meta("GstAlsFlowMeta").get_structure()` in Python). Large arrays are
//! `GBytes` of little-endian `f32`. Coordinates are fractions of the frame (0..1), which
//! stay right through scaling; the metas are dropped by elements that flip, rotate or crop
//! the picture, where they would become wrong. The field-by-field schema is in
//! `docs/metadata.md`.

use crate::flow::FlowMethod;
use gst::glib;

mod class;
mod kinematics;
pub use class::{
    CLASS_META, CLASSIFICATION_MESSAGE, ClassMeta, ClassSummary, FaceClass, FaceTotals, SUMMARY,
};
pub use kinematics::{
    FaceKinematics, KINEMATICS_META, KINEMATICS_SUMMARY, KINEMATICS_WINDOW, KinematicsMeta,
    summary_from_structure as kinematics_summary_from_structure,
    summary_structure as kinematics_summary_structure, window_from_structure, window_structure,
};

/// Name of the optical-flow meta written by `alsflow`.
pub const FLOW_META: &str = "GstAlsFlowMeta";
/// Name of the face meta written by `alsmesh`.
pub const FACE_META: &str = "GstAlsFaceMeta";

/// Number of MediaPipe Face Mesh landmarks per face.
pub const LANDMARKS_PER_FACE: usize = 468;

/// "video" keeps the metas through colour conversion and scaling; "orientation" and "size"
/// make elements that flip, rotate or crop drop them instead of copying stale coordinates.
const TAGS: &[&str] = &["video", "orientation", "size"];

/// Registers all als metas. Idempotent; the plugin calls it when it loads, and applications
/// that read the metas through this crate without loading the plugin call it after
/// `gst::init()`.
pub fn register() {
    for name in [FLOW_META, FACE_META, CLASS_META, KINEMATICS_META] {
        if gst::meta::CustomMeta::is_registered(name) {
            continue;
        }
        gst::meta::CustomMeta::register_with_transform(name, TAGS, copy_on_copy_or_scale);
    }
}

/// Coordinates are fractions of the frame, so a plain copy or a scale leaves them right;
/// any other transform (a crop, a flip) would make them wrong, so the meta is dropped.
fn copy_on_copy_or_scale(
    dest: &mut gst::BufferRef,
    meta: &gst::meta::CustomMeta,
    _src: &gst::BufferRef,
    transform: glib::Quark,
) -> bool {
    let is_copy = transform == glib::Quark::from_str("gst-copy");
    let is_scale = transform == glib::Quark::from_str("gst-video-scale");
    if !(is_copy || is_scale) {
        return false;
    }
    let structure = meta.structure();
    let Ok(mut copy) = gst::meta::CustomMeta::add(dest, structure.name()) else {
        return false;
    };
    let fields = copy.mut_structure();
    for (field, value) in structure.iter() {
        fields.set_value(field, value.clone());
    }
    true
}

/// A meta field was missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError(String);

impl std::fmt::Display for MetaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MetaError {}

fn field<'a, T: glib::value::FromValue<'a> + 'static>(
    s: &'a gst::StructureRef,
    name: &str,
) -> Result<T, MetaError> {
    s.get::<T>(name)
        .map_err(|e| MetaError(format!("{}: field {name}: {e}", s.name())))
}

/// Packs `values` as little-endian `f32` bytes.
pub fn f32_bytes(values: &[f32]) -> glib::Bytes {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    glib::Bytes::from_owned(bytes)
}

/// `a * b * ...` for sizes read from a meta, or an error naming `what` when it overflows.
fn checked_product(
    s: &gst::StructureRef,
    what: &str,
    factors: &[usize],
) -> Result<usize, MetaError> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| MetaError(format!("{}: {what} {factors:?} overflows", s.name())))
}

/// Reads a little-endian `f32` byte field holding exactly `expected` values.
fn f32_field(s: &gst::StructureRef, name: &str, expected: usize) -> Result<Vec<f32>, MetaError> {
    let bytes = field::<glib::Bytes>(s, name)?;
    if expected.checked_mul(4) != Some(bytes.len()) {
        return Err(MetaError(format!(
            "{}: field {name} holds {} bytes, {expected} f32 expected",
            s.name(),
            bytes.len(),
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// An axis-aligned rectangle in fractions of the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NormRect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// Statistics of a valid flow field: magnitudes in pixels per frame of the analysed image
/// (the frame, or the face's square), direction in degrees (0 = rightwards, 90 = downwards,
/// in that image's axes).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlowStats {
    pub mean: f64,
    pub max: f64,
    pub p99: f64,
    pub mean_direction: f64,
}

/// The flow of one analysed region: the whole frame, or one face's square.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionFlow {
    /// The face's id from `GstAlsFaceMeta`; 0 for the whole frame.
    pub face_id: u32,
    /// The analysed region of this frame: a face's rotated square, or the whole frame
    /// (`NormRotatedRect::FULL`).
    pub roi: NormRotatedRect,
    /// `None` when this region has no flow in this frame.
    pub stats: Option<FlowStats>,
    /// Why there is no flow: "start", "flush", "segment", "gap", "discont", "caps",
    /// "new-face" (a face that was not in the previous frame) or "invalid-roi" (the face's
    /// landmarks and ROI give no usable square).
    pub reset_reason: Option<String>,
    /// Row-major mean magnitude per grid cell; empty when there is no flow.
    pub grid: Vec<f32>,
}

impl RegionFlow {
    pub fn is_valid(&self) -> bool {
        self.stats.is_some()
    }
}

/// Region kinds of [`FlowMeta::region_kind`].
pub const REGION_FRAME: &str = "frame";
pub const REGION_FACE: &str = "face";

/// Largest number of regions a flow meta may carry; more is a broken meta.
const MAX_REGIONS: usize = 1024;

/// Optical flow between the previous and this frame, as `alsflow` computed it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowMeta {
    /// [`REGION_FRAME`] or [`REGION_FACE`]: what the regions cover.
    pub region_kind: String,
    /// Side in pixels of the face-aligned squares; 0 for the whole frame.
    pub region_size: u32,
    pub grid_width: u32,
    pub grid_height: u32,
    /// One per analysed region: the frame, or each face in the face meta's order.
    pub regions: Vec<RegionFlow>,
    /// Why no region was analysed at all ("no-face", "gap" for a GAP buffer whose face meta is
    /// empty, "invalid-face-meta"); `None` when there are regions.
    pub reset_reason: Option<String>,
    /// The method and settings the flow was computed with (`None` from writers that do not
    /// say), so a classifier can check them against its training.
    pub method: Option<crate::flow::FlowMethod>,
}

impl FlowMeta {
    /// True when at least one region has flow.
    pub fn is_valid(&self) -> bool {
        self.regions.iter().any(|r| r.stats.is_some())
    }

    /// The region of face `id`, if it was analysed.
    pub fn face(&self, id: u32) -> Option<&RegionFlow> {
        self.regions.iter().find(|r| r.face_id == id)
    }

    /// Adds this as a `GstAlsFlowMeta` to `buffer`, replacing one an earlier `alsflow`
    /// attached, so that readers never see two.
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        remove_custom_metas(buffer, FLOW_META);
        let n = self.regions.len();
        let cells = self.grid_width as usize * self.grid_height as usize;
        let mut rois = Vec::with_capacity(n * 5);
        let mut stats = Vec::with_capacity(n * 4);
        let mut grids = Vec::with_capacity(n * cells);
        for r in &self.regions {
            rois.extend(r.roi.to_array());
            let st = r.stats.unwrap_or_default();
            stats.extend([st.mean, st.max, st.p99, st.mean_direction].map(|v| v as f32));
            if r.stats.is_some() && r.grid.len() == cells {
                grids.extend_from_slice(&r.grid);
            } else {
                grids.resize(grids.len() + cells, 0.0);
            }
        }
        let ids = gst::Array::new(self.regions.iter().map(|r| r.face_id));
        let reasons = gst::Array::new(
            self.regions
                .iter()
                .map(|r| r.reset_reason.clone().unwrap_or_default()),
        );
        let mut meta = gst::meta::CustomMeta::add(buffer, FLOW_META)?;
        let s = meta.mut_structure();
        s.set("region", self.region_kind.as_str());
        s.set("region-size", self.region_size);
        s.set("grid-width", self.grid_width);
        s.set("grid-height", self.grid_height);
        s.set("valid", self.is_valid());
        if let Some(reason) = &self.reset_reason {
            s.set("reset-reason", reason.as_str());
        }
        s.set("count", n as u32);
        s.set("ids", ids);
        s.set("reasons", reasons);
        s.set("rois", f32_bytes(&rois));
        s.set("stats", f32_bytes(&stats));
        s.set("grids", f32_bytes(&grids));
        match &self.method {
            Some(FlowMethod::Farneback(p)) => s.set(
                "farneback",
                gst::Structure::builder("farneback")
                    .field("pyr-scale", p.pyr_scale)
                    .field("levels", p.levels)
                    .field("winsize", p.winsize)
                    .field("iterations", p.iterations)
                    .field("poly-n", p.poly_n)
                    .field("poly-sigma", p.poly_sigma)
                    .field("gaussian-window", p.gaussian_window)
                    .build(),
            ),
            Some(FlowMethod::Dis(p)) => s.set(
                "dis",
                gst::Structure::builder("dis")
                    .field("finest-scale", p.finest_scale)
                    .field("patch-size", p.patch_size)
                    .field("patch-stride", p.patch_stride)
                    .field("gradient-descent-iterations", p.gradient_descent_iterations)
                    .field(
                        "variational-refinement-iterations",
                        p.variational_refinement_iterations,
                    )
                    .build(),
            ),
            None => {}
        }
        Ok(())
    }

    /// Reads the `GstAlsFlowMeta` of `buffer`: `None` when it has none, an error when it
    /// is malformed.
    pub fn read(buffer: &gst::BufferRef) -> Option<Result<Self, MetaError>> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, FLOW_META).ok()?;
        Some(Self::from_structure(meta.structure()))
    }

    fn from_structure(s: &gst::StructureRef) -> Result<Self, MetaError> {
        let grid_width: u32 = field(s, "grid-width")?;
        let grid_height: u32 = field(s, "grid-height")?;
        let n = field::<u32>(s, "count")? as usize;
        if n > MAX_REGIONS {
            return Err(MetaError(format!("{FLOW_META}: {n} regions")));
        }
        let cells = checked_product(s, "grid", &[grid_width as usize, grid_height as usize])?;
        let ids = u32_array(s, "ids", n)?;
        let reasons = field::<gst::Array>(s, "reasons")?;
        if reasons.len() != n {
            return Err(MetaError(format!(
                "{FLOW_META}: {} reasons for {n} regions",
                reasons.len()
            )));
        }
        let rois = f32_field(s, "rois", n * 5)?;
        let stats = f32_field(s, "stats", n * 4)?;
        let grids = f32_field(s, "grids", checked_product(s, "grids", &[n, cells])?)?;
        let mut regions = Vec::with_capacity(n);
        for (i, id) in ids.into_iter().enumerate() {
            let reason = reasons[i]
                .get::<String>()
                .map_err(|e| MetaError(format!("{FLOW_META}: reasons: {e}")))?;
            let valid = reason.is_empty();
            let st = &stats[i * 4..i * 4 + 4];
            regions.push(RegionFlow {
                face_id: id,
                roi: NormRotatedRect::from_slice(&rois[i * 5..i * 5 + 5]),
                stats: valid.then(|| FlowStats {
                    mean: st[0] as f64,
                    max: st[1] as f64,
                    p99: st[2] as f64,
                    mean_direction: st[3] as f64,
                }),
                reset_reason: (!valid).then_some(reason),
                grid: if valid {
                    grids[i * cells..(i + 1) * cells].to_vec()
                } else {
                    Vec::new()
                },
            });
        }
        Ok(Self {
            region_kind: field(s, "region")?,
            region_size: field(s, "region-size")?,
            grid_width,
            grid_height,
            regions,
            reset_reason: s.get::<String>("reset-reason").ok(),
            method: method_from_structure(s)?,
        })
    }
}

/// The flow method a flow meta names: DIS's settings, else Farneback's, else none.
fn method_from_structure(s: &gst::StructureRef) -> Result<Option<FlowMethod>, MetaError> {
    if let Ok(d) = s.get::<gst::Structure>("dis") {
        return Ok(Some(FlowMethod::Dis(crate::flow::DisParams {
            finest_scale: field(&d, "finest-scale")?,
            patch_size: field(&d, "patch-size")?,
            patch_stride: field(&d, "patch-stride")?,
            gradient_descent_iterations: field(&d, "gradient-descent-iterations")?,
            variational_refinement_iterations: field(&d, "variational-refinement-iterations")?,
        })));
    }
    match s.get::<gst::Structure>("farneback") {
        Ok(f) => Ok(Some(FlowMethod::Farneback(crate::flow::FarnebackParams {
            pyr_scale: field(&f, "pyr-scale")?,
            levels: field(&f, "levels")?,
            winsize: field(&f, "winsize")?,
            iterations: field(&f, "iterations")?,
            poly_n: field(&f, "poly-n")?,
            poly_sigma: field(&f, "poly-sigma")?,
            gaussian_window: field(&f, "gaussian-window")?,
        }))),
        Err(_) => Ok(None),
    }
}

/// Removes every custom meta called `name` from `buffer`.
fn remove_custom_metas(buffer: &mut gst::BufferRef, name: &str) {
    while let Ok(meta) = gst::meta::CustomMeta::from_mut_buffer(buffer, name) {
        if meta.remove().is_err() {
            break;
        }
    }
}

/// Reads an array field of exactly `expected` uints.
fn u32_array(s: &gst::StructureRef, name: &str, expected: usize) -> Result<Vec<u32>, MetaError> {
    let array = field::<gst::Array>(s, name)?;
    if array.len() != expected {
        return Err(MetaError(format!(
            "{}: {} {name} for {expected} entries",
            s.name(),
            array.len()
        )));
    }
    array
        .iter()
        .map(|v| {
            v.get::<u32>()
                .map_err(|e| MetaError(format!("{}: {name}: {e}", s.name())))
        })
        .collect()
}

/// A rotated rectangle: centre and size in fractions of the frame (width of the frame
/// width, height of its height), rotation in radians, clockwise on screen.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NormRotatedRect {
    pub cx: f32,
    pub cy: f32,
    pub width: f32,
    pub height: f32,
    pub rotation: f32,
}

impl NormRotatedRect {
    /// The whole frame.
    pub const FULL: Self = Self {
        cx: 0.5,
        cy: 0.5,
        width: 1.0,
        height: 1.0,
        rotation: 0.0,
    };

    fn to_array(self) -> [f32; 5] {
        [self.cx, self.cy, self.width, self.height, self.rotation]
    }

    fn from_slice(v: &[f32]) -> Self {
        Self {
            cx: v[0],
            cy: v[1],
            width: v[2],
            height: v[3],
            rotation: v[4],
        }
    }
}

/// One tracked face, as `alsmesh` found it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Face {
    /// Stable while the face stays tracked.
    pub id: u32,
    pub detection_score: f32,
    pub presence_score: f32,
    /// Axis-aligned box around the landmarks.
    pub bbox: NormRect,
    /// The rotated square the landmarks were computed in.
    pub roi: NormRotatedRect,
    /// `LANDMARKS_PER_FACE` points: x, y as fractions of the frame, z on the scale of x.
    pub landmarks: Vec<[f32; 3]>,
}

/// The faces of one frame. An empty list means the frame was searched and has no face.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaceMeta {
    pub faces: Vec<Face>,
    /// False when inference was skipped on this frame and the faces are carried over.
    pub fresh: bool,
}

impl FaceMeta {
    /// Adds this as a `GstAlsFaceMeta` to `buffer`, replacing one already there.
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        remove_custom_metas(buffer, FACE_META);
        let n = self.faces.len();
        let mut boxes = Vec::with_capacity(n * 4);
        let mut scores = Vec::with_capacity(n * 2);
        let mut rois = Vec::with_capacity(n * 5);
        let mut landmarks = Vec::with_capacity(n * LANDMARKS_PER_FACE * 3);
        for face in &self.faces {
            let b = face.bbox;
            boxes.extend([b.x, b.y, b.width, b.height].map(|v| v as f32));
            scores.extend([face.detection_score, face.presence_score]);
            rois.extend(face.roi.to_array());
            landmarks.extend(face.landmarks.iter().flatten());
        }
        let ids = gst::Array::new(self.faces.iter().map(|f| f.id));
        let mut meta = gst::meta::CustomMeta::add(buffer, FACE_META)?;
        let s = meta.mut_structure();
        s.set("count", n as u32);
        s.set("fresh", self.fresh);
        s.set("ids", ids);
        s.set("boxes", f32_bytes(&boxes));
        s.set("scores", f32_bytes(&scores));
        s.set("rois", f32_bytes(&rois));
        s.set("landmarks-per-face", LANDMARKS_PER_FACE as u32);
        s.set("landmarks", f32_bytes(&landmarks));
        Ok(())
    }

    /// Reads the `GstAlsFaceMeta` of `buffer`: `None` when it has none.
    pub fn read(buffer: &gst::BufferRef) -> Option<Result<Self, MetaError>> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, FACE_META).ok()?;
        Some(Self::from_structure(meta.structure()))
    }

    fn from_structure(s: &gst::StructureRef) -> Result<Self, MetaError> {
        let n = field::<u32>(s, "count")? as usize;
        if n > MAX_REGIONS {
            return Err(MetaError(format!("{FACE_META}: {n} faces")));
        }
        let per_face = field::<u32>(s, "landmarks-per-face")? as usize;
        if per_face != LANDMARKS_PER_FACE {
            return Err(MetaError(format!(
                "{FACE_META}: {per_face} landmarks per face, {LANDMARKS_PER_FACE} expected"
            )));
        }
        let ids = u32_array(s, "ids", n)?;
        let boxes = f32_field(s, "boxes", n * 4)?;
        let scores = f32_field(s, "scores", n * 2)?;
        let rois = f32_field(s, "rois", n * 5)?;
        let landmarks = f32_field(s, "landmarks", n * per_face * 3)?;
        let faces = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| {
                let b = &boxes[i * 4..i * 4 + 4];
                Face {
                    id,
                    detection_score: scores[i * 2],
                    presence_score: scores[i * 2 + 1],
                    bbox: NormRect {
                        x: b[0] as f64,
                        y: b[1] as f64,
                        width: b[2] as f64,
                        height: b[3] as f64,
                    },
                    roi: NormRotatedRect::from_slice(&rois[i * 5..i * 5 + 5]),
                    landmarks: landmarks[i * per_face * 3..(i + 1) * per_face * 3]
                        .chunks_exact(3)
                        .map(|p| [p[0], p[1], p[2]])
                        .collect(),
                }
            })
            .collect();
        Ok(Self {
            faces,
            fresh: field(s, "fresh")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() {
        gst::init().unwrap();
        register();
    }

    fn face_flow(id: u32, valid: bool) -> RegionFlow {
        RegionFlow {
            face_id: id,
            roi: NormRotatedRect {
                cx: 0.25 * id as f32,
                cy: 0.5,
                width: 0.3,
                height: 0.4,
                rotation: -0.125,
            },
            stats: valid.then_some(FlowStats {
                mean: 0.5,
                max: 3.0,
                p99: 2.5,
                mean_direction: 270.0,
            }),
            reset_reason: (!valid).then(|| "new-face".to_string()),
            grid: if valid {
                vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.5 + id as f32]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn flow_meta_round_trips_per_face() {
        init();
        let meta = FlowMeta {
            region_kind: REGION_FACE.into(),
            region_size: 128,
            grid_width: 3,
            grid_height: 2,
            regions: vec![face_flow(2, true), face_flow(5, false), face_flow(9, true)],
            reset_reason: None,
            method: None,
        };
        let mut buffer = gst::Buffer::new();
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        let read = FlowMeta::read(&buffer).unwrap().unwrap();
        assert_eq!(read, meta);
        assert!(read.is_valid());
        assert_eq!(read.face(9).unwrap().grid[5], 14.5);
        assert!(read.face(5).unwrap().stats.is_none());
        assert!(read.face(4).is_none());
    }

    #[test]
    fn flow_meta_without_regions_says_why() {
        init();
        let meta = FlowMeta {
            region_kind: REGION_FACE.into(),
            region_size: 128,
            grid_width: 4,
            grid_height: 4,
            regions: Vec::new(),
            reset_reason: Some("no-face".into()),
            method: None,
        };
        let mut buffer = gst::Buffer::new();
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        let read = FlowMeta::read(&buffer).unwrap().unwrap();
        assert!(!read.is_valid());
        assert_eq!(read, meta);
    }

    #[test]
    fn attaching_twice_leaves_one_meta() {
        init();
        let mut buffer = gst::Buffer::new();
        let mut meta = FlowMeta {
            region_kind: REGION_FRAME.into(),
            grid_width: 3,
            grid_height: 2,
            regions: vec![face_flow(0, true)],
            ..Default::default()
        };
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        meta.regions[0].grid[0] = 42.0;
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        {
            let b = buffer.get_mut().unwrap();
            gst::meta::CustomMeta::from_mut_buffer(b, FLOW_META)
                .unwrap()
                .remove()
                .unwrap();
        }
        assert!(FlowMeta::read(&buffer).is_none(), "a second meta was left");
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        assert_eq!(FlowMeta::read(&buffer).unwrap().unwrap(), meta);
    }

    #[test]
    fn face_meta_round_trips() {
        init();
        let face = |id: u32| Face {
            id,
            detection_score: 0.9,
            presence_score: 0.99,
            bbox: NormRect {
                x: 0.125,
                y: 0.25,
                width: 0.5,
                height: 0.5,
            },
            roi: NormRotatedRect {
                cx: 0.375,
                cy: 0.5,
                width: 0.75,
                height: 1.0,
                rotation: -0.25,
            },
            landmarks: (0..LANDMARKS_PER_FACE)
                .map(|i| [i as f32 / 1000.0, 0.5, -0.01 * id as f32])
                .collect(),
        };
        for faces in [vec![], vec![face(1)], vec![face(3), face(7)]] {
            let meta = FaceMeta { faces, fresh: true };
            let mut buffer = gst::Buffer::new();
            meta.attach(buffer.get_mut().unwrap()).unwrap();
            assert_eq!(FaceMeta::read(&buffer).unwrap().unwrap(), meta);
        }
    }

    #[test]
    fn missing_and_malformed_metas_are_told_apart() {
        init();
        let mut buffer = gst::Buffer::new();
        assert!(FlowMeta::read(&buffer).is_none());
        {
            let b = buffer.get_mut().unwrap();
            let mut m = gst::meta::CustomMeta::add(b, FLOW_META).unwrap();
            m.mut_structure().set("valid", true);
        }
        let err = FlowMeta::read(&buffer).unwrap().unwrap_err();
        assert!(err.to_string().contains("grid-width"), "{err}");
    }

    #[test]
    fn truncated_array_is_an_error() {
        init();
        let mut buffer = gst::Buffer::new();
        let mut region = face_flow(1, true);
        region.grid.pop();
        FlowMeta {
            region_kind: REGION_FACE.into(),
            grid_width: 3,
            grid_height: 2,
            regions: vec![region],
            ..Default::default()
        }
        .attach(buffer.get_mut().unwrap())
        .unwrap();
        // attach() pads a short grid with zeros; cut the bytes behind its back.
        {
            let b = buffer.get_mut().unwrap();
            let mut m = gst::meta::CustomMeta::from_mut_buffer(b, FLOW_META).unwrap();
            m.mut_structure().set("grids", f32_bytes(&[1.0; 5]));
        }
        let err = FlowMeta::read(&buffer).unwrap().unwrap_err();
        assert!(err.to_string().contains("grids"), "{err}");
    }

    #[test]
    fn huge_sizes_from_foreign_metas_are_errors_not_panics() {
        init();
        let mut buffer = gst::Buffer::new();
        {
            let b = buffer.get_mut().unwrap();
            let mut m = gst::meta::CustomMeta::add(b, FLOW_META).unwrap();
            let s = m.mut_structure();
            s.set("region", "frame");
            s.set("region-size", 0u32);
            s.set("grid-width", u32::MAX);
            s.set("grid-height", u32::MAX);
            s.set("count", 1000u32);
            s.set("ids", gst::Array::new((0..1000u32).map(|_| 0u32)));
            s.set("reasons", gst::Array::new((0..1000).map(|_| "")));
            s.set("rois", f32_bytes(&[0.0; 5000]));
            s.set("stats", f32_bytes(&[0.0; 4000]));
            s.set("grids", f32_bytes(&[0.0; 4]));
        }
        let err = FlowMeta::read(&buffer).unwrap().unwrap_err();
        assert!(err.to_string().contains("grids"), "{err}");

        let mut buffer = gst::Buffer::new();
        {
            let b = buffer.get_mut().unwrap();
            let mut m = gst::meta::CustomMeta::add(b, FACE_META).unwrap();
            let s = m.mut_structure();
            s.set("count", 1u32);
            s.set("fresh", true);
            s.set("ids", gst::Array::new([1u32]));
            s.set("landmarks-per-face", u32::MAX);
        }
        let err = FaceMeta::read(&buffer).unwrap().unwrap_err();
        assert!(err.to_string().contains("landmarks per face"), "{err}");
    }
}
