//! `epicrisis doctor`: the models guide's troubleshooting list as checks, each with a
//! verdict and a fix. Exit code 0 when nothing fails (warnings allowed), 1 otherwise.
//! Secrets are never shown.
//!
//! What a person reads (the label, the detail and the fix) is Spanish. The JSON report
//! keeps its keys, the verdicts (`ok`, `warn`, `fail`) and each check's `name` (`local
//! model`, `database`…) as they were: scripts select checks by them. It adds `label`, the
//! Spanish name the text report shows.

mod audit;
mod metrics;

use crate::Failure;
use crate::cli::{DoctorArgs, ReportFormat};
use crate::config::{Config, ModelType, Raw};
use epicrisis_llm::gguf::read_header;
use epicrisis_llm::system::{available_memory, estimate, human_bytes, physical_cores};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier (English, for scripts): `configuration`, `local model`…
    pub name: &'static str,
    /// The name a person reads (Spanish), see [`label`].
    pub label: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do (empty when nothing).
    pub fix: String,
}

/// The Spanish name of a check, by its identifier.
pub fn label(name: &'static str) -> &'static str {
    match name {
        "configuration" => "configuración",
        "engine" => "motor de redacción",
        "external provider" => "proveedor externo",
        "local model" => "modelo local",
        "memory" => "memoria",
        "disk" => "disco",
        "cpu" => "cpu",
        "gpu" => "gpu",
        "database" => "base de datos",
        "audit trail" => "bitácora de auditoría",
        "listen address" => "dirección de escucha",
        "metrics" => "métricas",
        "embeddings" => "embeddings",
        "models" => "modelos",
        other => other,
    }
}

pub fn check(
    name: &'static str,
    verdict: Verdict,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        name,
        label: label(name),
        verdict,
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// An I/O error in Spanish for the common cases (the operating system's own text, in
/// English, otherwise).
fn io_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no existe".into(),
        K::PermissionDenied => "permiso denegado".into(),
        K::ConnectionRefused => "conexión rechazada (nada escucha en ese puerto)".into(),
        K::TimedOut => "sin respuesta (se agotó el tiempo de espera)".into(),
        K::AddrNotAvailable => "la dirección no pertenece a esta máquina".into(),
        K::AddrInUse => "la dirección está en uso".into(),
        K::IsADirectory => "es una carpeta".into(),
        K::ReadOnlyFilesystem => "el sistema de archivos es de solo lectura".into(),
        K::StorageFull => "el disco está lleno".into(),
        _ => e.to_string(),
    }
}

/// The CPU line: cores and threads, what the build was compiled for, and what this CPU has
/// that the build leaves aside (a native build could use it; docs/operations.md).
fn cpu_check(threads: u32) -> Check {
    use epicrisis_llm::cpu;
    let built: Vec<_> = cpu::features()
        .into_iter()
        .filter(|f| f.built && f.name.starts_with("avx"))
        .map(|f| f.name)
        .collect();
    let base = format!(
        "{} núcleos físicos, {threads} hilos; compilado para {} ({})",
        physical_cores(),
        cpu::baseline(),
        if built.is_empty() {
            "sin AVX".to_string()
        } else {
            built.join(", ")
        }
    );
    if let Err(e) = cpu::check() {
        return check(
            "cpu",
            Verdict::Fail,
            format!("{base}; a esta CPU le falta {}", e.missing.join(", ")),
            "compile en esta máquina con RUSTFLAGS=\"-C target-cpu=native\" (docs/operations.md, «CPU»)",
        );
    }
    let unused = cpu::unused();
    let wide: Vec<_> = unused.iter().filter(|f| f.starts_with("avx")).collect();
    if !built.contains(&"avx2") {
        check(
            "cpu",
            Verdict::Warn,
            base,
            "sin AVX2 la redacción es varias veces más lenta; prefiera un modelo pequeño",
        )
    } else if wide.is_empty() {
        check("cpu", Verdict::Ok, base, "")
    } else {
        check(
            "cpu",
            Verdict::Ok,
            format!(
                "{base}; esta CPU además tiene {} sin usar",
                wide.iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "una compilación nativa para esta máquina las aprovecharía (docs/operations.md, «CPU»)",
        )
    }
}

fn gpu_devices() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(dirs) = std::fs::read_dir("/proc/driver/nvidia/gpus") {
        for d in dirs.flatten() {
            let info = std::fs::read_to_string(d.path().join("information")).unwrap_or_default();
            let model = info
                .lines()
                .find(|l| l.starts_with("Model:"))
                .map(|l| l.trim_start_matches("Model:").trim().to_string())
                .unwrap_or_else(|| "NVIDIA GPU".into());
            out.push(model);
        }
    }
    out
}

