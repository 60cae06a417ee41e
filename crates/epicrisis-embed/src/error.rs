//! Errors that name the file or setting to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model folder lacks a file or has one we cannot read.
    #[error("embeddings model {path}: {problem}. {fix}")]
    Model {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    /// The tokenizer rejected a text.
    #[error("embeddings tokenizer: {0}")]
    Tokenize(String),
    /// The tensor computation failed (out of memory, shape bug).
    #[error("embeddings computation: {0}")]
    Compute(String),
}
