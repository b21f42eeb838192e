// SPDX-License-Identifier: MPL-2.0

//! `als-train kinematics`: an interpretable model beside the paper's network. `alskinematics`
//! measures every video of a manifest; each of its windows becomes one row of named statistics
//! (range, amplitude, repetition rate, cycle variability, mean and peak speeds of every
//! measure); an L2-regularised logistic regression on the standardised statistics is
//! evaluated with the same subject-grouped protocol as `fit`, then fitted on all windows, and
//! its coefficients are printed by name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gstals::kinematics::WindowStats;
use gstals::kinematics::measures::NAMES;
use gstals::launch::FILE_DECODE_PULL;
use gstals::meta::{KINEMATICS_WINDOW, window_from_structure};

use crate::evaluation::{Evaluation, evaluate};
use crate::extract::{ManifestRow, read_manifest};
use crate::fit::{Protocol, Rows, folds};

/// The statistics of each measure that become features, in this order.
const STATISTICS: [&str; 7] = [
    "range",
    "amplitude",
    "rate",
    "cycle-variability",
    "mean",
    "peak-opening-speed",
    "peak-closing-speed",
];

pub fn feature_names() -> Vec<String> {
    NAMES
        .iter()
        .flat_map(|m| STATISTICS.iter().map(move |s| format!("{m}.{s}")))
        .collect()
}

fn features(w: &WindowStats) -> Vec<f64> {
    w.stats
        .iter()
        .flat_map(|s| {
            [
                s.range,
                s.amplitude,
                s.rate,
                s.cycle_variability,
                s.mean,
                s.peak_opening_speed,
                s.peak_closing_speed,
            ]
        })
        .collect()
}

pub struct KinematicsOptions {
    pub manifest: PathBuf,
    pub report: Option<PathBuf>,
    pub window: f64,
    /// Windows with fewer counted frames are left out.
    pub min_frames: u64,
    pub protocol: Protocol,
    pub seed: u64,
    pub l2: f64,
    pub jobs: usize,
    pub shuffle_labels: bool,
    /// Manifests of subjects the model never saw, each evaluated after the fit on all
    /// windows.
    pub held_out: Vec<PathBuf>,
}

