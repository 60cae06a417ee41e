//! The downloader: a model's files from the Hugging Face hub (or a mirror with the same
//! layout) into the models folder, resumable, retried, verified, and put in place
//! atomically.
//!
//! For each file: `{endpoint}/{repo}/resolve/{revision}/{path}` is fetched into
//! `<file>.part` next to its final place. An existing `.part` is resumed with
//! `Range: bytes=N-` (a server that ignores the range and answers 200 makes it start from
//! zero; a 416 for a complete `.part` means it is done). Timeouts, dropped connections,
//! 408, 429 and 5xx are retried with exponential backoff, keeping the bytes received; 401
//! and 403 (gated model, bad token) and 404 are not. When the transfer ends the size is
//! checked against `Content-Length`/`Content-Range` and the pin, and the sha256 against
//! the pin (catalogue) or against the hash recorded in `manifest.json` at the first
//! install; a mismatch deletes the `.part` and installs nothing. Only then is the file
//! synced and renamed into place and the manifest updated. A file already installed whose
//! size and sha256 check out is not fetched again.
//!
//! Redirects are followed (the hub sends large files to a CDN on another host); reqwest
//! drops the `Authorization` header on a redirect to another host or port, so the token
//! only ever goes to the configured endpoint.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use epicrisis_llm::gguf;
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, HeaderValue, RANGE};
use sha2::{Digest, Sha256};

use crate::catalogue::{Artifacts, ModelSpec, Need, Pin, Role};
use crate::error::{HashOrigin, ModelsError, Result};
use crate::hash::{hash_prefix, sha256_file};
use crate::progress::{Event, Meter, Progress};
use crate::store::{
    InstalledFile, InstalledModel, ManifestEntry, ModelsDir, Source, now_rfc3339, sync_dir,
};

/// The Hugging Face hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to download. The binary fills it from `--mirror`/`HF_ENDPOINT` and
/// `HF_TOKEN`; the library never reads the environment.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL of the hub or of a mirror with its layout (`https://hf-mirror.com`).
    pub endpoint: String,
    /// Access token for gated models, sent as `Authorization: Bearer …` to the endpoint
    /// only. Never printed (see the `Debug` impl) nor put in an error.
    pub token: Option<String>,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for waiting for the response or for the next bytes of the body.
    pub read_timeout: Duration,
    /// Retries after the first attempt of a file (timeouts, dropped connections, 5xx).
    pub retries: u32,
    /// Wait before the first retry; doubled at each further retry, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Free space to leave on the disk beyond the download itself.
    pub space_margin: u64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            retries: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            space_margin: 100_000_000,
        }
    }
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<set, not shown>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("space_margin", &self.space_margin)
            .finish()
    }
}

