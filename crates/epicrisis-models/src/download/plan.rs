//! The plan of an install, worked out before any network access: a model's files, where
//! each goes, its expected size and pin, and what is already on disk.

use std::path::{Path, PathBuf};

use super::HubConfig;
use super::disk::{file_len, part_path};
use crate::catalogue::{Artifacts, ModelSpec, Need, Pin, Role};
use crate::error::{HashOrigin, ModelsError, Result};
use crate::store::{InstalledFile, ManifestEntry, ModelsDir};

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
    pub(super) fn exact_size(&self) -> Option<u64> {
        self.pin.map(|p| p.size)
    }

    pub(super) fn reference(&self) -> Option<(&str, HashOrigin, u64)> {
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

/// What installing `spec` involves (see [`Downloader::plan`](super::Downloader::plan));
/// needs no network.
pub fn plan(
    dir: &ModelsDir,
    spec: &ModelSpec,
    quant: Option<&str>,
    config: &HubConfig,
) -> Result<Plan> {
    let manifest = dir.load_manifest()?;
    let folder = dir.model_dir(spec.role, spec.name);
    let base = Planner {
        dir,
        spec,
        config,
        folder: &folder,
        entry: None,
    };
    match spec.artifacts {
        Artifacts::Gguf { .. } => {
            let q = spec.quant(quant)?;
            let entry = manifest.find(spec.name, Some(q.quant));
            let repo = spec.repo_for(q);
            let make = Planner { entry, ..base };
            let file = make.file(
                q.file,
                repo,
                Need::Required,
                q.pin,
                q.approx_size,
                format!("{} {}", spec.name, q.quant),
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
            let make = Planner { entry, ..base };
            let files = files
                .iter()
                .map(|r| {
                    make.file(
                        r.path,
                        spec.repo,
                        r.need,
                        r.pin,
                        r.approx_size,
                        format!("{} {}", spec.name, r.path),
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

/// What the files of one model's plan share: the model, its folder, and its manifest
/// entry from an earlier install.
#[derive(Clone, Copy)]
struct Planner<'a> {
    dir: &'a ModelsDir,
    spec: &'a ModelSpec,
    config: &'a HubConfig,
    folder: &'a Path,
    entry: Option<&'a ManifestEntry>,
}

impl Planner<'_> {
    /// One file of the plan: `path` in `repo`, and what is on disk for it.
    fn file(
        &self,
        path: &str,
        repo: &str,
        need: Need,
        pin: Option<Pin>,
        approx: u64,
        label: String,
    ) -> PlannedFile {
        let dest = path
            .split('/')
            .fold(self.folder.to_path_buf(), |p, s| p.join(s));
        let relative = self.dir.relative(&dest);
        let recorded = self
            .entry
            .and_then(|e| e.files.iter().find(|x| x.path == relative).cloned());
        let expected_size = pin
            .map(|p| p.size)
            .or(recorded.as_ref().map(|r| r.size))
            .unwrap_or(approx);
        let present =
            std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == expected_size);
        let partial = file_len(&part_path(&dest));
        PlannedFile {
            label,
            url: self.config.file_url(repo, self.spec.revision, path),
            dest,
            relative,
            need,
            pin,
            recorded,
            expected_size,
            partial,
            present,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
