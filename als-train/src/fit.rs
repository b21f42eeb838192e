// SPDX-License-Identifier: MPL-2.0

//! `als-train fit` and `eval`: subject-grouped cross-validation of PCA + the dual-branch
//! network, the paper's tables at frame and subject level, and the final model (trained on
//! all data) as ONNX.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::data::Dataset;
use crate::evaluation::{Evaluation, Grouping, evaluate};
use crate::model::{Batch, EpochLog, Matrix, Preprocess, TrainConfig, Trained, train};
use crate::pca::{self, Keep};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Protocol {
    /// k folds of whole subjects, stratified by label.
    GroupedKFold(usize),
    LeaveOneSubjectOut,
    /// The paper's random frame split into k folds: one person's frames on both sides.
    RandomFrames(usize),
}

impl Protocol {
    pub(crate) fn describe(self) -> String {
        match self {
            Protocol::GroupedKFold(k) => {
                format!("subject-grouped {k}-fold cross-validation, stratified by label")
            }
            Protocol::LeaveOneSubjectOut => "leave-one-subject-out cross-validation".into(),
            Protocol::RandomFrames(k) => format!(
                "random frame split, {k} folds (lets one person's frames into both training and test: optimistic)"
            ),
        }
    }
}

pub struct FitOptions {
    pub dir: PathBuf,
    pub out: PathBuf,
    pub report: Option<PathBuf>,
    pub keep: Keep,
    pub pca_sample: usize,
    pub train: TrainConfig,
    pub protocol: Protocol,
    pub classes: Option<Vec<String>>,
    pub synthetic: bool,
    pub shuffle_labels: bool,
    pub name: Option<String>,
}

/// Every row of the dataset, with where it came from.
#[derive(Default)]
pub(crate) struct Rows {
    pub(crate) landmarks: Vec<f32>,
    /// (video, row within the video's file)
    pub(crate) origin: Vec<(usize, usize)>,
    pub(crate) label: Vec<u32>,
    pub(crate) subject: Vec<usize>,
    pub(crate) subjects: Vec<String>,
    pub(crate) subject_label: Vec<u32>,
}

impl Rows {
    pub(crate) fn grouping(&self) -> Grouping<'_> {
        Grouping {
            label: &self.label,
            subject: &self.subject,
            subjects: &self.subjects,
            subject_label: &self.subject_label,
        }
    }
}

fn load_rows(ds: &Dataset, labels: &[String], shuffle: Option<u64>) -> Result<Rows, String> {
    let mut subjects: Vec<String> = Vec::new();
    let mut subject_label: Vec<u32> = Vec::new();
    for v in &ds.videos {
        if !subjects.contains(&v.subject) {
            subjects.push(v.subject.clone());
            let l = labels
                .iter()
                .position(|l| *l == v.label)
                .ok_or_else(|| format!("label {} not among {labels:?}", v.label))?;
            subject_label.push(l as u32);
        } else if let Some(i) = subjects.iter().position(|s| *s == v.subject)
            && labels[subject_label[i] as usize] != v.label
        {
            // Subject-level results need one label per person.
            return Err(format!(
                "subject {} has videos labelled both {} and {}",
                v.subject, labels[subject_label[i] as usize], v.label
            ));
        }
    }
    if let Some(seed) = shuffle {
        // Labels move between whole subjects: the class balance stays, any real link goes.
        subject_label.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x054A_FF1E));
    }
    let l = ds.spec.landmark_len();
    let mut rows = Rows {
        landmarks: Vec::new(),
        origin: Vec::new(),
        label: Vec::new(),
        subject: Vec::new(),
        subjects,
        subject_label,
    };
    for (vi, v) in ds.videos.iter().enumerate() {
        let f = ds.read(vi)?;
        let s = rows
            .subjects
            .iter()
            .position(|s| *s == v.subject)
            .unwrap_or(0);
        for r in 0..f.frame.len() {
            rows.landmarks
                .extend_from_slice(&f.landmarks[r * l..(r + 1) * l]);
            rows.origin.push((vi, r));
            rows.label.push(rows.subject_label[s]);
            rows.subject.push(s);
        }
    }
    Ok(rows)
}

