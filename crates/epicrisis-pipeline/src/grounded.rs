//! The grounded pipeline: a language model writes the narrative, the data writes the facts.
//!
//! Codes, drug names, doses, discharge prescriptions and controls come from the episode
//! through the deterministic writer. The model writes only what needs a model — the
//! evolution narrative — from a compact list of the episode's facts and its notes. Then
//! the whole draft is validated and the narrative judged sentence by sentence
//! ([`crate::sentences`]); the model's part gets up to two repair rounds that name the
//! words of its unsupported sentences; if no round is clean, the best round's supported
//! sentences are kept, and only when none is left is the part replaced by the writer's.
//! An answer that loops is cut to one copy, and each answer's length is bounded by a
//! budget that follows the stay ([`crate::budget`]). The final draft has zero validator
//! errors and says which parts, and which sentences, came from where. A
//! regeneration passes the words an earlier draft was faulted for
//! ([`PipelineOptions::avoid`]); they seed the first round's instructions.
//!
//! (`Strategy::Full` lets the model write the whole paragraph instead; it exists to
//! measure the choice, see ARCHITECTURE.md.)

use crate::draft::{Body, Draft, Layout, Origin, Part, PartId, TextFormat};
pub use crate::novel::novel_words;
pub use crate::prompt::{clean_model_text, evolution_paragraph, facts_for_model, facts_with_notes};
use crate::prompt::{messages, shown_style_examples};
use crate::sentences::{self, SentenceVerdict};
use crate::writer;
use epicrisis_domain::Episode;
use epicrisis_embed::Embedder;
use epicrisis_llm::loops::trim_loop;
use epicrisis_llm::{
    ChatMessage, GenerationError, GenerationRequest, GenerationStats, Generator, ModelInfo,
    SamplingSettings,
};
use epicrisis_validate::{EpisodeIndex, Finding, Report, Severity, validate_indexed};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// Version of the prompts below; recorded in every draft's provenance.
pub const PROMPT_VERSION: &str = "2026-11-29.1";

/// What the model writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The model writes the evolution narrative; the writer the rest (the default).
    Narrative,
    /// The model writes the whole paragraph (for measurement).
    Full,
}

/// Settings of one pipeline run.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOptions {
    pub layout: Layout,
    pub strategy: Strategy,
    pub sampling: SamplingSettings,
    /// Repair rounds before falling back (the issue asks for one or two).
    pub repair_rounds: u32,
    /// Words an earlier draft of this episode said without support in the data (the
    /// violations a client sends back when it asks to regenerate): the first round's
    /// instructions name them, as a repair round names its own. Empty: a plain draft.
    pub avoid: Vec<String>,
    /// How the notes of a long stay are cut down to the prompt's budget.
    pub retrieval: Retrieval,
    /// Evolution paragraphs of approved epicrisis of similar earlier episodes (the
    /// archive), shown to the model as the hospital's style — never as facts: the
    /// validator checks the draft against this episode only, so a copied fact is caught.
    pub style_examples: Vec<String>,
    /// Passage vectors an earlier draft of this episode made (kept in the store), used
    /// instead of embedding the notes again when they fit (same model, same passages).
    pub known_vectors: Option<Arc<KnownVectors>>,
}

/// An episode's passage vectors as an earlier draft made them (see
/// [`PreparedNotes::vectors`]), e.g. read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownVectors {
    /// The embeddings model's name ([`Embedder::name`]).
    pub model: String,
    /// In passage order.
    pub passages: Vec<KnownPassage>,
}

/// One passage's place in the notes and its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownPassage {
    pub note: usize,
    pub start: usize,
    pub end: usize,
    pub vector: Vec<f32>,
}

impl KnownVectors {
    /// The vectors, when they were made by `embedder` for exactly these passages.
    fn for_passages(
        &self,
        embedder: &dyn Embedder,
        passages: &[crate::retrieve::Passage],
    ) -> Option<Vec<Vec<f32>>> {
        let fits = self.model == embedder.name()
            && self.passages.len() == passages.len()
            && self.passages.iter().zip(passages).all(|(k, p)| {
                k.note == p.note
                    && k.start == p.start
                    && k.end == p.end
                    && k.vector.len() == embedder.dim()
            });
        fits.then(|| self.passages.iter().map(|k| k.vector.clone()).collect())
    }
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            layout: Layout::Sections,
            strategy: Strategy::Narrative,
            sampling: SamplingSettings::default(),
            repair_rounds: 2,
            avoid: Vec::new(),
            retrieval: Retrieval::default(),
            style_examples: Vec::new(),
            known_vectors: None,
        }
    }
}

