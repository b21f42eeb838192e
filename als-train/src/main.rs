// SPDX-License-Identifier: MPL-2.0

//! `als-train`: labelled videos in, a gst-als classifier (ONNX) out.
//!
//! ```text
//! als-train synth OUT_DIR                      # labelled synthetic subjects + manifest.csv
//! als-train extract MANIFEST.csv --out DIR     # features with the plugin's own elements
//! als-train fit DIR --out model.onnx --report REPORT_DIR
//! als-train eval model.onnx DIR
//! als-train kinematics MANIFEST.csv --report DIR  # interpretable model on alskinematics
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use als_synthetic::subjects::Task;
use clap::{Parser, Subcommand, ValueEnum};
use gstals::features::{FeatureSpec, FlowMode, LandmarkMode};
use gstals::flow::{DisParams, DisPreset, FlowMethod};

mod data;
mod evaluation;
mod extract;
mod fit;
mod kinematics;
mod metrics;
mod model;
mod onnx_export;
mod pca;
mod report;
mod synth;

#[derive(Parser)]
#[command(
    version,
    about = "Extract gst-als features from labelled videos, train the paper's dual-branch classifier, evaluate it by subject"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LandmarkArg {
    Roi,
    Frame,
}

#[derive(Clone, Copy, ValueEnum)]
enum FlowArg {
    Face,
    Frame,
}

#[derive(Clone, Copy, ValueEnum)]
enum FlowMethodArg {
    /// The paper's method (OpenCV's Farneback with the paper's settings).
    Farneback,
    /// OpenCV's DIS: several times cheaper, other magnitudes.
    Dis,
}

#[derive(Clone, Copy, ValueEnum)]
enum DisPresetArg {
    Ultrafast,
    Fast,
    Medium,
}

