//! The typed configuration: [`Config`] from the raw settings, one validating step per
//! group (engine, local model, sampling, embeddings, server, providers).

use super::{Raw, Secret};
use crate::Failure;
use epicrisis_llm::llama::{FlashAttention, LlamaConfig};
use epicrisis_llm::{Family, SamplingSettings};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which engine drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    Local,
    Deterministic,
    OpenAi,
    Anthropic,
}

impl ModelType {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Local => "local",
            ModelType::Deterministic => "deterministic",
            ModelType::OpenAi => "openai",
            ModelType::Anthropic => "anthropic",
        }
    }
}

/// An external provider's settings.
#[derive(Debug, Clone)]
pub struct Provider {
    pub api_key: Option<Secret>,
    pub model: Option<String>,
    pub base_url: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `MODEL_TYPE`; `None` when not set (commands pick their own default).
    pub model_type: Option<ModelType>,
    pub models_dir: PathBuf,
    /// `LOCAL_LLM_PATH`, when set.
    pub local_llm_path: Option<PathBuf>,
    pub llama: LlamaConfigTemplate,
    pub sampling: SamplingSettings,
    pub embeddings_model: Option<String>,
    pub embeddings_type: String,
    pub openai: Provider,
    pub anthropic: Provider,
    pub allow_external: bool,
    pub database_url: String,
    pub listen: SocketAddr,
    pub hf_endpoint: String,
    pub hf_token: Option<Secret>,
    /// `HOSPITAL_NAME`, for exported documents.
    pub hospital_name: Option<String>,
    /// `HOSPITAL_LOGO`, a file for exported documents.
    pub hospital_logo: Option<PathBuf>,
    /// `EPICRISIS_QUEUE_SIZE`: generation jobs that may wait behind the running one.
    pub queue_size: usize,
    /// `EPICRISIS_JOB_LEASE_SECONDS`: how long a worker that stopped answering keeps its
    /// job before another worker takes it over.
    pub job_lease_seconds: u32,
    /// `EPICRISIS_SECURE_COOKIES`: mark session cookies `Secure` (behind HTTPS); always on
    /// with `tls`.
    pub secure_cookies: bool,
    /// `EPICRISIS_TLS_CERT_FILE` and `EPICRISIS_TLS_KEY_FILE`: `serve` speaks HTTPS itself.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `EPICRISIS_SESSION_HOURS`.
    pub session_hours: u32,
    /// `EPICRISIS_TRUSTED_PROXIES`: addresses or ranges of the reverse proxies in front
    /// of `serve` (comma-separated); empty: `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<epicrisis_server::client::IpNet>,
    /// The audit trail's key and anchor file (`EPICRISIS_AUDIT_*`).
    pub audit: super::AuditSettings,
    /// Where episodes come from besides files: the FHIR or SQL source, the HL7 listener,
    /// the pull schedule (`EPICRISIS_SOURCE*`, `EPICRISIS_MLLP_LISTEN`, `EPICRISIS_PULL_*`).
    pub sources: super::SourceSettings,
    /// `EPICRISIS_MAX_CONNECTIONS`, `EPICRISIS_HEADER_TIMEOUT_SECONDS`,
    /// `EPICRISIS_BODY_TIMEOUT_SECONDS` (see `epicrisis_server::listen`).
    pub limits: epicrisis_server::listen::Limits,
    /// `EPICRISIS_V1_MAX_TOKENS`, `EPICRISIS_V1_TOKENS_PER_HOUR`.
    pub v1: epicrisis_server::openai::budget::V1Limits,
    /// Logs and metrics (`EPICRISIS_LOG*`, `EPICRISIS_METRICS_*`).
    pub observability: super::ObservabilitySettings,
    /// The hospital's directory for logins (`EPICRISIS_LDAP_*`); `None`: local accounts.
    pub directory: Option<epicrisis_server::directory::DirectoryConfig>,
}

