//! `epicrisis-fuzz`: structured fuzzing of everything that reads outside data. Seed
//! documents (the test episodes and dev records) are mutated the way hospital exports
//! go wrong (`mutate.rs`); each input goes through both readers, and what reads as an
//! episode goes on through the deterministic writer, the validator (on the draft and on
//! the input's own text), the FHIR export and its import.
//!
//! A failure is a panic, an input slower than `--max-ms`, or a validator span outside
//! its text; each is written to `--out` with the mutations that made it. The CI smoke
//! runs it for a fixed time (`scripts/test.sh`); a long run is
//! `cargo run --release -p epicrisis-fuzz -- --seconds 3600`.
//! Not shipped: the product binary does not carry it.

mod mutate;

use clap::Parser;
use epicrisis_ingest::{read_dataset, read_episode};
use epicrisis_pipeline::{Layout, TextFormat, writer};
use mutate::Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Fuzzes the episode readers, the writer, the validator and FHIR")]
struct Args {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The run's seed (a run is reproducible from it, up to the time limit).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seed documents: JSON files, JSONL files (each line a document) or folders.
    #[arg(long = "corpus", default_values = ["testdata/episodes", "testdata/rich", "testdata/dev/train.jsonl"])]
    corpus: Vec<PathBuf>,
    /// Where failing inputs are written.
    #[arg(long, default_value = "target/fuzz-failures")]
    out: PathBuf,
    /// An input that takes longer than this, in milliseconds, is a failure.
    #[arg(long, default_value_t = 10_000)]
    max_ms: u64,
    /// Runs one saved input and prints how long each stage took, instead of fuzzing.
    #[arg(long)]
    replay: Option<PathBuf>,
}

/// The message of the last panic (the hook keeps the output quiet).
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

fn load_seeds(paths: &[PathBuf]) -> anyhow::Result<Vec<Value>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| anyhow::anyhow!("{}: cannot list the folder: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "json" || x == "jsonl"))
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    let mut seeds = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("{}: cannot read the seed: {e}", f.display()))?;
        if f.extension().is_some_and(|x| x == "jsonl") {
            // A sample of the lines is enough: they share their shape.
            seeds.extend(
                text.lines()
                    .step_by(10)
                    .filter_map(|l| serde_json::from_str(l).ok()),
            );
        } else if let Ok(v) = serde_json::from_str(&text) {
            seeds.push(v);
        }
    }
    if seeds.is_empty() {
        anyhow::bail!("no seed documents in {paths:?}: pass --corpus with JSON or JSONL files");
    }
    Ok(seeds)
}

/// What one input did.
#[derive(Default)]
struct Outcome {
    read: bool,
    span_error: Option<String>,
}

fn exercise(bytes: &[u8]) -> Outcome {
    exercise_timed(bytes, &mut |_, _| {})
}

/// [`exercise`], telling `stage` how long each stage took.
fn exercise_timed(bytes: &[u8], stage: &mut dyn FnMut(&str, Duration)) -> Outcome {
    let mut t = Instant::now();
    let mut lap = |name: &str, t: &mut Instant| {
        stage(name, t.elapsed());
        *t = Instant::now();
    };
    let _ = read_dataset(bytes, "fuzz.jsonl").map(|records| records.len());
    lap("read as a dataset", &mut t);
    let read = read_episode(bytes, "fuzz.json");
    lap("read as an episode", &mut t);
    let ep = match read {
        Ok(ep) => ep,
        Err(e) => {
            // Messages are built (and must not panic) even when nobody reads them.
            let _ = e.to_string();
            return Outcome::default();
        }
    };
    let mut out = Outcome {
        read: true,
        ..Outcome::default()
    };
    let draft = writer::write(&ep, Layout::Sections).render(TextFormat::Plain);
    lap("deterministic writer", &mut t);
    // The input's own text, cut to 64 KiB, is a text to validate too.
    let raw = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
    for (name, text) in [
        ("validate the draft", &draft),
        ("validate the input's text", &raw),
    ] {
        let report = epicrisis_validate::validate(&ep, text);
        lap(name, &mut t);
        let chars = text.chars().count();
        if let Some(f) = report
            .findings
            .iter()
            .find(|f| f.span.is_some_and(|[a, b]| a > b || b > chars))
        {
            out.span_error = Some(format!(
                "span {:?} outside a text of {chars} characters",
                f.span
            ));
        }
    }
    let info = epicrisis_fhir::DocumentInfo {
        document_id: "fuzz".into(),
        timestamp: "2025-01-01T00:00:00-03:00".into(),
        status: epicrisis_fhir::CompositionStatus::Preliminary,
        title: "Epicrisis".into(),
        author: "epicrisis-fuzz".into(),
        attester: None,
        custodian: None,
        sections: Vec::new(),
    };
    let bundle = epicrisis_fhir::to_bundle(&ep, &info);
    lap("FHIR export", &mut t);
    let _ = epicrisis_fhir::from_bundle(&bundle, &mut epicrisis_fhir::PlainCodes::default());
    lap("FHIR import", &mut t);
    out
}