/// The window statistics of every face of one video.
fn measure_video(path: &Path, window: f64) -> Result<Vec<WindowStats>, String> {
    if !path.is_file() {
        return Err("file not found".into());
    }
    let pipeline = gst::parse::launch(&format!(
        "filesrc name=src ! {FILE_DECODE_PULL} ! alsmesh ! alskinematics window={window} \
         ! fakesink sync=false"
    ))
    .map_err(|e| format!("could not build the pipeline: {e}"))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline".to_string())?;
    if let Some(src) = pipeline.by_name("src") {
        src.set_property("location", path.to_string_lossy().as_ref());
    }
    let bus = pipeline.bus().ok_or("no bus")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| "could not start the pipeline".to_string())?;
    let mut windows = Vec::new();
    let mut result = Err("no end of stream within 10 minutes".to_string());
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(600)) {
        match msg.view() {
            gst::MessageView::Eos(_) => {
                result = Ok(());
                break;
            }
            gst::MessageView::Error(e) => {
                result = Err(e.error().to_string());
                break;
            }
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == KINEMATICS_WINDOW) {
                    match window_from_structure(s) {
                        Ok((w, _)) => windows.push(w),
                        Err(e) => {
                            result = Err(e.to_string());
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    result.map(|()| windows)
}

/// Logistic regression on standardised features.
pub struct Logistic {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    /// Per standard deviation of each feature.
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl Logistic {
    /// Fits by gradient descent on the mean log-loss plus `l2` times the squared weights.
    /// A value that is not finite (no amplitude where no repetition was found) is missing, not
    /// zero: it is left out of the mean and spread and stands at the mean, so it pushes the
    /// prediction neither way.
    pub fn fit(x: &[Vec<f64>], y: &[f64], l2: f64) -> Self {
        let d = x.first().map_or(0, Vec::len);
        let n = x.len().max(1) as f64;
        let finite = |j: usize| x.iter().map(move |r| r[j]).filter(|v| v.is_finite());
        let mean: Vec<f64> = (0..d)
            .map(|j| {
                let k = finite(j).count();
                if k == 0 {
                    0.0
                } else {
                    finite(j).sum::<f64>() / k as f64
                }
            })
            .collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                let k = finite(j).count().max(1) as f64;
                let var = finite(j).map(|v| (v - mean[j]).powi(2)).sum::<f64>() / k;
                if var > 1e-18 { var.sqrt() } else { 1.0 }
            })
            .collect();
        let mut model = Self {
            mean,
            scale,
            weights: vec![0.0; d],
            intercept: 0.0,
        };
        let z: Vec<Vec<f64>> = x.iter().map(|r| model.standardise(r)).collect();
        let rate = 0.5;
        for _ in 0..3000 {
            let mut grad = vec![0.0; d];
            let mut grad0 = 0.0;
            for (row, &target) in z.iter().zip(y) {
                let err = model.probability_z(row) - target;
                grad0 += err;
                for (g, v) in grad.iter_mut().zip(row) {
                    *g += err * v;
                }
            }
            model.intercept -= rate * grad0 / n;
            for (w, g) in model.weights.iter_mut().zip(&grad) {
                *w -= rate * (g / n + 2.0 * l2 * *w);
            }
        }
        model
    }

    fn standardise(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(v, (m, s))| if v.is_finite() { (v - m) / s } else { 0.0 })
            .collect()
    }

    fn probability_z(&self, z: &[f64]) -> f64 {
        let t = self.intercept + self.weights.iter().zip(z).map(|(w, v)| w * v).sum::<f64>();
        1.0 / (1.0 + (-t).exp())
    }

    /// The probability of the second class.
    pub fn probability(&self, row: &[f64]) -> f64 {
        self.probability_z(&self.standardise(row))
    }
}

/// The windows of every video of `manifest` measured, as rows labelled by subject with
/// `labels`' order; videos that cannot be measured are reported and left out.
fn measured_rows(
    manifest: &Path,
    labels: &[String],
    opts: &KinematicsOptions,
) -> Result<(Rows, Vec<Vec<f64>>, usize), String> {
    let videos = read_manifest(manifest)?;
    let subject_labels = subject_labels(&videos)?;
    if let Some(v) = videos.iter().find(|v| !labels.contains(&v.label)) {
        return Err(format!(
            "{}: label {} is not among the model's {labels:?}",
            manifest.display(),
            v.label
        ));
    }
    let measured = measure_all(&videos, opts);
    let mut rows = Rows::default();
    let mut x: Vec<Vec<f64>> = Vec::new();
    let mut skipped = 0;
    for (video, windows) in videos.iter().zip(&measured) {
        let windows = match windows {
            Ok(w) => w,
            Err(e) => {
                eprintln!("kinematics: skipped {}: {e}", video.path.display());
                skipped += 1;
                continue;
            }
        };
        let s = match rows.subjects.iter().position(|s| *s == video.subject) {
            Some(s) => s,
            None => {
                rows.subjects.push(video.subject.clone());
                let label = &subject_labels[&video.subject];
                let l = labels.iter().position(|l| l == label).unwrap_or(0);
                rows.subject_label.push(l as u32);
                rows.subjects.len() - 1
            }
        };
        for w in windows.iter().filter(|w| w.frames >= opts.min_frames) {
            x.push(features(w));
            rows.subject.push(s);
            rows.label.push(rows.subject_label[s]);
        }
    }
    if skipped > 0 {
        eprintln!(
            "kinematics: {skipped} of {} videos could not be measured and were left out",
            videos.len()
        );
    }
    Ok((rows, x, videos.len()))
}

pub fn run(opts: &KinematicsOptions) -> Result<Evaluation, String> {
    let videos = read_manifest(&opts.manifest)?;
    let mut labels: Vec<String> = Vec::new();
    for v in &videos {
        if !labels.contains(&v.label) {
            labels.push(v.label.clone());
        }
    }
    if labels.len() != 2 {
        return Err(format!(
            "the interpretable model is two-class; the manifest has {labels:?}"
        ));
    }
    let trained: std::collections::HashSet<PathBuf> =
        videos.iter().map(|v| canonical(&v.path)).collect();
    for held_out in &opts.held_out {
        if let Some(shared) = read_manifest(held_out)?
            .iter()
            .find(|v| trained.contains(&canonical(&v.path)))
        {
            return Err(format!(
                "{} lists {}, which the model was fitted on: held-out videos must be new",
                held_out.display(),
                shared.path.display()
            ));
        }
    }
    let (mut rows, x, video_count) = measured_rows(&opts.manifest, &labels, opts)?;
    if opts.shuffle_labels {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x054A_FF1E);
        rows.subject_label.shuffle(&mut rng);
        for (label, &s) in rows.label.iter_mut().zip(&rows.subject) {
            *label = rows.subject_label[s];
        }
    }
    if rows.subjects.len() < 2 || x.is_empty() {
        return Err("need windows from two or more subjects".into());
    }
    eprintln!(
        "kinematics: {} windows of {} subjects in {} videos; {}",
        x.len(),
        rows.subjects.len(),
        video_count,
        opts.protocol.describe()
    );
    let y: Vec<f64> = rows.label.iter().map(|&l| l as f64).collect();
    let mut probabilities: Vec<Option<Vec<f32>>> = vec![None; x.len()];
    for test in folds(&rows, opts.protocol, opts.seed)? {
        let train: Vec<usize> = (0..x.len()).filter(|i| !test.contains(i)).collect();
        let xs: Vec<Vec<f64>> = train.iter().map(|&i| x[i].clone()).collect();
        let ys: Vec<f64> = train.iter().map(|&i| y[i]).collect();
        let model = Logistic::fit(&xs, &ys, opts.l2);
        for &i in &test {
            let p = model.probability(&x[i]) as f32;
            probabilities[i] = Some(vec![1.0 - p, p]);
        }
    }
    let protocol = format!(
        "logistic regression on alskinematics window statistics; {}",
        opts.protocol.describe()
    );
    let mut evaluation = evaluate(
        &labels,
        &rows.grouping(),
        &probabilities,
        &protocol,
        opts.shuffle_labels,
    );
    evaluation.row = "window".into();
    let model = Logistic::fit(&x, &y, opts.l2);
    let coefficients = coefficients_text(&model, &labels);
    println!("{protocol}");
    println!("Window level:\n{}", evaluation.frames.to_text());
    println!("Subject level:\n{}", evaluation.subjects.to_text());
    println!("{coefficients}");
    if let Some(dir) = &opts.report {
        crate::report::write(dir, &evaluation, &[])?;
        let mut csv = String::from("feature,coefficient,mean,std\n");
        for (i, name) in feature_names().iter().enumerate() {
            csv.push_str(&format!(
                "{name},{:.6},{:.6},{:.6}\n",
                model.weights[i], model.mean[i], model.scale[i]
            ));
        }
        csv.push_str(&format!("intercept,{:.6},,\n", model.intercept));
        std::fs::write(dir.join("coefficients.csv"), csv)
            .map_err(|e| format!("could not write coefficients.csv: {e}"))?;
    }
    for (i, held_out) in opts.held_out.iter().enumerate() {
        let held = held_out_evaluation(&model, held_out, &labels, opts)?;
        if let Some(dir) = &opts.report {
            crate::report::write(&dir.join(format!("held-out-{}", i + 1)), &held, &[])?;
        }
    }
    Ok(evaluation)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The model fitted on every training window, applied to the videos of another manifest
/// (subjects it never saw): the tables and each subject's verdict.
fn held_out_evaluation(
    model: &Logistic,
    manifest: &Path,
    labels: &[String],
    opts: &KinematicsOptions,
) -> Result<Evaluation, String> {
    let (rows, x, video_count) = measured_rows(manifest, labels, opts)?;
    if x.is_empty() {
        return Err(format!("{}: no window to evaluate", manifest.display()));
    }
    let probabilities: Vec<Option<Vec<f32>>> = x
        .iter()
        .map(|row| {
            let p = model.probability(row) as f32;
            Some(vec![1.0 - p, p])
        })
        .collect();
    let protocol = format!(
        "logistic regression on alskinematics window statistics, fitted on {} and applied to \
         the {} subjects of {} ({video_count} videos) it never saw",
        opts.manifest.display(),
        rows.subjects.len(),
        manifest.display()
    );
    let mut evaluation = evaluate(labels, &rows.grouping(), &probabilities, &protocol, false);
    evaluation.row = "window".into();
    println!("{protocol}");
    println!("Held-out window level:\n{}", evaluation.frames.to_text());
    println!("Held-out subject level:\n{}", evaluation.subjects.to_text());
    println!("{}", evaluation.subjects_text());
    Ok(evaluation)
}

/// The fitted coefficients by name, largest first.
fn coefficients_text(model: &Logistic, labels: &[String]) -> String {
    let names = feature_names();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| model.weights[b].abs().total_cmp(&model.weights[a].abs()));
    let mut out = format!(
        "Coefficients (all windows; log-odds of {} per standard deviation of the feature):\n",
        labels[1]
    );
    for i in order {
        out.push_str(&format!("  {:+.3}  {}\n", model.weights[i], names[i]));
    }
    out.push_str(&format!("  {:+.3}  (intercept)\n", model.intercept));
    out
}

