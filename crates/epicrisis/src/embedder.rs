//! Picks the sentence-embedding model from the settings (`EMBEDDINGS_TYPE`,
//! `EMBEDDINGS_MODEL`) and loads it.

use std::sync::Arc;

use crate::Failure;
use crate::config::Config;
use epicrisis_embed::{BertEmbedder, BertOptions, Embedder};

/// The configured embedder; `None` when `EMBEDDINGS_TYPE=none` or when the default model
/// is simply not installed (retrieval then ranks passages by keywords alone, and says so
/// on stderr). A folder that exists but is broken is an error naming the file.
pub fn open(config: &Config) -> Result<Option<Arc<dyn Embedder>>, Failure> {
    if config.embeddings_type == "none" {
        return Ok(None);
    }
    let dir = config.embeddings_dir();
    if !dir.exists() && config.embeddings_model.is_none() {
        tracing::info!(
            "note: no embeddings model at {} (`epicrisis models download multilingual-e5-small`); passages are ranked by keywords only",
            dir.display()
        );
        return Ok(None);
    }
    load(&dir, BertOptions::default()).map(Some)
}

/// Loads the folder `dir`, naming the setting when it is wrong.
pub fn load(dir: &std::path::Path, options: BertOptions) -> Result<Arc<dyn Embedder>, Failure> {
    BertEmbedder::load(dir, options)
        .map(|e| Arc::new(e) as Arc<dyn Embedder>)
        .map_err(|e| Failure::Input(format!("{e} (setting EMBEDDINGS_MODEL)")))
}
