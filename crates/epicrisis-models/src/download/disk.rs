//! The disk side of a download: free space, the `<file>.part` next to a file's final
//! place, and small file helpers.

use std::path::{Path, PathBuf};

/// Free bytes for an unprivileged user on the file system holding `path`.
#[cfg(unix)]
pub fn free_space(path: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(path)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Free bytes (unknown on this platform: no limit is assumed).
#[cfg(not(unix))]
pub fn free_space(_path: &Path) -> std::io::Result<u64> {
    Ok(u64::MAX)
}

/// `<file>.part` next to the final file.
pub(crate) fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

pub(super) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

pub(super) fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_measured() {
        let d = tempfile::tempdir().unwrap();
        assert!(free_space(d.path()).unwrap() > 0);
        assert!(free_space(&d.path().join("nope")).is_err());
    }
}