impl HubConfig {
    /// The defaults with an endpoint (`--mirror` or `HF_ENDPOINT`) and a token
    /// (`HF_TOKEN`); blank values count as absent.
    pub fn new(endpoint: Option<&str>, token: Option<&str>) -> Self {
        let given = |s: &&str| !s.trim().is_empty();
        HubConfig {
            endpoint: endpoint
                .filter(given)
                .map(|e| e.trim().trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            token: token.filter(given).map(|t| t.trim().to_string()),
            ..HubConfig::default()
        }
    }

    fn base(&self) -> &str {
        self.endpoint.trim_end_matches('/')
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{path}`.
    pub fn file_url(&self, repo: &str, revision: &str, path: &str) -> String {
        format!("{}/{repo}/resolve/{revision}/{path}", self.base())
    }

    /// Checks the endpoint is an http(s) URL.
    pub fn check(&self) -> Result<()> {
        let e = self.base();
        let ok = (e.starts_with("https://") || e.starts_with("http://"))
            && reqwest::Url::parse(e).is_ok_and(|u| u.host_str().is_some());
        if ok {
            Ok(())
        } else {
            Err(ModelsError::Invalid(format!(
                "la dirección de descarga {e:?} (--mirror o HF_ENDPOINT) no es una URL http(s); use, p. ej., https://huggingface.co o https://hf-mirror.com"
            )))
        }
    }
}

/// One file of a [`Plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFile {
    /// What progress events and messages call it (`tinyllama-1.1b-chat Q4_K_M`,
    /// `multilingual-e5-small config.json`).
    pub label: String,
    pub url: String,
    /// Final place on disk.
    pub dest: PathBuf,
    /// Manifest path (`llm/<name>/<file>`).
    pub relative: String,
    pub need: Need,
    pub pin: Option<Pin>,
    /// What the manifest recorded for this file at an earlier install.
    pub recorded: Option<InstalledFile>,
    /// Expected size: pinned, recorded, else the catalogue's approximation.
    pub expected_size: u64,
    /// Bytes already in `<file>.part` from an interrupted download.
    pub partial: u64,
    /// The final file exists with the expected size (its hash is checked at install).
    pub present: bool,
}

impl PlannedFile {
    fn exact_size(&self) -> Option<u64> {
        self.pin.map(|p| p.size)
    }

    fn reference(&self) -> Option<(&str, HashOrigin, u64)> {
        match (&self.pin, &self.recorded) {
            (Some(p), _) => Some((p.sha256, HashOrigin::Pinned, p.size)),
            (None, Some(r)) => Some((r.sha256.as_str(), HashOrigin::Recorded, r.size)),
            (None, None) => None,
        }
    }

    /// Bytes still to fetch for this file (0 when present).
    pub fn remaining(&self) -> u64 {
        if self.present {
            0
        } else {
            self.expected_size.saturating_sub(self.partial)
        }
    }
}

/// What installing a model involves, for the interactive mode and the free-space check:
/// its files, their sizes, and what is already there.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    pub role: Role,
    /// Quantization of an LLM.
    pub quant: Option<String>,
    pub repo: String,
    /// `<dir>/llm/<name>` or `<dir>/embeddings/<name>`.
    pub folder: PathBuf,
    pub files: Vec<PlannedFile>,
    /// Memory needed to run it.
    pub ram: u64,
    /// The manifest already has an entry for this model and quantization.
    pub recorded: bool,
}

impl Plan {
    /// Expected size of the whole model.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.expected_size).sum()
    }
    /// Expected bytes still to download (resumed `.part` files and present files count as
    /// done).
    pub fn remaining_bytes(&self) -> u64 {
        self.files.iter().map(PlannedFile::remaining).sum()
    }
    /// Recorded in the manifest and every required file present with its size (the
    /// cheap check; `install` also checks the hashes).
    pub fn looks_installed(&self) -> bool {
        self.recorded
            && self
                .files
                .iter()
                .all(|f| f.present || (f.need == Need::Optional && f.recorded.is_none()))
    }
}

/// What [`Downloader::install`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallOutcome {
    pub model: InstalledModel,
    /// Nothing was downloaded: every file was already in place with the right hash.
    pub already_installed: bool,
    /// Manifest paths of the files fetched now.
    pub downloaded: Vec<String>,
    /// Optional files of an embeddings folder that the repository does not publish.
    pub absent_optional: Vec<String>,
    /// Bytes received over the network in this run.
    pub bytes_downloaded: u64,
}

type FreeSpaceFn = dyn Fn(&Path) -> std::io::Result<u64> + Send + Sync;

