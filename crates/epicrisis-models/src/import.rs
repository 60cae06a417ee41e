//! Bringing in a model fetched by hand (a machine without internet access, a file from a
//! USB drive or a colleague).
//!
//! - A `.gguf` file: its header must be a whole GGUF (not an HTML error page, not a
//!   truncated download). A catalogue file is recognised by its pinned sha256 or by its
//!   file name (then a pinned hash must match); anything else needs a name, given or
//!   derived from the file name (`My-Model-7B.Q4_K_M.gguf` → `my-model-7b`).
//! - An embeddings folder: the files of [`EMBEDDING_FILES`] that it has are copied;
//!   `config.json`, a weight file and `tokenizer.json` are required.
//!
//! Files are copied to a temporary name inside the models folder while being hashed, then
//! renamed into place, then recorded in the manifest with source `import`. Importing the
//! same file again is a no-op; importing a different file under a name and quantization
//! already installed is refused.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use epicrisis_llm::gguf::{self, GgufError};
use sha2::{Digest, Sha256};

use crate::catalogue::{
    self, EMBEDDING_FILES, EMBEDDING_WEIGHTS, ModelSpec, QuantFile, Role, normalise_quant,
};
use crate::error::{HashOrigin, ModelsError, Result};
use crate::hash::sha256_file;
use crate::progress::{Event, Meter, Progress};
use crate::store::{
    InstalledFile, InstalledModel, ManifestEntry, ModelsDir, Source, check_name, now_rfc3339,
    sync_dir, temp_path,
};

/// What [`import`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub model: InstalledModel,
    /// The same file (or folder) was already installed under this name; nothing changed.
    pub already_installed: bool,
    /// The catalogue model it was recognised as (by sha256, file name or given name).
    pub recognised: Option<&'static ModelSpec>,
}

/// Imports a `.gguf` file or an embeddings folder into the models folder. `name`: the name
/// to install it under (`--name`); optional for catalogue files and for folders, whose
/// name is derived.
pub fn import(
    dir: &ModelsDir,
    source: &Path,
    name: Option<&str>,
    progress: &mut dyn Progress,
) -> Result<Imported> {
    let meta = match std::fs::metadata(source) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelsError::Invalid(format!(
                "{}: no existe ese archivo ni esa carpeta; revise la ruta (primero hay que copiar el modelo a esta máquina, p. ej. desde un pendrive)",
                source.display()
            )));
        }
        Err(e) => return Err(ModelsError::io(source, "leer", e)),
    };
    if meta.is_dir() {
        import_folder(dir, source, name, progress)
    } else {
        import_gguf(dir, source, meta.len(), name, progress)
    }
}

/// The output dimension in an embeddings model's `config.json` (`hidden_size`).
pub(crate) fn config_dimension(config: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(config).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("hidden_size")
        .or_else(|| v.get("dim"))
        .and_then(serde_json::Value::as_u64)
        .and_then(|d| u32::try_from(d).ok())
}

