//! Checking what is installed: [`verify`] hashes every file the manifest records,
//! [`quick_check`] only looks at existence and sizes, [`health`] turns the quick check
//! into findings for `epicrisis doctor`, and [`listing`] joins the catalogue with what is
//! installed for `epicrisis models list`.
//!
//! Besides the manifest's entries, the folder is scanned for GGUF files and embeddings
//! folders the manifest does not know (copied by hand: `import` records them) and for
//! `.part` files of interrupted downloads.

use std::path::{Path, PathBuf};

use crate::catalogue::{self, DEFAULT_QUANT, ModelSpec, Role};
use crate::error::Result;
use crate::hash::sha256_file;
use crate::progress::{Event, Progress};
use crate::store::{InstalledModel, ManifestEntry, ModelsDir, Source, is_safe_relative};

/// The state of one recorded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Present with its recorded size (and, in a full check, its sha256).
    Ok,
    Missing,
    SizeMismatch {
        expected: u64,
        actual: u64,
    },
    HashMismatch {
        expected: String,
        actual: String,
    },
    /// The manifest's path leaves the models folder (absolute, `..`): not looked at.
    OutsideModelsDir,
    /// Present but not readable (permissions, I/O error).
    Unreadable(String),
}

/// One recorded file and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// Manifest path (`llm/<name>/<file>.gguf`), or the path found on disk.
    pub path: String,
    pub state: FileState,
}

/// The state of a model, the worst of its files'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelState {
    Ok,
    /// On disk but not in the manifest (copied by hand).
    Unrecorded,
    /// An interrupted download (`<file>.part`).
    Partial,
    /// Some recorded files are missing.
    Missing,
    /// A file has the wrong size or sha256, or cannot be read.
    Damaged,
    /// The manifest points outside the models folder.
    Unsafe,
}

impl ModelState {
    /// Stable identifier (English), as in `models verify --format json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::Ok => "ok",
            ModelState::Unrecorded => "not in the manifest",
            ModelState::Partial => "interrupted download",
            ModelState::Missing => "missing files",
            ModelState::Damaged => "damaged",
            ModelState::Unsafe => "manifest points outside the models folder",
        }
    }

    /// What a person reads (Spanish).
    pub fn label(self) -> &'static str {
        match self {
            ModelState::Ok => "ok",
            ModelState::Unrecorded => "no figura en el manifiesto",
            ModelState::Partial => "descarga interrumpida",
            ModelState::Missing => "faltan archivos",
            ModelState::Damaged => "dañado",
            ModelState::Unsafe => "el manifiesto apunta fuera de la carpeta de modelos",
        }
    }
}

impl std::fmt::Display for ModelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What was found for one model (or one unrecorded file).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReport {
    /// Model name (for an unrecorded or partial file: the folder's name).
    pub name: String,
    pub role: Role,
    pub quant: Option<String>,
    pub state: ModelState,
    /// The GGUF file of an LLM, the folder of an embeddings model, or the file found.
    pub path: PathBuf,
    pub files: Vec<FileReport>,
    /// What to do about it; `None` when all is well.
    pub fix: Option<String>,
    /// Whether sha256 were checked (`verify`) or only sizes (`quick_check`).
    pub hashed: bool,
}

impl ModelReport {
    pub fn is_ok(&self) -> bool {
        self.state == ModelState::Ok
    }

    /// `tinyllama-1.1b-chat Q4_K_M`.
    pub fn title(&self) -> String {
        match &self.quant {
            Some(q) => format!("{} {q}", self.name),
            None => self.name.clone(),
        }
    }

    /// One line: what and its state, with the files concerned.
    pub fn summary(&self) -> String {
        let bad: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.state != FileState::Ok)
            .map(|f| match &f.state {
                FileState::Ok => String::new(),
                FileState::Missing => format!("falta {}", f.path),
                FileState::SizeMismatch { expected, actual } => {
                    format!("{} tiene {actual} bytes; se registraron {expected}", f.path)
                }
                FileState::HashMismatch { expected, actual } => {
                    format!("{} tiene sha256 {actual}; se registró {expected}", f.path)
                }
                FileState::OutsideModelsDir => {
                    format!("{} está fuera de la carpeta de modelos", f.path)
                }
                FileState::Unreadable(e) => format!("{} no se puede leer ({e})", f.path),
            })
            .collect();
        if bad.is_empty() {
            format!("{}: {}", self.title(), self.state)
        } else {
            format!("{}: {} ({})", self.title(), self.state, bad.join("; "))
        }
    }
}

