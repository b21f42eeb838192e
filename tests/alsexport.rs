// SPDX-License-Identifier: MPL-2.0

mod common;

use std::sync::{Arc, Mutex};

use common::{init, run_to_eos, run_to_error, scratch_dir};
use gst::prelude::*;
use gstals::meta::FlowMeta;

fn appsink(pipeline: &gst::Element) -> gst_app::AppSink {
    pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|bin| bin.by_name("out"))
        .expect("appsink named out")
        .downcast::<gst_app::AppSink>()
        .expect("out is an appsink")
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("output file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[test]
fn one_line_per_frame_matching_the_flow_meta() {
    init();
    let dir = scratch_dir("export_lines");
    let out = dir.join("out.jsonl");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=8 pattern=ball ! video/x-raw,width=160,height=120 ! \
         alsflow grid-width=4 grid-height=3 ! alsexport location={} flow-grid=true ! \
         appsink name=out sync=false",
        out.display()
    ))
    .unwrap();
    let metas = Arc::new(Mutex::new(Vec::new()));
    let store = metas.clone();
    appsink(&pipeline).set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let pts = buffer.pts().map(gst::ClockTime::nseconds);
                store
                    .lock()
                    .unwrap()
                    .push((pts, FlowMeta::read(buffer).unwrap().unwrap()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    run_to_eos(&pipeline);

    let lines = lines(&out);
    let metas = metas.lock().unwrap();
    assert_eq!(lines.len(), 8);
    assert_eq!(metas.len(), 8);
    for (i, (line, (pts, meta))) in lines.iter().zip(metas.iter()).enumerate() {
        assert_eq!(line["schema"], 5);
        assert_eq!(line["frame"], i as u64);
        assert_eq!(line["pts_ns"].as_u64(), *pts);
        assert_eq!(
            (line["width"].as_u64(), line["height"].as_u64()),
            (Some(160), Some(120))
        );
        let flow = &line["flow"];
        assert_eq!(flow["valid"].as_bool(), Some(meta.is_valid()));
        assert_eq!(flow["region"], "frame");
        assert_eq!(
            (flow["grid_width"].as_u64(), flow["grid_height"].as_u64()),
            (Some(4), Some(3))
        );
        let region = &meta.regions[0];
        match &region.stats {
            None => {
                assert_eq!(flow["reason"], "start");
                assert!(flow.get("mean").is_none() && flow.get("grid").is_none());
            }
            Some(stats) => {
                let as_f32 = |v: &serde_json::Value| v.as_f64().expect("number") as f32;
                assert_eq!(as_f32(&flow["mean"]), stats.mean as f32);
                assert_eq!(as_f32(&flow["max"]), stats.max as f32);
                assert_eq!(as_f32(&flow["p99"]), stats.p99 as f32);
                assert_eq!(as_f32(&flow["direction"]), stats.mean_direction as f32);
                let grid: Vec<f32> = flow["grid"]
                    .as_array()
                    .expect("grid asked for")
                    .iter()
                    .map(as_f32)
                    .collect();
                assert_eq!(grid, region.grid);
            }
        }
    }
}

#[test]
fn grid_is_left_out_unless_asked_for() {
    init();
    let out = scratch_dir("export_no_grid").join("out.jsonl");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48 ! alsflow ! \
         alsexport location={} ! fakesink",
        out.display()
    ))
    .unwrap();
    run_to_eos(&pipeline);
    let lines = lines(&out);
    assert_eq!(lines.len(), 3);
    assert!(lines[2]["flow"]["valid"].as_bool().unwrap());
    assert!(lines.iter().all(|l| l["flow"].get("grid").is_none()));
}

#[test]
fn frames_without_metas_get_bare_lines() {
    init();
    let out = scratch_dir("export_bare").join("out.jsonl");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! \
         alsexport location={} ! fakesink",
        out.display()
    ))
    .unwrap();
    run_to_eos(&pipeline);
    let lines = lines(&out);
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l.get("flow").is_none() && l.get("faces").is_none())
    );
}

