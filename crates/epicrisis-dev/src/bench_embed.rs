//! `epicrisis-dev bench-embeddings`: how fast the embeddings backend turns text into vectors on
//! this machine, against the reference implementation (sentence-transformers on PyTorch)
//! on the same texts, batch size and thread count, in one run.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::Failure;
use crate::cli::{BenchEmbedArgs, ReportFormat};
use epicrisis_embed::{BertOptions, Role};
use serde_json::{Value, json};

/// Texts of a JSONL dataset: each record's reference epicrisis (`output`) and its notes
/// (`input.evo`), i.e. the clinical Spanish the program embeds.
pub fn dataset_texts(path: &std::path::Path) -> Result<Vec<String>, Failure> {
    let raw = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
    let mut texts = Vec::new();
    for (i, line) in raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line).map_err(|e| {
            Failure::Input(format!("{} line {}: not JSON ({e})", path.display(), i + 1))
        })?;
        for t in [&v["output"], &v["input"]["evo"]] {
            if let Some(s) = t.as_str().filter(|s| !s.trim().is_empty()) {
                texts.push(s.to_string());
            }
        }
    }
    if texts.is_empty() {
        return Err(Failure::Input(format!(
            "{}: no `output` or `input.evo` texts to embed",
            path.display()
        )));
    }
    Ok(texts)
}

pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Our backend's run on the texts.
struct Ours {
    texts: usize,
    tokens: usize,
    seconds: f64,
    load_seconds: f64,
    threads: usize,
    /// The figures as the JSON report gives them.
    json: Value,
}

/// Measures the embeddings backend against the reference and prints the figures.
pub fn run(args: BenchEmbedArgs, env_file: Option<&std::path::Path>) -> Result<ExitCode, Failure> {
    let (_, config) = crate::config::load(env_file, None)?;
    let dir = args
        .model
        .clone()
        .unwrap_or_else(|| config.embeddings_dir());
    let texts = dataset_texts(&args.dataset)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    // The reference runs first, in a child started while this process is still small:
    // Linux carries a process's peak RSS across fork+exec, so a child started after the
    // model is loaded would report our peak as its own.
    let reference = match &args.reference_python {
        None => None,
        Some(python) => Some(reference(&args, python, &dir, &texts, threads)?),
    };
    let ours = measure(&args, &dir, &refs, threads)?;

    let ratio = reference
        .as_ref()
        .and_then(|r| r["tokens_per_s"].as_f64())
        .map(|r| ours.json["tokens_per_s"].as_f64().unwrap_or(0.0) / r);
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            let report = json!({
                "model": dir.display().to_string(),
                "epicrisis": ours.json,
                "sentence_transformers": reference,
                "ratio_tokens_per_s": ratio,
            });
            writeln!(out, "{report:#}")?
        }
        ReportFormat::Text => print_text(
            &mut out,
            &dir,
            args.batch_size,
            &ours,
            reference.as_ref(),
            ratio,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads our backend, counts the tokens, warms it up on one batch and times embedding all
/// of `refs`.
fn measure(
    args: &BenchEmbedArgs,
    dir: &std::path::Path,
    refs: &[&str],
    threads: usize,
) -> Result<Ours, Failure> {
    let load_start = Instant::now();
    let embedder = crate::embedder::load(
        dir,
        BertOptions {
            max_batch: Some(args.batch_size),
            batch_tokens: Some(args.batch_size * 512),
            ..Default::default()
        },
    )?;
    let load_s = load_start.elapsed().as_secs_f64();
    let mut tokens = 0usize;
    for t in refs {
        tokens += embedder
            .count_tokens(t)
            .map_err(|e| Failure::Internal(e.into()))?
            .min(embedder.max_tokens());
    }
    let warm = &refs[..refs.len().min(args.batch_size)];
    embed(embedder.as_ref(), warm, Role::Passage)?;
    let t0 = Instant::now();
    let _vectors = embed(embedder.as_ref(), refs, Role::Passage)?;
    let ours_s = t0.elapsed().as_secs_f64();
    let json = json!({
        "texts": refs.len(),
        "tokens": tokens,
        "seconds": ours_s,
        "tokens_per_s": tokens as f64 / ours_s,
        "load_seconds": load_s,
        "peak_rss_mb": peak_rss_mb(),
        "batch_size": args.batch_size,
        "threads": threads,
    });
    Ok(Ours {
        texts: refs.len(),
        tokens,
        seconds: ours_s,
        load_seconds: load_s,
        threads,
        json,
    })
}

/// Prints the comparison as text (`--format text`).
fn print_text(
    out: &mut impl Write,
    dir: &std::path::Path,
    batch_size: usize,
    ours: &Ours,
    reference: Option<&Value>,
    ratio: Option<f64>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "embeddings throughput, {} ({} texts, {} tokens, batch {}, {} threads)",
        dir.display(),
        ours.texts,
        ours.tokens,
        batch_size,
        ours.threads
    )?;
    writeln!(
        out,
        "  epicrisis:              {:>8.1} tokens/s  {:>6.2} s  peak RSS {:>6.0} MB  (load {:.2} s)",
        ours.json["tokens_per_s"].as_f64().unwrap_or(0.0),
        ours.seconds,
        ours.json["peak_rss_mb"].as_f64().unwrap_or(0.0),
        ours.load_seconds
    )?;
    if let Some(r) = reference {
        writeln!(
            out,
            "  sentence-transformers:  {:>8.1} tokens/s  {:>6.2} s  peak RSS {:>6.0} MB  ({} tokens by its tokenizer)",
            r["tokens_per_s"].as_f64().unwrap_or(0.0),
            r["seconds"].as_f64().unwrap_or(0.0),
            r["peak_rss_mb"].as_f64().unwrap_or(0.0),
            r["tokens"]
        )?;
        writeln!(
            out,
            "  ratio (ours / reference): {:.2}x",
            ratio.unwrap_or(0.0)
        )?;
    } else {
        writeln!(out, "  (no --reference-python: the reference was not run)")?;
    }
    Ok(())
}

