// SPDX-License-Identifier: MPL-2.0

//! The report folder: the tables as text and JSON, per-epoch loss and accuracy as CSV, and
//! the paper's Figures 2 and 3 (accuracy and loss per epoch) as PNG, averaged over the folds.

use std::path::Path;

use plotters::prelude::*;

use crate::evaluation::Evaluation;
use crate::model::EpochLog;

/// Debian's fonts-dejavu-core: the plots' text.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

pub fn write(
    dir: &Path,
    evaluation: &Evaluation,
    logs: &[(usize, Vec<EpochLog>)],
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let put = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("could not write {name}: {e}"))
    };
    put(
        "tables.txt",
        format!(
            "{}\n\n{}{} level:\n{}\nSubject level (mean probability per subject):\n{}\n{}",
            evaluation.protocol,
            evaluation.row[..1].to_uppercase(),
            &evaluation.row[1..],
            evaluation.frames.to_text(),
            evaluation.subjects.to_text(),
            evaluation.subjects_text()
        ),
    )?;
    put(
        "evaluation.json",
        serde_json::to_string_pretty(evaluation).map_err(|e| e.to_string())?,
    )?;
    let mut csv =
        String::from("fold,epoch,train_loss,train_accuracy,validation_loss,validation_accuracy\n");
    for (fold, log) in logs {
        for e in log {
            let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
            csv.push_str(&format!(
                "{},{},{:.6},{:.6},{},{}\n",
                fold + 1,
                e.epoch,
                e.train_loss,
                e.train_accuracy,
                opt(e.validation_loss),
                opt(e.validation_accuracy)
            ));
        }
    }
    if logs.is_empty() {
        return Ok(());
    }
    put("epochs.csv", csv)?;
    let epochs = logs.iter().map(|(_, l)| l.len()).min().unwrap_or(0);
    let mean = |f: &dyn Fn(&EpochLog) -> f64| -> Vec<(f64, f64)> {
        (0..epochs)
            .map(|e| {
                let sum: f64 = logs.iter().map(|(_, l)| f(&l[e])).sum();
                ((e + 1) as f64, sum / logs.len().max(1) as f64)
            })
            .collect()
    };
    let fonts = std::fs::read(FONT).ok().map(|bytes| {
        // The font lives as long as the process: plotters keeps a 'static reference.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    });
    let text = fonts == Some(true);
    for (file, title, train, validation) in [
        (
            "accuracy.png",
            "accuracy",
            mean(&|e| e.train_accuracy),
            mean(&|e| e.validation_accuracy.unwrap_or(0.0)),
        ),
        (
            "loss.png",
            "loss",
            mean(&|e| e.train_loss),
            mean(&|e| e.validation_loss.unwrap_or(0.0)),
        ),
    ] {
        plot(&dir.join(file), title, &train, &validation, text)
            .map_err(|e| format!("could not draw {file}: {e}"))?;
    }
    Ok(())
}

fn plot(
    path: &Path,
    title: &str,
    train: &[(f64, f64)],
    validation: &[(f64, f64)],
    text: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let finite = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
        points.iter().copied().filter(|p| p.1.is_finite()).collect()
    };
    let (train, validation) = (finite(train), finite(validation));
    let top = train
        .iter()
        .chain(&validation)
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(1e-6)
        * 1.1;
    let last = train.len().max(2) as f64;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15);
    if text {
        builder
            .caption(
                format!("{title} per epoch (mean over folds)"),
                ("sans-serif", 20),
            )
            .x_label_area_size(35)
            .y_label_area_size(50);
    }
    let mut chart = builder.build_cartesian_2d(1.0..last, 0.0..top)?;
    if text {
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(title)
            .draw()?;
    }
    let lines = [("training", &train, BLUE), ("validation", &validation, RED)];
    for (name, points, colour) in lines {
        let series = chart.draw_series(LineSeries::new(
            points.iter().copied(),
            colour.stroke_width(2),
        ))?;
        if text {
            series
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour));
        }
    }
    if text {
        chart
            .configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