/// llama.cpp settings without the model path (resolved later).
#[derive(Debug, Clone)]
pub struct LlamaConfigTemplate {
    pub context_size: u32,
    pub batch_size: u32,
    pub draft_tokens: u32,
    /// `EPICRISIS_PARALLEL`: drafts decoded together (sequences in one context).
    pub parallel: u32,
    pub flash_attention: FlashAttention,
    pub threads: Option<u32>,
    pub gpu_layers: u32,
    pub template: Option<Family>,
    pub memory_limit: Option<u64>,
}

impl LlamaConfigTemplate {
    pub fn with_path(&self, path: PathBuf) -> LlamaConfig {
        let mut c = LlamaConfig::new(path);
        c.context_size = self.context_size;
        c.batch_size = self.batch_size;
        c.draft_tokens = self.draft_tokens;
        c.parallel = self.parallel;
        c.flash_attention = self.flash_attention;
        c.threads = self.threads;
        c.gpu_layers = self.gpu_layers;
        c.template = self.template;
        c.memory_limit = self.memory_limit;
        c
    }
}

/// The certificate and key files for HTTPS in `serve`: both or neither.
fn tls_files(raw: &Raw) -> Result<Option<(PathBuf, PathBuf)>, Failure> {
    let cert = raw.string("EPICRISIS_TLS_CERT_FILE").map(PathBuf::from);
    let key = raw.string("EPICRISIS_TLS_KEY_FILE").map(PathBuf::from);
    match (cert, key) {
        (Some(c), Some(k)) => Ok(Some((c, k))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Failure::Input(format!(
            "{}: falta EPICRISIS_TLS_KEY_FILE, el archivo PEM con la clave privada del certificado",
            raw.name_of("EPICRISIS_TLS_CERT_FILE")
        ))),
        (None, Some(_)) => Err(Failure::Input(format!(
            "{}: falta EPICRISIS_TLS_CERT_FILE, el archivo PEM con el certificado (y su cadena)",
            raw.name_of("EPICRISIS_TLS_KEY_FILE")
        ))),
    }
}

pub(super) fn bool_value(raw: &Raw, key: &str) -> Result<bool, Failure> {
    match raw.string(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "si" | "sí" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(_) => Err(raw.bad(key, "true o false")),
    }
}

fn url_value(raw: &Raw, key: &str, default: &str) -> Result<String, Failure> {
    let v = raw.string(key).unwrap_or_else(|| default.to_string());
    if !(v.starts_with("http://") || v.starts_with("https://")) {
        return Err(raw.bad(key, "una URL http:// o https://"));
    }
    Ok(v.trim_end_matches('/').to_string())
}

impl Config {
    /// Builds the configuration from raw settings.
    pub fn from_raw(raw: &Raw) -> Result<Config, Failure> {
        let server = ServerSettings::from_raw(raw)?;
        let tls = tls_files(raw)?;
        let secret = |k: &str| raw.string(k).map(Secret);
        Ok(Config {
            audit: super::AuditSettings::from_raw(raw, &server.database_url)?,
            sources: super::SourceSettings::from_raw(raw)?,
            observability: super::ObservabilitySettings::from_raw(raw)?,
            directory: super::directory::from_raw(raw)?,
            limits: server.limits,
            v1: v1_limits(raw)?,
            trusted_proxies: server.trusted_proxies,
            queue_size: server.queue_size,
            job_lease_seconds: server.job_lease_seconds,
            session_hours: server.session_hours,
            // Behind HTTPS of its own, cookies are always Secure.
            secure_cookies: bool_value(raw, "EPICRISIS_SECURE_COOKIES")? || tls.is_some(),
            tls,
            model_type: model_type(raw)?,
            models_dir: PathBuf::from(
                raw.string("EPICRISIS_MODELS_DIR")
                    .unwrap_or_else(|| "models".into()),
            ),
            local_llm_path: raw.string("LOCAL_LLM_PATH").map(PathBuf::from),
            llama: llama_settings(raw)?,
            sampling: sampling_settings(raw)?,
            embeddings_model: raw.string("EMBEDDINGS_MODEL"),
            embeddings_type: embeddings_type(raw)?,
            openai: Provider {
                api_key: secret("OPENAI_API_KEY"),
                model: raw.string("OPENAI_MODEL"),
                base_url: url_value(raw, "OPENAI_BASE_URL", "https://api.openai.com/v1")?,
            },
            anthropic: Provider {
                api_key: secret("ANTHROPIC_API_KEY"),
                model: raw.string("ANTHROPIC_MODEL"),
                base_url: url_value(raw, "ANTHROPIC_BASE_URL", "https://api.anthropic.com")?,
            },
            allow_external: bool_value(raw, "EPICRISIS_ALLOW_EXTERNAL")?,
            database_url: server.database_url,
            listen: server.listen,
            hf_endpoint: url_value(raw, "HF_ENDPOINT", "https://huggingface.co")?,
            hf_token: secret("HF_TOKEN"),
            hospital_name: raw.string("HOSPITAL_NAME"),
            hospital_logo: raw.string("HOSPITAL_LOGO").map(PathBuf::from),
        })
    }