/// Fits standardisation and PCA on `train` rows and returns both branches' standardised inputs
/// for `wanted` row sets. Flow is read video by video and projected as it streams, so only a
/// sample of raw flow rows (`pca_sample`) is ever in memory.
fn prepare(
    ds: &Dataset,
    rows: &Rows,
    train: &[usize],
    wanted: &[&[usize]],
    opts: &FitOptions,
    seed: u64,
) -> Result<(Preprocess, Vec<Batch>), String> {
    let (l, f) = (ds.spec.landmark_len(), ds.spec.flow_len());
    let mut rng = StdRng::seed_from_u64(seed);
    // The sample is the only raw flow held at once: at most 1 GiB of f64 values (436 rows
    // of whole 640x480 frames), so the paper's frame mode fits in memory at any length.
    let sample_rows = opts.pca_sample.min((1usize << 30) / (f * 8).max(1)).max(2);
    let keep_share = sample_rows as f64 / train.len().max(1) as f64;
    let mut by_video: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &r in train {
        by_video
            .entry(rows.origin[r].0)
            .or_default()
            .push(rows.origin[r].1);
    }
    let mut sample = Vec::new();
    for (&video, video_rows) in &by_video {
        let feats = ds.read(video)?;
        for &r in video_rows {
            if keep_share >= 1.0 || rng.random::<f64>() < keep_share {
                sample.extend_from_slice(&feats.flow[r * f..(r + 1) * f]);
            }
        }
    }
    let pca = pca::fit(&sample, f, opts.keep)?;
    drop(sample);
    let train_landmarks: Vec<f32> = train
        .iter()
        .flat_map(|&r| rows.landmarks[r * l..(r + 1) * l].iter().copied())
        .collect();
    let pre = Preprocess::fit(&train_landmarks, l, &pca);
    let mut batches = Vec::new();
    for set in wanted {
        let mut lm = Vec::with_capacity(set.len() * l);
        let mut projected = Vec::with_capacity(set.len() * pre.components);
        let mut by_video: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
        for (pos, &r) in set.iter().enumerate() {
            by_video
                .entry(rows.origin[r].0)
                .or_default()
                .push((pos, rows.origin[r].1));
        }
        let mut order = vec![0usize; set.len()];
        let mut next = 0;
        for (&video, items) in &by_video {
            let feats = ds.read(video)?;
            let raw: Vec<f32> = items
                .iter()
                .flat_map(|&(_, r)| feats.flow[r * f..(r + 1) * f].iter().copied())
                .collect();
            let n = items.len();
            let lms: Vec<f32> = items
                .iter()
                .flat_map(|&(_, r)| feats.landmarks[r * l..(r + 1) * l].iter().copied())
                .collect();
            let (zl, zf) = pre.apply(&Matrix::new(n, l, lms)?, &Matrix::new(n, f, raw)?)?;
            lm.extend(zl.into_data());
            projected.extend(zf.into_data());
            for &(pos, _) in items {
                order[next] = pos;
                next += 1;
            }
        }
        // Rows came out grouped by video: put them back in the set's order.
        let mut inverse = vec![0usize; set.len()];
        for (i, &pos) in order.iter().enumerate() {
            inverse[pos] = i;
        }
        let k = pre.components;
        let lm_sorted: Vec<f32> = inverse
            .iter()
            .flat_map(|&i| lm[i * l..(i + 1) * l].iter().copied())
            .collect();
        let fl_sorted: Vec<f32> = inverse
            .iter()
            .flat_map(|&i| projected[i * k..(i + 1) * k].iter().copied())
            .collect();
        batches.push(Batch {
            landmarks: Matrix::new(set.len(), l, lm_sorted)?,
            flow: Matrix::new(set.len(), k, fl_sorted)?,
            labels: set.iter().map(|&r| rows.label[r]).collect(),
        });
    }
    Ok((pre, batches))
}

pub(crate) fn folds(rows: &Rows, protocol: Protocol, seed: u64) -> Result<Vec<Vec<usize>>, String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xF01D);
    let n_subjects = rows.subjects.len();
    let fold_of_subject: Vec<usize> = match protocol {
        Protocol::RandomFrames(k) => {
            let mut fold: Vec<usize> = (0..rows.label.len()).map(|i| i % k.max(2)).collect();
            fold.shuffle(&mut rng);
            let mut out = vec![Vec::new(); k.max(2)];
            for (r, f) in fold.into_iter().enumerate() {
                out[f].push(r);
            }
            return Ok(out);
        }
        Protocol::LeaveOneSubjectOut => (0..n_subjects).collect(),
        Protocol::GroupedKFold(k) => {
            let k = k.clamp(2, n_subjects);
            let mut fold = vec![0; n_subjects];
            let mut next = 0;
            let classes = rows
                .subject_label
                .iter()
                .max()
                .map_or(0, |m| *m as usize + 1);
            for class in 0..classes {
                let mut members: Vec<usize> = (0..n_subjects)
                    .filter(|&s| rows.subject_label[s] as usize == class)
                    .collect();
                members.shuffle(&mut rng);
                for s in members {
                    fold[s] = next % k;
                    next += 1;
                }
            }
            fold
        }
    };
    let k = fold_of_subject.iter().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); k];
    for (r, &s) in rows.subject.iter().enumerate() {
        out[fold_of_subject[s]].push(r);
    }
    Ok(out.into_iter().filter(|f| !f.is_empty()).collect())
}

