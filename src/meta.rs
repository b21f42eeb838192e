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

use gst::glib;

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
    for name in [FLOW_META, FACE_META] {
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

/// Reads a little-endian `f32` byte field holding exactly `expected` values.
fn f32_field(s: &gst::StructureRef, name: &str, expected: usize) -> Result<Vec<f32>, MetaError> {
    let bytes = field::<glib::Bytes>(s, name)?;
    if bytes.len() != expected * 4 {
        return Err(MetaError(format!(
            "{}: field {name} holds {} bytes, {} expected",
            s.name(),
            bytes.len(),
            expected * 4
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

impl NormRect {
    pub const FULL: Self = Self {
        x: 0.0,
        y: 0.0,
        width: 1.0,
        height: 1.0,
    };

    fn write(&self, s: &mut gst::StructureRef, prefix: &str) {
        s.set(format!("{prefix}-x").as_str(), self.x);
        s.set(format!("{prefix}-y").as_str(), self.y);
        s.set(format!("{prefix}-width").as_str(), self.width);
        s.set(format!("{prefix}-height").as_str(), self.height);
    }

    fn read(s: &gst::StructureRef, prefix: &str) -> Result<Self, MetaError> {
        Ok(Self {
            x: field(s, &format!("{prefix}-x"))?,
            y: field(s, &format!("{prefix}-y"))?,
            width: field(s, &format!("{prefix}-width"))?,
            height: field(s, &format!("{prefix}-height"))?,
        })
    }
}

/// Statistics of a valid flow field: magnitudes in pixels per frame, direction in degrees
/// (0 = rightwards, 90 = downwards).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlowStats {
    pub mean: f64,
    pub max: f64,
    pub p99: f64,
    pub mean_direction: f64,
}

/// Optical flow between the previous and this frame, as `alsflow` computed it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowMeta {
    /// `None` when this frame carries no flow.
    pub stats: Option<FlowStats>,
    /// Why there is no flow: "start", "flush", "segment", "gap", "discont" or "caps".
    pub reset_reason: Option<String>,
    /// "frame" or "face": what the analysed region covers.
    pub region_kind: String,
    /// The analysed region of the frame.
    pub region: NormRect,
    pub grid_width: u32,
    pub grid_height: u32,
    /// Row-major mean magnitude per grid cell; empty when there is no flow.
    pub grid: Vec<f32>,
}

impl FlowMeta {
    pub fn is_valid(&self) -> bool {
        self.stats.is_some()
    }

    /// Adds this as a `GstAlsFlowMeta` to `buffer`.
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        let mut meta = gst::meta::CustomMeta::add(buffer, FLOW_META)?;
        let s = meta.mut_structure();
        s.set("valid", self.stats.is_some());
        if let Some(reason) = &self.reset_reason {
            s.set("reset-reason", reason.as_str());
        }
        s.set("region", self.region_kind.as_str());
        self.region.write(s, "region");
        s.set("grid-width", self.grid_width);
        s.set("grid-height", self.grid_height);
        if let Some(stats) = &self.stats {
            s.set("mean", stats.mean);
            s.set("max", stats.max);
            s.set("p99", stats.p99);
            s.set("mean-direction", stats.mean_direction);
            s.set("grid", f32_bytes(&self.grid));
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
        let valid: bool = field(s, "valid")?;
        let (stats, grid) = if valid {
            let stats = FlowStats {
                mean: field(s, "mean")?,
                max: field(s, "max")?,
                p99: field(s, "p99")?,
                mean_direction: field(s, "mean-direction")?,
            };
            let cells = grid_width as usize * grid_height as usize;
            (Some(stats), f32_field(s, "grid", cells)?)
        } else {
            (None, Vec::new())
        };
        Ok(Self {
            stats,
            reset_reason: s.get::<String>("reset-reason").ok(),
            region_kind: field(s, "region")?,
            region: NormRect::read(s, "region")?,
            grid_width,
            grid_height,
            grid,
        })
    }
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
    /// Adds this as a `GstAlsFaceMeta` to `buffer`.
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        let n = self.faces.len();
        let mut boxes = Vec::with_capacity(n * 4);
        let mut scores = Vec::with_capacity(n * 2);
        let mut rois = Vec::with_capacity(n * 5);
        let mut landmarks = Vec::with_capacity(n * LANDMARKS_PER_FACE * 3);
        for face in &self.faces {
            let b = face.bbox;
            boxes.extend([b.x, b.y, b.width, b.height].map(|v| v as f32));
            scores.extend([face.detection_score, face.presence_score]);
            let r = face.roi;
            rois.extend([r.cx, r.cy, r.width, r.height, r.rotation]);
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
        let per_face = field::<u32>(s, "landmarks-per-face")? as usize;
        let ids = field::<gst::Array>(s, "ids")?;
        if ids.len() != n {
            return Err(MetaError(format!(
                "{FACE_META}: {} ids for {n} faces",
                ids.len()
            )));
        }
        let boxes = f32_field(s, "boxes", n * 4)?;
        let scores = f32_field(s, "scores", n * 2)?;
        let rois = f32_field(s, "rois", n * 5)?;
        let landmarks = f32_field(s, "landmarks", n * per_face * 3)?;
        let mut faces = Vec::with_capacity(n);
        for (i, id) in ids.iter().enumerate() {
            let b = &boxes[i * 4..i * 4 + 4];
            faces.push(Face {
                id: id
                    .get::<u32>()
                    .map_err(|e| MetaError(format!("{FACE_META}: ids: {e}")))?,
                detection_score: scores[i * 2],
                presence_score: scores[i * 2 + 1],
                bbox: NormRect {
                    x: b[0] as f64,
                    y: b[1] as f64,
                    width: b[2] as f64,
                    height: b[3] as f64,
                },
                roi: NormRotatedRect {
                    cx: rois[i * 5],
                    cy: rois[i * 5 + 1],
                    width: rois[i * 5 + 2],
                    height: rois[i * 5 + 3],
                    rotation: rois[i * 5 + 4],
                },
                landmarks: landmarks[i * per_face * 3..(i + 1) * per_face * 3]
                    .chunks_exact(3)
                    .map(|p| [p[0], p[1], p[2]])
                    .collect(),
            });
        }
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

    #[test]
    fn flow_meta_round_trips() {
        init();
        let meta = FlowMeta {
            stats: Some(FlowStats {
                mean: 0.5,
                max: 3.0,
                p99: 2.5,
                mean_direction: 270.0,
            }),
            reset_reason: None,
            region_kind: "face".into(),
            region: NormRect {
                x: 0.25,
                y: 0.125,
                width: 0.5,
                height: 0.5,
            },
            grid_width: 3,
            grid_height: 2,
            grid: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.5],
        };
        let mut buffer = gst::Buffer::new();
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        assert_eq!(FlowMeta::read(&buffer).unwrap().unwrap(), meta);
    }

    #[test]
    fn invalid_flow_meta_round_trips_without_stats() {
        init();
        let meta = FlowMeta {
            stats: None,
            reset_reason: Some("flush".into()),
            region_kind: "frame".into(),
            region: NormRect::FULL,
            grid_width: 4,
            grid_height: 4,
            grid: Vec::new(),
        };
        let mut buffer = gst::Buffer::new();
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        let read = FlowMeta::read(&buffer).unwrap().unwrap();
        assert!(!read.is_valid());
        assert_eq!(read, meta);
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
        FlowMeta {
            stats: Some(FlowStats::default()),
            region_kind: "frame".into(),
            region: NormRect::FULL,
            grid_width: 2,
            grid_height: 2,
            grid: vec![1.0; 3],
            ..Default::default()
        }
        .attach(buffer.get_mut().unwrap())
        .unwrap();
        let err = FlowMeta::read(&buffer).unwrap().unwrap_err();
        assert!(err.to_string().contains("grid"), "{err}");
    }
}