fn install_command(entry: &ManifestEntry) -> String {
    if let Source::Import { original } = &entry.source {
        return format!("vuelva a importarlo con `epicrisis models import {original}`");
    }
    let quant = match entry.quant.as_deref() {
        Some(q) if q != DEFAULT_QUANT => format!(" --quant {q}"),
        _ => String::new(),
    };
    format!(
        "vuelva a descargarlo con `epicrisis models download {}{quant}`",
        entry.name
    )
}

fn fix_for(state: ModelState, entry: &ManifestEntry, root: &Path) -> Option<String> {
    let again = install_command(entry);
    Some(match state {
        ModelState::Ok => return None,
        ModelState::Missing => format!(
            "ya no están los archivos registrados en manifest.json: {again}, o quítelo del registro con `epicrisis models remove {}`",
            entry.name
        ),
        ModelState::Damaged => format!(
            "los archivos están dañados, incompletos o fueron reemplazados: {again} (el archivo dañado solo se reemplaza después de comprobar una copia buena)"
        ),
        ModelState::Unsafe => format!(
            "manifest.json fue editado o está dañado y nombra un archivo fuera de {}: quite la entrada con `epicrisis models remove {}` (no se toca nada fuera de la carpeta de modelos) y luego {again}",
            root.display(),
            entry.name
        ),
        ModelState::Unrecorded | ModelState::Partial => return None,
    })
}

fn check_entry(
    dir: &ModelsDir,
    entry: &ManifestEntry,
    full: bool,
    progress: &mut dyn Progress,
) -> ModelReport {
    let mut files = Vec::new();
    for f in &entry.files {
        let state = if !is_safe_relative(&f.path) {
            FileState::OutsideModelsDir
        } else {
            let p = dir.resolve(&f.path);
            match std::fs::metadata(&p) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileState::Missing,
                Err(e) => FileState::Unreadable(e.to_string()),
                Ok(m) if !m.is_file() => FileState::Missing,
                Ok(m) if m.len() != f.size => FileState::SizeMismatch {
                    expected: f.size,
                    actual: m.len(),
                },
                Ok(_) if !full => FileState::Ok,
                Ok(m) => {
                    let label = format!("verificar {}", f.path);
                    progress.event(&Event::Verifying {
                        label: &label,
                        total: m.len(),
                    });
                    match sha256_file(&p, progress, &label) {
                        Ok(sha) if sha == f.sha256 => FileState::Ok,
                        Ok(sha) => FileState::HashMismatch {
                            expected: f.sha256.clone(),
                            actual: sha,
                        },
                        Err(e) => FileState::Unreadable(e.to_string()),
                    }
                }
            }
        };
        files.push(FileReport {
            path: f.path.clone(),
            state,
        });
    }
    let state = files
        .iter()
        .map(|f| match f.state {
            FileState::Ok => ModelState::Ok,
            FileState::Missing => ModelState::Missing,
            FileState::SizeMismatch { .. }
            | FileState::HashMismatch { .. }
            | FileState::Unreadable(_) => ModelState::Damaged,
            FileState::OutsideModelsDir => ModelState::Unsafe,
        })
        .max()
        .unwrap_or(ModelState::Missing);
    let installed = dir.to_installed(entry.clone());
    ModelReport {
        name: entry.name.clone(),
        role: entry.role,
        quant: entry.quant.clone(),
        state,
        path: installed.path,
        files,
        fix: fix_for(state, entry, dir.root()),
        hashed: full,
    }
}

