//! A ready drafting engine: the deterministic writer, a local model through the grounded
//! pipeline, or a provider outside the machine through the same pipeline on de-identified
//! text. The command line and the server both draft through [`Engine::draft`].

use crate::evidence::SentenceEvidence;
use crate::external::{ExternalUse, draft_deidentified};
use crate::grounded::{
    Attempt, GroundedDraft, KnownVectors, PipelineOptions, PreparedNotes, Provenance, Retrieval,
    Timings, draft_with_model, link_evidence, prepare_notes, with_unsupported_sentences,
};
use crate::{Draft, Layout, Progress, TextFormat, writer};
use epicrisis_domain::Episode;
use epicrisis_llm::{
    CancelToken, ChatMessage, Generation, GenerationError, GenerationRequest, Generator, ModelInfo,
};
use epicrisis_validate::Report;
use std::sync::Arc;
use std::time::Instant;

/// Which engine, and what it holds.
#[derive(Clone)]
pub enum Engine {
    Deterministic,
    /// A model on this machine (llama.cpp) or a server the hospital runs; `external` is
    /// true when text leaves the machine: then only de-identified text is sent.
    Model {
        generator: Arc<dyn Generator>,
        options: PipelineOptions,
        external: bool,
    },
}

/// One draft and everything known about how it was made.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub draft: Draft,
    pub text: String,
    pub report: Report,
    pub attempts: Option<Vec<Attempt>>,
    /// The model's narrative sentence by sentence, with who wrote each.
    pub narrative: Option<Vec<crate::narrative::NarrativeSentence>>,
    pub provenance: Option<Provenance>,
    /// Set when a provider outside the machine wrote part of the draft.
    pub external: Option<ExternalUse>,
    pub timings: Option<Timings>,
    pub generate_ms: f64,
    pub validate_ms: f64,
    /// Per sentence of `text`, the passages of the notes and the items that support it.
    pub evidence: Vec<SentenceEvidence>,
    /// The notes' passages and, with an embeddings model, their vectors
    /// ([`PreparedNotes::reused`] says whether they came from [`Guidance::known_vectors`]).
    pub notes: Option<Arc<PreparedNotes>>,
}

/// What a caller knows about one draft beyond the episode: all optional.
#[derive(Debug, Clone, Default)]
pub struct Guidance {
    /// Words an earlier draft was faulted for ([`PipelineOptions::avoid`]).
    pub avoid: Vec<String>,
    /// Approved evolution paragraphs of similar earlier episodes, shown as style only
    /// ([`PipelineOptions::style_examples`]).
    pub style_examples: Vec<String>,
    /// The episode's passage vectors from an earlier draft
    /// ([`PipelineOptions::known_vectors`]).
    pub known_vectors: Option<Arc<KnownVectors>>,
}

impl Engine {
    /// `deterministic`, or the generator's backend (`llama.cpp`, `openai`, `anthropic`).
    pub fn name(&self) -> String {
        match self {
            Engine::Deterministic => "deterministic".into(),
            Engine::Model { generator, .. } => generator.info().backend,
        }
    }

    /// Whether drafting sends (de-identified) text outside this machine.
    pub fn is_external(&self) -> bool {
        matches!(self, Engine::Model { external: true, .. })
    }

    /// Drafts one episode; `on_progress` sees each stage and the model's words as they
    /// arrive ([`Progress`]).
    pub fn draft(
        &self,
        ep: &Episode,
        layout: Layout,
        format: TextFormat,
        on_progress: impl FnMut(Progress),
    ) -> Result<Outcome, GenerationError> {
        self.draft_cancellable(ep, layout, format, &CancelToken::new(), on_progress)
    }

    /// As [`Engine::draft`], stopping early (with `GenerationError::Cancelled`) once
    /// `cancel` is set — also in the middle of a model's answer.
    pub fn draft_cancellable(
        &self,
        ep: &Episode,
        layout: Layout,
        format: TextFormat,
        cancel: &CancelToken,
        on_progress: impl FnMut(Progress),
    ) -> Result<Outcome, GenerationError> {
        self.redraft_cancellable(
            ep,
            layout,
            format,
            &Guidance::default(),
            cancel,
            on_progress,
        )
    }

    /// As [`Engine::draft_cancellable`], with what the caller knows besides the episode.
    /// For a new draft after one that was faulted, `guidance.avoid` holds the words the
    /// data did not support there (the previous violations' mentions), and a model is
    /// told of them from its first round on ([`PipelineOptions::avoid`]). The
    /// deterministic writer only writes what the data says, so for it guidance changes
    /// nothing: the answer is a fresh validated draft.
    pub fn redraft_cancellable(
        &self,
        ep: &Episode,
        layout: Layout,
        format: TextFormat,
        guidance: &Guidance,
        cancel: &CancelToken,
        on_progress: impl FnMut(Progress),
    ) -> Result<Outcome, GenerationError> {
        let t = Instant::now();
        if cancel.is_cancelled() {
            return Err(GenerationError::Cancelled);
        }
        match self {
            Engine::Deterministic => Ok(deterministic(ep, layout, format, t, on_progress)),
            Engine::Model {
                generator,
                options,
                external,
            } => {
                let opts = guided_options(options, layout, guidance);
                let (g, ext) = run_model(
                    generator.as_ref(),
                    *external,
                    ep,
                    &opts,
                    cancel,
                    on_progress,
                )?;
                if cancel.is_cancelled() {
                    return Err(GenerationError::Cancelled);
                }
                Ok(model_outcome(ep, format, &opts, g, ext, t))
            }
        }
    }
}

