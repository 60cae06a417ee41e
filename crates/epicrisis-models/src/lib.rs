//! The models guide as code.
//!
//! - [`catalogue`]: the language models and embedding models the guide talks about, where
//!   each lives on the Hugging Face hub, its quantizations, sizes, memory, licence and what
//!   it is recommended for.
//! - [`store`]: the models folder (`<dir>/llm/<name>/<file>.gguf`,
//!   `<dir>/embeddings/<name>/…`) and its `manifest.json`, the record of what is installed
//!   with sizes and sha256.
//! - [`download`]: a resumable, verified downloader (HTTP Range, retries with backoff, a
//!   free-disk-space check, pinned or recorded sha256, atomic rename into place).
//! - [`import`]: bringing in a file or folder fetched by hand (offline machines).
//! - [`verify`]: checking what is installed (sizes and sha256, files the manifest does not
//!   know), and the quick [`verify::health`] used by `epicrisis doctor`.
//! - [`progress`]: how long operations report what they are doing; the library never
//!   prints.
//!
//! Like every library of the workspace, this crate never reads the environment: the
//! binary reads `HF_ENDPOINT`, `HF_TOKEN` and `--mirror` and passes them in a
//! [`HubConfig`]. The token is sent only as an `Authorization: Bearer` header to the
//! endpoint's host (never across a redirect to another host) and never appears in a
//! message or a `Debug` output.

pub mod catalogue;
pub mod download;
pub mod error;
pub mod hash;
pub mod import;
pub mod progress;
pub mod store;
pub mod verify;

pub use catalogue::{
    Artifacts, DEFAULT_QUANT, EMBEDDING_FILES, EMBEDDING_WEIGHTS, ModelSpec, Need, Pin, QuantFile,
    Recommendation, RepoFile, Role, catalogue, default_embeddings, default_for, default_llm, find,
    find_by_file_name, find_by_sha256, find_with_role, normalise_quant, select,
};
pub use download::{
    DEFAULT_ENDPOINT, Downloader, HubConfig, InstallOutcome, Plan, PlannedFile, free_space,
    install, plan,
};
pub use error::{HashOrigin, ModelsError, Result};
pub use hash::sha256_file;
pub use import::{Imported, import};
#[cfg(feature = "indicatif")]
pub use progress::TerminalProgress;
pub use progress::{Event, LineProgress, NoProgress, Progress, Transfer};
pub use store::{
    InstalledFile, InstalledModel, MANIFEST_FILE, Manifest, ManifestEntry, ModelsDir, Source,
    canonical_name, check_name, is_safe_relative,
};
pub use verify::{
    CatalogueRow, FileReport, FileState, Finding, ModelReport, ModelState, Severity, health,
    listing, quick_check, verify,
};