    /// The GGUF model to run: `LOCAL_LLM_PATH`, else the default installed model.
    /// The embeddings model folder: `EMBEDDINGS_MODEL` as a path when it is one, else a
    /// catalogue name under `<models>/embeddings/` (multilingual-e5-small by default).
    pub fn embeddings_dir(&self) -> PathBuf {
        match &self.embeddings_model {
            Some(m)
                if Path::new(m).is_dir()
                    || m.contains('/') && !m.contains("://") && Path::new(m).exists() =>
            {
                Path::new(m).to_path_buf()
            }
            Some(m) if Path::new(m).exists() => Path::new(m).to_path_buf(),
            Some(m) => self
                .models_dir
                .join("embeddings")
                .join(m.rsplit('/').next().unwrap_or(m)),
            None => self
                .models_dir
                .join("embeddings")
                .join("multilingual-e5-small"),
        }
    }

    pub fn resolve_llm_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.local_llm_path {
            return Some(p.clone());
        }
        crate::models_cmd::default_installed_llm(&self.models_dir)
    }
}

/// `MODEL_TYPE`, with the names people write for each engine.
fn model_type(raw: &Raw) -> Result<Option<ModelType>, Failure> {
    let model_type = match raw.string("MODEL_TYPE").map(|v| v.to_ascii_lowercase()) {
        None => None,
        Some(v) => Some(match v.as_str() {
            "local" | "llama" | "llamacpp" => ModelType::Local,
            "deterministic" | "none" => ModelType::Deterministic,
            "openai" => ModelType::OpenAi,
            "anthropic" | "claude" => ModelType::Anthropic,
            _ => return Err(raw.bad("MODEL_TYPE", "local, deterministic, openai o anthropic")),
        }),
    };
    Ok(model_type)
}

/// The local model's settings (`EPICRISIS_CONTEXT_SIZE`, `…_BATCH_SIZE`, `…_DRAFT_TOKENS`,
/// `…_PARALLEL`,
/// `…_FLASH_ATTENTION`, `…_THREADS`, `…_GPU_LAYERS`, `…_CHAT_TEMPLATE`, `…_MEMORY_LIMIT_MB`).
fn llama_settings(raw: &Raw) -> Result<LlamaConfigTemplate, Failure> {
    let mut llama = LlamaConfigTemplate {
        context_size: 4096,
        batch_size: 512,
        draft_tokens: 8,
        parallel: 1,
        flash_attention: FlashAttention::Auto,
        threads: None,
        gpu_layers: 0,
        template: None,
        memory_limit: None,
    };
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_CONTEXT_SIZE",
        "un número entero de tokens entre 512 y 131072",
        |v| (512..=131072).contains(v),
    )? {
        llama.context_size = v;
    }
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_BATCH_SIZE",
        "un número entero entre 1 y 8192",
        |v| (1..=8192).contains(v),
    )? {
        llama.batch_size = v;
    }
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_DRAFT_TOKENS",
        "un número entero entre 0 (un token por paso) y 64",
        |v| *v <= 64,
    )? {
        llama.draft_tokens = v;
    }
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_PARALLEL",
        "un número entero de redacciones simultáneas entre 1 y 64",
        |v| (1..=epicrisis_llm::llama::MAX_PARALLEL).contains(v),
    )? {
        llama.parallel = v;
    }
    if let Some(v) = raw.string("EPICRISIS_FLASH_ATTENTION") {
        llama.flash_attention = FlashAttention::parse(&v)
            .ok_or_else(|| raw.bad("EPICRISIS_FLASH_ATTENTION", "auto, on u off"))?;
    }
    llama.threads = raw.parse::<u32>(
        "EPICRISIS_THREADS",
        "un número entero de hilos de CPU entre 1 y 1024",
        |v| (1..=1024).contains(v),
    )?;
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_GPU_LAYERS",
        "un número entero de capas (0 = solo CPU)",
        |v| *v <= 1000,
    )? {
        llama.gpu_layers = v;
    }
    if let Some(v) = raw.string("EPICRISIS_CHAT_TEMPLATE")
        && v != "auto"
    {
        llama.template = Some(Family::parse(&v).ok_or_else(|| {
            raw.bad(
                "EPICRISIS_CHAT_TEMPLATE",
                "auto, chatml, llama3, mistral, zephyr, gemma o raw",
            )
        })?);
    }
    llama.memory_limit = raw
        .parse::<u64>(
            "EPICRISIS_MEMORY_LIMIT_MB",
            "un número entero de megabytes",
            |v| *v > 0,
        )?
        .map(|mb| mb * 1_000_000);
    Ok(llama)
}