/// The sub-folders (`dirs`) or files of a folder, sorted; none when it cannot be read.
fn listing_of(path: &Path, dirs: bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_type()
                .is_ok_and(|t| if dirs { t.is_dir() } else { t.is_file() })
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// GGUF files, embeddings folders and `.part` files the manifest does not account for.
fn strays(dir: &ModelsDir, entries: &[ManifestEntry], hashed: bool) -> Vec<ModelReport> {
    let recorded: std::collections::HashSet<&str> = entries
        .iter()
        .flat_map(|e| e.files.iter().map(|f| f.path.as_str()))
        .collect();
    let mut out = Vec::new();
    let report = |name: String, role, path: PathBuf, state, fix: String| ModelReport {
        name,
        role,
        quant: None,
        state,
        files: vec![FileReport {
            path: dir.relative(&path),
            state: FileState::Ok,
        }],
        path,
        fix: Some(fix),
        hashed,
    };
    for role in [Role::Llm, Role::Embeddings] {
        for model_dir in listing_of(&dir.root().join(role.folder()), true) {
            let name = model_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut all_files = listing_of(&model_dir, false);
            if role == Role::Embeddings {
                all_files.extend(listing_of(&model_dir.join("1_Pooling"), false));
            }
            for p in all_files {
                let fname = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if fname.ends_with(".part") {
                    out.push(report(
                        name.clone(),
                        role,
                        p.clone(),
                        ModelState::Partial,
                        format!(
                            "una descarga interrumpida: `epicrisis models download {name}` la retoma; o borre {} para liberar su espacio",
                            p.display()
                        ),
                    ));
                } else if role == Role::Llm
                    && fname.to_ascii_lowercase().ends_with(".gguf")
                    && !recorded.contains(dir.relative(&p).as_str())
                {
                    out.push(report(
                        name.clone(),
                        role,
                        p.clone(),
                        ModelState::Unrecorded,
                        format!(
                            "un archivo GGUF que no figura en manifest.json (¿copiado a mano?): `epicrisis models import {}` lo revisa y lo registra",
                            p.display()
                        ),
                    ));
                }
            }
            if role == Role::Embeddings
                && model_dir.join("config.json").is_file()
                && !recorded.contains(dir.relative(&model_dir.join("config.json")).as_str())
            {
                out.push(report(
                    name.clone(),
                    role,
                    model_dir.clone(),
                    ModelState::Unrecorded,
                    format!(
                        "una carpeta de embeddings que no figura en manifest.json (¿copiada a mano?): sáquela de la carpeta de modelos y `epicrisis models import FOLDER --name {name}` la revisa y la registra"
                    ),
                ));
            }
        }
    }
    out
}

fn check(dir: &ModelsDir, full: bool, progress: &mut dyn Progress) -> Result<Vec<ModelReport>> {
    let manifest = dir.load_manifest()?;
    let mut out: Vec<ModelReport> = manifest
        .models
        .iter()
        .map(|e| check_entry(dir, e, full, progress))
        .collect();
    out.extend(strays(dir, &manifest.models, full));
    Ok(out)
}

/// Checks every model in the manifest: files present, sizes and sha256 as recorded, paths
/// inside the models folder; then reports GGUF files and embeddings folders the manifest
/// does not know and interrupted downloads. A corrupt `manifest.json` is an error naming
/// it.
pub fn verify(dir: &ModelsDir, progress: &mut dyn Progress) -> Result<Vec<ModelReport>> {
    check(dir, true, progress)
}

/// As [`verify`] but without hashing: existence and sizes only (instant).
pub fn quick_check(dir: &ModelsDir) -> Result<Vec<ModelReport>> {
    check(dir, false, &mut crate::progress::NoProgress)
}

/// How a [`Finding`] should be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Ok,
    Warn,
    Fail,
}

/// One line of `epicrisis doctor` about the models folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// `manifiesto de modelos`, `LLM predeterminado`, `embeddings predeterminado`,
    /// `modelo NAME`.
    pub subject: String,
    pub detail: String,
    /// What to do; `None` when all is well.
    pub fix: Option<String>,
}

fn finding(
    severity: Severity,
    subject: impl Into<String>,
    detail: String,
    fix: Option<String>,
) -> Finding {
    Finding {
        severity,
        subject: subject.into(),
        detail,
        fix,
    }
}