/// Which flow the features came from, for the tables' headings.
fn flow_features(method: &gstals::flow::FlowMethod) -> String {
    match method {
        gstals::flow::FlowMethod::Farneback(_) => "Farneback flow (the paper's)".into(),
        gstals::flow::FlowMethod::Dis(p) => match p.preset_name() {
            Some(preset) => format!("DIS flow (preset {preset})"),
            None => format!("DIS flow ({})", method.launch_properties()),
        },
    }
}

fn class_labels(ds: &Dataset, wanted: &Option<Vec<String>>) -> Result<Vec<String>, String> {
    let mut labels: Vec<String> = Vec::new();
    for v in &ds.videos {
        if !labels.contains(&v.label) {
            labels.push(v.label.clone());
        }
    }
    if let Some(wanted) = wanted {
        if let Some(missing) = labels.iter().find(|l| !wanted.contains(l)) {
            return Err(format!(
                "label {missing} is in the data but not in --classes {wanted:?}"
            ));
        }
        labels = wanted.clone();
    }
    if labels.len() < 2 {
        return Err(format!(
            "the data has one class only ({labels:?}): a classifier needs two or more"
        ));
    }
    Ok(labels)
}

pub fn fit(opts: &FitOptions) -> Result<Evaluation, String> {
    let ds = Dataset::open(&opts.dir)?;
    let labels = class_labels(&ds, &opts.classes)?;
    let rows = load_rows(&ds, &labels, opts.shuffle_labels.then_some(opts.train.seed))?;
    if rows.subjects.len() < 2 {
        return Err(format!(
            "the data has one subject only ({}): subject-grouped evaluation needs two or more",
            rows.subjects[0]
        ));
    }
    if let Protocol::RandomFrames(_) = opts.protocol {
        eprintln!(
            "WARNING: random frame split: one person's frames are in both training and test, so these figures overstate how the model does on new people."
        );
    }
    let protocol = format!(
        "{}; {}",
        opts.protocol.describe(),
        flow_features(&ds.spec.flow_method)
    );
    eprintln!(
        "fit: {} frames of {} subjects in {} videos; {protocol}",
        rows.label.len(),
        rows.subjects.len(),
        ds.videos.len()
    );
    let folds = folds(&rows, opts.protocol, opts.train.seed)?;
    let mut probabilities: Vec<Option<Vec<f32>>> = vec![None; rows.label.len()];
    let mut logs: Vec<(usize, Vec<EpochLog>)> = Vec::new();
    for (k, test) in folds.iter().enumerate() {
        let train_rows: Vec<usize> = folds
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .flat_map(|(_, f)| f.iter().copied())
            .collect();
        let (pre, batches) = prepare(
            &ds,
            &rows,
            &train_rows,
            &[&train_rows, test],
            opts,
            opts.train.seed + k as u64,
        )?;
        let (net, log) = train(&batches[0], Some(&batches[1]), labels.len(), &opts.train)?;
        let trained = Trained {
            preprocess: pre,
            net,
            labels: labels.clone(),
        };
        let p = trained.predict_standardised(&batches[1].landmarks, &batches[1].flow)?;
        for (&r, p) in test.iter().zip(p) {
            probabilities[r] = Some(p);
        }
        if let Some(last) = log.last() {
            eprintln!(
                "fold {}/{}: validation accuracy {:.3}",
                k + 1,
                folds.len(),
                last.validation_accuracy.unwrap_or(0.0)
            );
        }
        logs.push((k, log));
    }
    let evaluation = evaluate(
        &labels,
        &rows.grouping(),
        &probabilities,
        &protocol,
        opts.shuffle_labels,
    );
    println!("Frame level ({protocol}):\n{}", evaluation.frames.to_text());
    println!(
        "Subject level (mean probability per subject):\n{}",
        evaluation.subjects.to_text()
    );
    println!("{}", evaluation.subjects_text());

    // The final model learns from everything.
    let all: Vec<usize> = (0..rows.label.len()).collect();
    let (pre, batches) = prepare(&ds, &rows, &all, &[&all], opts, opts.train.seed)?;
    let (net, _) = train(&batches[0], None, labels.len(), &opts.train)?;
    let trained = Trained {
        preprocess: pre,
        net,
        labels: labels.clone(),
    };
    let metadata = model_metadata(opts, &ds, &rows, &labels, &trained, &evaluation)?;
    let bytes = crate::onnx_export::to_onnx(&trained, &metadata)?;
    write_file(&opts.out, &bytes)?;
    eprintln!(
        "fit: wrote {} ({} PCA components, {:.1}% of the flow variance)",
        opts.out.display(),
        trained.preprocess.components,
        100.0 * trained.preprocess.variance_explained
    );
    if let Some(dir) = &opts.report {
        crate::report::write(dir, &evaluation, &logs)?;
    }
    Ok(evaluation)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("could not create {}: {e}", parent.display()))?;
    }
    let partial = path.with_extension("part");
    std::fs::write(&partial, bytes)
        .and_then(|_| std::fs::rename(&partial, path))
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}

