//! sha256 of files, with progress (a 4 GB model takes a while to hash).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{ModelsError, Result};
use crate::progress::{Meter, Progress};

/// Feeds `len` bytes of `path` (from its start) into `hasher`.
pub(crate) fn hash_prefix(
    path: &Path,
    len: u64,
    hasher: &mut Sha256,
    progress: &mut dyn Progress,
    label: &str,
) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|e| ModelsError::io(path, "leer", e))?;
    let mut r = f.take(len);
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let mut meter = Meter::new(0);
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| ModelsError::io(path, "leer", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        meter.tick(progress, label, done, Some(len), false);
    }
    meter.tick(progress, label, done, Some(len), true);
    if done != len {
        return Err(ModelsError::io(
            path,
            "leer",
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("el archivo se redujo a {done} bytes mientras se leía"),
            ),
        ));
    }
    Ok(())
}

/// The sha256 (lower-case hex) of a whole file.
pub fn sha256_file(path: &Path, progress: &mut dyn Progress, label: &str) -> Result<String> {
    let len = std::fs::metadata(path)
        .map_err(|e| ModelsError::io(path, "leer", e))?
        .len();
    let mut h = Sha256::new();
    hash_prefix(path, len, &mut h, progress, label)?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn known_digest() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p, &mut NoProgress, "abc").unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
