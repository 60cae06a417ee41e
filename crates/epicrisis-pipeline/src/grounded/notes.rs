//! The episode's evolution notes on their way into the prompt: cut into passages and
//! embedded once per draft ([`PreparedNotes`]), then given whole or retrieved within the
//! notes' token budget ([`notes_for_prompt`]), with a record of what retrieval did
//! ([`RetrievalUse`]).

use super::KnownVectors;
use epicrisis_domain::Episode;
use epicrisis_embed::Embedder;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// How the evolution notes reach the prompt. Notes that fit in `notes_budget_tokens` go
/// in whole; longer ones (a stay of weeks) are split into passages and the passages each
/// part of the epicrisis needs are retrieved — always with the admission and discharge
/// days — until the budget is spent ([`crate::retrieve::select`]).
#[derive(Clone)]
pub struct Retrieval {
    /// The sentence-embedding model; without one, passages are ranked by BM25 alone.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Tokens the notes may take in the prompt.
    pub notes_budget_tokens: usize,
    /// Longest passage, in tokens.
    pub passage_tokens: usize,
}

impl Default for Retrieval {
    fn default() -> Retrieval {
        Retrieval {
            embedder: None,
            notes_budget_tokens: 700,
            passage_tokens: 64,
        }
    }
}

impl std::fmt::Debug for Retrieval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrieval")
            .field(
                "embedder",
                &self.embedder.as_ref().map(|e| e.name().to_string()),
            )
            .field("notes_budget_tokens", &self.notes_budget_tokens)
            .field("passage_tokens", &self.passage_tokens)
            .finish()
    }
}

impl PartialEq for Retrieval {
    fn eq(&self, other: &Retrieval) -> bool {
        let same_model = match (&self.embedder, &other.embedder) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_model
            && self.notes_budget_tokens == other.notes_budget_tokens
            && self.passage_tokens == other.passage_tokens
    }
}

impl RetrievalUse {
    /// What retrieval did over two steps of one narrative.
    pub fn merge(self, other: RetrievalUse) -> RetrievalUse {
        let method = if self.method == other.method || other.method == "whole" {
            self.method
        } else if self.method == "whole" {
            other.method
        } else {
            "hybrid".into()
        };
        RetrievalUse {
            method,
            model: self.model.or(other.model),
            passages_total: self.passages_total + other.passages_total,
            passages_used: self.passages_used + other.passages_used,
            tokens_total: self.tokens_total + other.tokens_total,
            tokens_used: self.tokens_used + other.tokens_used,
            ms: self.ms + other.ms,
            vectors_reused: self.vectors_reused && other.vectors_reused,
        }
    }
}

/// What retrieval did for one draft (in its provenance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalUse {
    /// `whole` (the notes fit), `hybrid` (embeddings + BM25) or `lexical` (BM25 alone).
    pub method: String,
    /// The embeddings model, when one ranked the passages.
    pub model: Option<String>,
    pub passages_total: usize,
    pub passages_used: usize,
    /// Tokens of the whole notes and of what went into the prompt.
    pub tokens_total: usize,
    pub tokens_used: usize,
    pub ms: f64,
    /// True when the passages' vectors came from an earlier draft (the store), not
    /// from embedding the notes again.
    #[serde(default)]
    pub vectors_reused: bool,
}

/// An episode's notes cut into passages, with their vectors (and the four parts'
/// question vectors) when an embeddings model is at hand. Made once per draft; used for
/// the prompt's notes and for the evidence of every sentence.
#[derive(Debug, Clone, Default)]
pub struct PreparedNotes {
    pub passages: Vec<crate::retrieve::Passage>,
    pub vectors: Option<(Vec<Vec<f32>>, crate::retrieve::QueryVectors)>,
    /// The embeddings model that made `vectors`.
    pub model: Option<String>,
    /// True when `vectors` came from
    /// [`PipelineOptions::known_vectors`](super::PipelineOptions::known_vectors) (nothing
    /// new to keep), false when this draft embedded the passages.
    pub reused: bool,
    pub ms: f64,
}

