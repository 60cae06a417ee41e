//! Settings, in two steps (ripgrep's way): raw strings with their origin, then a validated,
//! typed [`Config`]. Precedence: flags > environment > `.env` > defaults. Names follow the
//! models guide (`MODEL_TYPE`, `LOCAL_LLM_PATH`, `EMBEDDINGS_MODEL`, `MAX_TOKENS`…) plus
//! this program's own `EPICRISIS_…`. A wrong value names the variable, where it came from,
//! the value and what is allowed. Secrets are never printed.

use crate::Failure;
use crate::cli::ModelArgs;
use epicrisis_llm::llama::{FlashAttention, LlamaConfig};
use epicrisis_llm::{Family, SamplingSettings};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    DotEnv { path: PathBuf, line: usize },
    Env,
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::DotEnv { path, line } => write!(f, "{} línea {line}", path.display()),
            Origin::Env => f.write_str("entorno"),
            Origin::Flag(name) => write!(f, "opción {name}"),
        }
    }
}

/// Every setting this program reads: (name, what it is). Unknown `EPICRISIS_` names in a
/// `.env` file are reported with the closest known one.
pub const KNOWN: &[(&str, &str)] = &[
    ("MODEL_TYPE", "local, deterministic, openai o anthropic"),
    ("LOCAL_LLM_PATH", "el archivo del modelo GGUF"),
    (
        "EMBEDDINGS_MODEL",
        "carpeta o nombre en el catálogo de un modelo de embeddings",
    ),
    ("EMBEDDINGS_TYPE", "local o none"),
    ("MAX_TOKENS", "máximo de tokens por redacción"),
    ("TEMPERATURE", "temperatura de muestreo"),
    ("TOP_P", "muestreo de núcleo (top-p)"),
    ("OPENAI_API_KEY", "secreto"),
    ("OPENAI_MODEL", "nombre del modelo de OpenAI"),
    (
        "OPENAI_BASE_URL",
        "URL de un servidor compatible con OpenAI",
    ),
    ("ANTHROPIC_API_KEY", "secreto"),
    ("ANTHROPIC_MODEL", "nombre del modelo de Anthropic"),
    ("ANTHROPIC_BASE_URL", "URL de la API de Anthropic"),
    ("HF_ENDPOINT", "URL del hub de Hugging Face o de un espejo"),
    ("HF_TOKEN", "secreto"),
    ("DATABASE_URL", "sqlite:RUTA o postgres://…"),
    ("EPICRISIS_MODELS_DIR", "la carpeta de modelos"),
    ("EPICRISIS_THREADS", "hilos de CPU"),
    ("EPICRISIS_CONTEXT_SIZE", "ventana de contexto en tokens"),
    ("EPICRISIS_BATCH_SIZE", "tokens por lote de decodificación"),
    (
        "EPICRISIS_DRAFT_TOKENS",
        "tokens de borrador (prompt lookup) por paso",
    ),
    ("EPICRISIS_FLASH_ATTENTION", "auto, on u off"),
    ("EPICRISIS_GPU_LAYERS", "capas que se cargan en la GPU"),
    (
        "EPICRISIS_CHAT_TEMPLATE",
        "auto o una familia de plantillas",
    ),
    ("EPICRISIS_SEED", "semilla de muestreo"),
    ("EPICRISIS_TOP_K", "muestreo top-k"),
    ("EPICRISIS_REPEAT_PENALTY", "penalización por repetición"),
    (
        "EPICRISIS_MEMORY_LIMIT_MB",
        "memoria que puede usar el modelo",
    ),
    ("EPICRISIS_LISTEN", "dirección de `epicrisis serve`"),
    (
        "EPICRISIS_QUEUE_SIZE",
        "trabajos de redacción que pueden esperar",
    ),
    (
        "EPICRISIS_JOB_LEASE_SECONDS",
        "segundos sin noticias tras los que otro proceso retoma un borrador",
    ),
    (
        "EPICRISIS_SECURE_COOKIES",
        "true detrás de HTTPS (cookies Secure)",
    ),
    ("EPICRISIS_SESSION_HOURS", "horas que dura una sesión"),
    (
        "EPICRISIS_TRUSTED_PROXIES",
        "proxies inversos cuyo X-Forwarded-For se lee",
    ),
    (
        "EPICRISIS_ALLOW_EXTERNAL",
        "true para permitir proveedores externos",
    ),
    (
        "HOSPITAL_NAME",
        "nombre del hospital en los documentos exportados",
    ),
    (
        "HOSPITAL_LOGO",
        "archivo del logo para los documentos exportados",
    ),
];

