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
//! measure the choice, see docs/design.md.)

use crate::draft::{Body, Draft, Layout, Origin, Part, PartId, TextFormat};
use crate::narrative::{self, NarrativeSentence, Narrator, StepRequest};
pub use crate::novel::novel_words;
pub use crate::prompt::{clean_model_text, evolution_paragraph, facts_for_model, facts_with_notes};
use crate::prompt::{messages, shown_style_examples};
use crate::sentences::SentenceVerdict;
use crate::steps::Step;
use crate::writer;
use epicrisis_domain::Episode;
use epicrisis_embed::Embedder;
use epicrisis_llm::{
    ChatMessage, GenerationError, GenerationStats, Generator, ModelInfo, SamplingSettings,
};
use epicrisis_validate::{EpisodeIndex, Finding, Report, Severity, validate_indexed};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

mod notes;
use notes::token_counter;
pub use notes::{
    PreparedNotes, Retrieval, RetrievalUse, notes_for_prompt, prepare_notes, prepare_notes_with,
};

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
    /// 1 = first draft, 2.. = repairs (answers to an objection).
    pub round: u32,
    /// The step of the narrative ([`crate::steps`]; 0-based) and its days.
    pub step: usize,
    pub days: Option<[u32; 2]>,
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
    /// How many steps the narrative was written in (1 for a short stay).
    pub steps: usize,
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
    /// Prompt-lookup tokens proposed to the model and kept (speculative decoding).
    pub draft_tokens: u32,
    pub accepted_draft_tokens: u32,
}

impl Timings {
    /// Counts one answer's figures.
    pub fn add(&mut self, stats: &GenerationStats) {
        self.prompt_tokens += stats.prompt_tokens;
        self.cached_prompt_tokens += stats.cached_tokens;
        self.prompt_ms += stats.prompt_ms;
        self.generated_tokens += stats.generated_tokens;
        self.generation_ms += stats.generation_ms;
        self.draft_tokens += stats.draft_tokens;
        self.accepted_draft_tokens += stats.accepted_draft_tokens;
    }
}

/// A finished draft.
#[derive(Debug, Clone)]
pub struct GroundedDraft {
    pub draft: Draft,
    pub text: String,
    pub report: Report,
    pub attempts: Vec<Attempt>,
    /// The narrative sentence by sentence, with who wrote each (empty when the part is
    /// the writer's fallback).
    pub narrative: Vec<NarrativeSentence>,
    pub provenance: Provenance,
    pub timings: Timings,
    /// Per sentence of `text`, the passages and items that support it.
    pub evidence: Vec<crate::evidence::SentenceEvidence>,
    /// The notes' passages (and vectors) this draft used: for the evidence of another
    /// rendering, and for the caller to keep the vectors.
    pub notes: Arc<PreparedNotes>,
}

/// The messages of a first draft (used by `epicrisis-dev bench` to time prefix reuse).
pub fn first_messages(ep: &Episode, strategy: Strategy) -> Vec<ChatMessage> {
    let retrieval = Retrieval::default();
    let (notes, _) = notes_for_prompt(ep, &retrieval, &prepare_notes(ep, &retrieval));
    messages(ep, strategy, &notes, &[], &[])
}

/// The draft with the given part's text replaced, rendered.
pub(crate) fn assemble(base: &Draft, part: PartId, text: &str, origin: Origin) -> Draft {
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
pub(crate) fn errors_within(report: &Report, start: usize, end: usize) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Error && f.span.is_some_and(|[a, b]| a >= start && b <= end)
        })
        .collect()
}

pub(crate) fn span_of(draft: &Draft, part: PartId, format: TextFormat) -> (usize, usize) {
    draft
        .part_spans(format)
        .into_iter()
        .find(|(id, _, _)| *id == part)
        .map(|(_, a, b)| (a, b))
        .unwrap_or((0, 0))
}

/// Drafts an epicrisis with a model, grounded in the data. Fails only when the model
/// cannot run at all (then callers may fall back to the deterministic writer whole).
///
/// The narrative is written in steps ([`crate::steps`]; one step for a short stay), each
/// step a conversation of up to `1 + repair_rounds` answers ([`crate::narrative`]).
pub fn draft_with_model(
    generator: &dyn Generator,
    ep: &Episode,
    opts: &PipelineOptions,
    mut on_progress: impl FnMut(crate::Progress),
) -> Result<GroundedDraft, GenerationError> {
    let t0 = Instant::now();
    on_progress(crate::Progress::Retrieving);
    let index = EpisodeIndex::new(ep);
    let layout = if opts.strategy == Strategy::Full {
        Layout::Paragraph
    } else {
        opts.layout
    };
    let base = writer::write(ep, layout);
    let mut timings = Timings::default();
    let avoid = words_to_avoid(&opts.avoid);
    let prepared = prepare_notes_with(ep, &opts.retrieval, opts.known_vectors.as_deref());
    let steps = plan_steps(ep, opts);
    let copies = crate::narrative::NoteCopies::new(ep);
    let narrator = Narrator {
        generator,
        ep,
        index: &index,
        copies: &copies,
        opts,
        base: &base,
        avoid: &avoid,
        steps: steps.len(),
    };
    let mut attempts = Vec::new();
    let mut sentences: Vec<NarrativeSentence> = Vec::new();
    let mut retrieval: Option<RetrievalUse> = None;
    let mut budget = 0;
    for (i, step) in steps.iter().enumerate() {
        let (req, used) = step_request(&narrator, i, step, &prepared);
        budget = budget.max(req.budget);
        retrieval = Some(match retrieval {
            None => used,
            Some(r) => r.merge(used),
        });
        let before = narrative::join(&sentences);
        let done = narrator.run(&req, &before, &mut timings, &mut on_progress)?;
        attempts.extend(done.attempts);
        sentences.extend(done.sentences);
    }
    on_progress(crate::Progress::Checking);
    let draft = final_draft(&narrator, &mut sentences, &mut timings);
    let text = draft.render(TextFormat::Plain);
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
        retrieval: retrieval.unwrap_or_else(|| notes_for_prompt(ep, &opts.retrieval, &prepared).1),
        style_examples: shown_style_examples(&opts.style_examples),
        token_budget: budget,
        steps: steps.len(),
    };
    let evidence = link_evidence(ep, &text, &prepared, opts.retrieval.embedder.as_deref());
    let report = with_unsupported_sentences(report, &evidence, &text);
    Ok(GroundedDraft {
        draft,
        text,
        report,
        attempts,
        narrative: sentences,
        provenance,
        timings,
        evidence,
        notes: Arc::new(prepared),
    })
}