/// An HTTP client set up for the hub.
pub struct Downloader {
    config: HubConfig,
    client: Client,
    auth: Option<HeaderValue>,
    free_space: Box<FreeSpaceFn>,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

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

/// Why an attempt failed.
enum Failure {
    /// Worth retrying (timeouts, dropped connections, 5xx); the reason is for the user.
    Transient(String),
    Fatal(ModelsError),
}

impl From<ModelsError> for Failure {
    fn from(e: ModelsError) -> Self {
        Failure::Fatal(e)
    }
}

/// The sha256 of the bytes of a `.part` file so far.
struct PartHash {
    hasher: Sha256,
    len: u64,
}

impl PartHash {
    fn new() -> Self {
        PartHash {
            hasher: Sha256::new(),
            len: 0,
        }
    }
}

/// `<file>.part` next to the final file.
pub(crate) fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// `bytes START-END/TOTAL` or `bytes */TOTAL` → (start, total).
fn parse_content_range(v: &str) -> (Option<u64>, Option<u64>) {
    let v = v.trim();
    let Some(rest) = v.strip_prefix("bytes") else {
        return (None, None);
    };
    let rest = rest.trim();
    let (range, total) = rest.split_once('/').unwrap_or((rest, "*"));
    let total = total.trim().parse().ok();
    let start = range
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok());
    (start, total)
}