/// Settings whose values are never shown.
pub const SECRETS: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_TOKEN"];

/// A secret value: usable, never displayed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(set, {} characters)", self.0.chars().count())
    }
}

/// A parse error in a `.env` file.
fn dotenv_error(path: &Path, line: usize, msg: &str) -> Failure {
    Failure::Input(format!("{}: línea {line}: {msg}", path.display()))
}

/// The line (1-based, from `from` on) where `key` is assigned: `KEY=…` or `export KEY=…`.
fn assignment_line(lines: &[&str], from: usize, key: &str) -> Option<usize> {
    (from..lines.len()).find(|&i| {
        let l = lines[i].trim_start();
        let l = l
            .strip_prefix("export")
            .filter(|r| r.starts_with(char::is_whitespace))
            .unwrap_or(l);
        l.trim_start()
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with('='))
    })
}

/// Parses `.env` text with `dotenvy`: `KEY=VALUE`, `export KEY=VALUE`, `#` comments, single
/// or double quotes (double quotes understand `\n`, `\"`, `\\`, `\$`), `#` after a space
/// starts an inline comment in unquoted values, a value with spaces goes in quotes, and
/// `$NAME`/`${NAME}` outside single quotes is replaced by an earlier line's value or the
/// environment's. Each pair comes with its line number, for messages.
pub fn parse_dotenv(text: &str, path: &Path) -> Result<Vec<(String, String, usize)>, Failure> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    // Pairs come in file order: each is looked for after the previous one's line.
    let mut next = 0;
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((key, value)) => {
                let line = assignment_line(&lines, next, &key).unwrap_or(next);
                if key.contains('.') {
                    return Err(dotenv_error(
                        path,
                        line + 1,
                        &format!("{key:?} no es un nombre de variable (letras, dígitos y _)"),
                    ));
                }
                // dotenvy replaces `$NAME` outside single quotes: a password with a `$`
                // would change without a word. Refused, with the fix.
                let raw = lines
                    .get(line)
                    .and_then(|l| l.split_once('='))
                    .map_or("", |(_, v)| v.trim());
                if raw.contains('$') && !raw.starts_with('\'') {
                    return Err(dotenv_error(
                        path,
                        line + 1,
                        &format!(
                            "el valor de {key} tiene un $, que se reemplazaría por otra \
                             variable; escríbalo entre comillas simples ('…') para guardarlo \
                             tal cual"
                        ),
                    ));
                }
                next = line + 1;
                out.push((key, value, line + 1));
            }
            Err(dotenvy::Error::LineParse(bad, _)) => {
                // The first line with content after the last pair read is where the bad
                // entry starts (`bad` is that entry, or only its value).
                let line = (next..lines.len())
                    .find(|&i| {
                        let t = lines[i].trim();
                        !t.is_empty() && !t.starts_with('#')
                    })
                    .unwrap_or(next);
                let shown = lines.get(line).map_or("", |l| l.trim());
                let shown = shown.strip_prefix("export ").unwrap_or(shown).trim_start();
                let msg = match shown.split_once('=') {
                    // Not shown: a line without `=` may be a pasted secret.
                    None => "la línea no tiene la forma NOMBRE=VALOR".to_string(),
                    Some((key, _))
                        if key.trim().is_empty()
                            || !key
                                .trim()
                                .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                            || !key
                                .trim()
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                    {
                        format!(
                            "{:?} no es un nombre de variable (letras, dígitos y _)",
                            key.trim()
                        )
                    }
                    Some((_, value)) => {
                        let value = value.trim();
                        if value.starts_with('"') && bad.matches('"').count() % 2 == 1 {
                            "el valor abre comillas dobles que nunca se cierran".to_string()
                        } else if value.starts_with('\'') && bad.matches('\'').count() % 2 == 1 {
                            "el valor abre una comilla simple que nunca se cierra".to_string()
                        } else {
                            // The value is not shown: it may be a password.
                            format!(
                                "no se entiende el valor de {} (un valor con espacios va \
                                 entre comillas; \\ solo antecede a n, \\, \", ' o $)",
                                shown.split_once('=').map_or("", |(k, _)| k.trim())
                            )
                        }
                    }
                };
                return Err(dotenv_error(path, line + 1, &msg));
            }
            Err(e) => {
                return Err(Failure::Input(format!("{}: {e}", path.display())));
            }
        }
    }
    Ok(out)
}

/// Raw settings: name → (value, origin), with the `.env` warnings.
#[derive(Debug, Default, Clone)]
pub struct Raw {
    values: BTreeMap<String, (String, Origin)>,
    pub warnings: Vec<String>,
    pub env_file: Option<PathBuf>,
}

