//! The models folder and its manifest.
//!
//! ```text
//! <dir>/manifest.json                       what is installed, with sizes and sha256
//! <dir>/llm/<name>/<file>.gguf              e.g. llm/tinyllama-1.1b-chat/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf
//! <dir>/embeddings/<name>/config.json       e.g. embeddings/multilingual-e5-small/…
//!                        /model.safetensors
//!                        /tokenizer.json
//!                        /1_Pooling/config.json
//! ```
//!
//! The manifest is the record of what was installed and how (download URL or imported
//! path), so `verify` can tell a damaged file from a good one long after the download, and
//! an unpinned model is held to the hash it had on the first install. It is rewritten
//! atomically (temporary file, then rename) and re-read just before each change, so an
//! interrupted program never leaves half a manifest. Several quantizations of one LLM can
//! be installed side by side; an entry is keyed by (name, quantization).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalogue::{self, DEFAULT_QUANT, ModelSpec, Role};
use crate::error::{ModelsError, Result};

pub const MANIFEST_FILE: &str = "manifest.json";
const MANIFEST_VERSION: u32 = 1;

/// Where an installed model came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    /// Downloaded from this URL (for a folder, the URL of its first file's directory).
    Download { url: String },
    /// Copied from this path by `models import`.
    Import { original: String },
}

/// One installed file, relative to the models folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledFile {
    /// Relative path with `/` separators (`llm/<name>/<file>.gguf`).
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// One installed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub role: Role,
    /// Quantization of an LLM (`Q4_K_M`); none for embeddings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<String>,
    pub files: Vec<InstalledFile>,
    pub source: Source,
    /// RFC 3339, UTC.
    pub installed_at: String,
    /// Output dimension of an embeddings model (from its config.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<u32>,
}

/// The contents of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub models: Vec<ManifestEntry>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            models: Vec::new(),
        }
    }
}

impl Manifest {
    pub fn find(&self, name: &str, quant: Option<&str>) -> Option<&ManifestEntry> {
        self.models
            .iter()
            .find(|e| e.name == name && e.quant.as_deref() == quant)
    }

    /// Adds or replaces the entry with the same name and quantization.
    pub fn upsert(&mut self, entry: ManifestEntry) {
        match self
            .models
            .iter_mut()
            .find(|e| e.name == entry.name && e.quant == entry.quant)
        {
            Some(e) => *e = entry,
            None => self.models.push(entry),
        }
    }
}

/// An installed model as the binary sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledModel {
    pub entry: ManifestEntry,
    /// The GGUF file of an LLM, or the folder of an embeddings model.
    pub path: PathBuf,
    /// Its catalogue entry, when it is a catalogue model.
    pub spec: Option<&'static ModelSpec>,
    /// Every recorded file exists with its recorded size (cheap check; `verify` hashes).
    pub present: bool,
}

/// The models folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelsDir {
    root: PathBuf,
}

