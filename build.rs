use std::path::Path;

fn main() {
    gst_plugin_version_helper::info();

    // The plugin's origin URL: where a packager says it comes from, else the source tree it
    // was built from (the project has no public home yet; a made-up URL would mislead).
    println!("cargo:rerun-if-env-changed=GST_ALS_ORIGIN");
    let origin = std::env::var("GST_ALS_ORIGIN")
        .unwrap_or_else(|_| format!("file://{}", env!("CARGO_MANIFEST_DIR")));
    println!("cargo:rustc-env=GST_ALS_ORIGIN={origin}");

    // Where scripts/fetch-onnxruntime.sh and scripts/build-models.sh put their output, unless
    // an installer (meson) says where it installs them.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let defaults = [
        (
            "GST_ALS_ORT_LIB",
            root.join("third_party/onnxruntime/libonnxruntime.so.1.31.1"),
        ),
        ("GST_ALS_MODEL_DIR", root.join("third_party/models")),
    ];
    for (var, default) in defaults {
        println!("cargo:rerun-if-env-changed={var}");
        let value = std::env::var(var).unwrap_or_else(|_| default.display().to_string());
        println!(
            "cargo:rustc-env=GST_ALS_DEFAULT_{}={value}",
            &var["GST_ALS_".len()..]
        );
    }
}
