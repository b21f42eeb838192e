// SPDX-License-Identifier: MPL-2.0

//! Writes a synthetic face clip as raw RGB frames:
//! `cargo run --release --example make_face_clip -- PHOTO.png face|leave|two OUT.rgb`.
//! Play it with `filesrc ! rawvideoparse format=rgb width=W height=H framerate=30/1`; the
//! geometry is printed on stdout as `WIDTHxHEIGHTxFRAMES`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use als_synthetic::{Photo, Scenario, render};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [photo, scenario, out] = args.as_slice() else {
        eprintln!("usage: make_face_clip PHOTO.png face|leave|two OUT.rgb");
        return ExitCode::from(2);
    };
    let Some(scenario) = Scenario::from_name(scenario) else {
        eprintln!("unknown scenario {scenario}: face, leave or two");
        return ExitCode::from(2);
    };
    match write_clip(&PathBuf::from(photo), scenario, &PathBuf::from(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("make_face_clip: {err}");
            ExitCode::FAILURE
        }
    }
}

fn write_clip(photo: &Path, scenario: Scenario, out: &Path) -> Result<(), String> {
    let photo = Photo::load(photo).map_err(|e| e.to_string())?;
    let (w, h, frames) = scenario.geometry();
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?,
    );
    for i in 0..frames {
        let rgb = render(&photo, scenario, i).map_err(|e| e.to_string())?;
        file.write_all(&rgb).map_err(|e| e.to_string())?;
    }
    file.flush().map_err(|e| e.to_string())?;
    println!("{w}x{h}x{frames}");
    Ok(())
}