fn model_metadata(
    opts: &FitOptions,
    ds: &Dataset,
    rows: &Rows,
    labels: &[String],
    trained: &Trained,
    evaluation: &Evaluation,
) -> Result<Vec<(String, String)>, String> {
    use gstals::classify::{LABELS_KEY, NAME_KEY, SYNTHETIC_KEY};
    let mut name = opts.name.clone().unwrap_or_else(|| {
        opts.out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if opts.synthetic && !name.contains("synthetic") {
        name = format!("synthetic-{name}");
    }
    let mut per_class: HashMap<&str, usize> = HashMap::new();
    for &l in &rows.label {
        *per_class.entry(labels[l as usize].as_str()).or_default() += 1;
    }
    let frames_per_class: Vec<String> = labels
        .iter()
        .map(|l| format!("{l}={}", per_class.get(l.as_str()).unwrap_or(&0)))
        .collect();
    let mut m: Vec<(String, String)> = crate::data::spec_metadata(&ds.spec).into_iter().collect();
    m.sort();
    let mut put = |k: &str, v: String| m.push((k.to_string(), v));
    put(LABELS_KEY, labels.join(","));
    put(SYNTHETIC_KEY, opts.synthetic.to_string());
    put(NAME_KEY, name);
    put(
        "gst-als.clinical-use",
        if opts.synthetic {
            "none: trained on synthetic data, not for diagnosis".into()
        } else {
            "not validated".into()
        },
    );
    put(
        "gst-als.pca.components",
        trained.preprocess.components.to_string(),
    );
    put(
        "gst-als.pca.variance-explained",
        format!("{:.4}", trained.preprocess.variance_explained),
    );
    put("gst-als.training.videos", ds.videos.len().to_string());
    put("gst-als.training.subjects", rows.subjects.len().to_string());
    put(
        "gst-als.training.frames-per-class",
        frames_per_class.join(","),
    );
    put(
        "gst-als.evaluation",
        serde_json::to_string(evaluation).map_err(|e| e.to_string())?,
    );
    put("gst-als.protocol", evaluation.protocol.clone());
    put("gst-als.shuffled-labels", opts.shuffle_labels.to_string());
    put("gst-als.seed", opts.train.seed.to_string());
    put(
        "gst-als.training",
        format!(
            "adam lr={} batch={} epochs={} dropout={}",
            opts.train.learning_rate, opts.train.batch_size, opts.train.epochs, opts.train.dropout
        ),
    );
    put(
        "gst-als.trainer-version",
        concat!("als-train ", env!("CARGO_PKG_VERSION")).into(),
    );
    Ok(m)
}

/// `als-train eval`: the same tables for a model file on other features, run through ONNX
/// Runtime as `alsclassify` runs it.
pub fn eval(model: &Path, dir: &Path) -> Result<Evaluation, String> {
    use gstals::classify::ClassModel;
    use gstals::features::FaceFeatures;
    let ds = Dataset::open(dir)?;
    let library = gstals::mesh::resolve_library(None);
    let mut m = ClassModel::load(&library, model, 1)?;
    if m.info.spec != ds.spec {
        return Err(format!(
            "{} was trained on other features than {} holds ({:?} vs {:?})",
            model.display(),
            dir.display(),
            m.info.spec,
            ds.spec
        ));
    }
    let labels = m.info.labels.clone();
    let rows = load_rows(&ds, &labels, None)?;
    let (l, f) = (ds.spec.landmark_len(), ds.spec.flow_len());
    let mut probabilities = Vec::with_capacity(rows.label.len());
    for vi in 0..ds.videos.len() {
        let feats = ds.read(vi)?;
        for r in 0..feats.frame.len() {
            let face = FaceFeatures {
                face_id: 0,
                landmarks: feats.landmarks[r * l..(r + 1) * l].to_vec(),
                flow: feats.flow[r * f..(r + 1) * f].to_vec(),
            };
            probabilities.push(m.run(&[&face])?.into_iter().next());
        }
    }
    let evaluation = evaluate(
        &labels,
        &rows.grouping(),
        &probabilities,
        &format!(
            "held-out evaluation of a trained model; {}",
            flow_features(&ds.spec.flow_method)
        ),
        false,
    );
    println!("Frame level:\n{}", evaluation.frames.to_text());
    println!(
        "Subject level (mean probability per subject):\n{}",
        evaluation.subjects.to_text()
    );
    println!("{}", evaluation.subjects_text());
    Ok(evaluation)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 subjects (even typical, odd impaired), 3 to 7 rows each.
    fn rows() -> Rows {
        let mut rows = Rows::default();
        for s in 0..10 {
            rows.subjects.push(format!("s{s}"));
            rows.subject_label.push((s % 2) as u32);
            for _ in 0..3 + s % 5 {
                rows.subject.push(s);
                rows.label.push((s % 2) as u32);
            }
        }
        rows
    }

    fn subjects_of(rows: &Rows, fold: &[usize]) -> std::collections::BTreeSet<usize> {
        fold.iter().map(|&r| rows.subject[r]).collect()
    }

    /// Every row exactly once.
    fn assert_partition(rows: &Rows, folds: &[Vec<usize>]) {
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..rows.label.len()).collect::<Vec<_>>());
    }

    #[test]
    fn grouped_folds_keep_each_subject_whole_and_balance_the_classes() {
        let rows = rows();
        let folds = folds(&rows, Protocol::GroupedKFold(5), 1).unwrap();
        assert_eq!(folds.len(), 5);
        assert_partition(&rows, &folds);
        for (i, a) in folds.iter().enumerate() {
            let subjects = subjects_of(&rows, a);
            // Stratified: one typical and one impaired subject in each of 5 folds.
            let impaired = subjects.iter().filter(|&&s| s % 2 == 1).count();
            assert_eq!((subjects.len(), impaired), (2, 1), "fold {i}: {subjects:?}");
            for b in &folds[i + 1..] {
                assert!(
                    subjects.is_disjoint(&subjects_of(&rows, b)),
                    "a subject split"
                );
            }
        }
        // Seeded: the same seed the same folds, another seed others.
        assert_eq!(
            folds,
            super::folds(&rows, Protocol::GroupedKFold(5), 1).unwrap()
        );
        assert!((2..20).any(|seed| {
            super::folds(&rows, Protocol::GroupedKFold(5), seed).unwrap() != folds
        }));
    }

    #[test]
    fn leave_one_subject_out_holds_out_each_subject_once() {
        let rows = rows();
        let folds = folds(&rows, Protocol::LeaveOneSubjectOut, 1).unwrap();
        assert_eq!(folds.len(), 10);
        assert_partition(&rows, &folds);
        let held: Vec<usize> = folds
            .iter()
            .map(|f| {
                let subjects = subjects_of(&rows, f);
                assert_eq!(subjects.len(), 1);
                *subjects.iter().next().unwrap()
            })
            .collect();
        assert_eq!(held, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_random_frame_split_puts_one_persons_frames_on_both_sides() {
        let rows = rows();
        let folds = folds(&rows, Protocol::RandomFrames(5), 1).unwrap();
        assert_eq!(folds.len(), 5);
        assert_partition(&rows, &folds);
        // The paper's split, and why it is optimistic: most subjects are in several folds.
        let shared = (0..10)
            .filter(|s| {
                folds
                    .iter()
                    .filter(|f| subjects_of(&rows, f).contains(s))
                    .count()
                    > 1
            })
            .count();
        assert!(shared >= 8, "{shared} of 10 subjects in more than one fold");
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }
}
