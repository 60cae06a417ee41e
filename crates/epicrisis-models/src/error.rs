//! The one error type of the crate. Every message names the model, file or URL concerned
//! and says what to do next, because the reader is a hospital's IT staff following the
//! models guide, often on a machine without internet access.

use std::path::{Path, PathBuf};

use epicrisis_llm::gguf::GgufError;
use epicrisis_llm::system::human_bytes;

/// Where an expected sha256 came from (it changes what the fix is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashOrigin {
    /// Pinned in this program's catalogue (the official release's hash).
    Pinned,
    /// Recorded in `manifest.json` when the model was first installed.
    Recorded,
    /// Announced by the hub for this file (`X-Linked-Etag`).
    Hub,
}

impl std::fmt::Display for HashOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HashOrigin::Pinned => "the sha256 pinned in the catalogue (the official release)",
            HashOrigin::Recorded => "the sha256 recorded in manifest.json at the first install",
            HashOrigin::Hub => "the sha256 the hub announces for this file",
        })
    }
}

fn mismatch_fix(origin: &HashOrigin) -> &'static str {
    match origin {
        HashOrigin::Recorded => {
            "if the file was deliberately replaced upstream, forget the old record with `epicrisis models remove NAME` and download again; otherwise the copy is damaged or tampered with: download it again"
        }
        _ => {
            "the copy is damaged, incomplete or not the official file: download it again (from the hub, a mirror, or a trusted copy) — nothing was installed"
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("unknown model {name:?}; the catalogue has: {known} (see `epicrisis models list`)")]
    UnknownModel { name: String, known: String },

    #[error(
        "model {name:?} has no {quant} file in the catalogue; available quantizations: {available}"
    )]
    UnknownQuant {
        name: String,
        quant: String,
        available: String,
    },

    #[error(
        "model {name:?} is an {actual} model, not an {wanted} model; pick one from `epicrisis models list` with role {wanted}"
    )]
    WrongRole {
        name: String,
        actual: String,
        wanted: String,
    },

    #[error(
        "{url}: the hub refused access (HTTP {status}); the model may be gated or the token is wrong: open https://huggingface.co/{repo}, accept its licence with your account, create a read token and set HF_TOKEN (or check that HF_TOKEN is current)"
    )]
    Unauthorized {
        url: String,
        status: u16,
        repo: String,
    },

    #[error(
        "{url}: not found (HTTP 404); check the model name and file, and that the endpoint serves Hugging Face's layout. If huggingface.co is not reachable from this machine, use a mirror (`--mirror URL` or HF_ENDPOINT=URL), or copy the file here by hand and run `epicrisis models import PATH`"
    )]
    NotFound { url: String },

    #[error(
        "{url}: the server answered HTTP {status}{detail}; try again later, or use a mirror (`--mirror URL` or HF_ENDPOINT)"
    )]
    Http {
        url: String,
        status: u16,
        detail: String,
    },

    #[error(
        "{url}: gave up after {attempts} attempts ({last}); partial data is kept in {part} and the next `epicrisis models download` resumes from it. Check the network or proxy (HTTPS_PROXY), raise the timeout, or use a mirror (`--mirror URL`)"
    )]
    RetriesExhausted {
        url: String,
        attempts: u32,
        last: String,
        part: PathBuf,
    },

    #[error(
        "not enough free disk space in {}: {} still to download plus a {} margin, but only {} are free; free some space or choose another models folder",
        path.display(), human_bytes(*needed), human_bytes(*margin), human_bytes(*available)
    )]
    InsufficientSpace {
        path: PathBuf,
        needed: u64,
        margin: u64,
        available: u64,
    },

    #[error(
        "{what}: size is {actual} bytes but {expected} were expected; the file is incomplete or not the right one — nothing was installed; download it again"
    )]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "{what}: sha256 is {actual} but {origin} is {expected}; {}",
        mismatch_fix(origin)
    )]
    ChecksumMismatch {
        what: String,
        expected: String,
        actual: String,
        origin: HashOrigin,
    },

    #[error("{}: {detail}", path.display())]
    InvalidModelFile { path: PathBuf, detail: String },

    #[error(transparent)]
    Gguf(#[from] GgufError),

    #[error(
        "{}: incomplete embeddings folder, missing {}; an embeddings model needs config.json, its weights (model.safetensors or pytorch_model.bin) and tokenizer.json — copy the missing files from the model's page or download it again",
        path.display(), missing.join(", ")
    )]
    IncompleteEmbeddings { path: PathBuf, missing: Vec<String> },

    #[error(
        "{}: not a model file or folder this program can import (a .gguf file for a language model, or a folder with config.json, model.safetensors or pytorch_model.bin and tokenizer.json for an embeddings model)",
        path.display()
    )]
    NotImportable { path: PathBuf },

    #[error(
        "{}: the models manifest is unreadable ({detail}); move it aside and import the models again with `epicrisis models import PATH`",
        path.display()
    )]
    Manifest { path: PathBuf, detail: String },

    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot set up the HTTP client: {0}")]
    Client(String),

    #[error("{0}")]
    Invalid(String),
}

impl ModelsError {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        ModelsError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

pub type Result<T, E = ModelsError> = std::result::Result<T, E>;
