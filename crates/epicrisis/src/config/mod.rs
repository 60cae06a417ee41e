//! Settings, in two steps (ripgrep's way): raw strings with their origin, then a validated,
//! typed [`Config`]. Precedence: flags > environment > `.env` > defaults. Names follow the
//! models guide (`MODEL_TYPE`, `LOCAL_LLM_PATH`, `EMBEDDINGS_MODEL`, `MAX_TOKENS`…) plus
//! this program's own `EPICRISIS_…`. A wrong value names the variable, where it came from,
//! the value and what is allowed. Secrets are never printed.
//!
//! Here: the raw settings (`.env`, environment, flags) and loading; `settings.rs`: the
//! typed configuration, one validating step per group of settings.

use crate::Failure;
use crate::cli::ModelArgs;
use epicrisis_llm::SamplingSettings;
use epicrisis_llm::llama::LlamaConfig;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

mod audit;
mod directory;
mod observability;
mod settings;
mod sources;
pub(crate) use audit::sqlite_file;
pub use audit::{AuditSettings, KeySource, seal_failure};
pub use observability::{DEFAULT_FILTER, LogFormat, LogSettings, ObservabilitySettings};
pub use settings::{Config, LlamaConfigTemplate, ModelType, Provider};
pub use sources::SourceSettings;

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
    (
        "EPICRISIS_PARALLEL",
        "redacciones que el modelo decodifica a la vez",
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
        "EPICRISIS_V1_MAX_TOKENS",
        "tokens que puede pedir una respuesta de /v1",
    ),
    (
        "EPICRISIS_V1_TOKENS_PER_HOUR",
        "tokens por hora y usuario en /v1",
    ),
    (
        "EPICRISIS_MAX_CONNECTIONS",
        "conexiones abiertas a la vez que acepta `serve`",
    ),
    (
        "EPICRISIS_HEADER_TIMEOUT_SECONDS",
        "segundos para recibir los encabezados de una petición",
    ),
    (
        "EPICRISIS_BODY_TIMEOUT_SECONDS",
        "segundos para recibir el cuerpo de una petición",
    ),
    (
        "EPICRISIS_AUDIT_KEY_FILE",
        "archivo de la clave que sella la bitácora",
    ),
    (
        "EPICRISIS_AUDIT_ANCHOR_FILE",
        "archivo donde se anota la cabeza de la bitácora",
    ),
    (
        "EPICRISIS_AUDIT_ANCHOR_SECONDS",
        "cada cuántos segundos se anota la cabeza de la bitácora",
    ),
    (
        "EPICRISIS_TRUSTED_PROXIES",
        "proxies inversos cuyo X-Forwarded-For se lee",
    ),
    (
        "EPICRISIS_LOG",
        "qué se anota en el registro: un nivel o pares destino=nivel",
    ),
    ("EPICRISIS_LOG_FORMAT", "formato del registro: text o json"),
    (
        "EPICRISIS_METRICS_LISTEN",
        "dirección aparte para /metrics (Prometheus)",
    ),
    (
        "EPICRISIS_METRICS_TOKEN_FILE",
        "archivo con el token que envía Prometheus a /metrics",
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
    (
        "EPICRISIS_TLS_CERT_FILE",
        "certificado PEM (con su cadena) para HTTPS en serve",
    ),
    (
        "EPICRISIS_TLS_KEY_FILE",
        "clave privada PEM del certificado de HTTPS",
    ),
    ("EPICRISIS_SOURCE", "fuente de episodios: fhir o sql"),
    ("EPICRISIS_SOURCE_FHIR_URL", "URL base del servidor FHIR R4"),
    (
        "EPICRISIS_SOURCE_FHIR_TOKEN_FILE",
        "archivo con el token (bearer) del servidor FHIR",
    ),
    (
        "EPICRISIS_SOURCE_FHIR_CLIENT_ID",
        "cliente OAuth2 del servidor FHIR",
    ),
    (
        "EPICRISIS_SOURCE_FHIR_CLIENT_SECRET_FILE",
        "archivo con el secreto del cliente OAuth2",
    ),
    ("EPICRISIS_SOURCE_FHIR_TOKEN_URL", "URL de tokens OAuth2"),
    ("EPICRISIS_SOURCE_FHIR_SCOPE", "alcance (scope) OAuth2"),
    (
        "EPICRISIS_SOURCE_FHIR_EVERYTHING",
        "leer cada episodio con Encounter/$everything",
    ),
    (
        "EPICRISIS_SOURCE_SQL_URL",
        "base de datos de la fuente (postgres:// o mysql://), solo lectura",
    ),
    (
        "EPICRISIS_SOURCE_SQL_EPISODE",
        "consulta que devuelve el JSON de un episodio",
    ),
    (
        "EPICRISIS_SOURCE_SQL_MAPPING",
        "archivo TOML de consultas con columnas mapeadas a los campos del episodio",
    ),
    (
        "EPICRISIS_SOURCE_SQL_DISCHARGES",
        "consulta que lista las altas desde una fecha",
    ),
    (
        "EPICRISIS_SOURCE_TIMEOUT_SECONDS",
        "segundos de espera por respuesta de la fuente",
    ),
    (
        "EPICRISIS_SOURCE_RETRIES",
        "reintentos ante una fuente caída",
    ),
    (
        "EPICRISIS_MLLP_LISTEN",
        "dirección donde serve recibe mensajes HL7 v2 (ADT^A03)",
    ),
    (
        "EPICRISIS_PULL_EVERY_MINUTES",
        "cada cuántos minutos serve trae y redacta las altas",
    ),
    (
        "EPICRISIS_PULL_DAYS",
        "cuántos días atrás mira cada importación",
    ),
    (
        "EPICRISIS_PULL_AS",
        "cuenta de médico a cuyo nombre se piden los borradores de la fuente",
    ),
    (
        "EPICRISIS_LDAP_URL",
        "directorio para iniciar sesión: ldaps://servidor:636 o ldap://servidor:389",
    ),
    (
        "EPICRISIS_LDAP_STARTTLS",
        "true para StartTLS sobre ldap://",
    ),
    (
        "EPICRISIS_LDAP_CA_FILE",
        "certificados PEM de la CA del directorio",
    ),
    (
        "EPICRISIS_LDAP_BIND_DN",
        "DN de la cuenta de servicio que busca en el directorio",
    ),
    (
        "EPICRISIS_LDAP_BIND_PASSWORD_FILE",
        "archivo con la contraseña de la cuenta de servicio del directorio",
    ),
    (
        "EPICRISIS_LDAP_BASE_DN",
        "DN bajo el que se busca a las personas en el directorio",
    ),
    (
        "EPICRISIS_LDAP_USER_FILTER",
        "filtro LDAP que encuentra a una persona, con {u} por el usuario",
    ),
    (
        "EPICRISIS_LDAP_GROUPS",
        "grupos del directorio y sus roles: DN=rol;DN=rol",
    ),
    (
        "EPICRISIS_LDAP_MEMBERSHIP",
        "memberof o member: cómo se leen los grupos del directorio",
    ),
    (
        "EPICRISIS_LDAP_TIMEOUT_SECONDS",
        "segundos de espera por el directorio en cada inicio de sesión",
    ),
];