/// At most this many words from [`PipelineOptions::avoid`] reach the prompt.
pub const MAX_AVOID: usize = 20;

/// The words of [`PipelineOptions::avoid`] that go into a prompt: trimmed, without
/// quotes or line breaks, short, once each, at most [`MAX_AVOID`].
pub fn words_to_avoid(avoid: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in avoid {
        let w: String = w
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .filter(|c| !matches!(c, '«' | '»' | '"'))
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if w.is_empty() || w.chars().count() > 80 {
            continue;
        }
        if !out.iter().any(|o| o.to_lowercase() == w.to_lowercase()) {
            out.push(w);
        }
        if out.len() == MAX_AVOID {
            break;
        }
    }
    out
}

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
    /// True when `vectors` came from [`PipelineOptions::known_vectors`] (nothing new to
    /// keep), false when this draft embedded the passages.
    pub reused: bool,
    pub ms: f64,
}

/// Tokens of `s` as the embeddings model counts them, or an estimate without one.
fn token_counter(embedder: Option<&dyn Embedder>) -> impl Fn(&str) -> usize + '_ {
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

/// `report` plus a warning for every sentence that makes a claim with no evidence.
pub fn with_unsupported_sentences(
    report: Report,
    evidence: &[crate::evidence::SentenceEvidence],
    text: &str,
) -> Report {
    let mut findings = report.findings;
    findings.extend(crate::evidence::unsupported_sentences(evidence, text));
    Report::new(findings)
}

/// The evidence of every sentence of `text`: passages of the notes (by BM25, and by
/// cosine when the notes were embedded) and structured items of the episode.
pub fn link_evidence(
    ep: &Episode,
    text: &str,
    prepared: &PreparedNotes,
    embedder: Option<&dyn Embedder>,
) -> Vec<crate::evidence::SentenceEvidence> {
    let opts = crate::evidence::EvidenceOptions::default();
    if let (Some(e), Some((vectors, _))) = (embedder, &prepared.vectors) {
        // A model failure here costs only the dense half of the evidence.
        if let Ok(ev) =
            crate::evidence::evidence_with_embedder(e, ep, &prepared.passages, vectors, text, &opts)
        {
            return ev;
        }
    }
    crate::evidence::evidence(ep, &prepared.passages, text, None, &opts)
}

/// One call to the model.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub part: PartId,
    /// 1 = first draft, 2.. = repairs.
    pub round: u32,
    /// Validator errors inside the model's words.
    pub errors: usize,
    /// The unsupported words, as the repair prompt named them.
    pub unsupported: Vec<String>,
    /// What the model wrote (cleaned), for review and audit.
    pub text: String,
    pub stats: GenerationStats,
    /// `text` sentence by sentence: what the data did not support in each, and which
    /// ones the final draft kept.
    pub sentences: Vec<SentenceVerdict>,
}

/// Where a draft came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub model: ModelInfo,
    pub sampling: SamplingSettings,
    pub seed: u32,
    pub strategy: Strategy,
    pub prompt_version: &'static str,
    pub program_version: &'static str,
    /// How the notes were put in the prompt (whole, or retrieved passages).
    pub retrieval: RetrievalUse,
    /// How many approved paragraphs of other episodes the prompt showed as style.
    pub style_examples: usize,
    /// The most tokens each answer could use ([`crate::budget::token_budget`]: the
    /// expected length of the part, within `sampling.max_tokens`).
    pub token_budget: u32,
}

/// Times of one draft.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub prompt_tokens: u32,
    pub cached_prompt_tokens: u32,
    pub prompt_ms: f64,
    pub generated_tokens: u32,
    pub generation_ms: f64,
    pub validation_ms: f64,
    pub total_ms: f64,
    pub attempts: u32,
}

