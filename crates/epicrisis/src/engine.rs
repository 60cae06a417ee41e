//! Picks and runs the drafting engine: the deterministic writer, a local model through the
//! grounded pipeline, or an external provider through the same pipeline on de-identified
//! text.

use crate::Failure;
use crate::cli::{Engine, ModelArgs, StrategyArg};
use crate::config::{Config, ModelType};
use epicrisis_domain::Episode;
use epicrisis_llm::Generator;
use epicrisis_llm::http::{self, ApiKey, HttpSettings};
use epicrisis_llm::llama::LlamaGenerator;
use epicrisis_pipeline::engine::Engine as Drafter;
pub use epicrisis_pipeline::engine::Outcome;
use epicrisis_pipeline::grounded::{PipelineOptions, Retrieval, Strategy};
use epicrisis_pipeline::{Layout, TextFormat};
use std::sync::Arc;
use std::time::Instant;

/// A ready engine (a local model is loaded once and reused).
pub struct Ready {
    pub drafter: Drafter,
    load_ms: f64,
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
        Some(ModelType::OpenAi) => Ok(Engine::OpenAi),
        Some(ModelType::Anthropic) => Ok(Engine::Anthropic),
        None => {
            if config.resolve_llm_path().is_some() {
                Ok(Engine::Local)
            } else {
                tracing::warn!(
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
    // Retrieval and evidence run on this machine whatever the engine; the embeddings
    // model is loaded once, only for engines that write with a model.
    let retrieval = match engine {
        Engine::Deterministic => Retrieval::default(),
        _ => Retrieval {
            embedder: crate::embedder::open(config)?,
            ..Retrieval::default()
        },
    };
    let options = |sampling| PipelineOptions {
        layout,
        strategy: match args.strategy {
            StrategyArg::Narrative => Strategy::Narrative,
            StrategyArg::Full => Strategy::Full,
        },
        sampling,
        repair_rounds: args.repair_rounds,
        avoid: Vec::new(),
        retrieval: retrieval.clone(),
        style_examples: Vec::new(),
        known_vectors: None,
    };
    match engine {
        Engine::Deterministic => Ok(Ready {
            drafter: Drafter::Deterministic,
            load_ms: 0.0,
        }),
        Engine::OpenAi | Engine::Anthropic => {
            let generator = open_external(engine, config)?;
            Ok(Ready {
                drafter: Drafter::Model {
                    generator: Arc::from(generator),
                    options: options(config.sampling.clone()),
                    external: true,
                },
                load_ms: 0.0,
            })
        }
        Engine::Local => {
            let settings = crate::config::local(config)?;
            let t = Instant::now();
            let generator =
                LlamaGenerator::load(settings.llama).map_err(|e| Failure::Input(e.to_string()))?;
            Ok(Ready {
                drafter: Drafter::Model {
                    generator: Arc::new(generator),
                    options: options(settings.sampling),
                    external: false,
                },
                load_ms: t.elapsed().as_secs_f64() * 1e3,
            })
        }
    }
}

/// Opens an external provider: refused unless `EPICRISIS_ALLOW_EXTERNAL=true`; says on
/// standard error where the de-identified text goes.
fn open_external(engine: Engine, config: &Config) -> Result<Box<dyn Generator>, Failure> {
    let (provider, key_name, model_name, url_name) = match engine {
        Engine::OpenAi => (
            &config.openai,
            "OPENAI_API_KEY",
            "OPENAI_MODEL",
            "OPENAI_BASE_URL",
        ),
        _ => (
            &config.anthropic,
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_MODEL",
            "ANTHROPIC_BASE_URL",
        ),
    };
    let name = engine.as_str();
    if !config.allow_external {
        return Err(Failure::Input(format!(
            "the {name} provider sends (de-identified) clinical text to {}, outside this program; an administrator must enable it with EPICRISIS_ALLOW_EXTERNAL=true (in .env or the environment)",
            provider.base_url
        )));
    }
    let model = provider.model.clone().ok_or_else(|| {
        Failure::Input(format!(
            "{model_name} is not set: name the model the {name} provider should run (e.g. {})",
            if engine == Engine::OpenAi {
                "gpt-4o-mini, or the model name your own server loaded"
            } else {
                "claude-sonnet-4-5"
            }
        ))
    })?;
    let in_hospital = http::is_private_network(&provider.base_url);
    if provider.api_key.is_none() && (engine == Engine::Anthropic || !in_hospital) {
        return Err(Failure::Input(format!(
            "{key_name} is not set; the {name} provider at {} needs an API key ({url_name} points there)",
            provider.base_url
        )));
    }
    let mut settings = HttpSettings::new(provider.base_url.clone(), model);
    settings.api_key = provider.api_key.as_ref().map(|k| ApiKey::new(k.expose()));
    let generator: Box<dyn Generator> = match engine {
        Engine::OpenAi => Box::new(
            http::openai::open(settings).map_err(|e| Failure::Internal(anyhow::anyhow!("{e}")))?,
        ),
        _ => Box::new(
            http::anthropic::open(settings)
                .map_err(|e| Failure::Internal(anyhow::anyhow!("{e}")))?,
        ),
    };
    let place = if http::is_loopback(&provider.base_url) {
        "este mismo servidor"
    } else if in_hospital {
        "la red interna"
    } else {
        "fuera del hospital"
    };
    tracing::warn!(
        "aviso: proveedor {name} en {} ({place}); solo sale texto desidentificado (nombres, RUT, teléfonos, correos, direcciones, números de episodio y fechas reemplazados)",
        provider.base_url
    );
    Ok(generator)
}

impl Ready {
    /// Drafts one episode; `on_progress` sees each stage and the model's words as they
    /// arrive.
    pub fn draft(
        &self,
        ep: &Episode,
        layout: Layout,
        format: TextFormat,
        on_progress: impl FnMut(epicrisis_pipeline::Progress),
    ) -> Result<Outcome, Failure> {
        self.drafter
            .draft(ep, layout, format, on_progress)
            .map_err(|e| match &self.drafter {
                Drafter::Model {
                    generator,
                    external: true,
                    ..
                } => {
                    let name = generator.info().backend;
                    Failure::Internal(anyhow::anyhow!("the {name} provider failed: {e}"))
                }
                _ => Failure::Internal(anyhow::anyhow!("the local model failed: {e}")),
            })
    }

    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }
}
