// SPDX-License-Identifier: MPL-2.0

//! `GstAlsKinematicsMeta` (per frame, per face) and the `als-kinematics` window and
//! `als-kinematics-summary` structures of `alskinematics`.

use super::{MetaError, f32_bytes, f32_field, field, remove_custom_metas, u32_array};
use crate::kinematics::measures::{COUNT, NAMES};
use crate::kinematics::{Stats, WindowStats};

/// Name of the kinematics meta written by `alskinematics`.
pub const KINEMATICS_META: &str = "GstAlsKinematicsMeta";
/// Name of the per-window element message and downstream event.
pub const KINEMATICS_WINDOW: &str = "als-kinematics";
/// Name of the end-of-stream element message and downstream event.
pub const KINEMATICS_SUMMARY: &str = "als-kinematics-summary";

/// One face's kinematics in one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaceKinematics {
    pub id: u32,
    /// Degrees, as `crate::kinematics::HeadPose`: roll, yaw, pitch.
    pub pose: [f32; 3],
    pub pose_ok: bool,
    pub interocular_px: f32,
    /// The frame's measures in inter-ocular distances (the area in their square), in the
    /// order of [`NAMES`].
    pub values: [f32; COUNT],
    /// Smoothed first and second time-derivatives, per second; NaN where unknown.
    pub velocities: [f32; COUNT],
    pub accelerations: [f32; COUNT],
}

/// The kinematics of one frame's faces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KinematicsMeta {
    /// The inter-ocular distance assumed for millimetres.
    pub interocular_mm: f64,
    pub faces: Vec<FaceKinematics>,
}

impl KinematicsMeta {
    pub fn face(&self, id: u32) -> Option<&FaceKinematics> {
        self.faces.iter().find(|f| f.id == id)
    }

    /// Adds this as a `GstAlsKinematicsMeta` to `buffer`, replacing one already there.
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        remove_custom_metas(buffer, KINEMATICS_META);
        let faces = &self.faces;
        let flat = |f: fn(&FaceKinematics) -> &[f32]| -> Vec<f32> {
            faces.iter().flat_map(|k| f(k).iter().copied()).collect()
        };
        let mut meta = gst::meta::CustomMeta::add(buffer, KINEMATICS_META)?;
        let s = meta.mut_structure();
        s.set("count", faces.len() as u32);
        s.set("ids", gst::Array::new(faces.iter().map(|f| f.id)));
        s.set("measures", gst::Array::new(NAMES));
        s.set("interocular-mm", self.interocular_mm);
        s.set("pose-ok", gst::Array::new(faces.iter().map(|f| f.pose_ok)));
        s.set("pose", f32_bytes(&flat(|f| &f.pose)));
        s.set(
            "interocular-px",
            f32_bytes(&faces.iter().map(|f| f.interocular_px).collect::<Vec<_>>()),
        );
        s.set("values", f32_bytes(&flat(|f| &f.values)));
        s.set("velocities", f32_bytes(&flat(|f| &f.velocities)));
        s.set("accelerations", f32_bytes(&flat(|f| &f.accelerations)));
        Ok(())
    }

    /// Reads the `GstAlsKinematicsMeta` of `buffer`: `None` when it has none.
    pub fn read(buffer: &gst::BufferRef) -> Option<Result<Self, MetaError>> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, KINEMATICS_META).ok()?;
        Some(Self::from_structure(meta.structure()))
    }

    fn from_structure(s: &gst::StructureRef) -> Result<Self, MetaError> {
        let n = field::<u32>(s, "count")? as usize;
        if n > super::MAX_REGIONS {
            return Err(MetaError(format!("{KINEMATICS_META}: {n} faces")));
        }
        let names = field::<gst::Array>(s, "measures")?;
        let names: Vec<String> = names.iter().filter_map(|v| v.get().ok()).collect();
        if names != NAMES {
            return Err(MetaError(format!(
                "{KINEMATICS_META}: measures {names:?}, {NAMES:?} expected"
            )));
        }
        let ids = u32_array(s, "ids", n)?;
        let pose_ok = field::<gst::Array>(s, "pose-ok")?;
        if pose_ok.len() != n {
            return Err(MetaError(format!(
                "{KINEMATICS_META}: pose-ok for {n} faces"
            )));
        }
        let pose = f32_field(s, "pose", n * 3)?;
        let iod = f32_field(s, "interocular-px", n)?;
        let values = f32_field(s, "values", n * COUNT)?;
        let velocities = f32_field(s, "velocities", n * COUNT)?;
        let accelerations = f32_field(s, "accelerations", n * COUNT)?;
        let row =
            |v: &[f32], i: usize| -> [f32; COUNT] { std::array::from_fn(|k| v[i * COUNT + k]) };
        let faces = ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| {
                Ok(FaceKinematics {
                    id,
                    pose: [pose[i * 3], pose[i * 3 + 1], pose[i * 3 + 2]],
                    pose_ok: pose_ok.as_slice()[i]
                        .get::<bool>()
                        .map_err(|e| MetaError(format!("{KINEMATICS_META}: pose-ok: {e}")))?,
                    interocular_px: iod[i],
                    values: row(&values, i),
                    velocities: row(&velocities, i),
                    accelerations: row(&accelerations, i),
                })
            })
            .collect::<Result<Vec<_>, MetaError>>()?;
        Ok(Self {
            interocular_mm: field(s, "interocular-mm")?,
            faces,
        })
    }
}

