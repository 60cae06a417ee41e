//! Installing a model: what is already in place, room on the disk, fetching each file,
//! then the files into place and the manifest updated.

use epicrisis_llm::gguf;

use super::disk::{file_len, part_path, remove_quietly};
use super::{Downloader, HubConfig, Plan, PlannedFile};
use crate::catalogue::{ModelSpec, Need, Role};
use crate::error::{ModelsError, Result};
use crate::hash::sha256_file;
use crate::progress::{Event, Progress};
use crate::store::{
    InstalledFile, InstalledModel, ManifestEntry, ModelsDir, Source, now_rfc3339, sync_dir,
};

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

/// What `fetch_all` brought: the files fetched with their records, the optional files
/// the repository lacks, and the bytes received.
struct Fetched<'p> {
    files: Vec<(&'p PlannedFile, InstalledFile)>,
    absent_optional: Vec<String>,
    bytes_downloaded: u64,
}

impl Downloader {
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
        let (mut kept, todo) = in_place(&plan, progress)?;
        if todo.is_empty() {
            return self.already_installed(dir, spec, &plan, kept, &label_all, progress);
        }

        // 2. Room on the disk.
        self.make_room(&plan, &todo)?;

        // 3. Fetch and check each file into its .part.
        let Fetched {
            files: fetched,
            absent_optional,
            bytes_downloaded,
        } = self.fetch_all(&plan, todo, progress)?;

        // 4. A GGUF must be a whole GGUF before it goes in place.
        if plan.role == Role::Llm {
            check_gguf(&fetched)?;
        }

        // 5. Into place, then the manifest.
        let downloaded = put_in_place(fetched, &mut kept, progress)?;
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

    /// Every file is in place and checks out: records the model only if the manifest
    /// says otherwise.
    fn already_installed(
        &self,
        dir: &ModelsDir,
        spec: &ModelSpec,
        plan: &Plan,
        kept: Vec<InstalledFile>,
        label_all: &str,
        progress: &mut dyn Progress,
    ) -> Result<InstallOutcome> {
        progress.event(&Event::Skipped {
            label: label_all,
            reason: "ya está instalado (tamaño y sha256 comprobados)",
        });
        let entry = self.entry(plan, spec, kept, dir)?;
        let same = dir
            .load_manifest()?
            .find(&entry.name, entry.quant.as_deref())
            .is_some_and(|e| e.files == entry.files);
        if !same {
            dir.record(entry.clone())?;
        }
        Ok(InstallOutcome {
            model: dir.to_installed(entry),
            already_installed: true,
            downloaded: Vec::new(),
            absent_optional: Vec::new(),
            bytes_downloaded: 0,
        })
    }

    /// Creates the model's folder and checks its disk has room for the files to fetch.
    fn make_room(&self, plan: &Plan, todo: &[&PlannedFile]) -> Result<()> {
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
        Ok(())
    }

    /// Fetches and checks each file into its `.part`; an optional file the repository
    /// does not publish is skipped.
    fn fetch_all<'p>(
        &self,
        plan: &Plan,
        todo: Vec<&'p PlannedFile>,
        progress: &mut dyn Progress,
    ) -> Result<Fetched<'p>> {
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
        Ok(Fetched {
            files: fetched,
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
}

/// The files of the plan already in place whose size and sha256 check out (their
/// records), and the files still to fetch.
fn in_place<'p>(
    plan: &'p Plan,
    progress: &mut dyn Progress,
) -> Result<(Vec<InstalledFile>, Vec<&'p PlannedFile>)> {
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
    Ok((kept, todo))
}

/// Checks each fetched `.part` of an LLM is a whole GGUF; one that is not is deleted.
fn check_gguf(fetched: &[(&PlannedFile, InstalledFile)]) -> Result<()> {
    for (f, _) in fetched {
        let part = part_path(&f.dest);
        if let Err(e) = gguf::read_header(&part) {
            remove_quietly(&part);
            return Err(e.into());
        }
    }
    Ok(())
}

/// Renames each fetched `.part` into place and adds its record to `kept`; returns the
/// manifest paths of the files fetched.
fn put_in_place(
    fetched: Vec<(&PlannedFile, InstalledFile)>,
    kept: &mut Vec<InstalledFile>,
    progress: &mut dyn Progress,
) -> Result<Vec<String>> {
    let mut downloaded = Vec::new();
    for (f, file) in fetched {
        let part = part_path(&f.dest);
        std::fs::rename(&part, &f.dest)
            .map_err(|e| ModelsError::io(&f.dest, "mover a su lugar el archivo descargado", e))?;
        sync_dir(&f.dest);
        progress.event(&Event::Finished {
            label: &f.label,
            bytes: file.size,
            sha256: &file.sha256,
        });
        downloaded.push(file.path.clone());
        kept.push(file);
    }
    Ok(downloaded)
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
