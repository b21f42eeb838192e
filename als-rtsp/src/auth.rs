// SPDX-License-Identifier: MPL-2.0

//! Who may watch the served stream, and over what: the RTSP users (a users file, or
//! `ALS_RTSP_USER` / `ALS_RTSP_PASSWORD`), Digest authentication (Basic too, but only over
//! TLS), RTSP over TLS, and the rule that a non-loopback address needs credentials.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use gst::glib::translate::ToGlibPtr;
use gst_rtsp_server::gio;
use gst_rtsp_server::gst_rtsp::RTSPAuthMethod;
use gst_rtsp_server::prelude::*;

use crate::secrets::SECRETS;

/// The realm of users given as `user:password` (an htdigest file brings its own).
pub const DEFAULT_REALM: &str = "als-rtsp";

/// The role every authenticated user gets, and the one the mount grants access to.
const ROLE: &str = "viewer";

/// The shortest password taken (`openssl rand -base64 24` makes good ones).
const MIN_PASSWORD: usize = 8;

/// The environment variables of a single user.
pub const USER_ENV: &str = "ALS_RTSP_USER";
pub const PASSWORD_ENV: &str = "ALS_RTSP_PASSWORD";

/// The RTSP users: plain `user:password` pairs (from a file or the environment), or an
/// htdigest file, whose hashes only work with Digest and in its own realm.
#[derive(Clone, Debug, Default)]
pub struct Users {
    pub plain: Vec<(String, String)>,
    /// An htdigest file (`user:realm:md5hex` lines) and its realm.
    pub htdigest: Option<(PathBuf, String)>,
}

impl Users {
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.htdigest.is_none()
    }

    pub fn realm(&self) -> &str {
        self.htdigest
            .as_ref()
            .map_or(DEFAULT_REALM, |(_, realm)| realm.as_str())
    }

    /// How many users, for the start-up line.
    pub fn count(&self) -> usize {
        self.plain.len()
            + self
                .htdigest
                .as_ref()
                .and_then(|(path, _)| std::fs::read_to_string(path).ok())
                .map_or(0, |text| content_lines(&text).count())
    }
}

/// The relay's options for who may watch.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AccessArgs {
    /// The RTSP users, readable by the relay's user only (mode 0600): one `user:password`
    /// a line (passwords of 8 characters or more), or htdigest lines
    /// `user:realm:md5(user:realm:password)` all in one realm (Digest only). Viewers must
    /// then authenticate (Digest; Basic too over TLS).
    #[arg(long, value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// PEM certificate (chain) to serve rtsps:// (RTSP over TLS) with; needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve a non-loopback address without RTSP users: anyone who reaches the port
    /// sees the patients. Never on a network others share.
    #[arg(long)]
    pub insecure_serve_without_auth: bool,
}

/// How the served stream is protected.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub users: Users,
    /// PEM certificate (chain) and key files: serve `rtsps://`.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Access {
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "rtsps" } else { "rtsp" }
    }
}

/// True for addresses that only this machine can reach.
pub fn is_loopback(address: &str) -> bool {
    let bare = address.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// The users from `file` and from the environment (`env`: the values of `ALS_RTSP_USER` and
/// `ALS_RTSP_PASSWORD`). Their passwords join the secrets that are never printed.
pub fn load_users(
    file: Option<&Path>,
    env: (Option<String>, Option<String>),
) -> Result<Users, String> {
    let mut users = match file {
        Some(path) => read_users_file(path)?,
        None => Users::default(),
    };
    match env {
        (Some(user), Some(password)) => {
            check_user(&user, &password, USER_ENV)?;
            SECRETS.add(&password);
            users.plain.push((user, password));
        }
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            return Err(format!(
                "{USER_ENV} and {PASSWORD_ENV} go together: set both or neither"
            ));
        }
    }
    Ok(users)
}

fn check_user(user: &str, password: &str, from: &str) -> Result<(), String> {
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_whitespace) {
        return Err(format!(
            "{from}: a user name must be non-empty, without ':' or spaces"
        ));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!(
            "{from}: user {user:?} needs a password of at least {MIN_PASSWORD} characters"
        ));
    }
    Ok(())
}