/// One label per subject, as `fit` requires: subject-level results need one truth per person.
fn subject_labels(videos: &[ManifestRow]) -> Result<HashMap<String, String>, String> {
    let mut labels: HashMap<String, String> = HashMap::new();
    for v in videos {
        match labels.get(&v.subject) {
            Some(l) if *l != v.label => {
                return Err(format!(
                    "subject {} has videos labelled both {l} and {}",
                    v.subject, v.label
                ));
            }
            Some(_) => {}
            None => {
                labels.insert(v.subject.clone(), v.label.clone());
            }
        }
    }
    Ok(labels)
}

/// Every video's windows, or why it could not be measured.
fn measure_all(
    videos: &[ManifestRow],
    opts: &KinematicsOptions,
) -> Vec<Result<Vec<WindowStats>, String>> {
    let queue = Arc::new(Mutex::new(
        (0..videos.len()).collect::<Vec<_>>().into_iter(),
    ));
    type Done = Vec<(usize, Result<Vec<WindowStats>, String>)>;
    let done: Arc<Mutex<Done>> = Arc::default();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let (queue, done) = (queue.clone(), done.clone());
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).ok().flatten();
                    let Some(i) = next else { break };
                    let result = measure_video(&videos[i].path, opts.window);
                    if let Ok(mut d) = done.lock() {
                        d.push((i, result));
                    }
                }
            });
        }
    });
    let mut done = match done.lock() {
        Ok(mut d) => std::mem::take(&mut *d),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    done.sort_by_key(|(i, _)| *i);
    let mut results: Vec<Result<Vec<WindowStats>, String>> = (0..videos.len())
        .map(|_| Err("not measured: a worker stopped".to_string()))
        .collect();
    for (i, r) in done {
        results[i] = r;
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_regression_finds_the_feature_that_separates() {
        // Feature 0 decides the class; feature 1 is noise; feature 2 is constant.
        let x: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let class = (i % 2) as f64;
                vec![
                    class * 2.0 + (i % 7) as f64 * 0.1,
                    ((i * 37) % 11) as f64,
                    5.0,
                ]
            })
            .collect();
        let y: Vec<f64> = (0..200).map(|i| (i % 2) as f64).collect();
        let model = Logistic::fit(&x, &y, 0.001);
        assert!(model.weights[0] > 1.0, "{:?}", model.weights);
        assert!(model.weights[1].abs() < 0.5 * model.weights[0]);
        assert_eq!(model.weights[2], 0.0);
        let right = x
            .iter()
            .zip(&y)
            .filter(|(r, t)| (model.probability(r) > 0.5) == (**t > 0.5))
            .count();
        assert!(right >= 195, "{right}");
        assert_eq!(
            feature_names().len(),
            features(&WindowStats::default()).len()
        );
        assert_eq!(feature_names()[2], "lip-aperture.rate");
    }

    #[test]
    fn a_missing_value_is_neither_zero_nor_evidence() {
        // Feature 0 separates the classes; in a third of the rows it is missing (no
        // repetition found), which must not read as a tiny amplitude.
        let x: Vec<Vec<f64>> = (0..300)
            .map(|i| {
                let class = (i % 2) as f64;
                let v = if i % 3 == 0 {
                    f64::NAN
                } else {
                    5.0 + class * 2.0
                };
                vec![v, (i % 5) as f64]
            })
            .collect();
        let y: Vec<f64> = (0..300).map(|i| (i % 2) as f64).collect();
        let model = Logistic::fit(&x, &y, 0.001);
        assert!(
            model.mean[0] > 5.5 && model.mean[0] < 6.5,
            "{}",
            model.mean[0]
        );
        assert!(model.weights[0] > 1.0, "{:?}", model.weights);
        let missing = model.probability(&[f64::NAN, 2.0]);
        let at_mean = model.probability(&[model.mean[0], 2.0]);
        assert!((missing - at_mean).abs() < 1e-12, "{missing} {at_mean}");
        // Read as zero it would have been a confident "class 0".
        assert!(model.probability(&[0.0, 2.0]) < 0.01);
        assert!((missing - 0.5).abs() < 0.2, "{missing}");
    }

    #[test]
    fn one_label_per_subject() {
        let row = |subject: &str, label: &str| ManifestRow {
            path: PathBuf::from(format!("{subject}-{label}.mp4")),
            label: label.into(),
            subject: subject.into(),
            task: String::new(),
        };
        let fine = [
            row("a", "typical"),
            row("a", "typical"),
            row("b", "impaired"),
        ];
        assert_eq!(subject_labels(&fine).unwrap()["b"], "impaired");
        let mixed = [
            row("a", "typical"),
            row("b", "impaired"),
            row("a", "impaired"),
        ];
        let err = subject_labels(&mixed).unwrap_err();
        assert!(
            err.contains("subject a has videos labelled both typical and impaired"),
            "{err}"
        );
    }
}
