//! Local sentence embeddings and search, knowing nothing of patients.
//!
//! The pipeline pairs the language model with a small sentence-embedding model
//! (multilingual-e5-small by default) so that a long stay's notes can be cut down to the
//! passages each part of the epicrisis needs, and so that every sentence of a draft can
//! point to its evidence. This crate holds:
//! - the [`Embedder`] trait: texts in, L2-normalised vectors out, with the model's own
//!   conventions (e5's `query: ` / `passage: ` prefixes, pooling) hidden behind [`Role`];
//! - the BERT-family backend (feature `candle`): a standard Hugging Face folder
//!   (`config.json`, `model.safetensors` or `pytorch_model.bin`, `tokenizer.json`);
//! - generic search: BM25 over any tokenised texts, cosine top-k, and their fusion.
//!
//! Nothing here logs text: callers pass patient notes through it.

#[cfg(feature = "candle")]
pub mod bert;
#[cfg(feature = "candle")]
mod blas;
pub mod bm25;
#[cfg(feature = "candle")]
mod encoder;
pub mod error;
#[cfg(feature = "candle")]
mod fastmath;
pub mod search;

#[cfg(feature = "candle")]
pub use bert::{BertEmbedder, BertOptions, Pooling};
pub use bm25::Bm25;
pub use error::EmbedError;
pub use search::{Fusion, Hit};

/// What a text is to the model: e5-family models were trained with `query: ` and
/// `passage: ` prefixes, and asymmetric retrieval needs the right one on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Query,
    Passage,
}

/// A sentence-embedding model.
///
/// `embed` returns one L2-normalised vector of [`Embedder::dim`] floats per text, in the
/// order given, so the dot product of two vectors is their cosine. A text longer than the
/// model's window is embedded in windows whose vectors are averaged (never cut silently);
/// callers that care split long passages first with [`Embedder::count_tokens`].
pub trait Embedder: Send + Sync {
    /// A short name for provenance and logs (the model folder's name).
    fn name(&self) -> &str;
    /// Length of the vectors.
    fn dim(&self) -> usize;
    /// Longest input in tokens (special tokens and the role prefix included).
    fn max_tokens(&self) -> usize;
    /// Tokens `text` takes as a passage (prefix and special tokens included).
    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError>;
    /// The text put before inputs of `role` (e5: `query: ` / `passage: `; empty for most).
    fn prompt(&self, role: Role) -> &str {
        let _ = role;
        ""
    }
    /// Embeds `texts` in `role`.
    fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Cosine of two vectors (any length; 0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert!((cosine(&[1.0, 1.0], &[-1.0, -1.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