/// Lines that are neither blank nor `#` comments.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
}

/// An htdigest line: `user:realm:` and 32 hex digits.
fn htdigest_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut parts = line.splitn(3, ':');
    let (user, realm, hash) = (parts.next()?, parts.next()?, parts.next()?);
    (!user.is_empty()
        && !realm.is_empty()
        && hash.len() == 32
        && hash.bytes().all(|b| b.is_ascii_hexdigit()))
    .then_some((user, realm, hash))
}

/// The users file must be private: owned by the user running the relay and readable by
/// nobody else (mode 0600 or stricter), as an SSH key must.
fn check_private(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the users file {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("the users file {} is not a file", path.display()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "the users file {} belongs to uid {}, not to the relay's user (uid {me}): \
             refusing to trust it (chown it)",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "the users file {} has mode {:04o}: others could read the passwords; \
             `chmod 600 {}` first",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        ));
    }
    Ok(())
}

/// Reads a users file: either every line `user:password`, or every line htdigest's
/// `user:realm:md5hex` (all in one realm). Blank lines and `#` comments are skipped.
pub fn read_users_file(path: &Path) -> Result<Users, String> {
    check_private(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the users file {}: {e}", path.display()))?;
    let lines: Vec<(usize, &str)> = content_lines(&text).collect();
    if lines.is_empty() {
        return Err(format!("the users file {} has no users", path.display()));
    }
    // Whatever the format turns out to be, nothing of it is ever printed.
    for (_, line) in &lines {
        if let Some((_, rest)) = line.split_once(':') {
            SECRETS.add(rest);
        }
        if let Some((_, _, hash)) = htdigest_line(line) {
            SECRETS.add(hash);
        }
    }
    if lines.iter().all(|(_, line)| htdigest_line(line).is_some()) {
        let mut realms: Vec<&str> = lines
            .iter()
            .filter_map(|(_, line)| htdigest_line(line).map(|(_, realm, _)| realm))
            .collect();
        realms.dedup();
        if realms.len() != 1 {
            return Err(format!(
                "the htdigest file {} mixes realms ({}): use one",
                path.display(),
                realms.join(", ")
            ));
        }
        return Ok(Users {
            plain: Vec::new(),
            htdigest: Some((path.to_path_buf(), realms[0].to_string())),
        });
    }
    let mut users = Users::default();
    for (number, line) in lines {
        let from = format!("{} line {number}", path.display());
        let Some((user, password)) = line.split_once(':') else {
            return Err(format!("{from}: expected user:password"));
        };
        check_user(user, password, &from)?;
        if users.plain.iter().any(|(u, _)| u == user) {
            return Err(format!("{from}: user {user:?} appears twice"));
        }
        users.plain.push((user.to_string(), password.to_string()));
    }
    Ok(users)
}

/// Sets `access` up on `server`, and lets only authenticated users at `factory` when there
/// are users (otherwise anyone who reaches the port may watch).
pub fn configure(
    access: &Access,
    server: &gst_rtsp_server::RTSPServer,
    factory: &gst_rtsp_server::RTSPMediaFactory,
) -> Result<(), String> {
    if access.users.is_empty() && access.tls.is_none() {
        return Ok(());
    }
    let auth = gst_rtsp_server::RTSPAuth::new();
    if let Some((cert, key)) = &access.tls {
        let certificate = gio::TlsCertificate::from_files(cert, key).map_err(|e| {
            format!(
                "cannot use the TLS certificate {} with the key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
        auth.set_tls_certificate(Some(&certificate));
    }
    let token = gst_rtsp_server::RTSPToken::builder()
        .field(gst_rtsp_server::RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
        .build();
    let role = gst::Structure::builder(ROLE)
        .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
        .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
        .build();
    factory.add_role_from_structure(&role);
    if access.users.is_empty() {
        // TLS without users: everyone who completes the handshake gets the role.
        let mut anyone = token;
        auth.set_default_token(Some(&mut anyone));
    } else {
        auth.set_realm(Some(access.users.realm()));
        // Basic sends the password itself: only inside TLS.
        if access.tls.is_some() && !access.users.plain.is_empty() {
            // The bindings take one method; GStreamer takes a set of them (flags).
            // SAFETY: a valid RTSPAuth, and a value made of GstRTSPAuthMethod's bits.
            unsafe {
                gst_rtsp_server::ffi::gst_rtsp_auth_set_supported_methods(
                    auth.to_glib_none().0,
                    gst_rtsp_server::gst_rtsp::ffi::GST_RTSP_AUTH_DIGEST
                        | gst_rtsp_server::gst_rtsp::ffi::GST_RTSP_AUTH_BASIC,
                );
            }
        } else {
            auth.set_supported_methods(RTSPAuthMethod::Digest);
        }
        if let Some((path, _)) = &access.users.htdigest
            && !auth.parse_htdigest(path, &token)
        {
            return Err(format!("cannot load the htdigest file {}", path.display()));
        }
        for (user, password) in &access.users.plain {
            auth.add_digest(user, password, &token);
            if access.tls.is_some() {
                auth.add_basic(
                    &gst_rtsp_server::RTSPAuth::make_basic(user, password),
                    &token,
                );
            }
        }
        // No default token: a request without valid credentials is answered 401.
    }
    server.set_auth(Some(&auth));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A test's own folder of credential files, removed when the test ends (pass or fail).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("als-rtsp-auth-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("dir");
            Scratch(dir)
        }

        fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn loopback_addresses_are_told_apart() {
        for a in ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"] {
            assert!(is_loopback(a), "{a}");
        }
        for a in ["0.0.0.0", "::", "192.168.1.5", "camera-host", ""] {
            assert!(!is_loopback(a), "{a}");
        }
    }

    #[test]
    fn a_private_users_file_gives_its_users_and_a_readable_one_is_refused() {
        let scratch = Scratch::new("users");
        let file = |name: &str, text: &str, mode: u32| scratch.file(name, text, mode);
        let good = file(
            "users",
            "# viewers\nalice:pa:ss word\n\nbob:hunter22\n",
            0o600,
        );
        let users = read_users_file(&good).expect("users");
        assert_eq!(
            users.plain,
            vec![
                ("alice".to_string(), "pa:ss word".to_string()),
                ("bob".to_string(), "hunter22".to_string())
            ]
        );
        assert_eq!(users.realm(), DEFAULT_REALM);
        let open = file("open", "alice:secret\n", 0o644);
        let err = read_users_file(&open).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
        let group = file("group", "alice:secret\n", 0o640);
        assert!(read_users_file(&group).is_err());
        for bad in [
            "alice\n",
            ":long-password\n",
            "alice:\n",
            "alice:short\n",
            "a b:long-password\n",
            "a:long-password\na:long-password\n",
            "# none\n",
        ] {
            let path = file("bad", bad, 0o600);
            assert!(read_users_file(&path).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_htdigest_file_is_recognised_with_its_realm() {
        let hash = "0123456789abcdef0123456789ABCDEF";
        let scratch = Scratch::new("htdigest");
        let file = |name: &str, text: &str, mode: u32| scratch.file(name, text, mode);
        let path = file(
            "htdigest",
            &format!("alice:ward-7:{hash}\nbob:ward-7:{hash}\n"),
            0o600,
        );
        let users = read_users_file(&path).expect("users");
        assert!(users.plain.is_empty());
        assert_eq!(users.realm(), "ward-7");
        assert_eq!(users.count(), 2);
        let mixed = file(
            "mixed-realms",
            &format!("alice:a:{hash}\nbob:b:{hash}\n"),
            0o600,
        );
        assert!(read_users_file(&mixed).is_err());
    }

    #[test]
    fn environment_users_need_both_variables() {
        let users = load_users(None, (Some("carol".into()), Some("env-pass".into()))).expect("ok");
        assert_eq!(users.plain.len(), 1);
        assert!(load_users(None, (Some("carol".into()), None)).is_err());
        assert!(load_users(None, (None, Some("env-pass".into()))).is_err());
        assert!(load_users(None, (None, None)).expect("ok").is_empty());
    }
}
