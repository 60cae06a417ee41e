//! Fetching one file: attempts retried with exponential backoff, then the finished
//! `.part` checked against the expected size and sha256 before anything is installed.

use std::fs::File;
use std::path::Path;

use sha2::Digest;

use super::disk::{file_len, part_path, remove_quietly};
use super::http::Failure;
use super::transfer::PartHash;
use super::{Downloader, PlannedFile};
use crate::error::{ModelsError, Result};
use crate::hash::hash_prefix;
use crate::progress::{Event, Progress};
use crate::store::InstalledFile;

impl Downloader {
    /// Downloads one file into its `.part`, with retries, and checks it. Returns the
    /// file's record and the bytes received.
    pub(super) fn fetch(
        &self,
        f: &PlannedFile,
        repo: &str,
        progress: &mut dyn Progress,
    ) -> Result<(InstalledFile, u64)> {
        let part = part_path(&f.dest);
        if let Some(parent) = part.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ModelsError::io(parent, "crear la carpeta", e))?;
        }
        let (hash, received) = self.retrying(f, repo, &part, progress)?;

        // The transfer is complete; check size and hash before anything is installed.
        let file = check_part(f, &part, hash, progress)?;
        Ok((file, received))
    }

    /// Attempts until the `.part` is complete, waiting between transient failures.
    /// Returns the hash of the `.part` so far and the bytes received.
    fn retrying(
        &self,
        f: &PlannedFile,
        repo: &str,
        part: &Path,
        progress: &mut dyn Progress,
    ) -> Result<(PartHash, u64)> {
        let mut hash = PartHash::new();
        let mut received = 0u64;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.attempt(f, repo, part, &mut hash, &mut received, progress) {
                Ok(()) => break,
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transient(reason)) => {
                    if attempt > self.config.retries {
                        return Err(ModelsError::RetriesExhausted {
                            url: f.url.clone(),
                            attempts: attempt,
                            last: reason,
                            part: part.to_path_buf(),
                        });
                    }
                    let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
                    let wait = self
                        .config
                        .backoff
                        .saturating_mul(factor)
                        .min(self.config.max_backoff);
                    progress.event(&Event::Retry {
                        label: &f.label,
                        attempt,
                        max: self.config.retries,
                        wait,
                        reason: &reason,
                    });
                    std::thread::sleep(wait);
                }
            }
        }
        Ok((hash, received))
    }
}

/// Checks a complete `.part` against the pinned size and the pinned or recorded sha256
/// (a mismatch deletes it), then syncs it to disk. Returns the file's record.
fn check_part(
    f: &PlannedFile,
    part: &Path,
    mut hash: PartHash,
    progress: &mut dyn Progress,
) -> Result<InstalledFile> {
    let size = file_len(part);
    if hash.len != size {
        // The .part changed behind our back; hash it from disk.
        hash = PartHash::new();
        hash_prefix(part, size, &mut hash.hasher, progress, &f.label)?;
        hash.len = size;
    }
    progress.event(&Event::Verifying {
        label: &f.label,
        total: size,
    });
    let sha = hex::encode(hash.hasher.finalize());
    let what = format!("{} (descargado en {})", f.url, part.display());
    if let Some(p) = f.pin
        && p.size != size
    {
        remove_quietly(part);
        return Err(ModelsError::SizeMismatch {
            what,
            expected: p.size,
            actual: size,
        });
    }
    if let Some((expected, origin, _)) = f.reference()
        && expected != sha
    {
        remove_quietly(part);
        return Err(ModelsError::ChecksumMismatch {
            what,
            expected: expected.to_string(),
            actual: sha,
            origin,
        });
    }
    if let Err(e) = File::open(part).and_then(|f| f.sync_all()) {
        return Err(ModelsError::io(part, "guardar en disco", e));
    }
    Ok(InstalledFile {
        path: f.relative.clone(),
        size,
        sha256: sha,
    })
}