#[derive(Subcommand)]
enum Command {
    /// Writes labelled synthetic subjects (typical and impaired profiles) as MP4 clips and a
    /// manifest.csv. Synthetic motion: for testing the chain, not for any diagnosis.
    Synth {
        out: PathBuf,
        #[arg(long, default_value_t = 16)]
        subjects: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Frames per clip (30 per second).
        #[arg(long, default_value_t = 60)]
        frames: usize,
        /// Tasks, comma-separated: open, spread, pa.
        #[arg(long, default_value = "open,spread,pa", value_delimiter = ',')]
        tasks: Vec<String>,
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../third_party/photos/astronaut.png"))]
        photo: PathBuf,
        /// Clips rendered at a time (default: one per CPU); each clip's bytes are the same
        /// whatever the number.
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Runs alsmesh and alsflow over every video of MANIFEST (columns path,label,subject[,task])
    /// and stores per-frame, per-face features in DIR. Unreadable or face-less videos are
    /// reported and skipped.
    Extract {
        manifest: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Videos at a time.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        #[arg(long, value_enum, default_value_t = LandmarkArg::Roi)]
        landmarks: LandmarkArg,
        #[arg(long, value_enum, default_value_t = FlowArg::Face)]
        flow: FlowArg,
        /// Flow grid cells per side (`--flow face`).
        #[arg(long, default_value_t = 16)]
        grid: u32,
        #[arg(long, default_value_t = 128)]
        region_size: u32,
        /// Frame rate the flow magnitudes are scaled to (pixels per frame at this rate).
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        /// The dense optical flow: the model trained on these features only runs on it.
        #[arg(long, value_enum, default_value_t = FlowMethodArg::Farneback)]
        flow_method: FlowMethodArg,
        /// OpenCV's preset for `--flow-method dis`.
        #[arg(long, value_enum, default_value_t = DisPresetArg::Fast)]
        dis_preset: DisPresetArg,
        /// Frame size for `--flow frame` (the paper's full-resolution magnitudes).
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 480)]
        height: u32,
        /// Extract every video again. Without it, a file an earlier run (of this version)
        /// made from the same unchanged video, label, subject, task and settings is kept, so
        /// an interrupted extract resumes.
        #[arg(long)]
        fresh: bool,
    },
    /// Cross-validates PCA + the network by subject, prints the paper's Table I at frame and
    /// subject level, and writes the model trained on all data.
    Fit {
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        report: Option<PathBuf>,
        /// PCA components to keep (default: enough for --pca-variance).
        #[arg(long)]
        pca_components: Option<usize>,
        #[arg(long, default_value_t = 0.95, value_parser = share)]
        pca_variance: f64,
        /// Flow rows the PCA is fitted on, at most (a random sample of the training rows).
        #[arg(long, default_value_t = 2000)]
        pca_sample: usize,
        #[arg(long, default_value_t = 20)]
        epochs: usize,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, default_value_t = 0.001)]
        learning_rate: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Subject-grouped folds.
        #[arg(long, default_value_t = 5)]
        folds: usize,
        #[arg(long, conflicts_with = "random_frame_split")]
        leave_one_subject_out: bool,
        /// The paper's random frame split: one person's frames on both sides (optimistic).
        #[arg(long)]
        random_frame_split: bool,
        /// Class order, comma-separated; with two, the second is the sigmoid's positive class.
        #[arg(long, value_delimiter = ',')]
        classes: Option<Vec<String>>,
        /// Marks the model as trained on synthetic data (name, metadata).
        #[arg(long)]
        synthetic: bool,
        /// Shuffles labels between subjects: a control that must score near chance.
        #[arg(long)]
        shuffle_labels: bool,
        #[arg(long)]
        name: Option<String>,
    },
    /// The interpretable model beside the network: alskinematics measures every video of
    /// MANIFEST (path,label,subject[,task]); each window's statistics (range, amplitude, rate,
    /// cycle variability, mean, peak speeds of every measure) is one row of a logistic
    /// regression, evaluated by subject like `fit`; the coefficients are printed by name.
    Kinematics {
        manifest: PathBuf,
        #[arg(long)]
        report: Option<PathBuf>,
        /// Seconds per window (one row each).
        #[arg(long, default_value_t = 5.0)]
        window: f64,
        /// Windows with fewer measured frames are left out.
        #[arg(long, default_value_t = 10)]
        min_frames: u64,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        #[arg(long)]
        leave_one_subject_out: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// L2 penalty on the standardised coefficients.
        #[arg(long, default_value_t = 0.01)]
        l2: f64,
        /// Videos at a time.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Shuffles labels between subjects: a control that must score near chance.
        #[arg(long)]
        shuffle_labels: bool,
        /// A manifest of other subjects (repeatable): the model fitted on all of MANIFEST's
        /// windows is applied to them, and their tables and verdicts printed (and written to
        /// REPORT/held-out-1, -2, ...).
        #[arg(long)]
        held_out: Vec<PathBuf>,
    },
    /// Prints the tables for MODEL on the features in DIR, run by ONNX Runtime.
    Eval {
        model: PathBuf,
        dir: PathBuf,
        /// Folder for the tables (text and JSON).
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("{text} is not a share in (0, 1]")),
    }
}