#[test]
fn append_adds_to_the_file_and_the_default_replaces_it() {
    init();
    let out = scratch_dir("export_append").join("out.jsonl");
    let run = |extra: &str, frames: u32| {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers={frames} ! video/x-raw,width=64,height=48 ! \
             alsexport location={} {extra} ! fakesink",
            out.display()
        ))
        .unwrap();
        run_to_eos(&pipeline);
        lines(&out).len()
    };
    assert_eq!(run("", 2), 2);
    assert_eq!(
        run("append=true", 3),
        5,
        "a restarted pipeline keeps the earlier lines"
    );
    assert_eq!(run("", 1), 1);
}

#[test]
fn unwritable_location_is_an_element_error() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=2 ! alsexport location=/nonexistent-dir/out.jsonl ! fakesink",
    )
    .unwrap();
    let err = run_to_error(&pipeline);
    assert!(err.matches(gst::ResourceError::OpenWrite), "{err}");
    assert!(
        err.to_string().contains("/nonexistent-dir/out.jsonl"),
        "{err}"
    );
}

#[test]
fn missing_location_is_an_element_error() {
    init();
    let pipeline = gst::parse::launch("videotestsrc num-buffers=2 ! alsexport ! fakesink").unwrap();
    let err = run_to_error(&pipeline);
    assert!(err.to_string().contains("No location"), "{err}");
}

#[test]
fn full_disk_is_an_element_error() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=5 ! alsflow ! alsexport location=/dev/full ! fakesink",
    )
    .unwrap();
    let err = run_to_error(&pipeline);
    assert!(err.matches(gst::ResourceError::NoSpaceLeft), "{err}");
}

#[test]
fn gst_launch_writes_json_lines_to_stdout() {
    common::build_plugin();
    let plugin_dir = common::target_dir();
    let output = std::process::Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "num-buffers=4",
            "!",
            "video/x-raw,width=64,height=48",
        ])
        .args([
            "!",
            "alsflow",
            "threads=2",
            "!",
            "alsexport",
            "location=-",
            "!",
            "fakesink",
        ])
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("launch-registry.bin"))
        .output()
        .expect("gst-launch-1.0 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout holds only JSON Lines"))
        .collect();
    assert_eq!(lines.len(), 4);
    let valid: Vec<bool> = lines
        .iter()
        .map(|l| l["flow"]["valid"].as_bool().unwrap())
        .collect();
    assert_eq!(valid, [false, true, true, true]);
}

#[test]
fn dev_null_takes_every_line_and_ends_cleanly() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=5 ! video/x-raw,width=32,height=24 ! alsflow ! \
         alsexport location=/dev/null ! fakesink name=sink signal-handoffs=true",
    )
    .unwrap();
    let passed = Arc::new(Mutex::new(0));
    let counted = passed.clone();
    pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("sink"))
        .expect("sink")
        .connect("handoff", false, move |_| {
            *counted.lock().unwrap() += 1;
            None
        });
    let messages = common::run_to_eos_collecting(&pipeline);
    assert_eq!(*passed.lock().unwrap(), 5, "every buffer went through");
    let complaints: Vec<String> = messages
        .iter()
        .filter_map(|m| match m.view() {
            gst::MessageView::Warning(w) => Some(w.error().to_string()),
            _ => None,
        })
        .collect();
    assert!(complaints.is_empty(), "{complaints:?}");
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[test]
fn a_fifo_gets_every_line() {
    init();
    let dir = scratch_dir("export_fifo");
    let fifo = dir.join("lines.fifo");
    mkfifo(&fifo);
    let reader = std::process::Command::new("cat")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cat runs");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=6 ! video/x-raw,width=32,height=24 ! alsflow ! \
         alsexport location={} ! fakesink",
        fifo.display()
    ))
    .unwrap();
    run_to_eos(&pipeline);
    let out = reader.wait_with_output().expect("cat ends");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect();
    assert_eq!(lines.len(), 6);
}