fn free_disk(path: &Path) -> Option<u64> {
    // The models folder may not exist yet: measure the nearest folder that does.
    let abs = std::path::absolute(path).ok()?;
    let existing = abs.ancestors().find(|p| p.is_dir())?;
    epicrisis_models::free_space(existing).ok()
}

fn model_checks(config: &Config, out: &mut Vec<Check>) {
    let path = match config.resolve_llm_path() {
        Some(p) => p,
        None => {
            let v = if config.model_type == Some(ModelType::Local) {
                Verdict::Fail
            } else {
                Verdict::Warn
            };
            out.push(check(
                "local model",
                v,
                format!("no hay LOCAL_LLM_PATH ni un modelo instalado en {}", config.models_dir.display()),
                "`epicrisis models download` (o `epicrisis models import FILE.gguf` si ya tiene el archivo), o defina LOCAL_LLM_PATH",
            ));
            return;
        }
    };
    let p = path.display().to_string();
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            out.push(check("local model", Verdict::Fail, format!("{p}: {}", io_text(&e)), "revise LOCAL_LLM_PATH (la ruta indicada es la que se intentó abrir), o vea `epicrisis models list`"));
            return;
        }
    };
    if meta.is_dir() {
        out.push(check(
            "local model",
            Verdict::Fail,
            format!("{p} es una carpeta"),
            "haga que LOCAL_LLM_PATH apunte al archivo .gguf que está dentro de ella",
        ));
        return;
    }
    if let Err(e) = std::fs::File::open(&path) {
        out.push(check(
            "local model",
            Verdict::Fail,
            format!("{p}: {}", io_text(&e)),
            format!("dé permiso de lectura al usuario del servidor: chmod 644 {p}"),
        ));
        return;
    }
    let header = match read_header(&path) {
        Ok(h) => h,
        Err(e) => {
            out.push(check("local model", Verdict::Fail, e.to_string(), "descargue el archivo de nuevo (`epicrisis models download`) o revíselo con `epicrisis models verify`"));
            return;
        }
    };
    let sha = epicrisis_llm::llama::cached_sha256(&path);
    out.push(check(
        "local model",
        Verdict::Ok,
        format!(
            "{p}: GGUF v{}, {}, {}, {}{}",
            header.version,
            header.architecture().unwrap_or("?"),
            header.quantization(),
            human_bytes(header.file_size),
            sha.map(|h| format!(", sha256 {}…", &h[..16]))
                .unwrap_or_default()
        ),
        "",
    ));
    out.push(memory_check(config, &header));
}

/// Whether the model, with its context, fits in the memory available (or allowed).
fn memory_check(config: &Config, header: &epicrisis_llm::gguf::GgufHeader) -> Check {
    let est = estimate(header, config.llama.context_size, config.llama.batch_size);
    let avail = match (available_memory(), config.llama.memory_limit) {
        (Some(a), Some(l)) => Some(a.min(l)),
        (a, l) => a.or(l),
    };
    match avail {
        Some(a) if est.total() > a => check(
            "memory",
            Verdict::Fail,
            format!(
                "el modelo necesita unos {} ({} de pesos + {} de contexto) y hay {} disponibles",
                human_bytes(est.total()),
                human_bytes(est.weights),
                human_bytes(est.kv_cache),
                human_bytes(a)
            ),
            "use un modelo más pequeño (Qwen2.5-Coder-1.5B Q4_K_M, Llama 3.2 3B Q4_K_M), una cuantización menor (Q4_K_M), un EPICRISIS_CONTEXT_SIZE más chico o un proveedor externo",
        ),
        Some(a) => check(
            "memory",
            Verdict::Ok,
            format!(
                "necesita unos {} de {} disponibles",
                human_bytes(est.total()),
                human_bytes(a)
            ),
            "",
        ),
        None => check(
            "memory",
            Verdict::Warn,
            "no se pudo leer la memoria disponible",
            "",
        ),
    }
}