/// Copies `src` to `dst` (created or truncated), hashing what is copied; synced.
fn copy_hashing(
    src: &Path,
    dst: &Path,
    progress: &mut dyn Progress,
    label: &str,
) -> Result<(u64, String)> {
    let total = std::fs::metadata(src)
        .map_err(|e| ModelsError::io(src, "leer", e))?
        .len();
    let source_name = src.display().to_string();
    progress.event(&Event::Start {
        label,
        url: &source_name,
        total: Some(total),
        resumed_from: 0,
    });
    let mut input = std::fs::File::open(src).map_err(|e| ModelsError::io(src, "leer", e))?;
    let mut out = std::fs::File::create(dst).map_err(|e| ModelsError::io(dst, "escribir", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let mut meter = Meter::new(0);
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| ModelsError::io(src, "leer", e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| ModelsError::io(dst, "escribir", e))?;
        hasher.update(&buf[..n]);
        done += n as u64;
        meter.tick(progress, label, done, Some(total), false);
    }
    meter.tick(progress, label, done, Some(total), true);
    out.sync_all()
        .map_err(|e| ModelsError::io(dst, "escribir", e))?;
    if done != total {
        return Err(ModelsError::SizeMismatch {
            what: format!("{} (copiado en {})", src.display(), dst.display()),
            expected: total,
            actual: done,
        });
    }
    Ok((done, hex::encode(hasher.finalize())))
}

/// Removes temporary files when dropped (an error part-way leaves nothing behind).
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `My-Model-7B.Q4_K_M.gguf` (quantization `Q4_K_M`) → `my-model-7b`.
fn derive_name(file_name: &str, quant: &str) -> String {
    let stem = file_name
        .strip_suffix(".gguf")
        .or_else(|| file_name.strip_suffix(".GGUF"))
        .unwrap_or(file_name)
        .to_ascii_lowercase();
    let q = quant.to_ascii_lowercase();
    let stem = [".", "-", "_"]
        .iter()
        .find_map(|sep| stem.strip_suffix(&format!("{sep}{q}")))
        .unwrap_or(&stem)
        .to_string();
    let mut out = String::new();
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// The catalogue model a given name means, which must have `role`; `None` for a name of
/// the user's own (checked as a folder name).
fn named_spec(name: &str, role: Role) -> Result<(String, Option<&'static ModelSpec>)> {
    match catalogue::find(name) {
        Ok(spec) if spec.role == role => Ok((spec.name.to_string(), Some(spec))),
        Ok(spec) => Err(ModelsError::WrongRole {
            name: name.to_string(),
            actual: spec.role.to_string(),
            wanted: role.to_string(),
        }),
        Err(_) => {
            let n = name.trim().to_ascii_lowercase();
            check_name(&n)?;
            Ok((n, None))
        }
    }
}

fn clash(name: &str, quant: Option<&str>, existing: &ManifestEntry) -> ModelsError {
    let what = match quant {
        Some(q) => format!("{name} {q}"),
        None => name.to_string(),
    };
    let files = existing
        .files
        .iter()
        .map(|f| format!("{} (sha256 {})", f.path, f.sha256))
        .collect::<Vec<_>>()
        .join(", ");
    ModelsError::Invalid(format!(
        "el modelo {what} ya está instalado desde otro archivo: {files}; quítelo primero con `epicrisis models remove {name}`, o importe este con otro nombre usando --name NAME"
    ))
}

/// The answer for an import of what is already installed.
fn already(
    dir: &ModelsDir,
    existing: &ManifestEntry,
    label: &str,
    recognised: Option<&'static ModelSpec>,
    progress: &mut dyn Progress,
) -> Imported {
    progress.event(&Event::Skipped {
        label,
        reason: "ya está instalado (los mismos archivos)",
    });
    Imported {
        model: dir.to_installed(existing.clone()),
        already_installed: true,
        recognised,
    }
}

fn import_gguf(
    dir: &ModelsDir,
    source: &Path,
    source_len: u64,
    name: Option<&str>,
    progress: &mut dyn Progress,
) -> Result<Imported> {
    let file_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_gguf_name = file_name.to_ascii_lowercase().ends_with(".gguf");
    let header = match gguf::read_header(source) {
        Ok(h) => h,
        Err(GgufError::NotGguf { .. }) if !is_gguf_name => {
            return Err(ModelsError::NotImportable {
                path: source.to_path_buf(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let label = format!("importar {file_name}");
    let mut hashed = hash_gguf(dir, source, source_len, progress, &label)?;
    let header_quant = normalise_quant(&header.quantization());
    let id = identify_gguf(source, &file_name, &header_quant, &hashed.sha, name)?;
    let dest = dir.model_dir(Role::Llm, &id.model_name).join(&id.dest_file);
    let record = InstalledFile {
        path: dir.relative(&dest),
        size: hashed.size,
        sha256: hashed.sha.clone(),
    };
    // Already there, or a clash?
    let manifest = dir.load_manifest()?;
    if let Some(existing) = manifest.find(&id.model_name, Some(&id.quant)) {
        if existing.files == [record.clone()] && dest.is_file() {
            return Ok(already(dir, existing, &label, id.recognised, progress));
        }
        if existing.files.iter().any(|f| f.sha256 != hashed.sha) {
            return Err(clash(&id.model_name, Some(&id.quant), existing));
        }
    }
    check_gguf_destination(dir, source, &dest, &id, &hashed, progress, &label)?;
    if !hashed.in_place {
        std::fs::create_dir_all(dest.parent().unwrap_or(dir.root()))
            .map_err(|e| ModelsError::io(&dest, "crear la carpeta de destino de", e))?;
        std::fs::rename(&hashed.tmp, &dest)
            .map_err(|e| ModelsError::io(&dest, "mover a su lugar el archivo importado", e))?;
        hashed.temps.0.clear();
        sync_dir(&dest);
    }
    progress.event(&Event::Finished {
        label: &label,
        bytes: hashed.size,
        sha256: &hashed.sha,
    });
    let entry = ManifestEntry {
        name: id.model_name,
        role: Role::Llm,
        quant: Some(id.quant),
        files: vec![record],
        source: Source::Import {
            original: source.display().to_string(),
        },
        installed_at: now_rfc3339(),
        dimension: None,
    };
    dir.record(entry.clone())?;
    Ok(Imported {
        model: dir.to_installed(entry),
        already_installed: false,
        recognised: id.recognised,
    })
}

/// A GGUF file hashed — and copied to a temporary name in the models folder at the same
/// time, unless it is already inside that folder.
struct HashedGguf {
    size: u64,
    sha: String,
    in_place: bool,
    tmp: PathBuf,
    /// Removed if the import stops before the rename.
    temps: TempFiles,
}

fn hash_gguf(
    dir: &ModelsDir,
    source: &Path,
    source_len: u64,
    progress: &mut dyn Progress,
    label: &str,
) -> Result<HashedGguf> {
    let llm_root = dir.root().join(Role::Llm.folder());
    std::fs::create_dir_all(&llm_root)
        .map_err(|e| ModelsError::io(&llm_root, "crear la carpeta", e))?;
    let in_place = source.starts_with(dir.root())
        || source
            .canonicalize()
            .ok()
            .zip(dir.root().canonicalize().ok())
            .is_some_and(|(s, r)| s.starts_with(r));
    let tmp = temp_path(&llm_root.join("import.gguf"), "part");
    let mut temps = TempFiles(Vec::new());
    let (size, sha) = if in_place {
        (source_len, sha256_file(source, progress, label)?)
    } else {
        temps.0.push(tmp.clone());
        copy_hashing(source, &tmp, progress, label)?
    };
    Ok(HashedGguf {
        size,
        sha,
        in_place,
        tmp,
        temps,
    })
}

/// What an imported GGUF file is installed as.
struct GgufIdentity {
    model_name: String,
    quant: String,
    /// The file's name in the model's folder (ends in `.gguf`).
    dest_file: String,
    recognised: Option<&'static ModelSpec>,
}

/// Recognises a file: by its sha256, then by its file name (a pinned hash must then
/// match), then by the name given (`--name`), else a name derived from the file name.
fn identify_gguf(
    source: &Path,
    file_name: &str,
    header_quant: &str,
    sha: &str,
    name: Option<&str>,
) -> Result<GgufIdentity> {
    let by_hash = catalogue::find_by_sha256(sha);
    let by_file = catalogue::find_by_file_name(file_name);
    let given = name.map(|n| named_spec(n, Role::Llm)).transpose()?;
    let pinned_mismatch = |q: &QuantFile| -> Result<()> {
        match q.pin {
            Some(p) if p.sha256 != sha => Err(ModelsError::ChecksumMismatch {
                what: source.display().to_string(),
                expected: p.sha256.to_string(),
                actual: sha.to_string(),
                origin: HashOrigin::Pinned,
            }),
            _ => Ok(()),
        }
    };
    let name_or = |s: &ModelSpec| {
        given
            .as_ref()
            .map_or(s.name.to_string(), |(n, _)| n.clone())
    };
    let (model_name, quant, dest_file, recognised) = match (by_hash, by_file, &given) {
        (Some((s, q)), _, Some((n, Some(gs)))) if gs.name != s.name => {
            return Err(ModelsError::Invalid(format!(
                "{} es {} {} (reconocido por su sha256), no {n}; quite --name o dé un nombre propio",
                source.display(),
                s.name,
                q.quant
            )));
        }
        (Some((s, q)), _, _) => (name_or(s), q.quant.to_string(), q.file.to_string(), Some(s)),
        (None, Some((s, q)), given)
            if given
                .as_ref()
                .is_none_or(|(_, gs)| gs.is_none_or(|g| g.name == s.name)) =>
        {
            pinned_mismatch(q)?;
            (name_or(s), q.quant.to_string(), q.file.to_string(), Some(s))
        }
        (None, _, Some((n, spec))) => {
            let known = spec.and_then(|s| s.quant(Some(header_quant)).ok());
            if let Some(q) = known {
                pinned_mismatch(q)?;
            }
            let file = known.map_or(file_name.to_string(), |q| q.file.to_string());
            (n.clone(), header_quant.to_string(), file, *spec)
        }
        (None, _, None) => {
            let n = derive_name(file_name, header_quant);
            if check_name(&n).is_err() {
                return Err(ModelsError::Invalid(format!(
                    "{}: no se puede formar un nombre de modelo a partir del nombre del archivo; indique uno con --name NAME (letras, dígitos, '.', '_' y '-')",
                    source.display()
                )));
            }
            (n, header_quant.to_string(), file_name.to_string(), None)
        }
    };
    let dest_file = if dest_file.to_ascii_lowercase().ends_with(".gguf") {
        dest_file
    } else {
        format!("{dest_file}.gguf")
    };
    Ok(GgufIdentity {
        model_name,
        quant,
        dest_file,
        recognised,
    })
}

/// Refuses a file inside the models folder but not where its name puts it, and another,
/// unrecorded file already at the destination.
fn check_gguf_destination(
    dir: &ModelsDir,
    source: &Path,
    dest: &Path,
    id: &GgufIdentity,
    hashed: &HashedGguf,
    progress: &mut dyn Progress,
    label: &str,
) -> Result<()> {
    if hashed.in_place && !same_file(source, dest) {
        return Err(ModelsError::Invalid(format!(
            "{} está dentro de la carpeta de modelos, pero no donde corresponde a {} {} ({}); sáquelo de {} e impórtelo desde allí",
            source.display(),
            id.model_name,
            id.quant,
            dest.display(),
            dir.root().display()
        )));
    }
    if !hashed.in_place && dest.exists() {
        let there = sha256_file(dest, progress, label)?;
        if there != hashed.sha {
            return Err(ModelsError::Invalid(format!(
                "{} ya existe y es otro archivo (no registrado en el manifiesto); muévalo a otro lugar (o impórtelo con `epicrisis models import {}`) y vuelva a importar",
                dest.display(),
                dest.display()
            )));
        }
    }
    Ok(())
}

fn import_folder(
    dir: &ModelsDir,
    source: &Path,
    name: Option<&str>,
    progress: &mut dyn Progress,
) -> Result<Imported> {
    let present = embedding_files(source)?;
    let (model_name, spec) = folder_model_name(source, name)?;
    let dest_dir = dir.model_dir(Role::Embeddings, &model_name);
    if same_file(source, &dest_dir) {
        return Err(ModelsError::Invalid(format!(
            "{} ya es la carpeta instalada de {model_name}; para registrar archivos puestos ahí a mano, saque la carpeta de {} e impórtela desde allí",
            source.display(),
            dir.root().display()
        )));
    }
    let mut temps = TempFiles(Vec::new());
    let copied = copy_folder_files(
        dir,
        source,
        &dest_dir,
        &present,
        (&model_name, spec),
        &mut temps,
        progress,
    )?;
    let files: Vec<InstalledFile> = copied.iter().map(|(_, _, f)| f.clone()).collect();
    let label = format!("importar {model_name}");
    if let Some(existing) = dir.load_manifest()?.find(&model_name, None) {
        if existing.files == files && files.iter().all(|f| dir.resolve(&f.path).is_file()) {
            return Ok(already(dir, existing, &label, spec, progress));
        }
        let differs = existing.files.iter().any(|e| {
            files
                .iter()
                .any(|f| f.path == e.path && f.sha256 != e.sha256)
        });
        if differs {
            return Err(clash(&model_name, None, existing));
        }
    }
    for (tmp, dest, f) in &copied {
        std::fs::rename(tmp, dest)
            .map_err(|e| ModelsError::io(dest, "mover a su lugar el archivo importado", e))?;
        sync_dir(dest);
        progress.event(&Event::Finished {
            label: &f.path,
            bytes: f.size,
            sha256: &f.sha256,
        });
    }
    temps.0.clear();
    let entry = ManifestEntry {
        name: model_name,
        role: Role::Embeddings,
        quant: None,
        files,
        source: Source::Import {
            original: source.display().to_string(),
        },
        installed_at: now_rfc3339(),
        dimension: config_dimension(&dest_dir.join("config.json"))
            .or(spec.and_then(|s| s.dimension)),
    };
    dir.record(entry.clone())?;
    Ok(Imported {
        model: dir.to_installed(entry),
        already_installed: false,
        recognised: spec,
    })
}

/// The embedding files a folder has; refused when it has none, or lacks the
/// configuration, the weights or the tokenizer.
fn embedding_files(source: &Path) -> Result<Vec<&'static str>> {
    let present: Vec<&'static str> = EMBEDDING_FILES
        .iter()
        .copied()
        .filter(|f| source.join(f).is_file())
        .collect();
    if present.is_empty() {
        return Err(ModelsError::NotImportable {
            path: source.to_path_buf(),
        });
    }
    let mut missing = Vec::new();
    if !present.contains(&"config.json") {
        missing.push("config.json".to_string());
    }
    if !present.iter().any(|f| EMBEDDING_WEIGHTS.contains(f)) {
        missing.push(EMBEDDING_WEIGHTS.join(" or "));
    }
    if !present.contains(&"tokenizer.json") {
        missing.push("tokenizer.json".to_string());
    }
    if !missing.is_empty() {
        return Err(ModelsError::IncompleteEmbeddings {
            path: source.to_path_buf(),
            missing,
        });
    }
    Ok(present)
}

/// The name to install a folder under: the one given, else the catalogue model the
/// folder is named after, else one derived from the folder's name.
fn folder_model_name(
    source: &Path,
    name: Option<&str>,
) -> Result<(String, Option<&'static ModelSpec>)> {
    Ok(match name {
        Some(n) => named_spec(n, Role::Embeddings)?,
        None => {
            let folder = source
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            match catalogue::find_with_role(&folder, Role::Embeddings) {
                Ok(s) => (s.name.to_string(), Some(s)),
                Err(_) => {
                    let n = derive_name(&folder, "");
                    if check_name(&n).is_err() {
                        return Err(ModelsError::Invalid(format!(
                            "{}: no se puede formar un nombre de modelo a partir del nombre de la carpeta; indique uno con --name NAME",
                            source.display()
                        )));
                    }
                    (n, None)
                }
            }
        }
    })
}

/// Copies each file next to its final place under a temporary name, hashing it (a
/// catalogue model's pinned hashes must match); returns (temporary, final, record).
fn copy_folder_files(
    dir: &ModelsDir,
    source: &Path,
    dest_dir: &Path,
    present: &[&str],
    (model_name, spec): (&str, Option<&'static ModelSpec>),
    temps: &mut TempFiles,
    progress: &mut dyn Progress,
) -> Result<Vec<(PathBuf, PathBuf, InstalledFile)>> {
    let mut copied: Vec<(PathBuf, PathBuf, InstalledFile)> = Vec::new();
    for f in present {
        let src = f.split('/').fold(source.to_path_buf(), |p, s| p.join(s));
        let dest = f.split('/').fold(dest_dir.to_path_buf(), |p, s| p.join(s));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ModelsError::io(parent, "crear la carpeta", e))?;
        }
        let tmp = temp_path(&dest, "import");
        temps.0.push(tmp.clone());
        let (size, sha) = copy_hashing(&src, &tmp, progress, &format!("{model_name} {f}"))?;
        if let Some(pin) = spec
            .and_then(|s| s.folder_files().iter().find(|r| r.path == *f))
            .and_then(|r| r.pin)
            && (pin.sha256 != sha || pin.size != size)
        {
            return Err(ModelsError::ChecksumMismatch {
                what: src.display().to_string(),
                expected: pin.sha256.to_string(),
                actual: sha,
                origin: HashOrigin::Pinned,
            });
        }
        copied.push((
            tmp,
            dest.clone(),
            InstalledFile {
                path: dir.relative(&dest),
                size,
                sha256: sha,
            },
        ));
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_from_file_names() {
        assert_eq!(
            derive_name("My-Model-7B.Q4_K_M.gguf", "Q4_K_M"),
            "my-model-7b"
        );
        assert_eq!(derive_name("phi-3-mini-q8_0.gguf", "Q8_0"), "phi-3-mini");
        assert_eq!(derive_name("weird name (1).gguf", "F16"), "weird-name-1");
        assert_eq!(derive_name("Mi Modelo", ""), "mi-modelo");
        assert_eq!(derive_name("....gguf", "F16"), "");
    }
}