fn reference(
    args: &BenchEmbedArgs,
    python: &std::path::Path,
    dir: &std::path::Path,
    texts: &[String],
    threads: usize,
) -> Result<Value, Failure> {
    let file =
        std::env::temp_dir().join(format!("epicrisis-bench-texts-{}.json", std::process::id()));
    std::fs::write(
        &file,
        serde_json::to_vec(texts).map_err(|e| Failure::Internal(e.into()))?,
    )?;
    let script = args
        .reference_script
        .clone()
        .unwrap_or_else(|| PathBuf::from("tools/models/embed_reference.py"));
    // The prompt our backend puts before passages (read from the folder the same way).
    let (_, prompt) = epicrisis_embed::bert::folder_prompts(dir)
        .map_err(|e| Failure::Input(format!("{e} (--model)")))?;
    let out = Command::new(python)
        .arg(&script)
        .arg("--bench")
        .arg(dir)
        .arg("--texts")
        .arg(&file)
        .arg("--batch-size")
        .arg(args.batch_size.to_string())
        .arg("--threads")
        .arg(threads.to_string())
        .arg("--prompt")
        .arg(&prompt)
        .output();
    std::fs::remove_file(&file).ok();
    let out = out.map_err(|e| {
        Failure::Input(format!(
            "--reference-python {}: cannot run it ({e})",
            python.display()
        ))
    })?;
    if !out.status.success() {
        return Err(Failure::Input(format!(
            "the reference ({} {}) failed: {}",
            python.display(),
            script.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Failure::Internal(anyhow::anyhow!("reference output is not JSON: {e}")))
}

/// For the benchmarks: the embeddings model (`--embeddings`, else `EMBEDDINGS_MODEL`)
/// and the records of `dataset`.
pub fn for_bench(
    embeddings: Option<&std::path::Path>,
    dataset: &std::path::Path,
    env_file: Option<&std::path::Path>,
) -> Result<
    (
        std::sync::Arc<dyn epicrisis_embed::Embedder>,
        Vec<epicrisis_ingest::Record>,
    ),
    Failure,
> {
    let (_, config) = crate::config::load(env_file, None)?;
    let dir = embeddings
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| config.embeddings_dir());
    let embedder = crate::embedder::load(&dir, BertOptions::default())?;
    Ok((embedder, crate::eval::read_dataset(dataset)?))
}

/// Embeds `texts`, an embeddings failure being an internal one.
pub fn embed(
    embedder: &dyn epicrisis_embed::Embedder,
    texts: &[&str],
    role: Role,
) -> Result<Vec<Vec<f32>>, Failure> {
    embedder
        .embed(texts, role)
        .map_err(|e| Failure::Internal(e.into()))
}

/// Tokens in `text` by the embeddings model's tokenizer (a quarter of its bytes if that
/// fails), for cutting passages.
pub fn token_count(embedder: &dyn epicrisis_embed::Embedder, text: &str) -> usize {
    embedder.count_tokens(text).unwrap_or(text.len() / 4)
}