/// The narrative's steps: one for a short stay or for [`Strategy::Full`].
fn plan_steps(ep: &Episode, opts: &PipelineOptions) -> Vec<Step> {
    let count = token_counter(opts.retrieval.embedder.as_deref());
    let mut steps = crate::steps::plan(ep, &opts.retrieval, &count);
    if opts.strategy == Strategy::Full && steps.len() > 1 {
        let n = ep.evolution.len();
        steps = vec![Step {
            notes: 0..n,
            days: steps[0]
                .days
                .zip(steps[steps.len() - 1].days)
                .map(|(a, b)| [a[0], b[1]]),
            words: crate::budget::narrative_words(ep),
            first: true,
            last: true,
            whole: true,
        }];
    }
    steps
}

/// The request of step `i`: its task, facts with notes, and token budget.
fn step_request<'a>(
    n: &Narrator,
    i: usize,
    step: &'a Step,
    prepared: &PreparedNotes,
) -> (StepRequest<'a>, RetrievalUse) {
    let (notes, used) = crate::steps::step_notes(n.ep, step, &n.opts.retrieval, prepared);
    let max = n.opts.sampling.max_tokens;
    let req = if step.whole {
        StepRequest {
            index: i,
            step,
            task: crate::prompt::task_for(n.ep, n.opts.strategy).to_string(),
            facts: facts_with_notes(n.ep, n.opts.strategy == Strategy::Full, &notes),
            budget: crate::budget::token_budget(n.ep, n.opts.strategy, max),
        }
    } else {
        StepRequest {
            index: i,
            step,
            task: crate::steps::step_task(step, n.steps, crate::budget::days_covered(n.ep)),
            facts: crate::prompt::step_facts(n.ep, &notes, step.last),
            budget: crate::budget::step_token_budget(step.words, max),
        }
    };
    (req, used)
}

/// The draft with the steps' sentences as its narrative. A sentence that the whole draft
/// faults (which its step alone did not) is left out; when faults remain, or nothing is
/// left, the part is the writer's, marked as a fallback.
fn final_draft(
    n: &Narrator,
    sentences: &mut Vec<NarrativeSentence>,
    timings: &mut Timings,
) -> Draft {
    let part = PartId::Evolution;
    for _ in 0..2 {
        if narrative::join(sentences).split_whitespace().count() < narrative::MIN_WORDS {
            break;
        }
        let text = narrative::join(sentences);
        let candidate = narrative::assemble(
            n.base,
            n.opts.strategy,
            &text,
            narrative::part_origin(sentences),
        );
        let rendered = candidate.render(TextFormat::Plain);
        let tv = Instant::now();
        let report = validate_indexed(n.index, n.ep, &rendered);
        timings.validation_ms += tv.elapsed().as_secs_f64() * 1e3;
        let (a, b) = span_of(&candidate, part, TextFormat::Plain);
        let faults = errors_within(&report, a, b);
        if faults.is_empty() {
            return candidate;
        }
        // Drop the sentences the faults lie in (their spans, by position in the part).
        let offset = rendered.chars().skip(a).take(b - a).collect::<String>();
        let start = offset
            .rfind(&text)
            .map(|byte| a + offset[..byte].chars().count())
            .unwrap_or(a);
        let mut at = start;
        sentences.retain(|s| {
            let len = s.text.chars().count();
            let (x, y) = (at, at + len);
            at = y + 1;
            !faults
                .iter()
                .any(|f| f.span.is_some_and(|[p, q]| p < y && q > x))
        });
    }
    sentences.clear();
    let mut d = writer::write(n.ep, n.base.layout);
    for p in d.parts.iter_mut() {
        if p.id == part || n.opts.strategy == Strategy::Full {
            p.origin = Origin::Fallback;
        }
    }
    d
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
        let bytes = std::fs::read(epicrisis_testkit::fixtures::testdata(
            "episodes/episodio_1416169.json",
        ))
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
