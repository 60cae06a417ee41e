//! Picks and runs the drafting engine: the deterministic writer, or a local model through
//! the grounded pipeline.

use crate::Failure;
use crate::cli::{Engine, ModelArgs, StrategyArg};
use crate::config::{Config, ModelType};
use epicrisis_domain::Episode;
use epicrisis_llm::llama::LlamaGenerator;
use epicrisis_pipeline::grounded::{
    Attempt, PipelineOptions, Provenance, Strategy, Timings, draft_with_model,
};
use epicrisis_pipeline::{Draft, Layout, TextFormat, writer};
use epicrisis_validate::Report;
use std::time::Instant;

/// A ready engine (a local model is loaded once and reused).
pub enum Ready {
    Deterministic,
    Local {
        generator: Box<LlamaGenerator>,
        options: PipelineOptions,
        load_ms: f64,
    },
}

/// One draft and everything known about how it was made.
pub struct Outcome {
    pub draft: Draft,
    pub text: String,
    pub report: Report,
    pub attempts: Option<Vec<Attempt>>,
    pub provenance: Option<Provenance>,
    pub timings: Option<Timings>,
    pub generate_ms: f64,
    pub validate_ms: f64,
}

/// The engine to use: the flag, else `MODEL_TYPE`, else a local model when one resolves,
/// else the deterministic writer (said on standard error).
pub fn choose(flag: Option<Engine>, config: &Config) -> Result<Engine, Failure> {
    if let Some(e) = flag {
        return Ok(e);
    }
    match config.model_type {
        Some(ModelType::Local) => Ok(Engine::Local),
        Some(ModelType::Deterministic) => Ok(Engine::Deterministic),
        Some(t @ (ModelType::OpenAi | ModelType::Anthropic)) => Err(Failure::Input(format!(
            "MODEL_TYPE={} (external provider) is not available in this version; use MODEL_TYPE=local or deterministic",
            t.as_str()
        ))),
        None => {
            if config.resolve_llm_path().is_some() {
                Ok(Engine::Local)
            } else {
                eprintln!(
                    "aviso: no hay un modelo local configurado ni instalado en {}; se usa la redacción determinista (vea `epicrisis models download`)",
                    config.models_dir.display()
                );
                Ok(Engine::Deterministic)
            }
        }
    }
}

/// Loads the engine.
pub fn open(
    engine: Engine,
    args: &ModelArgs,
    config: &Config,
    layout: Layout,
) -> Result<Ready, Failure> {
    match engine {
        Engine::Deterministic => Ok(Ready::Deterministic),
        Engine::Local => {
            let settings = crate::config::local(config)?;
            let t = Instant::now();
            let generator =
                LlamaGenerator::load(settings.llama).map_err(|e| Failure::Input(e.to_string()))?;
            let options = PipelineOptions {
                layout,
                strategy: match args.strategy {
                    StrategyArg::Narrative => Strategy::Narrative,
                    StrategyArg::Full => Strategy::Full,
                },
                sampling: settings.sampling,
                repair_rounds: args.repair_rounds,
            };
            Ok(Ready::Local {
                generator: Box::new(generator),
                options,
                load_ms: t.elapsed().as_secs_f64() * 1e3,
            })
        }
    }
}

impl Ready {
    /// Drafts one episode; `on_text` sees the model's words as they arrive.
    pub fn draft(
        &self,
        ep: &Episode,
        layout: Layout,
        format: TextFormat,
        on_text: impl FnMut(&str),
    ) -> Result<Outcome, Failure> {
        let t = Instant::now();
        match self {
            Ready::Deterministic => {
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
                    timings: None,
                    generate_ms,
                    validate_ms,
                })
            }
            Ready::Local {
                generator, options, ..
            } => {
                let mut opts = options.clone();
                opts.layout = layout;
                let g = draft_with_model(generator.as_ref(), ep, &opts, on_text).map_err(|e| {
                    Failure::Internal(anyhow::anyhow!("the local model failed: {e}"))
                })?;
                // Markdown is rendered from the same parts.
                let text = if format == TextFormat::Plain {
                    g.text.clone()
                } else {
                    g.draft.render(format)
                };
                let report = if format == TextFormat::Plain {
                    g.report.clone()
                } else {
                    epicrisis_validate::validate(ep, &text)
                };
                Ok(Outcome {
                    draft: g.draft,
                    text,
                    report,
                    attempts: Some(g.attempts),
                    provenance: Some(g.provenance),
                    validate_ms: g.timings.validation_ms,
                    timings: Some(g.timings),
                    generate_ms: t.elapsed().as_secs_f64() * 1e3,
                })
            }
        }
    }

    pub fn load_ms(&self) -> f64 {
        match self {
            Ready::Deterministic => 0.0,
            Ready::Local { load_ms, .. } => *load_ms,
        }
    }
}
