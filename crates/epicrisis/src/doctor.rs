//! `epicrisis doctor`: the models guide's troubleshooting list as checks, each with a
//! verdict and a fix. Exit code 0 when nothing fails (warnings allowed), 1 otherwise.
//! Secrets are never shown.

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
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do (empty when nothing).
    pub fix: String,
}

fn check(
    name: &'static str,
    verdict: Verdict,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        name,
        verdict,
        detail: detail.into(),
        fix: fix.into(),
    }
}

fn cpu_flags() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    [
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_tile",
    ]
    .iter()
    .filter(|f| flags.split_whitespace().any(|x| x == **f))
    .map(|f| f.to_string())
    .collect()
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
                format!("no LOCAL_LLM_PATH and no model installed in {}", config.models_dir.display()),
                "`epicrisis models download` (or `epicrisis models import FILE.gguf` for a file you have), or set LOCAL_LLM_PATH",
            ));
            return;
        }
    };
    let p = path.display().to_string();
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            out.push(check("local model", Verdict::Fail, format!("{p}: {e}"), "check LOCAL_LLM_PATH (the path above is the one tried), or `epicrisis models list`"));
            return;
        }
    };
    if meta.is_dir() {
        out.push(check(
            "local model",
            Verdict::Fail,
            format!("{p} is a folder"),
            "point LOCAL_LLM_PATH to the .gguf file inside it",
        ));
        return;
    }
    if let Err(e) = std::fs::File::open(&path) {
        out.push(check(
            "local model",
            Verdict::Fail,
            format!("{p}: {e}"),
            format!("give the server's user read access: chmod 644 {p}"),
        ));
        return;
    }
    let header = match read_header(&path) {
        Ok(h) => h,
        Err(e) => {
            out.push(check("local model", Verdict::Fail, e.to_string(), "download the file again (`epicrisis models download`) or `epicrisis models verify`"));
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
    let est = estimate(&header, config.llama.context_size, config.llama.batch_size);
    let avail = match (available_memory(), config.llama.memory_limit) {
        (Some(a), Some(l)) => Some(a.min(l)),
        (a, l) => a.or(l),
    };
    match avail {
        Some(a) if est.total() > a => out.push(check(
            "memory",
            Verdict::Fail,
            format!("the model needs about {} ({} weights + {} context), {} available", human_bytes(est.total()), human_bytes(est.weights), human_bytes(est.kv_cache), human_bytes(a)),
            "use a smaller model (Qwen2.5-Coder-1.5B Q4_K_M, Llama 3.2 3B Q4_K_M), a lower quantization (Q4_K_M), a smaller EPICRISIS_CONTEXT_SIZE, or an external provider",
        )),
        Some(a) => out.push(check("memory", Verdict::Ok, format!("needs about {} of {} available", human_bytes(est.total()), human_bytes(a)), "")),
        None => out.push(check("memory", Verdict::Warn, "cannot read available memory", "")),
    }
}

fn database_check(config: &Config) -> Check {
    let url = &config.database_url;
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let p = Path::new(path);
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return check(
                "database",
                Verdict::Fail,
                format!("SQLite folder {} does not exist", dir.display()),
                format!(
                    "create it (`mkdir -p {}`) or change DATABASE_URL",
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
                    format!("SQLite file {} (folder writable)", p.display()),
                    "",
                )
            }
            Err(e) => check(
                "database",
                Verdict::Fail,
                format!("cannot write in {}: {e}", dir.display()),
                "give the server's user write access to that folder, or change DATABASE_URL",
            ),
        }
    } else {
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
                format!("{shown}: cannot resolve {addr}"),
                "check the host name in DATABASE_URL",
            ),
            Some(sa) => {
                match std::net::TcpStream::connect_timeout(&sa, std::time::Duration::from_secs(3)) {
                    Ok(_) => check(
                        "database",
                        Verdict::Ok,
                        format!("{shown}: PostgreSQL port reachable"),
                        "",
                    ),
                    Err(e) => check(
                        "database",
                        Verdict::Fail,
                        format!("{shown}: cannot connect to {addr}: {e}"),
                        "start PostgreSQL or correct host and port in DATABASE_URL",
                    ),
                }
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
                "{addr} is free for `epicrisis serve`{}",
                if addr.ip().is_loopback() {
                    " (this machine only)"
                } else {
                    ""
                }
            ),
            "",
        ),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => check(
            "listen address",
            Verdict::Warn,
            format!("{addr} is in use (a running `epicrisis serve`, or another program)"),
            "stop the other program or choose another EPICRISIS_LISTEN",
        ),
        Err(e) => check(
            "listen address",
            Verdict::Fail,
            format!("cannot listen on {addr}: {e}"),
            "set EPICRISIS_LISTEN to an address of this machine, e.g. 127.0.0.1:3000",
        ),
    }
}

