//! What the catalogue says about a model: its role, what the guide recommends it for, and
//! the files (GGUF quantizations or a folder) to fetch, with their sizes and pins.

use serde::{Deserialize, Serialize};

use super::{DEFAULT_QUANT, normalise_quant};
use crate::error::ModelsError;

/// What a model is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A language model (a GGUF file run by llama.cpp).
    Llm,
    /// A sentence-embedding model (a Hugging Face folder: config, weights, tokenizer).
    Embeddings,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Llm => "llm",
            Role::Embeddings => "embeddings",
        }
    }
    /// The sub-folder of the models folder for this role.
    pub fn folder(self) -> &'static str {
        self.as_str()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the guide recommends a model for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recommendation {
    /// Small and fast: trying the program out, development machines.
    Testing,
    /// Good quality for its size: modest servers.
    Balance,
    /// The guide's choice for a hospital server.
    Production,
    /// The best output, for servers with memory to spare.
    BestQuality,
    /// Plumbing tests only (English-only or too small to write Spanish).
    Fixture,
}

impl Recommendation {
    pub fn label(self) -> &'static str {
        match self {
            Recommendation::Testing => "testing",
            Recommendation::Balance => "balance",
            Recommendation::Production => "production",
            Recommendation::BestQuality => "best quality",
            Recommendation::Fixture => "test fixture",
        }
    }
}

impl std::fmt::Display for Recommendation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The exact size and sha256 of an official file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub size: u64,
    pub sha256: &'static str,
}

/// One published quantization of a GGUF model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantFile {
    /// `Q4_K_M`, `Q5_K_M`, `Q8_0`, `F16`, `Q4_1`.
    pub quant: &'static str,
    /// The file name in the repository (and on disk).
    pub file: &'static str,
    /// Another repository, when this quantization is not published in the model's own.
    pub repo: Option<&'static str>,
    /// Approximate size in bytes (exact when pinned).
    pub approx_size: u64,
    /// Memory needed to run it with a 4,096-token context, rounded up.
    pub ram: u64,
    pub pin: Option<Pin>,
}

/// Whether a file of an embeddings folder must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Part of a complete model (config, weights, tokenizer).
    Required,
    /// Used when present (sentence-transformers' pooling, tokenizer settings); a 404 for it
    /// is not an error.
    Optional,
}

/// One file of an embeddings folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoFile {
    /// Path inside the repository and inside the installed folder (`1_Pooling/config.json`).
    pub path: &'static str,
    pub need: Need,
    pub approx_size: u64,
    pub pin: Option<Pin>,
}

/// What has to be fetched for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifacts {
    /// One GGUF file, in one of several quantizations.
    Gguf { quants: &'static [QuantFile] },
    /// A folder in Hugging Face's layout.
    Folder {
        files: &'static [RepoFile],
        ram: u64,
    },
}

/// A model of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// Stable id used on the command line and as the folder name.
    pub name: &'static str,
    /// Other names accepted on the command line (`mistral-7b`, `tinyllama`).
    pub aliases: &'static [&'static str],
    pub display_name: &'static str,
    pub role: Role,
    /// Hugging Face repository (`owner/name`).
    pub repo: &'static str,
    /// Git revision (branch, tag or commit) to download from.
    pub revision: &'static str,
    pub licence: &'static str,
    pub recommendation: Recommendation,
    /// The guide's default for its role (TinyLlama for LLMs, multilingual-e5-small for
    /// embeddings).
    pub is_default: bool,
    /// Output dimension of an embeddings model.
    pub dimension: Option<u32>,
    /// A line for `list`: languages, template, caveats.
    pub notes: &'static str,
    pub artifacts: Artifacts,
}

impl ModelSpec {
    /// The published quantizations (empty for embeddings).
    pub fn quants(&self) -> &'static [QuantFile] {
        match self.artifacts {
            Artifacts::Gguf { quants } => quants,
            Artifacts::Folder { .. } => &[],
        }
    }

    /// The files of an embeddings folder (empty for LLMs).
    pub fn folder_files(&self) -> &'static [RepoFile] {
        match self.artifacts {
            Artifacts::Folder { files, .. } => files,
            Artifacts::Gguf { .. } => &[],
        }
    }

    /// The quantization file for `quant` (`None`: Q4_K_M). An error lists the available ones.
    pub fn quant(&self, quant: Option<&str>) -> Result<&'static QuantFile, ModelsError> {
        let want = normalise_quant(quant.unwrap_or(DEFAULT_QUANT));
        let quants = self.quants();
        quants
            .iter()
            .find(|q| q.quant == want)
            .ok_or_else(|| ModelsError::UnknownQuant {
                name: self.name.to_string(),
                quant: want,
                available: if quants.is_empty() {
                    "ninguna (un modelo de embeddings es una carpeta; no use --quant)".to_string()
                } else {
                    quants
                        .iter()
                        .map(|q| q.quant)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }

    /// The repository a quantization is fetched from.
    pub fn repo_for(&self, q: &QuantFile) -> &'static str {
        q.repo.unwrap_or(self.repo)
    }

    /// Approximate download size for a quantization (`None`: Q4_K_M), or of the whole
    /// folder for an embeddings model.
    pub fn approx_size(&self, quant: Option<&str>) -> u64 {
        match self.artifacts {
            Artifacts::Gguf { .. } => self.quant(quant).map(|q| q.approx_size).unwrap_or(0),
            Artifacts::Folder { files, .. } => files.iter().map(|f| f.approx_size).sum(),
        }
    }

    /// Memory needed to run it.
    pub fn ram(&self, quant: Option<&str>) -> u64 {
        match self.artifacts {
            Artifacts::Gguf { .. } => self.quant(quant).map(|q| q.ram).unwrap_or(0),
            Artifacts::Folder { ram, .. } => ram,
        }
    }

    /// The model's page on the hub (where a gated model's licence is accepted).
    pub fn page_url(&self, endpoint: &str) -> String {
        format!("{}/{}", endpoint.trim_end_matches('/'), self.repo)
    }
}