impl Raw {
    /// Reads `.env` (the given file, which must exist, or `./.env` when present), then the
    /// environment on top.
    pub fn load(env_file: Option<&Path>) -> Result<Raw, Failure> {
        let mut r = Raw::default();
        let path = match env_file {
            Some(p) => {
                if !p.is_file() {
                    return Err(Failure::Input(format!(
                        "--env-file {}: el archivo no existe",
                        p.display()
                    )));
                }
                Some(p.to_path_buf())
            }
            None => Some(PathBuf::from(".env")).filter(|p| p.is_file()),
        };
        if let Some(p) = &path {
            let bytes = std::fs::read(p)
                .map_err(|e| Failure::Input(format!("{}: no se pudo leer: {e}", p.display())))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| Failure::Input(format!("{}: no es texto UTF-8", p.display())))?;
            for (k, v, line) in parse_dotenv(&text, p)? {
                let near = KNOWN
                    .iter()
                    .map(|(n, _)| (strsim::levenshtein(&k, n), *n))
                    .min();
                let known = near.is_some_and(|(d, _)| d == 0);
                // Our own prefix, or a near miss of a known name (LOCAL_LLM_PAHT): a
                // setting the user meant and that would otherwise be silently ignored.
                if !known && (k.starts_with("EPICRISIS_") || near.is_some_and(|(d, _)| d <= 2)) {
                    let hint = near
                        .filter(|(d, _)| *d <= 4)
                        .map(|(_, n)| format!(" (¿quiso decir {n}?)"))
                        .unwrap_or_default();
                    r.warnings.push(format!(
                        "{} línea {line}: variable desconocida {k}{hint}; se ignora",
                        p.display()
                    ));
                }
                r.values.insert(
                    k,
                    (
                        v,
                        Origin::DotEnv {
                            path: p.clone(),
                            line,
                        },
                    ),
                );
            }
        }
        r.env_file = path;
        for (k, _) in KNOWN {
            if let Ok(v) = std::env::var(k)
                && !v.trim().is_empty()
            {
                r.values.insert((*k).to_string(), (v, Origin::Env));
            }
        }
        Ok(r)
    }

    /// Applies a flag value (flags win).
    pub fn flag(&mut self, key: &str, flag: &'static str, value: Option<String>) {
        if let Some(v) = value {
            self.values.insert(key.to_string(), (v, Origin::Flag(flag)));
        }
    }

    /// Applies the local-model flags.
    pub fn apply_model_args(&mut self, a: &ModelArgs) {
        self.flag(
            "LOCAL_LLM_PATH",
            "--model",
            a.model.as_ref().map(|p| p.display().to_string()),
        );
        self.flag(
            "MAX_TOKENS",
            "--max-tokens",
            a.max_tokens.map(|v| v.to_string()),
        );
        self.flag(
            "TEMPERATURE",
            "--temperature",
            a.temperature.map(|v| v.to_string()),
        );
        self.flag("TOP_P", "--top-p", a.top_p.map(|v| v.to_string()));
        self.flag("EPICRISIS_TOP_K", "--top-k", a.top_k.map(|v| v.to_string()));
        self.flag(
            "EPICRISIS_REPEAT_PENALTY",
            "--repeat-penalty",
            a.repeat_penalty.map(|v| v.to_string()),
        );
        self.flag("EPICRISIS_SEED", "--seed", a.seed.map(|v| v.to_string()));
        self.flag(
            "EPICRISIS_THREADS",
            "--threads",
            a.threads.map(|v| v.to_string()),
        );
        self.flag(
            "EPICRISIS_CONTEXT_SIZE",
            "--context-size",
            a.context_size.map(|v| v.to_string()),
        );
        self.flag(
            "EPICRISIS_BATCH_SIZE",
            "--batch-size",
            a.batch_size.map(|v| v.to_string()),
        );
        self.flag(
            "EPICRISIS_DRAFT_TOKENS",
            "--draft-tokens",
            a.draft_tokens.map(|v| v.to_string()),
        );
        self.flag(
            "EPICRISIS_FLASH_ATTENTION",
            "--flash-attention",
            a.flash_attention.clone(),
        );
        self.flag(
            "EPICRISIS_GPU_LAYERS",
            "--gpu-layers",
            a.gpu_layers.map(|v| v.to_string()),
        );
        self.flag("EPICRISIS_CHAT_TEMPLATE", "--template", a.template.clone());
        self.flag(
            "EPICRISIS_MEMORY_LIMIT_MB",
            "--memory-limit-mb",
            a.memory_limit_mb.map(|v| v.to_string()),
        );
    }

    pub fn get(&self, key: &str) -> Option<&(String, Origin)> {
        self.values.get(key)
    }

    /// Every set value, secrets hidden, for `doctor`.
    pub fn describe(&self) -> Vec<(String, String, String)> {
        self.values
            .iter()
            .map(|(k, (v, o))| {
                let shown = if SECRETS.contains(&k.as_str()) {
                    format!("definida ({} caracteres, oculta)", v.chars().count())
                } else if k == "DATABASE_URL" {
                    redact_url(v)
                } else {
                    v.clone()
                };
                (k.clone(), shown, o.to_string())
            })
            .collect()
    }

    fn name_of(&self, key: &str) -> String {
        match self.get(key) {
            Some((_, Origin::Flag(f))) => (*f).to_string(),
            Some((_, Origin::DotEnv { path, line })) => {
                format!("{key} ({} línea {line})", path.display())
            }
            _ => key.to_string(),
        }
    }

    fn bad(&self, key: &str, allowed: &str) -> Failure {
        let v = self.get(key).map(|(v, _)| v.as_str()).unwrap_or("");
        let shown = if SECRETS.contains(&key) {
            "(oculto)".to_string()
        } else {
            format!("{v:?}")
        };
        Failure::Input(format!(
            "{}={shown} no es válido: se espera {allowed}",
            self.name_of(key)
        ))
    }

    fn parse<T: FromStr>(
        &self,
        key: &str,
        allowed: &str,
        check: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, Failure> {
        let Some((v, _)) = self.get(key) else {
            return Ok(None);
        };
        match v.trim().parse::<T>() {
            Ok(x) if check(&x) => Ok(Some(x)),
            _ => Err(self.bad(key, allowed)),
        }
    }

    fn string(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|(v, _)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

/// Hides the password of a URL (`postgres://user:***@host/db`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

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
    /// `EPICRISIS_SECURE_COOKIES`: mark session cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// `EPICRISIS_SESSION_HOURS`.
    pub session_hours: u32,
    /// `EPICRISIS_TRUSTED_PROXIES`: addresses or ranges of the reverse proxies in front
    /// of `serve` (comma-separated); empty: `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<epicrisis_server::client::IpNet>,
}

/// llama.cpp settings without the model path (resolved later).
#[derive(Debug, Clone)]
pub struct LlamaConfigTemplate {
    pub context_size: u32,
    pub batch_size: u32,
    pub draft_tokens: u32,
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
        c.flash_attention = self.flash_attention;
        c.threads = self.threads;
        c.gpu_layers = self.gpu_layers;
        c.template = self.template;
        c.memory_limit = self.memory_limit;
        c
    }
}

