// SPDX-License-Identifier: MPL-2.0

//! Where spooled records may live. They are patients' measurements: the directory must be the
//! user's own and closed to others, and nothing on the way may be a link someone else could
//! point elsewhere.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The default spool directory of the command-line tools: `$XDG_STATE_HOME/gst-als/spool`,
/// else `~/.local/state/gst-als/spool`. Private to the user (made 0700).
pub fn default_spool_dir() -> io::Result<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local").join("state"))
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "neither XDG_STATE_HOME nor HOME is set: give a spool directory",
            )
        })?;
    Ok(state.join("gst-als").join("spool"))
}

// SAFETY (both): geteuid has no preconditions.
fn euid() -> u32 {
    unsafe { libc::geteuid() }
}

/// Makes `dir` (mode 0700, with any missing parents) or checks an existing one: it must be a
/// real directory (not a symbolic link), owned by this user, and not writable by group or
/// others. A directory this function makes is private; one that exists is left as it is, or
/// refused.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("refusing the spool directory {}: {why}", dir.display()),
        ))
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link");
    }
    if !meta.is_dir() {
        return refuse("it is not a directory");
    }
    if meta.uid() != euid() {
        return refuse(&format!(
            "it belongs to user {}, not to this user ({})",
            meta.uid(),
            euid()
        ));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return refuse(&format!(
            "others can write to it (mode {:o}); chmod go-w it",
            meta.permissions().mode() & 0o777
        ));
    }
    Ok(())
}

/// Checks an existing spool file before it is opened: a regular file (not a link), this
/// user's own, readable and writable by nobody else.
pub fn private_file(path: &Path) -> io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("refusing the spool file {}: {why}", path.display()),
        ))
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link".into());
    }
    if !meta.is_file() {
        return refuse("it is not a regular file".into());
    }
    if meta.uid() != euid() {
        return refuse(format!("it belongs to user {}", meta.uid()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return refuse(format!(
            "others can read or write it (mode {:o}); chmod 600 it",
            meta.permissions().mode() & 0o777
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gst-als-dirs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_new_directory_is_private_and_links_or_open_ones_are_refused() {
        let base = scratch("private");
        let dir = base.join("a").join("spool");
        private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        private_dir(&dir).unwrap();

        let link = base.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let err = private_dir(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = private_dir(&open).unwrap_err();
        assert!(err.to_string().contains("others can write"), "{err}");

        let file = dir.join("x.spool");
        assert!(!private_file(&file).unwrap());
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(private_file(&file).is_err());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(private_file(&file).unwrap());
        if euid() == 0 {
            // Root can give a directory away: one that is another user's is refused.
            let theirs = base.join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let err = private_dir(&theirs).unwrap_err();
            assert!(err.to_string().contains("belongs to user 65534"), "{err}");
        }
        let file_link = dir.join("y.spool");
        std::os::unix::fs::symlink(&file, &file_link).unwrap();
        assert!(private_file(&file_link).is_err());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn the_default_is_under_the_state_directory() {
        let dir = default_spool_dir().unwrap();
        assert!(dir.ends_with("gst-als/spool"), "{}", dir.display());
        assert!(dir.is_absolute());
    }
}