impl ModelsDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ModelsDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.root.join(MANIFEST_FILE)
    }

    /// `<dir>/llm/<name>` or `<dir>/embeddings/<name>`.
    pub fn model_dir(&self, role: Role, name: &str) -> PathBuf {
        self.root.join(role.folder()).join(name)
    }

    /// Absolute path of a manifest-relative path.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        relative
            .split('/')
            .fold(self.root.clone(), |p, part| p.join(part))
    }

    /// Manifest-relative path (`/` separators) of a path inside the folder.
    pub fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Reads the manifest; a folder without one has nothing installed.
    pub fn load_manifest(&self) -> Result<Manifest> {
        let path = self.manifest_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(ModelsError::io(&path, "leer el manifiesto de modelos", e)),
        };
        let m: Manifest = serde_json::from_str(&text).map_err(|e| ModelsError::Manifest {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if m.version > MANIFEST_VERSION {
            return Err(ModelsError::Manifest {
                path,
                detail: format!(
                    "lo escribió una versión más nueva de epicrisis (versión de manifiesto {}; esta lee la {MANIFEST_VERSION}); actualice el programa",
                    m.version
                ),
            });
        }
        Ok(m)
    }

    /// Writes the manifest atomically.
    pub fn save_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = self.manifest_path();
        let mut text =
            serde_json::to_string_pretty(manifest).map_err(|e| ModelsError::Manifest {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        text.push('\n');
        write_atomic(&path, text.as_bytes())
    }

    /// Records an installed model (replacing an older entry of the same name and
    /// quantization).
    pub fn record(&self, entry: ManifestEntry) -> Result<()> {
        let mut m = self.load_manifest()?;
        m.upsert(entry);
        self.save_manifest(&m)
    }

    /// Drops manifest entries of `name` (all quantizations when `quant` is `None`) without
    /// touching files; returns what was dropped.
    pub fn forget(&self, name: &str, quant: Option<&str>) -> Result<Vec<ManifestEntry>> {
        let name = canonical_name(name);
        let quant = quant.map(catalogue::normalise_quant);
        let mut m = self.load_manifest()?;
        let (gone, kept): (Vec<_>, Vec<_>) = m.models.into_iter().partition(|e| {
            e.name == name && (quant.is_none() || e.quant.as_deref() == quant.as_deref())
        });
        m.models = kept;
        if !gone.is_empty() {
            self.save_manifest(&m)?;
        }
        Ok(gone)
    }

    /// Deletes an installed model's files and its manifest entries (all quantizations when
    /// `quant` is `None`); returns what was removed.
    pub fn remove(&self, name: &str, quant: Option<&str>) -> Result<Vec<ManifestEntry>> {
        let gone = self.forget(name, quant)?;
        for e in &gone {
            for f in e.files.iter().filter(|f| is_safe_relative(&f.path)) {
                let p = self.resolve(&f.path);
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(ModelsError::io(&p, "borrar", err)),
                }
            }
            // Empty folders left behind go too (best effort: a user's own file stays).
            let dir = self.model_dir(e.role, &e.name);
            remove_empty_dirs(&dir);
        }
        Ok(gone)
    }

    pub(crate) fn to_installed(&self, entry: ManifestEntry) -> InstalledModel {
        let path = match entry.role {
            Role::Llm => entry
                .files
                .first()
                .map(|f| self.resolve(&f.path))
                .unwrap_or_else(|| self.model_dir(entry.role, &entry.name)),
            Role::Embeddings => self.model_dir(entry.role, &entry.name),
        };
        let present = !entry.files.is_empty()
            && entry.files.iter().all(|f| {
                is_safe_relative(&f.path)
                    && std::fs::metadata(self.resolve(&f.path)).is_ok_and(|m| m.len() == f.size)
            });
        let spec = catalogue::find(&entry.name).ok();
        InstalledModel {
            entry,
            path,
            spec,
            present,
        }
    }

    /// Every model in the manifest, in manifest order.
    pub fn list_installed(&self) -> Result<Vec<InstalledModel>> {
        Ok(self
            .load_manifest()?
            .models
            .into_iter()
            .map(|e| self.to_installed(e))
            .collect())
    }

    /// Every installed quantization of a model (name or catalogue alias).
    pub fn installed_all(&self, name: &str) -> Result<Vec<InstalledModel>> {
        let name = canonical_name(name);
        Ok(self
            .list_installed()?
            .into_iter()
            .filter(|m| m.entry.name == name)
            .collect())
    }

    /// An installed model by name or alias; with several quantizations, Q4_K_M if present,
    /// else the first recorded. Entries whose files are missing still count (see
    /// [`InstalledModel::present`]).
    pub fn installed(&self, name: &str) -> Result<Option<InstalledModel>> {
        let all = self.installed_all(name)?;
        let pick = all
            .iter()
            .position(|m| m.entry.quant.as_deref() == Some(DEFAULT_QUANT))
            .unwrap_or(0);
        Ok(all.into_iter().nth(pick))
    }

    /// The path to load for a model (`None` quant: as [`ModelsDir::installed`] picks),
    /// when it is installed and its files are present: the GGUF file of an LLM, the folder
    /// of an embeddings model.
    pub fn path_of(&self, name: &str, quant: Option<&str>) -> Result<Option<PathBuf>> {
        let found = match quant {
            None => self.installed(name)?,
            Some(q) => {
                let q = catalogue::normalise_quant(q);
                self.installed_all(name)?
                    .into_iter()
                    .find(|m| m.entry.quant.as_deref() == Some(q.as_str()))
            }
        };
        Ok(found.filter(|m| m.present).map(|m| m.path))
    }

    /// The guide's default LLM (TinyLlama 1.1B Chat), when installed.
    pub fn default_llm_path(&self) -> Result<Option<PathBuf>> {
        self.path_of(catalogue::default_llm().name, None)
    }

    /// The guide's default embeddings model (multilingual-e5-small), when installed.
    pub fn default_embeddings_path(&self) -> Result<Option<PathBuf>> {
        self.path_of(catalogue::default_embeddings().name, None)
    }

    /// The first installed and present model of a role: the guide's default if installed,
    /// otherwise catalogue order, then other imported models.
    pub fn preferred_path(&self, role: Role) -> Result<Option<PathBuf>> {
        let all: Vec<_> = self
            .list_installed()?
            .into_iter()
            .filter(|m| m.entry.role == role && m.present)
            .collect();
        let rank = |m: &InstalledModel| {
            let pos = catalogue::catalogue()
                .iter()
                .position(|s| s.name == m.entry.name);
            let model = match (m.spec.is_some_and(|s| s.is_default), pos) {
                (true, _) => 0,
                (false, Some(p)) => 1 + p,
                (false, None) => usize::MAX,
            };
            // Among quantizations of one model, Q4_K_M first (as `installed` picks).
            (model, m.entry.quant.as_deref() != Some(DEFAULT_QUANT))
        };
        Ok(all.into_iter().min_by_key(rank).map(|m| m.path))
    }
}