fn default_finding(
    role: Role,
    default: &ModelSpec,
    installed: &[InstalledModel],
    flag: &str,
) -> Finding {
    let subject = match role {
        Role::Llm => "LLM predeterminado",
        Role::Embeddings => "embeddings predeterminado",
    };
    let kind = match role {
        Role::Llm => "de lenguaje (LLM)",
        Role::Embeddings => "de embeddings",
    };
    let present: Vec<&InstalledModel> = installed
        .iter()
        .filter(|m| m.entry.role == role && m.present)
        .collect();
    if let Some(m) = present.iter().find(|m| m.entry.name == default.name) {
        return finding(
            Severity::Ok,
            subject,
            format!("{} instalado en {}", default.display_name, m.path.display()),
            None,
        );
    }
    if let Some(m) = present.first() {
        return finding(
            Severity::Ok,
            subject,
            format!(
                "el predeterminado de la guía ({}) no está instalado; sí lo está {}, en {}",
                default.display_name,
                m.entry.name,
                m.path.display()
            ),
            None,
        );
    }
    finding(
        Severity::Warn,
        subject,
        format!(
            "no hay ningún modelo {kind} instalado (el predeterminado de la guía es {})",
            default.display_name
        ),
        Some(format!(
            "`epicrisis models download {flag}` (unos {}), o `epicrisis models import PATH` para una copia traída a mano",
            epicrisis_llm::system::human_bytes(default.approx_size(None))
        )),
    )
}

/// The models folder's state for `epicrisis doctor`: whether the default LLM and
/// embeddings model (or another of the role) are installed, and each installed model's
/// state by the quick check (existence and sizes; `verify` hashes). Never fails: an
/// unreadable manifest is a failing finding.
pub fn health(dir: &ModelsDir) -> Vec<Finding> {
    let reports = match quick_check(dir) {
        Ok(r) => r,
        Err(e) => {
            return vec![finding(
                Severity::Fail,
                "manifiesto de modelos",
                e.to_string(),
                Some(format!(
                    "mueva {} a otro lugar y vuelva a importar los modelos con `epicrisis models import PATH`",
                    dir.manifest_path().display()
                )),
            )];
        }
    };
    let installed = dir.list_installed().unwrap_or_default();
    let mut out = vec![
        default_finding(Role::Llm, catalogue::default_llm(), &installed, "--llm"),
        default_finding(
            Role::Embeddings,
            catalogue::default_embeddings(),
            &installed,
            "--embeddings",
        ),
    ];
    for r in reports {
        let severity = match r.state {
            ModelState::Ok => Severity::Ok,
            ModelState::Unrecorded | ModelState::Partial => Severity::Warn,
            ModelState::Missing | ModelState::Damaged | ModelState::Unsafe => Severity::Fail,
        };
        let detail = if r.is_ok() {
            format!(
                "{} ({}), archivos presentes con los tamaños registrados",
                r.path.display(),
                r.role
            )
        } else {
            r.summary()
        };
        out.push(finding(
            severity,
            format!("modelo {}", r.title()),
            detail,
            r.fix,
        ));
    }
    out
}

/// A catalogue model with what is installed of it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueRow {
    pub spec: &'static ModelSpec,
    /// Installed quantizations (LLM) or the installed folder (embeddings).
    pub installed: Vec<InstalledModel>,
}

/// The catalogue joined with the manifest, for `epicrisis models list`: one row per
/// catalogue model in the guide's order, then the installed models that are not in the
/// catalogue (imported under a name of their own).
pub fn listing(dir: &ModelsDir) -> Result<(Vec<CatalogueRow>, Vec<InstalledModel>)> {
    let installed = dir.list_installed()?;
    let rows = catalogue::catalogue()
        .iter()
        .map(|spec| CatalogueRow {
            spec,
            installed: installed
                .iter()
                .filter(|m| m.entry.name == spec.name)
                .cloned()
                .collect(),
        })
        .collect();
    let others = installed.into_iter().filter(|m| m.spec.is_none()).collect();
    Ok((rows, others))
}