/// Whether the database `DATABASE_URL` names can be used: a writable SQLite folder, or a
/// PostgreSQL port that answers.
fn database_check(config: &Config) -> Check {
    let url = &config.database_url;
    if url.starts_with("sqlite:") {
        sqlite_check(url)
    } else {
        postgres_check(url)
    }
}

/// A SQLite database: a file (not memory) in a folder that exists and can be written.
fn sqlite_check(url: &str) -> Check {
    // The file as the store opens it (`sqlite://`, `?mode=rwc` and the like understood).
    let Some(file) = crate::config::sqlite_file(url) else {
        return check(
            "database",
            Verdict::Warn,
            "SQLite en memoria: todo lo guardado se pierde al detener el programa",
            "use un archivo, p. ej. DATABASE_URL=sqlite:data/epicrisis.db",
        );
    };
    let p = file.as_path();
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return check(
            "database",
            Verdict::Fail,
            format!("la carpeta de SQLite {} no existe", dir.display()),
            format!(
                "créela (`mkdir -p {}`) o cambie DATABASE_URL",
                dir.display()
            ),
        );
    }
    let probe = dir.join(format!(".epicrisis-write-test-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            check(
                "database",
                Verdict::Ok,
                format!(
                    "archivo SQLite {} (se puede escribir en la carpeta)",
                    p.display()
                ),
                "",
            )
        }
        Err(e) => check(
            "database",
            Verdict::Fail,
            format!("no se puede escribir en {}: {}", dir.display(), io_text(&e)),
            "dé al usuario del servidor permiso de escritura en esa carpeta, o cambie DATABASE_URL",
        ),
    }
}

/// A PostgreSQL database: its host resolves and its port accepts a connection.
fn postgres_check(url: &str) -> Check {
    // postgres://user:pass@host:port/db — reachability of host:port.
    let shown = crate::config::redact_url(url);
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
    let host_port = rest
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(rest)
        .split('/')
        .next()
        .unwrap_or("");
    let addr = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    };
    use std::net::ToSocketAddrs;
    let resolved = addr.to_socket_addrs().ok().and_then(|mut a| a.next());
    match resolved {
        None => check(
            "database",
            Verdict::Fail,
            format!("{shown}: no se pudo resolver {addr}"),
            "revise el nombre del servidor en DATABASE_URL",
        ),
        Some(sa) => {
            match std::net::TcpStream::connect_timeout(&sa, std::time::Duration::from_secs(3)) {
                Ok(_) => check(
                    "database",
                    Verdict::Ok,
                    format!("{shown}: el puerto de PostgreSQL responde"),
                    "",
                ),
                Err(e) => check(
                    "database",
                    Verdict::Fail,
                    format!("{shown}: no se pudo conectar a {addr}: {}", io_text(&e)),
                    "inicie PostgreSQL o corrija el servidor y el puerto en DATABASE_URL",
                ),
            }
        }
    }
}

/// Whether `epicrisis serve` could listen where it is told to.
fn listen_check(config: &Config) -> Check {
    let addr = config.listen;
    match std::net::TcpListener::bind(addr) {
        Ok(_) => check(
            "listen address",
            Verdict::Ok,
            format!(
                "{addr} está libre para `epicrisis serve`{}",
                if addr.ip().is_loopback() {
                    " (solo desde esta máquina)"
                } else {
                    ""
                }
            ),
            "",
        ),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => check(
            "listen address",
            Verdict::Warn,
            format!("{addr} está en uso (un `epicrisis serve` en ejecución u otro programa)"),
            "detenga el otro programa o elija otro valor para EPICRISIS_LISTEN",
        ),
        Err(e) => check(
            "listen address",
            Verdict::Fail,
            format!("no se puede escuchar en {addr}: {}", io_text(&e)),
            "defina EPICRISIS_LISTEN con una dirección de esta máquina, p. ej. 127.0.0.1:3000",
        ),
    }
}