/// Sampling (`MAX_TOKENS`, `TEMPERATURE`, `TOP_P`, `EPICRISIS_TOP_K`,
/// `EPICRISIS_REPEAT_PENALTY`, `EPICRISIS_SEED`).
fn sampling_settings(raw: &Raw) -> Result<SamplingSettings, Failure> {
    let mut sampling = SamplingSettings::default();
    if let Some(v) = raw.parse::<u32>("MAX_TOKENS", "un número entero entre 1 y 32768", |v| {
        (1..=32768).contains(v)
    })? {
        sampling.max_tokens = v;
    }
    if let Some(v) = raw.parse::<f32>("TEMPERATURE", "un número entre 0.0 y 5.0", |v| {
        (0.0..=5.0).contains(v)
    })? {
        sampling.temperature = v;
    }
    if let Some(v) = raw.parse::<f32>(
        "TOP_P",
        "un número mayor que 0.0 y menor o igual a 1.0",
        |v| *v > 0.0 && *v <= 1.0,
    )? {
        sampling.top_p = v;
    }
    if let Some(v) = raw.parse::<i32>(
        "EPICRISIS_TOP_K",
        "un número entero (0 lo desactiva)",
        |v| *v >= 0,
    )? {
        sampling.top_k = v;
    }
    if let Some(v) = raw.parse::<f32>(
        "EPICRISIS_REPEAT_PENALTY",
        "un número mayor que 0.0 y menor o igual a 5.0 (1.0 = desactivado)",
        |v| *v > 0.0 && *v <= 5.0,
    )? {
        sampling.repeat_penalty = v;
    }
    if let Some(v) = raw.parse::<u32>(
        "EPICRISIS_SEED",
        "un número entero entre 0 y 4294967295",
        |_| true,
    )? {
        sampling.seed = v;
    }
    Ok(sampling)
}

/// `EMBEDDINGS_TYPE`: `local` (default) or `none`.
fn embeddings_type(raw: &Raw) -> Result<String, Failure> {
    let embeddings_type = raw
        .string("EMBEDDINGS_TYPE")
        .unwrap_or_else(|| "local".into())
        .to_ascii_lowercase();
    if !matches!(embeddings_type.as_str(), "local" | "none") {
        return Err(raw.bad("EMBEDDINGS_TYPE", "local o none"));
    }
    Ok(embeddings_type)
}

/// What `epicrisis serve` and the workers read.
struct ServerSettings {
    listen: SocketAddr,
    database_url: String,
    queue_size: usize,
    job_lease_seconds: u32,
    session_hours: u32,
    trusted_proxies: Vec<epicrisis_server::client::IpNet>,
    limits: epicrisis_server::listen::Limits,
}

