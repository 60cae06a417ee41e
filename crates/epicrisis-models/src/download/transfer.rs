//! One attempt at a file: the `.part` resumed with `Range` (or restarted from zero when
//! the server will not resume it), and the body streamed into it while its sha256 is
//! computed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use reqwest::StatusCode;
use reqwest::blocking::Response;
use reqwest::header::CONTENT_RANGE;
use sha2::{Digest, Sha256};

use super::disk::{file_len, remove_quietly};
use super::http::{Failure, describe_io, parse_content_range, refusal};
use super::{Downloader, PlannedFile};
use crate::error::ModelsError;
use crate::hash::hash_prefix;
use crate::progress::{Event, Meter, Progress};

/// The sha256 of the bytes of a `.part` file so far.
pub(super) struct PartHash {
    pub(super) hasher: Sha256,
    pub(super) len: u64,
}

impl PartHash {
    pub(super) fn new() -> Self {
        PartHash {
            hasher: Sha256::new(),
            len: 0,
        }
    }
}

/// Empties the `.part` and forgets its hash: the file starts again from zero.
fn truncate(part: &Path, hash: &mut PartHash) -> std::result::Result<(), Failure> {
    *hash = PartHash::new();
    File::create(part)
        .map(drop)
        .map_err(|e| Failure::Fatal(ModelsError::io(part, "escribir", e)))
}

impl Downloader {
    /// One request: resumes `.part` and streams the body into it.
    pub(super) fn attempt(
        &self,
        f: &PlannedFile,
        repo: &str,
        part: &Path,
        hash: &mut PartHash,
        received: &mut u64,
        progress: &mut dyn Progress,
    ) -> std::result::Result<(), Failure> {
        let mut offset = file_len(part);
        if let Some(exact) = f.exact_size() {
            if offset == exact {
                return Ok(());
            }
            if offset > exact {
                truncate(part, hash)?;
                offset = 0;
            }
        }
        let Some((resp, total)) = self.open(f, repo, part, hash, &mut offset)? else {
            // The .part was already complete.
            return Ok(());
        };
        if let (Some(p), Some(t)) = (f.pin, total)
            && p.size != t
        {
            remove_quietly(part);
            return Err(Failure::Fatal(ModelsError::SizeMismatch {
                what: format!("{} (anunciado por el servidor)", f.url),
                expected: p.size,
                actual: t,
            }));
        }

        // The hash state must cover exactly the bytes already in the .part.
        if hash.len != offset {
            *hash = PartHash::new();
            if offset > 0 {
                hash_prefix(
                    part,
                    offset,
                    &mut hash.hasher,
                    progress,
                    &format!("{} (revisando la descarga parcial)", f.label),
                )?;
            }
            hash.len = offset;
        }
        progress.event(&Event::Start {
            label: &f.label,
            url: &f.url,
            total,
            resumed_from: offset,
        });
        self.stream(f, resp, part, offset, total, hash, received, progress)
    }

    /// Asks for the bytes after `offset` and reads the answer: the response and the
    /// file's total size when known, with `offset` set to where the body starts (0 when
    /// the `.part` was emptied), or `None` when the `.part` was already complete.
    fn open(
        &self,
        f: &PlannedFile,
        repo: &str,
        part: &Path,
        hash: &mut PartHash,
        offset: &mut u64,
    ) -> std::result::Result<Option<(Response, Option<u64>)>, Failure> {
        // At most two requests: a 416 for a stale .part restarts from zero at once.
        loop {
            let resp = self.get(&f.url, *offset)?;
            let status = resp.status();
            let content_range = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .map(parse_content_range);
            match status {
                StatusCode::PARTIAL_CONTENT => {
                    let (start, total) = content_range.unwrap_or((None, None));
                    if start != Some(*offset) {
                        truncate(part, hash)?;
                        return Err(Failure::Transient(format!(
                            "el servidor retomó en el byte {} en vez de {offset}; se empieza de nuevo desde cero",
                            start.map_or_else(|| "?".to_string(), |s| s.to_string())
                        )));
                    }
                    let total = total.or_else(|| resp.content_length().map(|l| l + *offset));
                    return Ok(Some((resp, total)));
                }
                StatusCode::OK => {
                    if *offset > 0 {
                        // The server ignores Range: what comes is the whole file.
                        truncate(part, hash)?;
                        *offset = 0;
                    }
                    let total = resp.content_length();
                    return Ok(Some((resp, total)));
                }
                StatusCode::RANGE_NOT_SATISFIABLE if *offset > 0 => {
                    let total = content_range.and_then(|(_, t)| t);
                    if total == Some(*offset) {
                        // The .part was already complete.
                        return Ok(None);
                    }
                    truncate(part, hash)?;
                    *offset = 0;
                    continue;
                }
                s => return Err(refusal(s, f, repo)),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stream(
        &self,
        f: &PlannedFile,
        mut resp: Response,
        part: &Path,
        offset: u64,
        total: Option<u64>,
        hash: &mut PartHash,
        received: &mut u64,
        progress: &mut dyn Progress,
    ) -> std::result::Result<(), Failure> {
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .map_err(|e| ModelsError::io(part, "escribir", e))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut done = offset;
        let mut meter = Meter::new(offset);
        let result = loop {
            let n = match resp.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) => break Err(Failure::Transient(describe_io(&e))),
            };
            if let Err(e) = out.write_all(&buf[..n]) {
                // Whatever part of the buffer was written is unknown: hash from disk next time.
                hash.len = u64::MAX;
                return Err(Failure::Fatal(ModelsError::io(part, "escribir", e)));
            }
            hash.hasher.update(&buf[..n]);
            hash.len += n as u64;
            done += n as u64;
            *received += n as u64;
            meter.tick(progress, &f.label, done, total, false);
        };
        meter.tick(progress, &f.label, done, total, true);
        if let Err(e) = out.flush().and_then(|()| out.sync_data()) {
            return Err(Failure::Fatal(ModelsError::io(part, "escribir", e)));
        }
        result?;
        match total {
            Some(t) if done < t => Err(Failure::Transient(format!(
                "la conexión se cerró después de {done} de {t} bytes"
            ))),
            Some(t) if done > t => {
                remove_quietly(part);
                *hash = PartHash::new();
                Err(Failure::Transient(format!(
                    "el servidor envió {done} bytes para un archivo de {t}; se empieza de nuevo desde cero"
                )))
            }
            _ => Ok(()),
        }
    }
}