fn embeddings_check(config: &Config) -> Check {
    if config.embeddings_type == "none" {
        return check(
            "embeddings",
            Verdict::Ok,
            "EMBEDDINGS_TYPE=none: la búsqueda por embeddings está desactivada",
            "",
        );
    }
    let dir = config.embeddings_dir();
    if !dir.is_dir() {
        return check(
            "embeddings",
            Verdict::Warn,
            format!("no hay un modelo de embeddings en {}", dir.display()),
            "`epicrisis models download multilingual-e5-small` (o importe la carpeta); sin él, en las hospitalizaciones largas se buscan los pasajes por palabras clave",
        );
    }
    let has = |f: &str| dir.join(f).is_file();
    let mut missing = Vec::new();
    if !has("config.json") {
        missing.push("config.json");
    }
    if !(has("model.safetensors") || has("pytorch_model.bin")) {
        missing.push("model.safetensors (o pytorch_model.bin)");
    }
    if !has("tokenizer.json") {
        missing.push("tokenizer.json");
    }
    if missing.is_empty() {
        check(
            "embeddings",
            Verdict::Ok,
            format!("la carpeta {} está completa", dir.display()),
            "",
        )
    } else {
        check(
            "embeddings",
            Verdict::Fail,
            format!(
                "la carpeta {} está incompleta; falta: {}",
                dir.display(),
                missing.join(", ")
            ),
            "descargue el modelo de nuevo (`epicrisis models download NAME`) o copie los archivos que faltan",
        )
    }
}

/// The engine's checks: where the episode's text goes, and whether the provider
/// settings it needs (or should not have) are there.
fn provider_checks(config: &Config, out: &mut Vec<Check>) {
    let engine = config
        .model_type
        .map(ModelType::as_str)
        .unwrap_or("(sin definir: local si hay un modelo instalado; si no, deterministic)");
    match config.model_type {
        Some(ModelType::OpenAi | ModelType::Anthropic) => external_checks(config, engine, out),
        _ => local_engine_checks(config, engine, out),
    }
}

/// An external provider: a warning that text leaves the server, and a failure for each
/// missing permission, key or model name.
fn external_checks(config: &Config, engine: &str, out: &mut Vec<Check>) {
    let (name, p, key) = if config.model_type == Some(ModelType::OpenAi) {
        ("OpenAI", &config.openai, "OPENAI_API_KEY")
    } else {
        ("Anthropic", &config.anthropic, "ANTHROPIC_API_KEY")
    };
    let place = if epicrisis_llm::http::is_loopback(&p.base_url) {
        "esta misma máquina"
    } else if epicrisis_llm::http::is_private_network(&p.base_url) {
        "la red interna del hospital"
    } else {
        "fuera del hospital"
    };
    out.push(check(
        "engine",
        Verdict::Warn,
        format!(
            "MODEL_TYPE={engine}: el texto desidentificado del episodio (con nombres, RUT, teléfonos, correos, direcciones y números de episodio reemplazados, y fechas desplazadas) se envía a {name} en {} ({place})",
            p.base_url
        ),
        "use MODEL_TYPE=local para que todos los datos se queden en este servidor",
    ));
    if !config.allow_external {
        out.push(check(
            "external provider",
            Verdict::Fail,
            format!("MODEL_TYPE={engine}, pero los proveedores externos no están habilitados"),
            "un administrador debe definir EPICRISIS_ALLOW_EXTERNAL=true de forma deliberada",
        ));
    }
    // A hospital's own OpenAI-compatible server may run without a key.
    let key_optional = config.model_type == Some(ModelType::OpenAi)
        && epicrisis_llm::http::is_private_network(&p.base_url);
    if p.api_key.is_none() && !key_optional {
        out.push(check(
            "external provider",
            Verdict::Fail,
            format!("MODEL_TYPE={engine}, pero {key} no está definida"),
            format!("defina {key} en .env (su valor nunca se muestra)"),
        ));
    }
    if p.model.is_none() {
        out.push(check(
            "external provider",
            Verdict::Fail,
            format!(
                "{}_MODEL no está definida; `generate` no adivina el modelo del proveedor",
                key.trim_end_matches("_API_KEY")
            ),
            "indique el modelo en .env (p. ej. OPENAI_MODEL=gpt-4o-mini, o el modelo que cargó su propio servidor)",
        ));
    }
}

