// SPDX-License-Identifier: MPL-2.0

//! `GstAlsClassMeta`: what `alsclassify` concluded about each face of a frame.

use gst::glib;

use super::{MAX_REGIONS, MetaError, f32_bytes, f32_field, field, remove_custom_metas, u32_array};

/// Name of the classification meta written by `alsclassify`.
pub const CLASS_META: &str = "GstAlsClassMeta";

/// One face's result on one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaceClass {
    pub face_id: u32,
    /// This frame's probabilities, one per label; empty when the face was not classified.
    pub probabilities: Vec<f32>,
    /// Mean over the face's last `window` classified frames; empty before its first.
    pub smoothed: Vec<f32>,
    /// The label of `smoothed`, when there is one.
    pub label: Option<String>,
    /// Why this frame of the face was not classified (`no-flow`, `bad-landmarks`...).
    pub reason: Option<String>,
}

impl FaceClass {
    pub fn classified(&self) -> bool {
        self.reason.is_none()
    }
}

/// The classification of one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassMeta {
    /// The model's name; `synthetic` when it was trained on synthetic data.
    pub model: String,
    pub synthetic: bool,
    pub labels: Vec<String>,
    pub faces: Vec<FaceClass>,
    /// Why the frame as a whole was not classified (`no-face`, `no-flow-meta`...).
    pub reason: Option<String>,
}

impl ClassMeta {
    /// True when at least one face was classified.
    pub fn classified(&self) -> bool {
        self.faces.iter().any(FaceClass::classified)
    }

    /// Adds this as a `GstAlsClassMeta` to `buffer`, replacing one already there.
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        remove_custom_metas(buffer, CLASS_META);
        let k = self.labels.len();
        let padded = |v: &Vec<f32>| {
            if v.len() == k {
                v.clone()
            } else {
                vec![0.0; k]
            }
        };
        let probabilities: Vec<f32> = self
            .faces
            .iter()
            .flat_map(|f| padded(&f.probabilities))
            .collect();
        let smoothed: Vec<f32> = self
            .faces
            .iter()
            .flat_map(|f| padded(&f.smoothed))
            .collect();
        let mut meta = gst::meta::CustomMeta::add(buffer, CLASS_META)?;
        let s = meta.mut_structure();
        s.set("model", self.model.as_str());
        s.set("synthetic", self.synthetic);
        s.set(
            "labels",
            gst::Array::new(self.labels.iter().map(String::as_str)),
        );
        s.set("classified", self.classified());
        s.set("reason", self.reason.as_deref().unwrap_or(""));
        s.set("count", self.faces.len() as u32);
        s.set("ids", gst::Array::new(self.faces.iter().map(|f| f.face_id)));
        s.set(
            "reasons",
            gst::Array::new(self.faces.iter().map(|f| f.reason.as_deref().unwrap_or(""))),
        );
        s.set(
            "face-labels",
            gst::Array::new(self.faces.iter().map(|f| f.label.as_deref().unwrap_or(""))),
        );
        s.set("probabilities", f32_bytes(&probabilities));
        s.set("smoothed", f32_bytes(&smoothed));
        Ok(())
    }

    /// Reads the `GstAlsClassMeta` of `buffer`: `None` when it has none.
    pub fn read(buffer: &gst::BufferRef) -> Option<Result<Self, MetaError>> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, CLASS_META).ok()?;
        Some(Self::from_structure(meta.structure()))
    }

    fn from_structure(s: &gst::StructureRef) -> Result<Self, MetaError> {
        let labels = strings(s, "labels", None)?;
        if labels.len() > MAX_REGIONS {
            return Err(MetaError(format!("{CLASS_META}: {} labels", labels.len())));
        }
        let n = field::<u32>(s, "count")? as usize;
        if n > MAX_REGIONS {
            return Err(MetaError(format!("{CLASS_META}: {n} faces")));
        }
        let k = labels.len();
        let ids = u32_array(s, "ids", n)?;
        let reasons = strings(s, "reasons", Some(n))?;
        let face_labels = strings(s, "face-labels", Some(n))?;
        let probabilities = f32_field(s, "probabilities", n * k)?;
        let smoothed = f32_field(s, "smoothed", n * k)?;
        let faces = ids
            .into_iter()
            .enumerate()
            .map(|(i, face_id)| {
                let reason = Some(reasons[i].clone()).filter(|r| !r.is_empty());
                let label = Some(face_labels[i].clone()).filter(|l| !l.is_empty());
                FaceClass {
                    face_id,
                    probabilities: if reason.is_none() {
                        probabilities[i * k..(i + 1) * k].to_vec()
                    } else {
                        Vec::new()
                    },
                    smoothed: if label.is_some() {
                        smoothed[i * k..(i + 1) * k].to_vec()
                    } else {
                        Vec::new()
                    },
                    label,
                    reason,
                }
            })
            .collect();
        Ok(Self {
            model: field(s, "model")?,
            synthetic: field(s, "synthetic")?,
            labels,
            faces,
            reason: Some(field::<String>(s, "reason")?).filter(|r| !r.is_empty()),
        })
    }
}

/// Name of the element message and downstream event that carry a [`ClassSummary`].
pub const SUMMARY: &str = "als-summary";
/// Name of the periodic element message of `alsclassify`.
pub const CLASSIFICATION_MESSAGE: &str = "als-classification";

/// One face over a whole stream (or up to a periodic message).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaceTotals {
    pub face_id: u32,
    pub frames_seen: u64,
    pub frames_classified: u64,
    /// Mean probability per class over the classified frames; empty when none was.
    pub mean: Vec<f32>,
    /// The last smoothed probabilities; empty when none.
    pub smoothed: Vec<f32>,
    /// Share of the classified frames given each label.
    pub label_shares: Vec<f32>,
    /// The label of `mean`.
    pub label: Option<String>,
}

