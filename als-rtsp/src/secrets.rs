// SPDX-License-Identifier: MPL-2.0

//! Everything `als-rtsp` prints goes through here: the process's known secrets (the source
//! URI's credentials, the MQTT password, the RTSP users' passwords) and the user information
//! of any URI are masked first. GLib's and GStreamer's own log output (`GST_DEBUG`) are routed
//! through the same filter.

use gstals::redact::Secrets;

/// The secrets of this process, filled in as the options are read.
pub static SECRETS: Secrets = Secrets::new();

/// `text` with every known secret and URI credential masked.
pub fn scrub(text: &str) -> String {
    SECRETS.scrub(text)
}

/// Prints one line to standard error, scrubbed.
pub fn say(text: &str) {
    eprintln!("als-rtsp: {}", scrub(text));
}

/// Remembers the password-like values given on the command line before the parser sees them,
/// so that even its error messages are scrubbed.
pub fn remember_arguments(args: &[String]) {
    const SECRET_FLAGS: &[&str] = &["--mqtt-password"];
    let mut next_is_secret = false;
    for arg in args {
        if next_is_secret {
            SECRETS.add(arg);
            next_is_secret = false;
            continue;
        }
        for flag in SECRET_FLAGS {
            if arg == flag {
                next_is_secret = true;
            } else if let Some(value) = arg.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
                SECRETS.add(value);
            }
        }
        if arg.contains("://") {
            SECRETS.add_uri(arg);
        }
    }
}

/// Sends GLib's warnings and GStreamer's debug log (when `GST_DEBUG` asks for one) through
/// [`scrub`]: an element may quote the source URI, credentials included.
pub fn route_library_logs() {
    gst::glib::log_set_default_handler(|domain, level, message| {
        use gst::glib::LogLevel;
        let level = match level {
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
            LogLevel::Warning => "WARNING",
            LogLevel::Message => "MESSAGE",
            // Shown by GLib only when G_MESSAGES_DEBUG asks for them.
            LogLevel::Info | LogLevel::Debug => {
                if std::env::var_os("G_MESSAGES_DEBUG").is_none() {
                    return;
                }
                "INFO"
            }
        };
        eprintln!(
            "({}) {level}: {}",
            domain.unwrap_or("als-rtsp"),
            scrub(message)
        );
    });
    if std::env::var_os("GST_DEBUG").is_some() {
        gst::log::remove_default_log_function();
        gst::log::add_log_function(|category, level, file, function, line, object, message| {
            let Some(text) = message.get() else {
                return;
            };
            let object = object.map(|o| o.to_string()).unwrap_or_default();
            eprintln!(
                "{level:?} {} {file}:{line}:{function}:{object} {}",
                category.name(),
                scrub(text.as_str())
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_passwords_and_uri_credentials_are_remembered() {
        let args: Vec<String> = [
            "als-rtsp",
            "relay",
            "rtsp://cam:Uri-Secret-1@10.0.0.7/live",
            "--mqtt-password",
            "Mqtt-Secret-2",
            "--mqtt-password=Mqtt-Secret-3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        remember_arguments(&args);
        let text = "Uri-Secret-1 Mqtt-Secret-2 Mqtt-Secret-3 rtsp://cam:Uri-Secret-1@10.0.0.7/live";
        let clean = scrub(text);
        for secret in ["Uri-Secret-1", "Mqtt-Secret-2", "Mqtt-Secret-3"] {
            assert!(!clean.contains(secret), "{clean}");
        }
        assert!(clean.contains("rtsp://***@10.0.0.7/live"), "{clean}");
    }
}