/// Whether a manifest path stays inside the models folder: relative, `/`-separated, no
/// `.`, `..` or empty parts, no backslash or drive letter. A manifest edited by hand (or
/// by someone else) must not make `remove` delete, or `verify` vouch for, a file elsewhere.
pub fn is_safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && !rel.contains('\\')
        && !rel.contains(':')
        && rel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// The catalogue name for a name or alias, else the name as given (lower-cased).
pub fn canonical_name(name: &str) -> String {
    catalogue::find(name)
        .map(|m| m.name.to_string())
        .unwrap_or_else(|_| name.trim().to_ascii_lowercase())
}

/// Checks a name used as a folder name: letters, digits, `.`, `_` and `-`, not starting
/// with a dot.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ModelsError::Invalid(format!(
            "{name:?} no puede ser un nombre de modelo: use letras, dígitos, '.', '_' y '-' (p. ej. --name mi-modelo-7b)"
        )))
    }
}

fn remove_empty_dirs(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// A temporary name next to `path` (same folder, so the rename is atomic).
pub(crate) fn temp_path(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Writes a file atomically: a temporary file in the same folder, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ModelsError::io(parent, "crear la carpeta", e))?;
    }
    let tmp = temp_path(path, "tmp");
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ModelsError::io(path, "escribir", e));
    }
    sync_dir(path);
    Ok(())
}

/// Syncs the folder holding `path`, so a rename survives a power cut (best effort).
pub(crate) fn sync_dir(path: &Path) {
    if let Some(parent) = path.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
}