/// Settings whose values are never shown.
pub const SECRETS: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_TOKEN"];

/// Settings that are URLs which may hold a password: shown with it hidden.
const URLS_WITH_PASSWORDS: &[&str] = &["DATABASE_URL", "EPICRISIS_SOURCE_SQL_URL"];

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
                check_pair(&lines, line, &key, path)?;
                next = line + 1;
                out.push((key, value, line + 1));
            }
            Err(dotenvy::Error::LineParse(bad, _)) => {
                return Err(line_parse_error(&lines, next, &bad, path));
            }
            Err(e) => {
                return Err(Failure::Input(format!("{}: {e}", path.display())));
            }
        }
    }
    Ok(out)
}

/// Refuses a pair `dotenvy` read (on 0-based `line`) whose name has a dot, or whose value
/// has a `$` outside single quotes.
fn check_pair(lines: &[&str], line: usize, key: &str, path: &Path) -> Result<(), Failure> {
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
    Ok(())
}

/// The error for an entry `dotenvy` cannot parse (`bad`: the entry, or only its value),
/// at the first line with content from `next` on, saying what is wrong without showing
/// a value.
fn line_parse_error(lines: &[&str], next: usize, bad: &str, path: &Path) -> Failure {
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
    dotenv_error(path, line + 1, &msg)
}

/// Raw settings: name → (value, origin), with the `.env` warnings.
#[derive(Debug, Default, Clone)]
pub struct Raw {
    values: BTreeMap<String, (String, Origin)>,
    pub warnings: Vec<String>,
    pub env_file: Option<PathBuf>,
}

impl Raw {
    /// Settings given as pairs, as if from the environment (for tests).
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Raw {
        let mut r = Raw::default();
        for (k, v) in pairs {
            r.values
                .insert((*k).to_string(), ((*v).to_string(), Origin::Env));
        }
        r
    }

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
            "EPICRISIS_PARALLEL",
            "--parallel",
            a.parallel.map(|v| v.to_string()),
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
                } else if URLS_WITH_PASSWORDS.contains(&k.as_str()) {
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
        } else if URLS_WITH_PASSWORDS.contains(&key) {
            format!("{:?}", redact_url(v))
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

pub use epicrisis_sources::redact_url;

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
        tracing::warn!("aviso: {w}");
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