/// The deterministic writer's draft, validated, with the evidence of its sentences;
/// `t` is when drafting began.
fn deterministic(
    ep: &Episode,
    layout: Layout,
    format: TextFormat,
    t: Instant,
    mut on_progress: impl FnMut(Progress),
) -> Outcome {
    let draft = writer::write(ep, layout);
    let text = draft.render(format);
    let generate_ms = t.elapsed().as_secs_f64() * 1e3;
    on_progress(Progress::Checking);
    let tv = Instant::now();
    let report = epicrisis_validate::validate(ep, &text);
    // The writer's sentences come from the data: keywords and items find
    // their evidence without an embeddings model.
    let prepared = prepare_notes(ep, &Retrieval::default());
    let evidence = link_evidence(ep, &text, &prepared, None);
    let notes = Some(Arc::new(prepared));
    let report = with_unsupported_sentences(report, &evidence, &text);
    let validate_ms = tv.elapsed().as_secs_f64() * 1e3;
    Outcome {
        draft,
        text,
        report,
        attempts: None,
        narrative: None,
        provenance: None,
        external: None,
        timings: None,
        generate_ms,
        validate_ms,
        evidence,
        notes,
    }
}

/// The engine's pipeline options for one draft: its layout, and what the caller knows.
fn guided_options(
    options: &PipelineOptions,
    layout: Layout,
    guidance: &Guidance,
) -> PipelineOptions {
    let mut opts = options.clone();
    opts.layout = layout;
    opts.avoid = guidance.avoid.clone();
    if !guidance.style_examples.is_empty() {
        opts.style_examples = guidance.style_examples.clone();
    }
    if guidance.known_vectors.is_some() {
        opts.known_vectors = guidance.known_vectors.clone();
    }
    opts
}

/// The grounded pipeline with every request under `cancel`; on de-identified text when
/// the generator is `external`.
fn run_model(
    generator: &dyn Generator,
    external: bool,
    ep: &Episode,
    opts: &PipelineOptions,
    cancel: &CancelToken,
    on_progress: impl FnMut(Progress),
) -> Result<(GroundedDraft, Option<ExternalUse>), GenerationError> {
    let guarded = Cancellable {
        inner: generator,
        cancel: cancel.clone(),
    };
    if external {
        let (g, x) = draft_deidentified(&guarded, ep, opts, on_progress)?;
        Ok((g, Some(x)))
    } else {
        Ok((draft_with_model(&guarded, ep, opts, on_progress)?, None))
    }
}

/// The outcome of a model's draft in `format`; `t` is when drafting began.
fn model_outcome(
    ep: &Episode,
    format: TextFormat,
    opts: &PipelineOptions,
    g: GroundedDraft,
    external: Option<ExternalUse>,
    t: Instant,
) -> Outcome {
    let (text, report, evidence) = if format == TextFormat::Plain {
        (g.text.clone(), g.report.clone(), g.evidence.clone())
    } else {
        // Markdown is rendered from the same parts.
        let text = g.draft.render(format);
        let report = epicrisis_validate::validate(ep, &text);
        let embedder = opts.retrieval.embedder.as_deref();
        let evidence = link_evidence(ep, &text, &g.notes, embedder);
        let report = with_unsupported_sentences(report, &evidence, &text);
        (text, report, evidence)
    };
    Outcome {
        draft: g.draft,
        text,
        report,
        attempts: Some(g.attempts),
        narrative: Some(g.narrative),
        provenance: Some(g.provenance),
        external,
        validate_ms: g.timings.validation_ms,
        timings: Some(g.timings),
        generate_ms: t.elapsed().as_secs_f64() * 1e3,
        evidence,
        notes: Some(g.notes),
    }
}

/// A generator whose requests all carry the job's cancel switch, so that cancelling the
/// job stops the generation under way and refuses the next round.
struct Cancellable<'a> {
    inner: &'a dyn Generator,
    cancel: CancelToken,
}

impl Generator for Cancellable<'_> {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }

    fn start(&self, mut request: GenerationRequest) -> Result<Generation, GenerationError> {
        if self.cancel.is_cancelled() {
            return Err(GenerationError::Cancelled);
        }
        request.cancel = self.cancel.clone();
        self.inner.start(request)
    }

    fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String, GenerationError> {
        self.inner.render_prompt(messages)
    }
}