/// Now, as RFC 3339 UTC (`2025-12-26T14:03:00Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, role: Role, quant: Option<&str>, files: &[(&str, u64)]) -> ManifestEntry {
        ManifestEntry {
            name: name.into(),
            role,
            quant: quant.map(Into::into),
            files: files
                .iter()
                .map(|(p, s)| InstalledFile {
                    path: (*p).into(),
                    size: *s,
                    sha256: "ab".repeat(32),
                })
                .collect(),
            source: Source::Import {
                original: "/media/usb/x".into(),
            },
            installed_at: now_rfc3339(),
            dimension: None,
        }
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_766_757_780), "2025-12-26T14:03:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn manifest_round_trip_and_lookups() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ModelsDir::new(tmp.path());
        assert_eq!(dir.load_manifest().unwrap(), Manifest::default());
        assert_eq!(dir.path_of("tinyllama", None).unwrap(), None);

        let gguf = "llm/tinyllama-1.1b-chat/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf";
        let q8 = "llm/tinyllama-1.1b-chat/tinyllama-1.1b-chat-v1.0.Q8_0.gguf";
        for (p, n) in [(gguf, 10usize), (q8, 12)] {
            let f = dir.resolve(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, vec![0u8; n]).unwrap();
        }
        dir.record(entry(
            "tinyllama-1.1b-chat",
            Role::Llm,
            Some("Q8_0"),
            &[(q8, 12)],
        ))
        .unwrap();
        dir.record(entry(
            "tinyllama-1.1b-chat",
            Role::Llm,
            Some("Q4_K_M"),
            &[(gguf, 10)],
        ))
        .unwrap();
        let mut e5 = entry(
            "multilingual-e5-small",
            Role::Embeddings,
            None,
            &[("embeddings/multilingual-e5-small/config.json", 3)],
        );
        e5.dimension = Some(384);
        e5.source = Source::Download {
            url: "https://huggingface.co/intfloat/multilingual-e5-small/resolve/main/".into(),
        };
        dir.record(e5.clone()).unwrap();

        let text = std::fs::read_to_string(dir.manifest_path()).unwrap();
        assert!(text.contains("\"kind\": \"download\""), "{text}");
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, dir.load_manifest().unwrap());
        assert_eq!(back.models.len(), 3);
        assert_eq!(back.find("multilingual-e5-small", None), Some(&e5));

        // Alias lookup, Q4_K_M preferred, explicit quant, missing files.
        assert_eq!(
            dir.path_of("TinyLlama", None).unwrap(),
            Some(dir.resolve(gguf))
        );
        assert_eq!(
            dir.path_of("tinyllama", Some("q8_0")).unwrap(),
            Some(dir.resolve(q8))
        );
        assert_eq!(dir.default_llm_path().unwrap(), Some(dir.resolve(gguf)));
        assert_eq!(
            dir.default_embeddings_path().unwrap(),
            None,
            "config missing"
        );
        assert_eq!(
            dir.preferred_path(Role::Llm).unwrap(),
            Some(dir.resolve(gguf))
        );
        let inst = dir.installed("multilingual-e5-small").unwrap().unwrap();
        assert!(!inst.present);
        assert_eq!(
            inst.path,
            tmp.path().join("embeddings").join("multilingual-e5-small")
        );

        // Re-recording replaces; remove deletes the files and the entries.
        dir.record(entry(
            "tinyllama-1.1b-chat",
            Role::Llm,
            Some("Q8_0"),
            &[(q8, 12)],
        ))
        .unwrap();
        assert_eq!(dir.load_manifest().unwrap().models.len(), 3);
        let gone = dir.remove("tinyllama", None).unwrap();
        assert_eq!(gone.len(), 2);
        assert!(!dir.resolve(gguf).exists());
        assert!(!tmp.path().join("llm").join("tinyllama-1.1b-chat").exists());
        assert_eq!(dir.list_installed().unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_manifest_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ModelsDir::new(tmp.path());
        std::fs::write(dir.manifest_path(), "{not json").unwrap();
        let e = dir.load_manifest().unwrap_err().to_string();
        assert!(e.contains("manifest.json") && e.contains("import"), "{e}");
    }

    #[test]
    fn names_become_folder_names_safely() {
        for ok in ["my-model", "qwen2.5-7b_q4"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", ".hidden", "con sp"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