fn replay(path: &Path) -> anyhow::Result<usize> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the input: {e}", path.display()))?;
    let out = exercise_timed(&bytes, &mut |name, d| {
        println!("{name:28} {:>9.1} ms", d.as_secs_f64() * 1000.0);
    });
    if let Some(e) = &out.span_error {
        println!("failure: {e}");
    }
    Ok(usize::from(out.span_error.is_some()))
}

fn save(
    out: &Path,
    n: usize,
    why: &str,
    bytes: &[u8],
    applied: &[&str],
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let path = out.join(format!("failure-{n:04}.json"));
    std::fs::write(&path, bytes)?;
    std::fs::write(
        path.with_extension("txt"),
        format!("{why}\nmutations: {}\n", applied.join(", ")),
    )?;
    Ok(path)
}

/// Peak resident memory of this process, from /proc (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn run(args: &Args) -> anyhow::Result<usize> {
    let seeds = load_seeds(&args.corpus)?;
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.to_string();
        }
    }));
    let mut rng = Rng::new(args.seed);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let (mut execs, mut read, mut failures) = (0usize, 0usize, 0usize);
    let mut slowest = (Duration::ZERO, Vec::new());
    let mut largest = 0usize;
    let mut next_report = start + Duration::from_secs(60);
    while Instant::now() < deadline {
        // A line a minute on stderr, so a run stopped early still tells its figures.
        if Instant::now() >= next_report {
            eprintln!(
                "… {execs} executions, {read} read, {failures} failures, {:.0} s",
                start.elapsed().as_secs_f64()
            );
            next_report += Duration::from_secs(60);
        }
        let seed = mutate::pick(&mut rng, &seeds).clone();
        let (bytes, applied) = mutate::case(&seed, &mut rng);
        largest = largest.max(bytes.len());
        let t = Instant::now();
        let result = std::panic::catch_unwind(|| exercise(&bytes));
        let took = t.elapsed();
        execs += 1;
        let why = match result {
            Err(_) => Some(format!(
                "panic: {}",
                LAST_PANIC.lock().map(|s| s.clone()).unwrap_or_default()
            )),
            Ok(o) => {
                read += usize::from(o.read);
                o.span_error.or_else(|| {
                    (took > Duration::from_millis(args.max_ms)).then(|| {
                        format!("slow: {} ms (limit {} ms)", took.as_millis(), args.max_ms)
                    })
                })
            }
        };
        if took > slowest.0 {
            slowest = (took, applied.clone());
        }
        if let Some(why) = why {
            failures += 1;
            let path = save(&args.out, failures, &why, &bytes, &applied)?;
            eprintln!(
                "FAILURE {}: {why} (mutations: {})",
                path.display(),
                applied.join(", ")
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz: {execs} executions in {secs:.0} s ({:.1}/s), {read} read as episodes, {failures} failures",
        execs as f64 / secs.max(1e-9)
    );
    println!(
        "slowest input: {} ms ({}); largest input: {:.1} MiB; peak RSS: {}",
        slowest.0.as_millis(),
        slowest.1.join(", "),
        largest as f64 / (1024.0 * 1024.0),
        peak_rss_mib().map_or("unknown".into(), |m| format!("{m:.0} MiB"))
    );
    Ok(failures)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.replay {
        Some(p) => replay(p),
        None => run(&args),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("{n} failing inputs, written to {}", args.out.display());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