fn bool_value(raw: &Raw, key: &str) -> Result<bool, Failure> {
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
        let mut llama = LlamaConfigTemplate {
            context_size: 4096,
            batch_size: 512,
            draft_tokens: 8,
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
        let mut sampling = SamplingSettings::default();
        if let Some(v) =
            raw.parse::<u32>("MAX_TOKENS", "un número entero entre 1 y 32768", |v| {
                (1..=32768).contains(v)
            })?
        {
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
        let embeddings_type = raw
            .string("EMBEDDINGS_TYPE")
            .unwrap_or_else(|| "local".into())
            .to_ascii_lowercase();
        if !matches!(embeddings_type.as_str(), "local" | "none") {
            return Err(raw.bad("EMBEDDINGS_TYPE", "local o none"));
        }
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
        let secret = |k: &str| raw.string(k).map(Secret);
        Ok(Config {
            trusted_proxies,
            queue_size,
            job_lease_seconds,
            session_hours,
            secure_cookies: bool_value(raw, "EPICRISIS_SECURE_COOKIES")?,
            model_type,
            models_dir: PathBuf::from(
                raw.string("EPICRISIS_MODELS_DIR")
                    .unwrap_or_else(|| "models".into()),
            ),
            local_llm_path: raw.string("LOCAL_LLM_PATH").map(PathBuf::from),
            llama,
            sampling,
            embeddings_model: raw.string("EMBEDDINGS_MODEL"),
            embeddings_type,
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
            database_url,
            listen,
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

/// Loads everything (the global `--env-file`, then the command's model flags).
pub fn load(
    env_file: Option<&Path>,
    model_args: Option<&ModelArgs>,
) -> Result<(Raw, Config), Failure> {
    let mut raw = Raw::load(env_file)?;
    if let Some(a) = model_args {
        raw.apply_model_args(a);
    }
    for w in &raw.warnings {
        eprintln!("aviso: {w}");
    }
    let config = Config::from_raw(&raw)?;
    Ok((raw, config))
}

/// Local-model settings for `generate`/`eval`/`bench`.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub llama: LlamaConfig,
    pub sampling: SamplingSettings,
}

/// Builds the local-model configuration, resolving the model file.
pub fn local(config: &Config) -> Result<LocalSettings, Failure> {
    let path = config.resolve_llm_path().ok_or_else(|| {
        Failure::Input(format!(
            "no hay un modelo local configurado: use --model PATH.gguf, defina LOCAL_LLM_PATH o instale uno en {} (`epicrisis models download`, o `epicrisis models import FILE.gguf` si ya tiene el archivo)",
            config.models_dir.display()
        ))
    })?;
    Ok(LocalSettings {
        llama: config.llama.with_path(path),
        sampling: config.sampling.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_syntax() {
        let text = "# comment\nMODEL_TYPE=local\nexport TEMPERATURE=0.5  # inline\nOPENAI_API_KEY=\"sk-a\\\"b\"\nLOCAL_LLM_PATH='./models/llm/x y.gguf'\n\nEMPTY=\n";
        let v = parse_dotenv(text, Path::new(".env")).unwrap();
        let m: BTreeMap<_, _> = v
            .iter()
            .map(|(k, v, l)| (k.as_str(), (v.as_str(), *l)))
            .collect();
        assert_eq!(m["MODEL_TYPE"], ("local", 2));
        assert_eq!(m["TEMPERATURE"], ("0.5", 3));
        assert_eq!(m["OPENAI_API_KEY"].0, "sk-a\"b");
        assert_eq!(m["LOCAL_LLM_PATH"].0, "./models/llm/x y.gguf");
        assert_eq!(m["EMPTY"].0, "");
        assert!(parse_dotenv("NOEQUALS\n", Path::new(".env")).is_err());
        assert!(parse_dotenv("A=\"open\n", Path::new(".env")).is_err());
        assert!(parse_dotenv("1A=x\n", Path::new(".env")).is_err());
    }

    #[test]
    fn urls_hide_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/epi"),
            "postgres://app:***@db:5432/epi"
        );
        assert_eq!(redact_url("sqlite:epicrisis.db"), "sqlite:epicrisis.db");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret("sk-verysecret".into());
        assert!(!format!("{s:?}").contains("verysecret"));
    }

    #[test]
    fn dotenv_errors_name_the_line() {
        let err = |text: &str| match parse_dotenv(text, Path::new(".env")) {
            Err(Failure::Input(m)) => m,
            other => panic!("{text:?}: {other:?}"),
        };
        assert!(err("A=1\nNOEQUALS\n").contains(".env: línea 2: la línea no tiene la forma"));
        assert!(
            !err("A=1\nS3cr3t\n").contains("S3cr3t"),
            "a bad line is not shown"
        );
        assert!(
            !err("P=un secreto\n").contains("secreto"),
            "nor a bad value"
        );
        assert!(err("A=1\n\nB=\"open\n").contains("línea 3: el valor abre comillas dobles"));
        assert!(err("B='open\n").contains("línea 1: el valor abre una comilla simple"));
        assert!(err("1A=x\n").contains("\"1A\" no es un nombre de variable"));
        assert!(err("A.B=x\n").contains("\"A.B\" no es un nombre de variable"));
        assert!(err("# c\nHOSPITAL_NAME=Hospital Regional\n").contains("línea 2"));
        assert!(err("HOSPITAL_NAME=Hospital Regional\n").contains("entre comillas"));
    }

    #[test]
    fn dotenv_values_span_lines_and_a_dollar_needs_single_quotes() {
        // dotenvy would replace `$A` by A's value: a password with a `$` would change
        // silently, so it is refused unless single-quoted.
        let err = parse_dotenv("A='x'\nPASSWORD=ab$A\n", Path::new(".env")).unwrap_err();
        let Failure::Input(m) = err else {
            panic!("{err:?}")
        };
        assert!(
            m.contains("línea 2") && m.contains("comillas simples"),
            "{m}"
        );
        assert!(!m.contains("ab$A"), "{m}");
        let text = "A='x'\nB=\"one\ntwo\"\nexport C=plain\nD='$A'\n";
        let v = parse_dotenv(text, Path::new(".env")).unwrap();
        let got: Vec<(&str, &str, usize)> = v
            .iter()
            .map(|(k, v, l)| (k.as_str(), v.as_str(), *l))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "x", 1),
                ("B", "one\ntwo", 2),
                ("C", "plain", 4),
                ("D", "$A", 5)
            ]
        );
    }
}
