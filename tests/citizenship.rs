// SPDX-License-Identifier: MPL-2.0

//! What every gst-als element owes GStreamer's conventions, checked over all of them at once.

mod common;

use gst::glib;
use gst::prelude::*;

const ELEMENTS: [&str; 7] = [
    "alsflow",
    "alsmesh",
    "alsclassify",
    "alskinematics",
    "alsexport",
    "alsoverlay",
    "alspublish",
];

#[test]
fn no_property_shadows_one_of_a_base_class() {
    common::init();
    for name in ELEMENTS {
        let element = gst::ElementFactory::make(name).build().expect(name);
        let own = element.type_();
        let parent = own.parent().expect("a parent class");
        let base = glib::object::ObjectClass::from_type(parent).expect("the parent's class");
        for pspec in element.list_properties() {
            if pspec.owner_type() != own {
                continue;
            }
            assert!(
                base.find_property(pspec.name()).is_none(),
                "{name}'s {} hides {}'s property of that name",
                pspec.name(),
                parent.name()
            );
        }
    }
    // alspublish's MQTT quality of service has its own name; `qos` is BaseTransform's.
    let publish = gst::ElementFactory::make("alspublish")
        .build()
        .expect("alspublish");
    let qos = publish.find_property("qos").expect("BaseTransform's qos");
    assert_eq!(qos.value_type(), glib::Type::BOOL);
    assert_eq!(publish.property::<u32>("mqtt-qos"), 1);
}

/// The plugin links what pipelines use and nothing else: the synthetic clips, the trainer's and
/// the CLIs' crates are workspace members of their own, never the plugin's dependencies.
#[test]
fn the_plugin_depends_on_no_test_clip_training_or_cli_crate() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
        ])
        .arg("gst-plugin-als")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crates: std::collections::BTreeSet<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains("gstreamer") && crates.contains("opencv"),
        "{crates:?}"
    );
    for unwanted in [
        "als-synthetic",
        "als-train",
        "als-batch",
        "als-rtsp",
        "clap",
        "indicatif",
        "safetensors",
        "nalgebra",
        "csv",
    ] {
        assert!(
            !crates.contains(unwanted),
            "the plugin depends on {unwanted}"
        );
    }
}