/// A finished draft.
#[derive(Debug, Clone)]
pub struct GroundedDraft {
    pub draft: Draft,
    pub text: String,
    pub report: Report,
    pub attempts: Vec<Attempt>,
    pub provenance: Provenance,
    pub timings: Timings,
    /// Per sentence of `text`, the passages and items that support it.
    pub evidence: Vec<crate::evidence::SentenceEvidence>,
    /// The notes' passages (and vectors) this draft used: for the evidence of another
    /// rendering, and for the caller to keep the vectors.
    pub notes: Arc<PreparedNotes>,
}

/// The messages of a first draft (used by `epicrisis bench` to time prefix reuse).
pub fn first_messages(ep: &Episode, strategy: Strategy) -> Vec<ChatMessage> {
    let retrieval = Retrieval::default();
    let (notes, _) = notes_for_prompt(ep, &retrieval, &prepare_notes(ep, &retrieval));
    messages(ep, strategy, &notes, &[], None)
}

/// The draft with the given part's text replaced, rendered.
fn assemble(base: &Draft, part: PartId, text: &str, origin: Origin) -> Draft {
    let mut d = base.clone();
    if let Some(p) = d.parts.iter_mut().find(|p| p.id == part) {
        p.body = Body::Text(text.to_string());
        p.origin = origin;
    } else {
        // Insert before the discharge part (paragraph) or the labs (sections).
        let at = d
            .parts
            .iter()
            .position(|p| matches!(p.id, PartId::Labs | PartId::DischargeDiagnoses))
            .unwrap_or(d.parts.len());
        d.parts.insert(
            at,
            Part {
                id: part,
                title: "Evolución clínica".into(),
                body: Body::Text(text.to_string()),
                origin,
            },
        );
    }
    d
}

/// Errors whose span lies inside `[start, end)`.
fn errors_within(report: &Report, start: usize, end: usize) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Error && f.span.is_some_and(|[a, b]| a >= start && b <= end)
        })
        .collect()
}

fn span_of(draft: &Draft, part: PartId, format: TextFormat) -> (usize, usize) {
    draft
        .part_spans(format)
        .into_iter()
        .find(|(id, _, _)| *id == part)
        .map(|(_, a, b)| (a, b))
        .unwrap_or((0, 0))
}

/// A narrative of fewer words says nothing: an empty answer, or a remnant.
const MIN_WORDS: usize = 4;

/// The sentences of the model's answer with their verdicts. The narrative is judged
/// sentence by sentence (an error counts for the sentence it lies in); the whole
/// paragraph of [`Strategy::Full`], whose errors may be anywhere, is one verdict.
fn judge_answer(
    candidate: &Draft,
    rendered: &str,
    report: &Report,
    text: &str,
    strategy: Strategy,
    index: &EpisodeIndex,
) -> Vec<SentenceVerdict> {
    let (a, b) = span_of(candidate, PartId::Evolution, TextFormat::Plain);
    let whole = |mentions: Vec<String>| {
        vec![SentenceVerdict {
            text: text.to_string(),
            unsupported: mentions,
            kept: false,
        }]
    };
    if strategy == Strategy::Full {
        return whole(report.errors().map(|f| f.mention.clone()).collect());
    }
    // Where the model's text starts inside its part (after the part's title).
    let part: String = rendered.chars().skip(a).take(b - a).collect();
    match part.find(text) {
        Some(byte) if !text.is_empty() => {
            let start = a + part[..byte].chars().count();
            sentences::judge(text, start, report, index, novel_words)
        }
        _ => {
            let mut bad: Vec<String> = errors_within(report, a, b)
                .iter()
                .map(|f| f.mention.clone())
                .collect();
            for w in novel_words(text, index) {
                if !bad.iter().any(|b| b.contains(&w)) {
                    bad.push(w);
                }
            }
            whole(bad)
        }
    }
}