/// Tokens of `s` as the embeddings model counts them, or an estimate without one.
pub(super) fn token_counter(embedder: Option<&dyn Embedder>) -> impl Fn(&str) -> usize + '_ {
    move |s: &str| match embedder {
        Some(e) => e
            .count_tokens(s)
            .unwrap_or_else(|_| crate::retrieve::approx_tokens(s)),
        None => crate::retrieve::approx_tokens(s),
    }
}

/// Splits the notes into passages and embeds them. A model that fails on these notes
/// (it should not) leaves BM25 alone to rank them: the draft does not depend on it.
pub fn prepare_notes(ep: &Episode, retrieval: &Retrieval) -> PreparedNotes {
    prepare_notes_with(ep, retrieval, None)
}

/// As [`prepare_notes`], taking the passages' vectors from `known` when they fit (the
/// same model, the same passages): then only the four parts' questions are embedded.
pub fn prepare_notes_with(
    ep: &Episode,
    retrieval: &Retrieval,
    known: Option<&KnownVectors>,
) -> PreparedNotes {
    let t = Instant::now();
    let embedder = retrieval.embedder.as_deref();
    let count = token_counter(embedder);
    let passages = crate::retrieve::passages(ep, retrieval.passage_tokens, &count);
    let mut reused = false;
    let vectors = embedder.and_then(|e| match known.and_then(|k| k.for_passages(e, &passages)) {
        Some(v) => {
            let q = crate::retrieve::embed_queries(e, ep).ok()?;
            reused = true;
            Some((v, q))
        }
        None => crate::retrieve::embed_for_selection(e, ep, &passages).ok(),
    });
    PreparedNotes {
        model: vectors.as_ref().and(embedder).map(|e| e.name().to_string()),
        passages,
        vectors,
        reused,
        ms: t.elapsed().as_secs_f64() * 1e3,
    }
}

/// The notes block of the prompt and what retrieval did to make it.
pub fn notes_for_prompt(
    ep: &Episode,
    retrieval: &Retrieval,
    prepared: &PreparedNotes,
) -> (String, RetrievalUse) {
    let t = Instant::now();
    let proper = crate::prose::proper_words(ep);
    let count = token_counter(retrieval.embedder.as_deref());
    let tokens_total: usize = ep.evolution.iter().map(|n| count(&n.text)).sum();
    if tokens_total <= retrieval.notes_budget_tokens {
        let whole: String = ep
            .evolution
            .iter()
            .map(|n| {
                let label = n.day.map(|d| format!("día {d}: ")).unwrap_or_default();
                format!("- {label}{}\n", crate::prose::clean_note(&n.text, &proper))
            })
            .collect();
        let n = prepared.passages.len();
        return (
            whole,
            RetrievalUse {
                method: "whole".into(),
                model: None,
                passages_total: n,
                passages_used: n,
                tokens_total,
                tokens_used: tokens_total,
                ms: t.elapsed().as_secs_f64() * 1e3,
                vectors_reused: prepared.reused,
            },
        );
    }
    let vectors = prepared.vectors.as_ref();
    let selection = crate::retrieve::select(
        ep,
        &prepared.passages,
        vectors.map(|(v, _)| v.as_slice()),
        vectors.map(|(_, q)| q),
        retrieval.notes_budget_tokens,
        &count,
    );
    // Shouted notes in sentence case, abbreviations kept (as for whole notes).
    let mut shown = selection.clone();
    for s in &mut shown.passages {
        s.passage.text = crate::prose::clean_note(&s.passage.text, &proper);
    }
    let block = crate::retrieve::notes_text(&shown, ep);
    (
        block,
        RetrievalUse {
            method: if vectors.is_some() {
                "hybrid"
            } else {
                "lexical"
            }
            .into(),
            model: prepared.model.clone(),
            passages_total: prepared.passages.len(),
            passages_used: selection.passages.len(),
            tokens_total: selection.tokens_total,
            tokens_used: selection.tokens_used,
            ms: prepared.ms + t.elapsed().as_secs_f64() * 1e3,
            vectors_reused: prepared.reused,
        },
    )
}