fn embeddings_check(config: &Config) -> Check {
    if config.embeddings_type == "none" {
        return check(
            "embeddings",
            Verdict::Ok,
            "EMBEDDINGS_TYPE=none: retrieval by embeddings is off",
            "",
        );
    }
    let dir = config.embeddings_dir();
    if !dir.is_dir() {
        return check(
            "embeddings",
            Verdict::Warn,
            format!("no embeddings model at {}", dir.display()),
            "`epicrisis models download multilingual-e5-small` (or import the folder); long stays then fall back to keyword retrieval",
        );
    }
    let has = |f: &str| dir.join(f).is_file();
    let mut missing = Vec::new();
    if !has("config.json") {
        missing.push("config.json");
    }
    if !(has("model.safetensors") || has("pytorch_model.bin")) {
        missing.push("model.safetensors (or pytorch_model.bin)");
    }
    if !has("tokenizer.json") {
        missing.push("tokenizer.json");
    }
    if missing.is_empty() {
        check(
            "embeddings",
            Verdict::Ok,
            format!("{} is complete", dir.display()),
            "",
        )
    } else {
        check(
            "embeddings",
            Verdict::Fail,
            format!("{} lacks {}", dir.display(), missing.join(", ")),
            "download the model again (`epicrisis models download NAME`) or copy the missing files",
        )
    }
}

fn provider_checks(config: &Config, out: &mut Vec<Check>) {
    let engine = config
        .model_type
        .map(ModelType::as_str)
        .unwrap_or("(not set: local when a model is installed, else deterministic)");
    match config.model_type {
        Some(ModelType::OpenAi | ModelType::Anthropic) => {
            let (name, p, key) = if config.model_type == Some(ModelType::OpenAi) {
                ("OpenAI", &config.openai, "OPENAI_API_KEY")
            } else {
                ("Anthropic", &config.anthropic, "ANTHROPIC_API_KEY")
            };
            let place = if epicrisis_llm::http::is_loopback(&p.base_url) {
                "this same machine"
            } else if epicrisis_llm::http::is_private_network(&p.base_url) {
                "the hospital's internal network"
            } else {
                "outside the hospital"
            };
            out.push(check(
                "engine",
                Verdict::Warn,
                format!(
                    "MODEL_TYPE={engine}: de-identified episode text (names, RUT, phones, e-mails, addresses, episode numbers replaced; dates shifted) is sent to {name} at {} ({place})",
                    p.base_url
                ),
                "use MODEL_TYPE=local to keep all data on this server",
            ));
            if !config.allow_external {
                out.push(check(
                    "external provider",
                    Verdict::Fail,
                    format!("MODEL_TYPE={engine} but external providers are not enabled"),
                    "an administrator must set EPICRISIS_ALLOW_EXTERNAL=true deliberately",
                ));
            }
            // A hospital's own OpenAI-compatible server may run without a key.
            let key_optional = config.model_type == Some(ModelType::OpenAi)
                && epicrisis_llm::http::is_private_network(&p.base_url);
            if p.api_key.is_none() && !key_optional {
                out.push(check(
                    "external provider",
                    Verdict::Fail,
                    format!("MODEL_TYPE={engine} but {key} is not set"),
                    format!("set {key} in .env (it is never printed)"),
                ));
            }
            if p.model.is_none() {
                out.push(check(
                    "external provider",
                    Verdict::Fail,
                    format!(
                        "{}_MODEL is not set; `generate` refuses to guess the provider's model",
                        key.trim_end_matches("_API_KEY")
                    ),
                    "name the model in .env (e.g. OPENAI_MODEL=gpt-4o-mini, or the model your own server loaded)",
                ));
            }
        }
        _ => {
            out.push(check(
                "engine",
                Verdict::Ok,
                format!("MODEL_TYPE={engine}: nothing clinical leaves this server"),
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
                    format!("{} set while the engine is local: unused", set.join(" and ")),
                    "remove unused keys from .env so nobody switches data out of the server by accident",
                ));
            }
        }
    }
}