const STAT_FIELDS: [&str; 10] = [
    "min",
    "max",
    "range",
    "peak-opening-speed",
    "peak-closing-speed",
    "rate",
    "cycle-variability",
    "amplitude",
    "mean",
    "samples",
];

fn stats_structure(name: &str, st: &Stats) -> gst::Structure {
    let v = [
        st.min,
        st.max,
        st.range,
        st.peak_opening_speed,
        st.peak_closing_speed,
        st.rate,
        st.cycle_variability,
        st.amplitude,
        st.mean,
    ];
    let mut b = gst::Structure::builder(name);
    for (f, v) in STAT_FIELDS.iter().zip(v) {
        b = b.field(*f, v);
    }
    b.field("samples", st.samples as u64).build()
}

fn stats_from(s: &gst::StructureRef) -> Result<Stats, MetaError> {
    let g = |name: &str| field::<f64>(s, name);
    Ok(Stats {
        samples: field::<u64>(s, "samples")? as usize,
        min: g("min")?,
        max: g("max")?,
        range: g("range")?,
        peak_opening_speed: g("peak-opening-speed")?,
        peak_closing_speed: g("peak-closing-speed")?,
        rate: g("rate")?,
        cycle_variability: g("cycle-variability")?,
        amplitude: g("amplitude")?,
        mean: g("mean")?,
    })
}

/// `w` as a structure called `name` (a window message, or a face of the summary), each
/// measure's statistics in a nested structure named after it.
pub fn window_structure(name: &str, w: &WindowStats, interocular_mm: f64) -> gst::Structure {
    let mut b = gst::Structure::builder(name)
        .field("face-id", w.face_id)
        .field("start", w.start)
        .field("end", w.end)
        .field("frames", w.frames)
        .field("frames-off-pose", w.frames_off_pose)
        .field("interocular-mm", interocular_mm);
    for (measure, st) in NAMES.iter().zip(&w.stats) {
        b = b.field(*measure, stats_structure(measure, st));
    }
    b.build()
}

/// Reads a [`window_structure`]: the window and the assumed inter-ocular millimetres.
pub fn window_from_structure(s: &gst::StructureRef) -> Result<(WindowStats, f64), MetaError> {
    let mut stats = [Stats::default(); COUNT];
    for (measure, st) in NAMES.iter().zip(&mut stats) {
        let nested: gst::Structure = field(s, measure)?;
        *st = stats_from(&nested)?;
    }
    Ok((
        WindowStats {
            face_id: field(s, "face-id")?,
            start: field(s, "start")?,
            end: field(s, "end")?,
            frames: field(s, "frames")?,
            frames_off_pose: field(s, "frames-off-pose")?,
            stats,
        },
        field(s, "interocular-mm")?,
    ))
}

/// The stream summary: one window structure per face, in a list called `faces`.
pub fn summary_structure(faces: &[WindowStats], interocular_mm: f64) -> gst::Structure {
    gst::Structure::builder(KINEMATICS_SUMMARY)
        .field("interocular-mm", interocular_mm)
        .field(
            "faces",
            gst::List::new(
                faces
                    .iter()
                    .map(|w| window_structure("face", w, interocular_mm)),
            ),
        )
        .build()
}

pub fn summary_from_structure(s: &gst::StructureRef) -> Result<(Vec<WindowStats>, f64), MetaError> {
    let faces = field::<gst::List>(s, "faces")?
        .iter()
        .map(|v| {
            let f = v
                .get::<gst::Structure>()
                .map_err(|e| MetaError(format!("{}: faces: {e}", s.name())))?;
            window_from_structure(&f).map(|(w, _)| w)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((faces, field(s, "interocular-mm")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_and_structures_round_trip() {
        gst::init().unwrap();
        super::super::register();
        let meta = KinematicsMeta {
            interocular_mm: 63.0,
            faces: vec![
                FaceKinematics {
                    id: 2,
                    pose: [1.0, -2.0, 3.0],
                    pose_ok: true,
                    interocular_px: 90.0,
                    values: [0.1, 0.8, 1.0, 0.05, 0.01, 0.25, 0.26],
                    velocities: [0.5; COUNT],
                    accelerations: [f32::NAN; COUNT],
                },
                FaceKinematics {
                    id: 5,
                    pose_ok: false,
                    ..Default::default()
                },
            ],
        };
        let mut buffer = gst::Buffer::new();
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        meta.attach(buffer.get_mut().unwrap()).unwrap();
        let read = KinematicsMeta::read(&buffer).unwrap().unwrap();
        assert_eq!(read.faces.len(), 2);
        assert_eq!(read.faces[0].values, meta.faces[0].values);
        assert!(read.faces[0].accelerations[0].is_nan());
        assert_eq!(read.face(5), Some(&meta.faces[1]));

        let mut window = WindowStats {
            face_id: 2,
            start: 1.0,
            end: 6.0,
            frames: 150,
            frames_off_pose: 3,
            ..Default::default()
        };
        window.stats[2].rate = 2.5;
        window.stats[2].samples = 150;
        let s = window_structure(KINEMATICS_WINDOW, &window, 63.0);
        assert_eq!(window_from_structure(&s).unwrap(), (window.clone(), 63.0));
        let summary = summary_structure(std::slice::from_ref(&window), 60.0);
        assert_eq!(
            summary_from_structure(&summary).unwrap(),
            (vec![window], 60.0)
        );
    }
}