fn describe(e: &reqwest::Error, cfg: &HubConfig) -> String {
    if e.is_timeout() {
        return format!(
            "sin respuesta en {} s (se agotó el tiempo de espera)",
            cfg.read_timeout.as_secs_f64()
        );
    }
    let mut s = if e.is_connect() {
        "no se pudo conectar".to_string()
    } else {
        "falló la conexión".to_string()
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn describe_io(e: &std::io::Error) -> String {
    let mut s = format!("la conexión se cortó durante la transferencia: {e}");
    let mut src = e.get_ref().and_then(|i| i.source());
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

impl Downloader {
    pub fn new(config: HubConfig) -> Result<Self> {
        config.check()?;
        let auth = match &config.token {
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    ModelsError::Invalid(
                        "HF_TOKEN contiene caracteres que no pueden ir en un encabezado HTTP; copie el token de nuevo desde la configuración de su cuenta de Hugging Face (Access Tokens)".to_string(),
                    )
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let client = Client::builder()
            .connect_timeout(config.connect_timeout)
            // In the blocking client this bounds the wait for the response and for each
            // read of the body: a stalled transfer fails instead of hanging.
            .timeout(config.read_timeout)
            .user_agent(concat!("epicrisis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelsError::Client(e.to_string()))?;
        Ok(Downloader {
            config,
            client,
            auth,
            free_space: Box::new(free_space),
        })
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Replaces the free-space probe (for tests, or file systems where statvfs lies).
    pub fn with_free_space(
        mut self,
        f: impl Fn(&Path) -> std::io::Result<u64> + Send + Sync + 'static,
    ) -> Self {
        self.free_space = Box::new(f);
        self
    }

    /// What installing `spec` (`quant`: an LLM's quantization, `None` for Q4_K_M) involves.
    pub fn plan(&self, dir: &ModelsDir, spec: &ModelSpec, quant: Option<&str>) -> Result<Plan> {
        plan(dir, spec, quant, &self.config)
    }

    /// Downloads and installs a model: the GGUF file of one quantization of an LLM
    /// (`quant`: `None` for Q4_K_M), or every file of an embeddings folder (optional files
    /// the repository lacks are skipped). See the module documentation for the steps.
    pub fn install(
        &self,
        dir: &ModelsDir,
        spec: &ModelSpec,
        quant: Option<&str>,
        progress: &mut dyn Progress,
    ) -> Result<InstallOutcome> {
        let plan = self.plan(dir, spec, quant)?;
        let label_all = match &plan.quant {
            Some(q) => format!("{} {q}", plan.name),
            None => plan.name.clone(),
        };

        // 1. What is already in place and checks out.
        let mut kept: Vec<InstalledFile> = Vec::new();
        let mut todo: Vec<&PlannedFile> = Vec::new();
        for f in &plan.files {
            if plan.recorded && f.need == Need::Optional && f.recorded.is_none() {
                // Absent from the repository at the first install.
                continue;
            }
            if f.present
                && let Some((sha, _, size)) = f.reference()
                && file_len(&f.dest) == size
            {
                progress.event(&Event::Verifying {
                    label: &f.label,
                    total: size,
                });
                let actual = sha256_file(&f.dest, progress, &f.label)?;
                if actual == sha {
                    kept.push(InstalledFile {
                        path: f.relative.clone(),
                        size,
                        sha256: actual,
                    });
                    continue;
                }
            }
            todo.push(f);
        }
        if todo.is_empty() {
            progress.event(&Event::Skipped {
                label: &label_all,
                reason: "ya está instalado (tamaño y sha256 comprobados)",
            });
            let entry = self.entry(&plan, spec, kept, dir)?;
            let same = dir
                .load_manifest()?
                .find(&entry.name, entry.quant.as_deref())
                .is_some_and(|e| e.files == entry.files);
            if !same {
                dir.record(entry.clone())?;
            }
            return Ok(InstallOutcome {
                model: dir.to_installed(entry),
                already_installed: true,
                downloaded: Vec::new(),
                absent_optional: Vec::new(),
                bytes_downloaded: 0,
            });
        }

        // 2. Room on the disk.
        std::fs::create_dir_all(&plan.folder)
            .map_err(|e| ModelsError::io(&plan.folder, "crear la carpeta", e))?;
        // A present file that failed its check is fetched again in full.
        let needed: u64 = todo
            .iter()
            .map(|f| f.expected_size.saturating_sub(f.partial))
            .sum();
        let available = (self.free_space)(&plan.folder)
            .map_err(|e| ModelsError::io(&plan.folder, "medir el espacio libre en disco de", e))?;
        if available < needed.saturating_add(self.config.space_margin) {
            return Err(ModelsError::InsufficientSpace {
                path: plan.folder.clone(),
                needed,
                margin: self.config.space_margin,
                available,
            });
        }

        // 3. Fetch and check each file into its .part.
        let mut fetched: Vec<(&PlannedFile, InstalledFile)> = Vec::new();
        let mut absent_optional = Vec::new();
        let mut bytes_downloaded = 0u64;
        for f in todo {
            match self.fetch(f, &plan.repo, progress) {
                Ok((file, bytes)) => {
                    bytes_downloaded += bytes;
                    fetched.push((f, file));
                }
                Err(ModelsError::NotFound { .. }) if f.need == Need::Optional => {
                    progress.event(&Event::Skipped {
                        label: &f.label,
                        reason: "archivo opcional que el repositorio no publica",
                    });
                    absent_optional.push(f.relative.clone());
                }
                Err(e) => return Err(e),
            }
        }

        // 4. A GGUF must be a whole GGUF before it goes in place.
        if plan.role == Role::Llm {
            for (f, _) in &fetched {
                let part = part_path(&f.dest);
                if let Err(e) = gguf::read_header(&part) {
                    remove_quietly(&part);
                    return Err(e.into());
                }
            }
        }

        // 5. Into place, then the manifest.
        let mut downloaded = Vec::new();
        for (f, file) in fetched {
            let part = part_path(&f.dest);
            std::fs::rename(&part, &f.dest).map_err(|e| {
                ModelsError::io(&f.dest, "mover a su lugar el archivo descargado", e)
            })?;
            sync_dir(&f.dest);
            progress.event(&Event::Finished {
                label: &f.label,
                bytes: file.size,
                sha256: &file.sha256,
            });
            downloaded.push(file.path.clone());
            kept.push(file);
        }
        // Files in the plan's order.
        kept.sort_by_key(|k| {
            plan.files
                .iter()
                .position(|f| f.relative == k.path)
                .unwrap_or(usize::MAX)
        });
        let entry = self.entry(&plan, spec, kept, dir)?;
        dir.record(entry.clone())?;
        Ok(InstallOutcome {
            model: dir.to_installed(entry),
            already_installed: false,
            downloaded,
            absent_optional,
            bytes_downloaded,
        })
    }

    fn entry(
        &self,
        plan: &Plan,
        spec: &ModelSpec,
        files: Vec<InstalledFile>,
        dir: &ModelsDir,
    ) -> Result<ManifestEntry> {
        let url = match plan.role {
            Role::Llm => plan
                .files
                .first()
                .map(|f| f.url.clone())
                .unwrap_or_default(),
            Role::Embeddings => self.config.file_url(&plan.repo, spec.revision, ""),
        };
        let dimension = match plan.role {
            Role::Llm => None,
            Role::Embeddings => crate::import::config_dimension(
                &dir.model_dir(Role::Embeddings, &plan.name)
                    .join("config.json"),
            )
            .or(spec.dimension),
        };
        Ok(ManifestEntry {
            name: plan.name.clone(),
            role: plan.role,
            quant: plan.quant.clone(),
            files,
            source: Source::Download { url },
            installed_at: now_rfc3339(),
            dimension,
        })
    }

    /// Downloads one file into its `.part`, with retries, and checks it. Returns the
    /// file's record and the bytes received.
    fn fetch(
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
        let mut hash = PartHash::new();
        let mut received = 0u64;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.attempt(f, repo, &part, &mut hash, &mut received, progress) {
                Ok(()) => break,
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transient(reason)) => {
                    if attempt > self.config.retries {
                        return Err(ModelsError::RetriesExhausted {
                            url: f.url.clone(),
                            attempts: attempt,
                            last: reason,
                            part,
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

        // The transfer is complete; check size and hash before anything is installed.
        let size = file_len(&part);
        if hash.len != size {
            // The .part changed behind our back; hash it from disk.
            hash = PartHash::new();
            hash_prefix(&part, size, &mut hash.hasher, progress, &f.label)?;
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
            remove_quietly(&part);
            return Err(ModelsError::SizeMismatch {
                what,
                expected: p.size,
                actual: size,
            });
        }
        if let Some((expected, origin, _)) = f.reference()
            && expected != sha
        {
            remove_quietly(&part);
            return Err(ModelsError::ChecksumMismatch {
                what,
                expected: expected.to_string(),
                actual: sha,
                origin,
            });
        }
        if let Err(e) = File::open(&part).and_then(|f| f.sync_all()) {
            return Err(ModelsError::io(&part, "guardar en disco", e));
        }
        Ok((
            InstalledFile {
                path: f.relative.clone(),
                size,
                sha256: sha,
            },
            received,
        ))
    }

    fn get(&self, url: &str, offset: u64) -> std::result::Result<Response, Failure> {
        let mut req = self.client.get(url);
        if offset > 0 {
            req = req.header(RANGE, format!("bytes={offset}-"));
        }
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        req.send().map_err(|e| {
            if e.is_builder() {
                Failure::Fatal(ModelsError::Invalid(format!(
                    "{url}: no se puede hacer una solicitud a esta URL ({e}); revise --mirror o HF_ENDPOINT"
                )))
            } else {
                Failure::Transient(describe(&e, &self.config))
            }
        })
    }

    /// One request: resumes `.part` and streams the body into it.
    fn attempt(
        &self,
        f: &PlannedFile,
        repo: &str,
        part: &Path,
        hash: &mut PartHash,
        received: &mut u64,
        progress: &mut dyn Progress,
    ) -> std::result::Result<(), Failure> {
        let truncate = |hash: &mut PartHash| -> std::result::Result<(), Failure> {
            *hash = PartHash::new();
            File::create(part)
                .map(drop)
                .map_err(|e| Failure::Fatal(ModelsError::io(part, "escribir", e)))
        };
        let mut offset = file_len(part);
        if let Some(exact) = f.exact_size() {
            if offset == exact {
                return Ok(());
            }
            if offset > exact {
                truncate(hash)?;
                offset = 0;
            }
        }
        // At most two requests: a 416 for a stale .part restarts from zero at once.
        let (resp, total) = loop {
            let resp = self.get(&f.url, offset)?;
            let status = resp.status();
            let content_range = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .map(parse_content_range);
            match status {
                StatusCode::PARTIAL_CONTENT => {
                    let (start, total) = content_range.unwrap_or((None, None));
                    if start != Some(offset) {
                        truncate(hash)?;
                        return Err(Failure::Transient(format!(
                            "el servidor retomó en el byte {} en vez de {offset}; se empieza de nuevo desde cero",
                            start.map_or_else(|| "?".to_string(), |s| s.to_string())
                        )));
                    }
                    let total = total.or_else(|| resp.content_length().map(|l| l + offset));
                    break (resp, total);
                }
                StatusCode::OK => {
                    if offset > 0 {
                        // The server ignores Range: what comes is the whole file.
                        truncate(hash)?;
                        offset = 0;
                    }
                    let total = resp.content_length();
                    break (resp, total);
                }
                StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
                    let total = content_range.and_then(|(_, t)| t);
                    if total == Some(offset) {
                        // The .part was already complete.
                        return Ok(());
                    }
                    truncate(hash)?;
                    offset = 0;
                    continue;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(Failure::Fatal(ModelsError::Unauthorized {
                        url: f.url.clone(),
                        status: status.as_u16(),
                        repo: repo.to_string(),
                    }));
                }
                StatusCode::NOT_FOUND => {
                    return Err(Failure::Fatal(ModelsError::NotFound { url: f.url.clone() }));
                }
                s if s.is_server_error()
                    || s == StatusCode::REQUEST_TIMEOUT
                    || s == StatusCode::TOO_MANY_REQUESTS =>
                {
                    return Err(Failure::Transient(format!(
                        "el servidor respondió HTTP {s}"
                    )));
                }
                s => {
                    let detail = s
                        .canonical_reason()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    return Err(Failure::Fatal(ModelsError::Http {
                        url: f.url.clone(),
                        status: s.as_u16(),
                        detail,
                    }));
                }
            }
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

/// What installing `spec` involves (see [`Downloader::plan`]); needs no network.
pub fn plan(
    dir: &ModelsDir,
    spec: &ModelSpec,
    quant: Option<&str>,
    config: &HubConfig,
) -> Result<Plan> {
    let manifest = dir.load_manifest()?;
    let folder = dir.model_dir(spec.role, spec.name);
    let make = |path: &str,
                repo: &str,
                need,
                pin: Option<Pin>,
                approx,
                label: String,
                entry: Option<&ManifestEntry>| {
        let dest = path.split('/').fold(folder.clone(), |p, s| p.join(s));
        let relative = dir.relative(&dest);
        let recorded = entry.and_then(|e| e.files.iter().find(|x| x.path == relative).cloned());
        let expected_size = pin
            .map(|p| p.size)
            .or(recorded.as_ref().map(|r| r.size))
            .unwrap_or(approx);
        let present =
            std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == expected_size);
        let partial = file_len(&part_path(&dest));
        PlannedFile {
            label,
            url: config.file_url(repo, spec.revision, path),
            dest,
            relative,
            need,
            pin,
            recorded,
            expected_size,
            partial,
            present,
        }
    };
    match spec.artifacts {
        Artifacts::Gguf { .. } => {
            let q = spec.quant(quant)?;
            let entry = manifest.find(spec.name, Some(q.quant));
            let repo = spec.repo_for(q);
            let file = make(
                q.file,
                repo,
                Need::Required,
                q.pin,
                q.approx_size,
                format!("{} {}", spec.name, q.quant),
                entry,
            );
            Ok(Plan {
                name: spec.name.to_string(),
                role: spec.role,
                quant: Some(q.quant.to_string()),
                repo: repo.to_string(),
                folder,
                files: vec![file],
                ram: q.ram,
                recorded: entry.is_some(),
            })
        }
        Artifacts::Folder { files, ram } => {
            if let Some(q) = quant {
                return Err(ModelsError::UnknownQuant {
                    name: spec.name.to_string(),
                    quant: q.to_string(),
                    available: "ninguna (un modelo de embeddings es una carpeta; no use --quant)"
                        .to_string(),
                });
            }
            let entry = manifest.find(spec.name, None);
            let files = files
                .iter()
                .map(|r| {
                    make(
                        r.path,
                        spec.repo,
                        r.need,
                        r.pin,
                        r.approx_size,
                        format!("{} {}", spec.name, r.path),
                        entry,
                    )
                })
                .collect();
            Ok(Plan {
                name: spec.name.to_string(),
                role: spec.role,
                quant: None,
                repo: spec.repo.to_string(),
                folder,
                files,
                ram,
                recorded: entry.is_some(),
            })
        }
    }
}

/// Downloads and installs a model with a fresh [`Downloader`] (see
/// [`Downloader::install`]).
pub fn install(
    dir: &ModelsDir,
    spec: &ModelSpec,
    quant: Option<&str>,
    config: &HubConfig,
    progress: &mut dyn Progress,
) -> Result<InstallOutcome> {
    Downloader::new(config.clone())?.install(dir, spec, quant, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_hub_layout() {
        let c = HubConfig::new(Some("https://hf-mirror.com/ "), Some("  "));
        assert_eq!(
            c.file_url("Qwen/X-GGUF", "main", "x-q4_k_m.gguf"),
            "https://hf-mirror.com/Qwen/X-GGUF/resolve/main/x-q4_k_m.gguf"
        );
        assert!(c.token.is_none());
        assert_eq!(HubConfig::new(None, None).endpoint, DEFAULT_ENDPOINT);
        assert!(HubConfig::new(Some("hf-mirror.com"), None).check().is_err());
        assert!(c.check().is_ok());
    }

    #[test]
    fn the_token_is_never_shown() {
        let c = HubConfig::new(None, Some("hf_secretsecret"));
        let d = format!("{c:?}");
        assert!(!d.contains("hf_secret"), "{d}");
        let dl = Downloader::new(c).unwrap();
        assert!(!format!("{dl:?}").contains("hf_secret"));
        let e = Downloader::new(HubConfig::new(None, Some("bad\ntoken")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("HF_TOKEN") && !e.contains("bad"), "{e}");
    }

    #[test]
    fn content_ranges_are_read() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            (Some(100), Some(200))
        );
        assert_eq!(parse_content_range("bytes */200"), (None, Some(200)));
        assert_eq!(parse_content_range("bytes 0-9/*"), (Some(0), None));
        assert_eq!(parse_content_range("items 1-2/3"), (None, None));
    }

    #[test]
    fn free_space_is_measured() {
        let d = tempfile::tempdir().unwrap();
        assert!(free_space(d.path()).unwrap() > 0);
        assert!(free_space(&d.path().join("nope")).is_err());
    }

    #[test]
    fn plans_report_sizes() {
        let d = tempfile::tempdir().unwrap();
        let dir = ModelsDir::new(d.path());
        let spec = crate::catalogue::find("qwen-0.5b").unwrap();
        let p = plan(&dir, spec, None, &HubConfig::default()).unwrap();
        assert_eq!(p.remaining_bytes(), 491_400_064);
        assert_eq!(
            p.files[0].relative,
            "llm/qwen2.5-coder-0.5b-instruct/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        );
        assert!(!p.looks_installed());
        let e5 = crate::catalogue::default_embeddings();
        assert!(plan(&dir, e5, Some("Q4_K_M"), &HubConfig::default()).is_err());
        let p = plan(&dir, e5, None, &HubConfig::default()).unwrap();
        assert_eq!(p.files.len(), e5.folder_files().len());
        assert!(
            p.files
                .iter()
                .any(|f| f.relative == "embeddings/multilingual-e5-small/1_Pooling/config.json")
        );
    }
}