/// A local engine: nothing leaves the server, and a warning for provider keys left set.
fn local_engine_checks(config: &Config, engine: &str, out: &mut Vec<Check>) {
    out.push(check(
        "engine",
        Verdict::Ok,
        format!("MODEL_TYPE={engine}: ningún dato clínico sale de este servidor"),
        "",
    ));
    let set: Vec<&str> = [
        ("OPENAI_API_KEY", config.openai.api_key.is_some()),
        ("ANTHROPIC_API_KEY", config.anthropic.api_key.is_some()),
    ]
    .iter()
    .filter(|(_, s)| *s)
    .map(|(k, _)| *k)
    .collect();
    if !set.is_empty() {
        out.push(check(
            "external provider",
            Verdict::Warn,
            format!(
                "{} {} con el motor local: no se {}",
                set.join(" y "),
                if set.len() > 1 { "definidas" } else { "definida" },
                if set.len() > 1 { "usan" } else { "usa" }
            ),
            "quite de .env las claves que no se usan, para que nadie envíe datos fuera del servidor por accidente",
        ));
    }
}

/// Runs every check.
pub fn checks(raw: Result<Raw, Failure>, env_file: Option<&Path>) -> Vec<Check> {
    let _ = env_file;
    let mut out = Vec::new();
    let config = match configuration(raw) {
        Ok((config, c)) => {
            out.push(c);
            config
        }
        Err(c) => return vec![c],
    };
    provider_checks(&config, &mut out);
    if config.model_type != Some(ModelType::Deterministic) {
        model_checks(&config, &mut out);
    }
    out.push(disk_check(&config));
    let threads = config.llama.threads.unwrap_or_else(physical_cores);
    out.push(cpu_check(threads));
    out.push(gpu_check(&config));
    out.push(database_check(&config));
    out.push(audit::audit_check(&config));
    out.push(listen_check(&config));
    out.push(metrics::metrics_check(&config));
    out.push(embeddings_check(&config));
    out.extend(crate::models_cmd::doctor_checks(&config));
    out
}

/// The settings read and validated, with the «configuration» check; a failed check
/// alone when they cannot be (nothing else can be checked then).
fn configuration(raw: Result<Raw, Failure>) -> Result<(Config, Check), Check> {
    let failed = |e: Failure, fix: &str| match e {
        Failure::Input(m) => check("configuration", Verdict::Fail, m, fix),
        Failure::Internal(e) => check("configuration", Verdict::Fail, e.to_string(), ""),
    };
    let raw = raw.map_err(|e| failed(e, "corrija el archivo o la variable indicados"))?;
    let config = Config::from_raw(&raw).map_err(|e| {
        failed(
            e,
            "corrija el valor indicado (en .env.example están los valores permitidos)",
        )
    })?;
    let source = raw
        .env_file
        .as_ref()
        .map(|p| format!("de {} y del entorno", p.display()))
        .unwrap_or_else(|| "del entorno (no hay archivo .env)".into());
    let c = if raw.warnings.is_empty() {
        check(
            "configuration",
            Verdict::Ok,
            format!("leída {source}; todos los valores son válidos"),
            "",
        )
    } else {
        check(
            "configuration",
            Verdict::Warn,
            format!("leída {source}; {}", raw.warnings.join("; ")),
            "quite o corrija las variables indicadas",
        )
    };
    Ok((config, c))
}