/// The connection limits of `serve`.
fn connection_limits(raw: &Raw) -> Result<epicrisis_server::listen::Limits, Failure> {
    let defaults = epicrisis_server::listen::Limits::default();
    let seconds = |key: &str, max: u64, default: Duration| -> Result<Duration, Failure> {
        Ok(raw
            .parse::<u64>(
                key,
                &format!("un número entero de segundos entre 1 y {max}"),
                |v| (1..=max).contains(v),
            )?
            .map_or(default, Duration::from_secs))
    };
    Ok(epicrisis_server::listen::Limits {
        max_connections: raw
            .parse::<usize>(
                "EPICRISIS_MAX_CONNECTIONS",
                "un número entero de conexiones entre 8 y 100000",
                |v| (8..=100_000).contains(v),
            )?
            .unwrap_or(defaults.max_connections),
        header_timeout: seconds(
            "EPICRISIS_HEADER_TIMEOUT_SECONDS",
            600,
            defaults.header_timeout,
        )?,
        body_timeout: seconds(
            "EPICRISIS_BODY_TIMEOUT_SECONDS",
            3600,
            defaults.body_timeout,
        )?,
        drain: defaults.drain,
    })
}

/// What `/v1` allows one request and one user.
fn v1_limits(raw: &Raw) -> Result<epicrisis_server::openai::budget::V1Limits, Failure> {
    let defaults = epicrisis_server::openai::budget::V1Limits::default();
    Ok(epicrisis_server::openai::budget::V1Limits {
        max_tokens: raw
            .parse::<u32>(
                "EPICRISIS_V1_MAX_TOKENS",
                "un número entero de tokens entre 16 y 32768",
                |v| (16..=32_768).contains(v),
            )?
            .unwrap_or(defaults.max_tokens),
        tokens_per_hour: raw
            .parse::<u64>(
                "EPICRISIS_V1_TOKENS_PER_HOUR",
                "un número entero de tokens por hora (0: sin límite)",
                |_| true,
            )?
            .unwrap_or(defaults.tokens_per_hour),
    })
}

impl ServerSettings {
    fn from_raw(raw: &Raw) -> Result<ServerSettings, Failure> {
        let listen = match raw.string("EPICRISIS_LISTEN") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(v) => v.parse().map_err(|_| {
                raw.bad(
                    "EPICRISIS_LISTEN",
                    "una dirección y un puerto, como 127.0.0.1:3000",
                )
            })?,
        };
        let database_url = raw
            .string("DATABASE_URL")
            .unwrap_or_else(|| "sqlite:epicrisis.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(raw.bad(
                "DATABASE_URL",
                "sqlite:RUTA o postgres://usuario:contraseña@servidor/base_de_datos",
            ));
        }
        let queue_size = raw
            .parse::<u32>(
                "EPICRISIS_QUEUE_SIZE",
                "un número entero de trabajos entre 1 y 1000",
                |v| (1..=1000).contains(v),
            )?
            .unwrap_or(8) as usize;
        let job_lease_seconds = raw
            .parse::<u32>(
                "EPICRISIS_JOB_LEASE_SECONDS",
                "un número entero de segundos entre 2 y 3600",
                |v| (2..=3600).contains(v),
            )?
            .unwrap_or(30);
        let session_hours = raw
            .parse::<u32>(
                "EPICRISIS_SESSION_HOURS",
                "un número entero de horas entre 1 y 168",
                |v| (1..=168).contains(v),
            )?
            .unwrap_or(12);
        let trusted_proxies = match raw.string("EPICRISIS_TRUSTED_PROXIES") {
            Some(v) => epicrisis_server::client::parse_list(&v).map_err(|e| {
                raw.bad(
                    "EPICRISIS_TRUSTED_PROXIES",
                    &format!(
                        "direcciones o rangos separados por comas, p. ej. 10.0.0.5,10.1.0.0/16 ({e})"
                    ),
                )
            })?,
            None => Vec::new(),
        };
        Ok(ServerSettings {
            limits: connection_limits(raw)?,
            listen,
            database_url,
            queue_size,
            job_lease_seconds,
            session_hours,
            trusted_proxies,
        })
    }
}
