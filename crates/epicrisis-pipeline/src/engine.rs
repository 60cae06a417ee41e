//! A ready drafting engine: the deterministic writer, a local model through the grounded
//! pipeline, or a provider outside the machine through the same pipeline on de-identified
//! text. The command line and the server both draft through [`Engine::draft`].

use crate::external::{ExternalUse, draft_deidentified};
use crate::grounded::{Attempt, PipelineOptions, Provenance, Timings, draft_with_model};
use crate::{Draft, Layout, TextFormat, writer};
use epicrisis_domain::Episode;
use epicrisis_llm::{
    CancelToken, ChatMessage, Event, Generation, GenerationError, GenerationRequest, Generator,
    ModelInfo,
};
use epicrisis_validate::Report;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

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
    pub provenance: Option<Provenance>,
    /// Set when a provider outside the machine wrote part of the draft.
    pub external: Option<ExternalUse>,
    pub timings: Option<Timings>,
    pub generate_ms: f64,
    pub validate_ms: f64,
}

impl Engine {
    /// `deterministic`, or the generator's backend (`llama.cpp`, `openai`, `anthropic`).
    pub fn name(&self) -> String {
        match self {
            Engine::Deterministic => "deterministic".into(),
            Engine::Model { generator, .. } => generator.info().backend,
        }
    }

    /// The model behind the engine, if any.
    pub fn generator(&self) -> Option<&Arc<dyn Generator>> {
        match self {
            Engine::Deterministic => None,
            Engine::Model { generator, .. } => Some(generator),
        }
    }

    /// Whether drafting sends (de-identified) text outside this machine.
    pub fn is_external(&self) -> bool {
        matches!(self, Engine::Model { external: true, .. })
    }

    /// Drafts one episode; `on_text` sees the model's words as they arrive.
    pub fn draft(
        &self,
        ep: &Episode,
        layout: Layout,
        format: TextFormat,
        on_text: impl FnMut(&str),
    ) -> Result<Outcome, GenerationError> {
        self.draft_cancellable(ep, layout, format, &CancelToken::new(), on_text)
    }

    /// As [`Engine::draft`], stopping early (with `GenerationError::Cancelled`) once
    /// `cancel` is set — also in the middle of a model's answer.
    pub fn draft_cancellable(
        &self,
        ep: &Episode,
        layout: Layout,
        format: TextFormat,
        cancel: &CancelToken,
        on_text: impl FnMut(&str),
    ) -> Result<Outcome, GenerationError> {
        let t = Instant::now();
        if cancel.is_cancelled() {
            return Err(GenerationError::Cancelled);
        }
        match self {
            Engine::Deterministic => {
                let draft = writer::write(ep, layout);
                let text = draft.render(format);
                let generate_ms = t.elapsed().as_secs_f64() * 1e3;
                let tv = Instant::now();
                let report = epicrisis_validate::validate(ep, &text);
                let validate_ms = tv.elapsed().as_secs_f64() * 1e3;
                Ok(Outcome {
                    draft,
                    text,
                    report,
                    attempts: None,
                    provenance: None,
                    external: None,
                    timings: None,
                    generate_ms,
                    validate_ms,
                })
            }
            Engine::Model {
                generator,
                options,
                external,
            } => {
                let mut opts = options.clone();
                opts.layout = layout;
                let guarded = Cancellable {
                    inner: generator.as_ref(),
                    cancel: cancel.clone(),
                };
                let (g, ext) = if *external {
                    let (g, x) = draft_deidentified(&guarded, ep, &opts, on_text)?;
                    (g, Some(x))
                } else {
                    (draft_with_model(&guarded, ep, &opts, on_text)?, None)
                };
                if cancel.is_cancelled() {
                    return Err(GenerationError::Cancelled);
                }
                let (text, report) = if format == TextFormat::Plain {
                    (g.text.clone(), g.report.clone())
                } else {
                    // Markdown is rendered from the same parts.
                    let text = g.draft.render(format);
                    let report = epicrisis_validate::validate(ep, &text);
                    (text, report)
                };
                Ok(Outcome {
                    draft: g.draft,
                    text,
                    report,
                    attempts: Some(g.attempts),
                    provenance: Some(g.provenance),
                    external: ext,
                    validate_ms: g.timings.validation_ms,
                    timings: Some(g.timings),
                    generate_ms: t.elapsed().as_secs_f64() * 1e3,
                })
            }
        }
    }
}

/// A generator that refuses new work once `cancel` is set and passes the cancellation on
/// to the generation under way (a thread between the backend and the pipeline watches the
/// flag while it forwards the events).
struct Cancellable<'a> {
    inner: &'a dyn Generator,
    cancel: CancelToken,
}

impl Generator for Cancellable<'_> {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }

    fn start(&self, request: GenerationRequest) -> Result<Generation, GenerationError> {
        if self.cancel.is_cancelled() {
            return Err(GenerationError::Cancelled);
        }
        let generation = self.inner.start(request)?;
        let job = self.cancel.clone();
        let own = generation.cancel.clone();
        let (tx, rx) = mpsc::channel();
        let events = generation.events;
        std::thread::Builder::new()
            .name("cancel-watch".into())
            .spawn(move || {
                loop {
                    match events.recv_timeout(Duration::from_millis(50)) {
                        Ok(ev) => {
                            let end = matches!(ev, Event::Done(_) | Event::Failed(_));
                            if tx.send(ev).is_err() {
                                own.cancel();
                                return;
                            }
                            if end {
                                return;
                            }
                        }
                        // The backend answers a cancellation with `Done` (cancelled).
                        Err(RecvTimeoutError::Timeout) => {
                            if job.is_cancelled() {
                                own.cancel();
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| GenerationError::Backend(format!("cannot start a thread: {e}")))?;
        Ok(Generation {
            events: rx,
            cancel: generation.cancel,
        })
    }

    fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String, GenerationError> {
        self.inner.render_prompt(messages)
    }
}
