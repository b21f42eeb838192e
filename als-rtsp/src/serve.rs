// SPDX-License-Identifier: MPL-2.0

//! `als-rtsp serve`: a video file as an RTSP stream in real time, each viewer from the start.
//! A stand-in camera for trying the relay, and the source its tests stop and restart.

use std::path::Path;

use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;

pub fn run(file: &Path, address: &str, port: u16, mount: &str) -> Result<i32, String> {
    std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if !mount.starts_with('/') {
        return Err(format!("--mount must start with /: {mount:?}"));
    }
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address(address);
    server.set_service(&port.to_string());
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    // RTP carries no orientation: a sideways phone recording is served upright, as played.
    factory.set_launch(&format!(
        "( filesrc name=file ! decodebin ! {} ! videoconvert ! video/x-raw,format=I420 ! \
         x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! \
         rtph264pay name=pay0 pt=96 config-interval=-1 )",
        gstals::launch::AS_PLAYED.trim_end()
    ));
    let location = file.display().to_string();
    factory.connect_media_configure(move |_, media| {
        if let Some(src) = media
            .element()
            .downcast_ref::<gst::Bin>()
            .and_then(|bin| bin.by_name_recurse_up("file"))
        {
            src.set_property("location", &location);
        }
    });
    server
        .mount_points()
        .ok_or("the RTSP server has no mount points")?
        .add_factory(mount, factory);
    let main_loop = glib::MainLoop::new(None, false);
    // Before anything is served, so that a signal then ends it the orderly way too.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (quit, stopping) = (main_loop.clone(), stop.clone());
    ctrlc::set_handler(move || {
        stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        quit.quit();
    })
    .map_err(|e| format!("could not install the Ctrl-C handler: {e}"))?;
    let source = server.attach(None).map_err(|e| {
        format!("could not serve RTSP on {address}:{port}: {e} (is the port in use?)")
    })?;
    crate::secrets::say(&format!(
        "serving {} at rtsp://{address}:{port}{mount}",
        file.display()
    ));
    let early = main_loop.clone();
    glib::idle_add_local_once(move || {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            early.quit();
        }
    });
    main_loop.run();
    source.remove();
    Ok(0)
}