#[test]
fn a_reader_that_goes_away_is_an_error_naming_the_location() {
    init();
    let dir = scratch_dir("export_epipe");
    let fifo = dir.join("lines.fifo");
    mkfifo(&fifo);
    // Reads one line's worth, then closes its end.
    let reader = std::process::Command::new("head")
        .args(["-c", "10"])
        .arg(&fifo)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("head runs");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=100000 ! video/x-raw,width=16,height=16 ! \
         alsexport location={} ! fakesink",
        fifo.display()
    ))
    .unwrap();
    let err = run_to_error(&pipeline);
    let _ = { reader }.wait();
    assert!(err.matches(gst::ResourceError::Write), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&fifo.display().to_string()) && text.contains("reader went away"),
        "{text}"
    );
}

#[test]
fn stdout_pipes_into_another_command() {
    common::build_plugin();
    let plugin_dir = common::target_dir();
    let script = "set -o pipefail; gst-launch-1.0 -q videotestsrc num-buffers=7 \
                  ! video/x-raw,width=32,height=24 ! alsflow ! alsexport location=- \
                  ! fakesink | wc -l";
    let output = std::process::Command::new("bash")
        .args(["-c", script])
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("launch-registry.bin"))
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "7");
}

#[test]
fn gst_launch_reports_a_reader_that_goes_away_instead_of_dying() {
    common::build_plugin();
    let plugin_dir = common::target_dir();
    // head takes one line's worth and exits; gst-launch-1.0 keeps writing to the pipe.
    let script = "gst-launch-1.0 -q videotestsrc num-buffers=100000 \
                  ! video/x-raw,width=16,height=16 ! alsexport location=- ! fakesink \
                  2> launch.err | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}";
    let dir = scratch_dir("export_launch_epipe");
    let output = std::process::Command::new("bash")
        .args(["-c", script])
        .current_dir(&dir)
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("launch-registry.bin"))
        .output()
        .expect("bash runs");
    let status = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let stderr = std::fs::read_to_string(dir.join("launch.err")).unwrap_or_default();
    assert_eq!(
        status, "1",
        "an error exit, not death by SIGPIPE (141): {stderr}"
    );
    assert!(stderr.contains("reader went away"), "{stderr}");
}

#[test]
fn a_file_that_cannot_grow_is_cut_back_to_its_last_whole_line() {
    common::build_plugin();
    let plugin_dir = common::target_dir();
    let dir = scratch_dir("export_file_limit");
    // A 4 KiB file-size limit (the signal it raises ignored, so writes fail with EFBIG) stands
    // in for a full disk on a regular file.
    let script = "trap '' XFSZ; ulimit -f 4; gst-launch-1.0 -q videotestsrc num-buffers=1000 \
                  ! video/x-raw,width=16,height=16 ! alsexport location=out.jsonl ! fakesink";
    let output = std::process::Command::new("bash")
        .args(["-c", script])
        .current_dir(&dir)
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("launch-registry.bin"))
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the write failure is an error");
    assert!(stderr.contains("out.jsonl"), "{stderr}");
    let text = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
    assert!(
        !text.is_empty() && text.len() <= 4096,
        "{} bytes",
        text.len()
    );
    assert!(text.ends_with('\n'), "no part of a line is left");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line is whole JSON");
    }
}

#[test]
fn a_new_file_is_private_and_an_existing_one_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    init();
    let dir = scratch_dir("export_mode");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let fresh = dir.join("fresh.jsonl");
    let shared = dir.join("shared.jsonl");
    std::fs::write(&shared, b"").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    for (path, append) in [(&fresh, false), (&shared, false), (&shared, true)] {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,width=32,height=24 ! \
             alsexport location={} append={append} ! fakesink",
            path.display()
        ))
        .unwrap();
        run_to_eos(&pipeline);
    }
    assert_eq!(mode(&fresh), 0o600, "made by alsexport: private");
    assert_eq!(mode(&shared), 0o640, "the user's own choice is kept");
    assert_eq!(lines(&shared).len(), 4, "replaced, then appended to");
}
