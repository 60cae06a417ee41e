//! Settings from flags and the environment, in two steps (ripgrep's way): raw strings
//! with their origin, then a validated, typed configuration. Precedence: flags >
//! environment. A wrong value names the variable (or flag), the value and what is allowed.

use crate::Failure;
use crate::cli::ModelArgs;
use epicrisis_llm::llama::LlamaConfig;
use epicrisis_llm::{Family, SamplingSettings};
use std::path::PathBuf;
use std::str::FromStr;

/// Where a value came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
}

/// Raw settings: name → (value, origin).
#[derive(Debug, Default, Clone)]
pub struct Raw {
    values: std::collections::BTreeMap<&'static str, (String, Origin, &'static str)>,
}

impl Raw {
    fn set(
        &mut self,
        key: &'static str,
        flag: &'static str,
        value: Option<String>,
        origin: Origin,
    ) {
        if let Some(v) = value {
            self.values.insert(key, (v, origin, flag));
        }
    }

    /// Environment first, then flags on top.
    pub fn collect(args: &ModelArgs) -> Raw {
        let mut r = Raw::default();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let pairs: [(&'static str, &'static str, Option<String>); 13] = [
            (
                "LOCAL_LLM_PATH",
                "--model",
                args.model.as_ref().map(|p| p.display().to_string()),
            ),
            (
                "MAX_TOKENS",
                "--max-tokens",
                args.max_tokens.map(|v| v.to_string()),
            ),
            (
                "TEMPERATURE",
                "--temperature",
                args.temperature.map(|v| v.to_string()),
            ),
            ("TOP_P", "--top-p", args.top_p.map(|v| v.to_string())),
            (
                "EPICRISIS_TOP_K",
                "--top-k",
                args.top_k.map(|v| v.to_string()),
            ),
            (
                "EPICRISIS_REPEAT_PENALTY",
                "--repeat-penalty",
                args.repeat_penalty.map(|v| v.to_string()),
            ),
            ("EPICRISIS_SEED", "--seed", args.seed.map(|v| v.to_string())),
            (
                "EPICRISIS_THREADS",
                "--threads",
                args.threads.map(|v| v.to_string()),
            ),
            (
                "EPICRISIS_CONTEXT_SIZE",
                "--context-size",
                args.context_size.map(|v| v.to_string()),
            ),
            (
                "EPICRISIS_BATCH_SIZE",
                "--batch-size",
                args.batch_size.map(|v| v.to_string()),
            ),
            (
                "EPICRISIS_GPU_LAYERS",
                "--gpu-layers",
                args.gpu_layers.map(|v| v.to_string()),
            ),
            (
                "EPICRISIS_CHAT_TEMPLATE",
                "--template",
                args.template.clone(),
            ),
            (
                "EPICRISIS_MEMORY_LIMIT_MB",
                "--memory-limit-mb",
                args.memory_limit_mb.map(|v| v.to_string()),
            ),
        ];
        for (key, flag, value) in pairs {
            r.set(key, flag, env(key), Origin::Env);
            r.set(key, flag, value, Origin::Flag);
        }
        r
    }

    fn get(&self, key: &str) -> Option<&(String, Origin, &'static str)> {
        self.values.get(key)
    }

    fn parse<T: FromStr>(
        &self,
        key: &'static str,
        allowed: &str,
        check: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, Failure> {
        let Some((v, origin, flag)) = self.get(key) else {
            return Ok(None);
        };
        let name = match origin {
            Origin::Flag => flag.to_string(),
            Origin::Env => key.to_string(),
        };
        match v.trim().parse::<T>() {
            Ok(x) if check(&x) => Ok(Some(x)),
            _ => Err(Failure::Input(format!(
                "{name}={v:?} is not valid: expected {allowed}"
            ))),
        }
    }
}

/// Validated settings for a local model.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub llama: LlamaConfig,
    pub sampling: SamplingSettings,
}

/// Builds the local-model configuration.
pub fn local(args: &ModelArgs) -> Result<LocalSettings, Failure> {
    let raw = Raw::collect(args);
    let path: PathBuf = match raw.get("LOCAL_LLM_PATH") {
        Some((p, _, _)) => PathBuf::from(p),
        None => {
            return Err(Failure::Input(
                "no local model configured: pass --model PATH.gguf or set LOCAL_LLM_PATH (on these machines: `python3 tools/models/fetch.py qwen2.5-coder-1.5b` prints the path of a Spanish-capable model; for real users `epicrisis models download` fetches one)".into(),
            ));
        }
    };
    let mut llama = LlamaConfig::new(path);
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_CONTEXT_SIZE",
        "a whole number of tokens from 512 to 131072",
        |v| (512..=131072).contains(v),
    )? {
        llama.context_size = v;
    }
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_BATCH_SIZE",
        "a whole number from 1 to 8192",
        |v| (1..=8192).contains(v),
    )? {
        llama.batch_size = v;
    }
    llama.threads = raw.parse::<u32>(
        "EPICRISIS_THREADS",
        "a whole number of CPU threads from 1 to 1024",
        |v| (1..=1024).contains(v),
    )?;
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_GPU_LAYERS",
        "a whole number of layers (0 = CPU only)",
        |_| true,
    )? {
        llama.gpu_layers = v;
    }
    if let Some((v, origin, flag)) = raw.get("EPICRISIS_CHAT_TEMPLATE")
        && v != "auto"
    {
        llama.template = Some(Family::parse(v).ok_or_else(|| {
            let name = if *origin == Origin::Flag { *flag } else { "EPICRISIS_CHAT_TEMPLATE" };
            Failure::Input(format!("{name}={v:?} is not a template: use auto, chatml, llama3, mistral, zephyr, gemma or raw"))
        })?);
    }
    llama.memory_limit = raw
        .parse::<u64>(
            "EPICRISIS_MEMORY_LIMIT_MB",
            "a whole number of megabytes",
            |v| *v > 0,
        )?
        .map(|mb| mb * 1_000_000);
    let mut sampling = SamplingSettings::default();
    if let Some(v) = raw.parse::<u32>("MAX_TOKENS", "a whole number from 1 to 32768", |v| {
        (1..=32768).contains(v)
    })? {
        sampling.max_tokens = v;
    }
    if let Some(v) = raw.parse::<f32>("TEMPERATURE", "a number from 0.0 to 5.0", |v| {
        (0.0..=5.0).contains(v)
    })? {
        sampling.temperature = v;
    }
    if let Some(v) =
        raw.parse::<f32>("TOP_P", "a number greater than 0.0 and at most 1.0", |v| {
            *v > 0.0 && *v <= 1.0
        })?
    {
        sampling.top_p = v;
    }
    if let Some(v) = raw.parse::<i32>("EPICRISIS_TOP_K", "a whole number, 0 to disable", |v| {
        *v >= 0
    })? {
        sampling.top_k = v;
    }
    if let Some(v) = raw.parse::<f32>(
        "EPICRISIS_REPEAT_PENALTY",
        "a number greater than 0.0 and at most 5.0 (1.0 = off)",
        |v| *v > 0.0 && *v <= 5.0,
    )? {
        sampling.repeat_penalty = v;
    }
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_SEED",
        "a whole number from 0 to 4294967295",
        |_| true,
    )? {
        sampling.seed = v;
    }
    Ok(LocalSettings { llama, sampling })
}