/// Drafts an epicrisis with a model, grounded in the data. Fails only when the model
/// cannot run at all (then callers may fall back to the deterministic writer whole).
pub fn draft_with_model(
    generator: &dyn Generator,
    ep: &Episode,
    opts: &PipelineOptions,
    mut on_text: impl FnMut(&str),
) -> Result<GroundedDraft, GenerationError> {
    let t0 = Instant::now();
    let index = EpisodeIndex::new(ep);
    let format = TextFormat::Plain;
    let layout = if opts.strategy == Strategy::Full {
        Layout::Paragraph
    } else {
        opts.layout
    };
    let base = writer::write(ep, layout);
    let part = PartId::Evolution;
    let mut attempts = Vec::new();
    let mut timings = Timings::default();
    // A regeneration starts as a repair would: told which words the data did not support.
    let avoid = words_to_avoid(&opts.avoid);
    let mut previous: Option<(String, Vec<String>)> =
        (!avoid.is_empty()).then(|| (String::new(), avoid));
    let mut accepted: Option<(Draft, Origin)> = None;
    // The attempt with the most words in supported sentences, and that count.
    let mut best: Option<(usize, usize)> = None;
    let prepared = prepare_notes_with(ep, &opts.retrieval, opts.known_vectors.as_deref());
    let (notes, retrieval) = notes_for_prompt(ep, &opts.retrieval, &prepared);
    let budget = crate::budget::token_budget(ep, opts.strategy, opts.sampling.max_tokens);
    for round in 1..=(1 + opts.repair_rounds) {
        let msgs = messages(
            ep,
            opts.strategy,
            &notes,
            &opts.style_examples,
            previous.as_ref().map(|(t, w)| (t.as_str(), w.as_slice())),
        );
        // Each round its own seed (still reproducible): the same seed would replay the
        // same choices.
        let temperature = if round == 1 {
            opts.sampling.temperature
        } else {
            opts.sampling.temperature.max(0.7)
        };
        let sampling = SamplingSettings {
            seed: opts.sampling.seed.wrapping_add(round - 1),
            temperature,
            max_tokens: budget,
            ..opts.sampling.clone()
        };
        let mut req = GenerationRequest::new(msgs, sampling);
        req.stable_prefix_messages = 3;
        let (raw, stats) = generator.start(req)?.collect_with(&mut on_text)?;
        timings.prompt_tokens += stats.prompt_tokens;
        timings.cached_prompt_tokens += stats.cached_tokens;
        timings.prompt_ms += stats.prompt_ms;
        timings.generated_tokens += stats.generated_tokens;
        timings.generation_ms += stats.generation_ms;
        // A loop stopped the answer inside its repeat: one copy stays.
        let text = clean_model_text(trim_loop(&raw, opts.sampling.loop_words));
        let origin = if round == 1 {
            Origin::Model
        } else {
            Origin::Repaired
        };
        let candidate = match opts.strategy {
            Strategy::Narrative => assemble(&base, part, &text, origin),
            Strategy::Full => Draft {
                layout: Layout::Paragraph,
                parts: vec![Part {
                    id: part,
                    title: "Epicrisis".into(),
                    body: Body::Text(text.clone()),
                    origin,
                }],
            },
        };
        let rendered = candidate.render(format);
        let tv = Instant::now();
        let report = validate_indexed(&index, ep, &rendered);
        timings.validation_ms += tv.elapsed().as_secs_f64() * 1e3;
        let mut verdicts =
            judge_answer(&candidate, &rendered, &report, &text, opts.strategy, &index);
        let bad = sentences::objections(&verdicts);
        let empty = text.split_whitespace().count() < MIN_WORDS;
        let clean = bad.is_empty() && !empty;
        if clean {
            verdicts.iter_mut().for_each(|v| v.kept = true);
        }
        if opts.strategy == Strategy::Narrative {
            let words = sentences::supported_words(&verdicts);
            if words > best.map_or(0, |(_, w)| w) {
                best = Some((attempts.len(), words));
            }
        }
        attempts.push(Attempt {
            part,
            round,
            errors: bad.len(),
            unsupported: bad.clone(),
            text: text.clone(),
            stats,
            sentences: verdicts,
        });
        if clean {
            accepted = Some((candidate, origin));
            break;
        }
        previous = Some((
            text,
            if empty {
                vec!["(texto vacío)".to_string()]
            } else {
                bad
            },
        ));
    }
    // No round was clean: the best round's supported sentences, when they say something
    // and the whole draft around them still validates.
    if accepted.is_none()
        && let Some((i, _)) = best
        && let Some(kept) = sentences::supported_text(&attempts[i].sentences, MIN_WORDS)
    {
        let origin = if attempts[i].round == 1 {
            Origin::Model
        } else {
            Origin::Repaired
        };
        let candidate = assemble(&base, part, &kept, origin);
        let rendered = candidate.render(format);
        let tv = Instant::now();
        let report = validate_indexed(&index, ep, &rendered);
        timings.validation_ms += tv.elapsed().as_secs_f64() * 1e3;
        let (a, b) = span_of(&candidate, part, format);
        if errors_within(&report, a, b).is_empty() {
            accepted = Some((candidate, origin));
            attempts[i]
                .sentences
                .iter_mut()
                .for_each(|v| v.kept = v.supported());
        }
    }
    let draft = match accepted {
        Some((d, _)) => d,
        None => {
            // The writer's version of the part, marked as a fallback.
            let mut d = writer::write(ep, layout);
            for p in d.parts.iter_mut() {
                if p.id == part || opts.strategy == Strategy::Full {
                    p.origin = Origin::Fallback;
                }
            }
            d
        }
    };
    let text = draft.render(format);
    let tv = Instant::now();
    let report = validate_indexed(&index, ep, &text);
    timings.validation_ms += tv.elapsed().as_secs_f64() * 1e3;
    timings.attempts = attempts.len() as u32;
    timings.total_ms = t0.elapsed().as_secs_f64() * 1e3;
    let provenance = Provenance {
        model: generator.info(),
        sampling: opts.sampling.clone(),
        seed: opts.sampling.seed,
        strategy: opts.strategy,
        prompt_version: PROMPT_VERSION,
        program_version: env!("CARGO_PKG_VERSION"),
        retrieval,
        style_examples: shown_style_examples(&opts.style_examples),
        token_budget: budget,
    };
    let evidence = link_evidence(ep, &text, &prepared, opts.retrieval.embedder.as_deref());
    let report = with_unsupported_sentences(report, &evidence, &text);
    Ok(GroundedDraft {
        draft,
        text,
        report,
        attempts,
        provenance,
        timings,
        evidence,
        notes: Arc::new(prepared),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_evolution_paragraph_of_an_approved_text() {
        let sections = "Motivo de ingreso\nDolor.\n\nEvolución clínica\nEvoluciona afebril.\nAlta al día 3.\n\nIndicaciones al alta\n- Reposo";
        assert_eq!(
            evolution_paragraph(sections).as_deref(),
            Some("Evoluciona afebril. Alta al día 3.")
        );
        let markdown = "## Evolución:\n\nBuena evolución, sin complicaciones.\n";
        assert_eq!(
            evolution_paragraph(markdown).as_deref(),
            Some("Buena evolución, sin complicaciones.")
        );
        let inline =
            "Evolución (extracto literal de las notas): tolera régimen, afebril, dolor controlado.";
        assert_eq!(
            evolution_paragraph(inline).as_deref(),
            Some("tolera régimen, afebril, dolor controlado.")
        );
        // A sentence that merely starts with the word is not a heading.
        assert_eq!(evolution_paragraph("Evolución favorable. Alta."), None);
        assert_eq!(evolution_paragraph("Motivo de ingreso\nDolor."), None);
        assert_eq!(evolution_paragraph("Evolución clínica\n\n"), None);
    }

    #[test]
    fn units_of_the_data_are_not_novel_words() {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/episodes/episodio_1416169.json"),
        )
        .unwrap();
        let ep = epicrisis_ingest::read_episode(&bytes, "episodio_1416169.json").unwrap();
        let index = EpisodeIndex::new(&ep);
        let novel = novel_words(
            "Al ingreso presenta potasio de 3,3 mmol/L y presión de 90 mmHg, que se corrigen.",
            &index,
        );
        assert!(
            !novel.iter().any(|w| w == "mmol" || w == "mmHg"),
            "{novel:?}"
        );
        // A drug the data does not hold is still novel.
        assert!(
            novel_words("Recibe dabigatrán.", &index)
                .iter()
                .any(|w| w == "dabigatrán")
        );
    }

    #[test]
    fn cleans_model_answers() {
        assert_eq!(
            clean_model_text("Afebril. Diagnóstico de egreso: neumonía."),
            "Afebril."
        );
        assert_eq!(
            clean_model_text("Evolución: Evoluciona bien. Alta al tercer"),
            "Evoluciona bien."
        );
        assert_eq!(
            clean_model_text("## Evolución\n- Evoluciona bien.\n- Sin fiebre."),
            "Evoluciona bien. Sin fiebre."
        );
        assert_eq!(clean_model_text("«Evoluciona bien.»"), "Evoluciona bien.");
    }
}