/// Runs every check.
pub fn checks(raw: Result<Raw, Failure>, env_file: Option<&Path>) -> Vec<Check> {
    let mut out = Vec::new();
    let raw = match raw {
        Ok(r) => r,
        Err(Failure::Input(m)) => {
            out.push(check(
                "configuration",
                Verdict::Fail,
                m,
                "fix the file or variable named above",
            ));
            return out;
        }
        Err(Failure::Internal(e)) => {
            out.push(check("configuration", Verdict::Fail, e.to_string(), ""));
            return out;
        }
    };
    let config = match Config::from_raw(&raw) {
        Ok(c) => {
            let source = raw
                .env_file
                .as_ref()
                .map(|p| format!("{} and the environment", p.display()))
                .unwrap_or_else(|| "the environment (no .env file)".into());
            let verdict = if raw.warnings.is_empty() {
                Verdict::Ok
            } else {
                Verdict::Warn
            };
            out.push(check(
                "configuration",
                verdict,
                format!(
                    "read from {source}; {}",
                    if raw.warnings.is_empty() {
                        "all values valid".to_string()
                    } else {
                        raw.warnings.join("; ")
                    }
                ),
                if raw.warnings.is_empty() {
                    ""
                } else {
                    "remove or correct the settings named above"
                },
            ));
            c
        }
        Err(Failure::Input(m)) => {
            out.push(check(
                "configuration",
                Verdict::Fail,
                m,
                "fix the value named above (see .env.example for what is allowed)",
            ));
            return out;
        }
        Err(Failure::Internal(e)) => {
            out.push(check("configuration", Verdict::Fail, e.to_string(), ""));
            return out;
        }
    };
    let _ = env_file;
    provider_checks(&config, &mut out);
    if config.model_type != Some(ModelType::Deterministic) {
        model_checks(&config, &mut out);
    }
    // Disk: the models folder's file system.
    match free_disk(&config.models_dir) {
        Some(b) if b < 2_000_000_000 => out.push(check(
            "disk",
            Verdict::Warn,
            format!(
                "{} free where models go ({})",
                human_bytes(b),
                config.models_dir.display()
            ),
            "free space before downloading models (a 7B model needs about 4–5 GB)",
        )),
        Some(b) => out.push(check(
            "disk",
            Verdict::Ok,
            format!(
                "{} free where models go ({})",
                human_bytes(b),
                config.models_dir.display()
            ),
            "",
        )),
        None => out.push(check(
            "disk",
            Verdict::Warn,
            "cannot measure free disk space",
            "",
        )),
    }
    let flags = cpu_flags();
    let threads = config.llama.threads.unwrap_or_else(physical_cores);
    let cpu_verdict = if flags.iter().any(|f| f == "avx2") {
        Verdict::Ok
    } else {
        Verdict::Warn
    };
    out.push(check(
        "cpu",
        cpu_verdict,
        format!(
            "{} physical cores, {threads} threads; llama.cpp will use {}",
            physical_cores(),
            if flags.is_empty() {
                "no SIMD extensions".into()
            } else {
                flags.join(", ")
            }
        ),
        if cpu_verdict == Verdict::Warn {
            "without AVX2 generation is several times slower; prefer a small model"
        } else {
            ""
        },
    ));
    let gpus = gpu_devices();
    let cuda_build = cfg!(feature = "cuda");
    let gpu = match (cuda_build, gpus.is_empty(), config.llama.gpu_layers) {
        (true, false, 0) => check(
            "gpu",
            Verdict::Warn,
            format!(
                "CUDA build, {} found, but EPICRISIS_GPU_LAYERS=0",
                gpus.join(", ")
            ),
            "set EPICRISIS_GPU_LAYERS=99 to offload the whole model",
        ),
        (true, false, n) => check(
            "gpu",
            Verdict::Ok,
            format!("CUDA build, {}; {n} layers offloaded", gpus.join(", ")),
            "",
        ),
        (true, true, _) => check(
            "gpu",
            Verdict::Warn,
            "CUDA build but no NVIDIA GPU found",
            "check the driver (`nvidia-smi`)",
        ),
        (false, _, n) if n > 0 => check(
            "gpu",
            Verdict::Warn,
            format!("EPICRISIS_GPU_LAYERS={n} but this build has no GPU support"),
            "rebuild with `cargo build --release --features cuda`, or set EPICRISIS_GPU_LAYERS=0",
        ),
        (false, false, _) => check(
            "gpu",
            Verdict::Warn,
            format!("{} present, but this is a CPU build", gpus.join(", ")),
            "rebuild with `cargo build --release --features cuda` to use it",
        ),
        (false, true, _) => check("gpu", Verdict::Ok, "CPU build, no GPU (as expected)", ""),
    };
    out.push(gpu);
    out.push(database_check(&config));
    out.push(listen_check(&config));
    out.push(embeddings_check(&config));
    out.extend(crate::models_cmd::doctor_checks(&config));
    out
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
                writeln!(out, "{mark}  {:18} {}", c.name, c.detail)?;
                if !c.fix.is_empty() {
                    writeln!(out, "       {:18} → {}", "", c.fix)?;
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