/// What `alsclassify` posts every `message-interval` frames and at EOS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassSummary {
    pub model: String,
    pub synthetic: bool,
    pub labels: Vec<String>,
    /// Flow magnitudes were multiplied by this to bring the stream to the model's frame rate.
    pub flow_scale: f64,
    pub frames: u64,
    pub faces: Vec<FaceTotals>,
}

fn f32_list(values: &[f32]) -> gst::List {
    gst::List::new(values.iter().map(|&v| v as f64))
}

fn f32_list_field(s: &gst::StructureRef, name: &str) -> Result<Vec<f32>, MetaError> {
    field::<gst::List>(s, name)?
        .iter()
        .map(|v| {
            v.get::<f64>()
                .map(|v| v as f32)
                .map_err(|e| MetaError(format!("{}: {name}: {e}", s.name())))
        })
        .collect()
}

impl ClassSummary {
    /// The summary as a structure called `name` (faces as a list of `face` structures).
    pub fn to_structure(&self, name: &str) -> gst::Structure {
        let faces = self.faces.iter().map(|f| {
            gst::Structure::builder("face")
                .field("id", f.face_id)
                .field("frames-seen", f.frames_seen)
                .field("frames-classified", f.frames_classified)
                .field("mean", f32_list(&f.mean))
                .field("smoothed", f32_list(&f.smoothed))
                .field("label-shares", f32_list(&f.label_shares))
                .field("label", f.label.as_deref().unwrap_or(""))
                .build()
        });
        gst::Structure::builder(name)
            .field("model", self.model.as_str())
            .field("synthetic", self.synthetic)
            .field(
                "labels",
                gst::Array::new(self.labels.iter().map(String::as_str)),
            )
            .field("flow-scale", self.flow_scale)
            .field("frames", self.frames)
            .field("faces", gst::List::new(faces))
            .build()
    }

    pub fn from_structure(s: &gst::StructureRef) -> Result<Self, MetaError> {
        let faces = field::<gst::List>(s, "faces")?
            .iter()
            .map(|v| {
                let f = v
                    .get::<gst::Structure>()
                    .map_err(|e| MetaError(format!("{}: faces: {e}", s.name())))?;
                Ok(FaceTotals {
                    face_id: field(&f, "id")?,
                    frames_seen: field(&f, "frames-seen")?,
                    frames_classified: field(&f, "frames-classified")?,
                    mean: f32_list_field(&f, "mean")?,
                    smoothed: f32_list_field(&f, "smoothed")?,
                    label_shares: f32_list_field(&f, "label-shares")?,
                    label: Some(field::<String>(&f, "label")?).filter(|l| !l.is_empty()),
                })
            })
            .collect::<Result<Vec<_>, MetaError>>()?;
        Ok(Self {
            model: field(s, "model")?,
            synthetic: field(s, "synthetic")?,
            labels: strings(s, "labels", None)?,
            flow_scale: field(s, "flow-scale")?,
            frames: field(s, "frames")?,
            faces,
        })
    }
}

fn strings(
    s: &gst::StructureRef,
    name: &str,
    expected: Option<usize>,
) -> Result<Vec<String>, MetaError> {
    let array = field::<gst::Array>(s, name)?;
    if expected.is_some_and(|n| n != array.len()) {
        return Err(MetaError(format!(
            "{CLASS_META}: {} {name} for {expected:?} faces",
            array.len()
        )));
    }
    array
        .iter()
        .map(|v| {
            v.get::<String>()
                .map_err(|e| MetaError(format!("{CLASS_META}: {name}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_meta_round_trips() {
        gst::init().unwrap();
        super::super::register();
        let meta = ClassMeta {
            model: "demo".into(),
            synthetic: true,
            labels: vec!["healthy".into(), "als".into()],
            faces: vec![
                FaceClass {
                    face_id: 1,
                    probabilities: vec![0.25, 0.75],
                    smoothed: vec![0.5, 0.5],
                    label: Some("als".into()),
                    reason: None,
                },
                FaceClass {
                    face_id: 4,
                    probabilities: Vec::new(),
                    smoothed: Vec::new(),
                    label: None,
                    reason: Some("no-flow".into()),
                },
            ],
            reason: None,
        };
        let mut buffer = gst::Buffer::new();
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        let read = ClassMeta::read(&buffer).unwrap().unwrap();
        assert_eq!(read, meta);
        assert!(read.classified());

        let none = ClassMeta {
            reason: Some("no-face".into()),
            ..ClassMeta::default()
        };
        none.attach(buffer.get_mut().unwrap()).unwrap();
        let read = ClassMeta::read(&buffer).unwrap().unwrap();
        assert_eq!(read, none);
        assert!(!read.classified());
    }

    #[test]
    fn summary_round_trips_as_a_structure() {
        gst::init().unwrap();
        let summary = ClassSummary {
            model: "demo".into(),
            synthetic: true,
            labels: vec!["healthy".into(), "als".into()],
            flow_scale: 1.2,
            frames: 10,
            faces: vec![FaceTotals {
                face_id: 1,
                frames_seen: 10,
                frames_classified: 9,
                mean: vec![0.25, 0.75],
                smoothed: vec![0.5, 0.5],
                label_shares: vec![0.0, 1.0],
                label: Some("als".into()),
            }],
        };
        let s = summary.to_structure(SUMMARY);
        assert_eq!(ClassSummary::from_structure(&s).unwrap(), summary);
    }
}