/// Free space on the models folder's file system.
fn disk_check(config: &Config) -> Check {
    let place = config.models_dir.display();
    match free_disk(&config.models_dir) {
        Some(b) if b < 2_000_000_000 => check(
            "disk",
            Verdict::Warn,
            format!(
                "{} libres donde se guardan los modelos ({place})",
                human_bytes(b)
            ),
            "libere espacio antes de descargar modelos (un modelo 7B necesita unos 4–5 GB)",
        ),
        Some(b) => check(
            "disk",
            Verdict::Ok,
            format!(
                "{} libres donde se guardan los modelos ({place})",
                human_bytes(b)
            ),
            "",
        ),
        None => check(
            "disk",
            Verdict::Warn,
            "no se pudo medir el espacio libre en disco",
            "",
        ),
    }
}

/// Whether the build, the GPUs present and `EPICRISIS_GPU_LAYERS` agree.
fn gpu_check(config: &Config) -> Check {
    let gpus = gpu_devices();
    let cuda_build = cfg!(feature = "cuda");
    match (cuda_build, gpus.is_empty(), config.llama.gpu_layers) {
        (true, false, 0) => check(
            "gpu",
            Verdict::Warn,
            format!(
                "compilación con CUDA y {} detectada, pero EPICRISIS_GPU_LAYERS=0",
                gpus.join(", ")
            ),
            "defina EPICRISIS_GPU_LAYERS=99 para cargar el modelo completo en la GPU",
        ),
        (true, false, n) => check(
            "gpu",
            Verdict::Ok,
            format!(
                "compilación con CUDA, {}; {n} capas en la GPU",
                gpus.join(", ")
            ),
            "",
        ),
        (true, true, _) => check(
            "gpu",
            Verdict::Warn,
            "compilación con CUDA, pero no se detectó ninguna GPU NVIDIA",
            "revise el controlador (`nvidia-smi`)",
        ),
        (false, _, n) if n > 0 => check(
            "gpu",
            Verdict::Warn,
            format!("EPICRISIS_GPU_LAYERS={n}, pero esta compilación no tiene soporte de GPU"),
            "vuelva a compilar con `cargo build --release --features cuda`, o defina EPICRISIS_GPU_LAYERS=0",
        ),
        (false, false, _) => check(
            "gpu",
            Verdict::Warn,
            format!(
                "hay {}, pero esta compilación es solo para CPU",
                gpus.join(", ")
            ),
            "vuelva a compilar con `cargo build --release --features cuda` para usarla",
        ),
        (false, true, _) => check(
            "gpu",
            Verdict::Ok,
            "compilación para CPU, sin GPU (lo esperado)",
            "",
        ),
    }
}

pub fn run(args: DoctorArgs, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let raw = Raw::load(env_file);
    // The values in force, secrets hidden, for the JSON report.
    let settings = raw.as_ref().map(Raw::describe).unwrap_or_default();
    let list = checks(raw, env_file);
    let failed = list.iter().any(|c| c.verdict == Verdict::Fail);
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            let settings: Vec<_> = settings
                .iter()
                .map(|(k, v, o)| serde_json::json!({"name": k, "value": v, "from": o}))
                .collect();
            let v = serde_json::json!({"ok": !failed, "checks": list, "settings": settings});
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).map_err(anyhow::Error::from)?
            )?;
        }
        ReportFormat::Text => {
            for c in &list {
                let mark = match c.verdict {
                    Verdict::Ok => "ok   ",
                    Verdict::Warn => "aviso",
                    Verdict::Fail => "FALLA",
                };
                writeln!(out, "{mark}  {:20} {}", c.label, c.detail)?;
                if !c.fix.is_empty() {
                    writeln!(out, "       {:20} → {}", "", c.fix)?;
                }
            }
            writeln!(
                out,
                "{}",
                if failed {
                    "Hay fallas: corríjalas y vuelva a ejecutar `epicrisis doctor`."
                } else {
                    "Todo en orden."
                }
            )?;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