fn run(cli: Cli) -> Result<(), String> {
    gst::init().map_err(|e| format!("could not start GStreamer: {e}"))?;
    gstals::plugin_register_static()
        .map_err(|e| format!("could not register the elements: {e}"))?;
    match cli.command {
        Command::Synth {
            out,
            subjects,
            seed,
            frames,
            tasks,
            photo,
            jobs,
        } => {
            let tasks = tasks
                .iter()
                .map(|t| {
                    Task::from_name(t).ok_or_else(|| format!("unknown task {t} (open, spread, pa)"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            synth::run(&synth::SynthOptions {
                out,
                photo,
                subjects,
                seed,
                frames,
                tasks,
                jobs: jobs.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
                }),
            })
        }
        Command::Extract {
            manifest,
            out,
            jobs,
            landmarks,
            flow,
            grid,
            region_size,
            fps,
            flow_method,
            dis_preset,
            width,
            height,
            fresh,
        } => {
            let spec = FeatureSpec {
                landmark_mode: match landmarks {
                    LandmarkArg::Roi => LandmarkMode::Roi,
                    LandmarkArg::Frame => LandmarkMode::Frame,
                },
                flow_mode: match flow {
                    FlowArg::Face => FlowMode::Face,
                    FlowArg::Frame => FlowMode::Frame,
                },
                grid_width: if matches!(flow, FlowArg::Face) {
                    grid
                } else {
                    width
                },
                grid_height: if matches!(flow, FlowArg::Face) {
                    grid
                } else {
                    height
                },
                landmarks: gstals::meta::LANDMARKS_PER_FACE,
                flow_method: match flow_method {
                    FlowMethodArg::Farneback => FlowMethod::default(),
                    FlowMethodArg::Dis => FlowMethod::Dis(DisParams::preset(match dis_preset {
                        DisPresetArg::Ultrafast => DisPreset::Ultrafast,
                        DisPresetArg::Fast => DisPreset::Fast,
                        DisPresetArg::Medium => DisPreset::Medium,
                    })),
                },
                region_size,
                fps,
            };
            let (extracted, skipped) = extract::run(&extract::ExtractOptions {
                manifest,
                out: out.clone(),
                jobs,
                spec,
                fresh,
            })?;
            eprintln!(
                "extract: {extracted} videos into {} (flow scaled to {fps} fps)",
                out.display()
            );
            for (path, why) in &skipped {
                eprintln!("extract: skipped {}: {why}", path.display());
            }
            if extracted == 0 {
                return Err("no video gave features".into());
            }
            Ok(())
        }
        Command::Fit {
            dir,
            out,
            report,
            pca_components,
            pca_variance,
            pca_sample,
            epochs,
            batch_size,
            learning_rate,
            seed,
            folds,
            leave_one_subject_out,
            random_frame_split,
            classes,
            synthetic,
            shuffle_labels,
            name,
        } => {
            let protocol = if random_frame_split {
                fit::Protocol::RandomFrames(folds)
            } else if leave_one_subject_out {
                fit::Protocol::LeaveOneSubjectOut
            } else {
                fit::Protocol::GroupedKFold(folds)
            };
            let options = fit::FitOptions {
                dir,
                out,
                report,
                keep: match pca_components {
                    Some(k) => pca::Keep::Components(k),
                    None => pca::Keep::Variance(pca_variance),
                },
                pca_sample,
                train: model::TrainConfig {
                    epochs,
                    batch_size,
                    learning_rate,
                    dropout: 0.5,
                    seed,
                },
                protocol,
                classes,
                synthetic,
                shuffle_labels,
                name,
            };
            fit::fit(&options).map(|_| ())
        }
        Command::Kinematics {
            manifest,
            report,
            window,
            min_frames,
            folds,
            leave_one_subject_out,
            seed,
            l2,
            jobs,
            shuffle_labels,
            held_out,
        } => {
            if !(window.is_finite() && (0.5..=600.0).contains(&window)) {
                return Err(format!("--window {window}: from 0.5 to 600 seconds"));
            }
            let protocol = if leave_one_subject_out {
                fit::Protocol::LeaveOneSubjectOut
            } else {
                fit::Protocol::GroupedKFold(folds)
            };
            kinematics::run(&kinematics::KinematicsOptions {
                manifest,
                report,
                window,
                min_frames,
                protocol,
                seed,
                l2,
                jobs,
                shuffle_labels,
                held_out,
            })
            .map(|_| ())
        }
        Command::Eval { model, dir, report } => {
            let evaluation = fit::eval(&model, &dir)?;
            match report {
                Some(dir) => report::write(&dir, &evaluation, &[]),
                None => Ok(()),
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("als-train: {e}");
            ExitCode::FAILURE
        }
    }
}
