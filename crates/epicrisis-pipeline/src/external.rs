//! Drafting with a generator outside the machine: nothing identifying leaves.
//!
//! [`Deidentified`] wraps any [`Generator`]: every message is de-identified (for this
//! episode's [`Deidentifier`]) before the inner generator sees it, and the streamed answer
//! is re-identified before the caller sees it, one sentence at a time (a placeholder or a
//! date is never split). The grounded pipeline therefore validates the answer with the
//! real values, against the real episode. The mapping stays inside the `Deidentifier`, in
//! memory, for the length of one draft.

use crate::grounded::{GroundedDraft, PipelineOptions, draft_with_model};
use epicrisis_deid::Deidentifier;
use epicrisis_domain::Episode;
use epicrisis_llm::{
    ChatMessage, Event, Generation, GenerationError, GenerationRequest, Generator, ModelInfo,
};
use serde::Serialize;
use std::sync::mpsc;

/// A generator whose inputs are de-identified and whose outputs are re-identified.
pub struct Deidentified<'a> {
    inner: &'a dyn Generator,
    deid: Deidentifier,
}

impl<'a> Deidentified<'a> {
    pub fn new(inner: &'a dyn Generator, deid: Deidentifier) -> Self {
        Deidentified { inner, deid }
    }

    fn messages(&self, messages: &[ChatMessage]) -> Vec<ChatMessage> {
        messages
            .iter()
            .map(|m| ChatMessage {
                role: m.role,
                content: self.deid.deidentify(&m.content),
            })
            .collect()
    }
}

impl Generator for Deidentified<'_> {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }

    fn start(&self, mut request: GenerationRequest) -> Result<Generation, GenerationError> {
        // A grammar is free text that would leave the server as written: it cannot be
        // de-identified without breaking its syntax, so it never goes out.
        if request.settings.grammar.is_some() {
            return Err(GenerationError::Settings(
                epicrisis_llm::generator::SettingsError {
                    name: "grammar",
                    value: "(external provider)".into(),
                    allowed: "no grammar for an external provider: it would leave the server without de-identification",
                },
            ));
        }
        request.messages = self.messages(&request.messages);
        let inner = self.inner.start(request)?;
        let cancel = inner.cancel.clone();
        let deid = self.deid.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("reidentify".into())
            .spawn(move || {
                let mut pending = String::new();
                for ev in inner.events.iter() {
                    match ev {
                        Event::Text(t) => {
                            pending.push_str(&t);
                            // Up to the last sentence end: placeholders and dates never
                            // contain ". " or a line break.
                            let cut = pending
                                .rfind(". ")
                                .map(|p| p + 2)
                                .into_iter()
                                .chain(pending.rfind('\n').map(|p| p + 1))
                                .max();
                            if let Some(c) = cut {
                                let ready: String = pending.drain(..c).collect();
                                if tx.send(Event::Text(deid.reidentify(&ready))).is_err() {
                                    inner.cancel.cancel();
                                    return;
                                }
                            }
                        }
                        Event::Done(stats) => {
                            if !pending.is_empty() {
                                let _ = tx.send(Event::Text(deid.reidentify(&pending)));
                            }
                            let _ = tx.send(Event::Done(stats));
                            return;
                        }
                        other => {
                            if tx.send(other).is_err() {
                                inner.cancel.cancel();
                                return;
                            }
                        }
                    }
                }
            })
            .map_err(|e| GenerationError::Backend(format!("cannot start a thread: {e}")))?;
        Ok(Generation { events: rx, cancel })
    }

    fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String, GenerationError> {
        self.inner.render_prompt(&self.messages(messages))
    }
}

/// What the provenance of a draft says about a provider outside the machine.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalUse {
    /// `openai`, `anthropic`.
    pub provider: String,
    pub base_url: String,
    /// Always true: only de-identified text was sent.
    pub deidentified: bool,
    /// How many distinct values of each kind were replaced (never the values).
    pub replaced: Vec<(String, usize)>,
}

/// Drafts with a generator outside the machine: the grounded pipeline on de-identified
/// prompts, answers re-identified before validation.
pub fn draft_deidentified(
    generator: &dyn Generator,
    ep: &Episode,
    opts: &PipelineOptions,
    on_progress: impl FnMut(crate::Progress),
) -> Result<(GroundedDraft, ExternalUse), GenerationError> {
    let deid = Deidentifier::new(ep);
    let wrapped = Deidentified::new(generator, deid.clone());
    let g = draft_with_model(&wrapped, ep, opts, on_progress)?;
    let info = generator.info();
    let external = ExternalUse {
        provider: info.backend,
        base_url: info.path.unwrap_or_default(),
        deidentified: true,
        replaced: deid
            .counts()
            .into_iter()
            .map(|(k, n)| (k.as_str().to_string(), n))
            .collect(),
    };
    Ok((g, external))
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_llm::{ChatMessage, SamplingSettings};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider that only counts the requests that reach it.
    struct Counting(AtomicUsize);

    impl Generator for Counting {
        fn info(&self) -> ModelInfo {
            ModelInfo {
                backend: "counting".into(),
                name: "counting".into(),
                path: None,
                size_bytes: None,
                sha256: None,
                quantization: None,
                architecture: None,
                template: "builtin:chatml".into(),
                context_size: 4096,
                threads: None,
                gpu_layers: None,
                draft_tokens: None,
                parallel: None,
                flash_attention: None,
            }
        }
        fn start(&self, _: GenerationRequest) -> Result<Generation, GenerationError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(GenerationError::Stopped)
        }
        fn render_prompt(&self, _: &[ChatMessage]) -> Result<String, GenerationError> {
            Ok(String::new())
        }
    }

    #[test]
    fn a_grammar_never_goes_to_an_external_provider() {
        let ep = Episode::empty(epicrisis_domain::SourceShape::Rich);
        let inner = Counting(AtomicUsize::new(0));
        let wrapped = Deidentified::new(&inner, Deidentifier::new(&ep));
        let request = GenerationRequest::new(
            vec![ChatMessage::user("hola")],
            SamplingSettings {
                grammar: Some("root ::= \"Juan Pérez\"".into()),
                ..Default::default()
            },
        );
        match wrapped.start(request) {
            Err(GenerationError::Settings(e)) => assert_eq!(e.name, "grammar"),
            Err(e) => panic!("expected a settings error, got {e}"),
            Ok(_) => panic!("expected a settings error, got a generation"),
        }
        assert_eq!(inner.0.load(Ordering::SeqCst), 0, "nothing was sent");
    }
}
