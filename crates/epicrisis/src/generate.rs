//! `epicrisis generate`.

use crate::Failure;
use crate::cli::{GenerateArgs, LayoutArg, OutputFormat};
use epicrisis_pipeline::engine::Outcome;
use epicrisis_pipeline::{Layout, TextFormat};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

pub fn layout(l: LayoutArg) -> Layout {
    match l {
        LayoutArg::Paragraph => Layout::Paragraph,
        LayoutArg::Sections => Layout::Sections,
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn run(args: GenerateArgs, env_file: Option<&std::path::Path>) -> Result<ExitCode, Failure> {
    let t0 = Instant::now();
    if args.episode == "-" && std::io::stdin().is_terminal() {
        return Err(Failure::Input(
            "waiting for an episode on standard input; pass a file path instead of `-`, or pipe the JSON in".into(),
        ));
    }
    let episode = crate::input::episode(&args.episode)?;
    let t_read = t0.elapsed();
    let layout = layout(args.layout);
    let (_, config) = crate::config::load(env_file, Some(&args.model))?;
    let engine_kind = crate::engine::choose(args.engine, &config)?;
    let engine = crate::engine::open(engine_kind, &args.model, &config, layout)?;
    let format = if args.format == OutputFormat::Markdown {
        TextFormat::Markdown
    } else {
        TextFormat::Plain
    };
    // Show the model's words on a terminal while it writes.
    let live = engine_kind != crate::cli::Engine::Deterministic && std::io::stderr().is_terminal();
    // Each stage on its own line, then the answer's words: an answer the check rejects
    // is followed by the next attempt's line.
    let outcome = engine.draft(&episode, layout, format, |p| {
        if !live {
            return;
        }
        match (p.stage(), p.text()) {
            (Some(stage), _) => eprint!("\n[{}] ", stage.describe_es()),
            (None, Some(t)) => eprint!("{t}"),
            (None, None) => {}
        }
    })?;
    if live {
        eprintln!();
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Text | OutputFormat::Markdown => {
            out.write_all(outcome.text.as_bytes())?;
            text_summary(&outcome, &episode);
        }
        OutputFormat::Json => {
            let timings = Timings {
                read: t_read,
                total: t0.elapsed(),
                load_ms: engine.load_ms(),
            };
            let v = json_answer(&outcome, engine_kind, &timings)?;
            serde_json::to_writer_pretty(&mut out, &v).map_err(anyhow::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the text formats say on standard error after the draft: the check's verdict,
/// the model's attempts and the parts it wrote, and the warnings about the data.
fn text_summary(outcome: &Outcome, episode: &epicrisis_domain::Episode) {
    let report = &outcome.report;
    let errors = report.error_count();
    let warnings = report.findings.len() - errors;
    eprintln!(
        "validación: {} — {errors} error(es), {warnings} advertencia(s){}",
        if report.ok {
            "sin errores"
        } else {
            "CON ERRORES"
        },
        if report.findings.is_empty() {
            ""
        } else {
            "; detalle con --format json o `epicrisis validate`"
        }
    );
    if let Some(attempts) = &outcome.attempts {
        let origins: Vec<String> = outcome
            .draft
            .parts
            .iter()
            .filter(|p| p.origin != epicrisis_pipeline::Origin::Deterministic)
            .map(|p| format!("{:?}: {:?}", p.id, p.origin).to_lowercase())
            .collect();
        eprintln!(
            "modelo: {} intento(s); {}",
            attempts.len(),
            origins.join(", ")
        );
    }
    for w in episode
        .warnings
        .iter()
        .filter(|w| w.kind != epicrisis_domain::WarningKind::Normalised)
    {
        eprintln!("aviso sobre los datos: {}", w.message_es);
    }
}

/// The times `--format json` reports besides the engine's own.
struct Timings {
    read: std::time::Duration,
    total: std::time::Duration,
    load_ms: f64,
}

fn value<T: serde::Serialize>(x: &T) -> Result<serde_json::Value, Failure> {
    Ok(serde_json::to_value(x).map_err(anyhow::Error::from)?)
}

/// `--format json`: the text, the check, the times, the parts with their origin, the
/// evidence, and the model's provenance, attempts and narrative when a model wrote.
fn json_answer(
    outcome: &Outcome,
    engine_kind: crate::cli::Engine,
    t: &Timings,
) -> Result<serde_json::Value, Failure> {
    let parts: Vec<_> = outcome
        .draft
        .parts
        .iter()
        .map(|p| json!({"id": p.id, "title": p.title, "origin": p.origin}))
        .collect();
    let mut timings = json!({
        "read": ms(t.read),
        "generate": round(outcome.generate_ms),
        "validate": round(outcome.validate_ms),
        "total": ms(t.total),
    });
    if let Some(m) = &outcome.timings {
        timings["load"] = json!(round(t.load_ms));
        timings["prompt_tokens"] = json!(m.prompt_tokens);
        timings["cached_prompt_tokens"] = json!(m.cached_prompt_tokens);
        timings["prompt"] = json!(round(m.prompt_ms));
        timings["generated_tokens"] = json!(m.generated_tokens);
        timings["generation"] = json!(round(m.generation_ms));
        timings["validate"] = json!(round(m.validation_ms));
        timings["attempts"] = json!(m.attempts);
    }
    let mut v = json!({
        "text": outcome.text,
        "layout": outcome.draft.layout.as_str(),
        "engine": engine_kind.as_str(),
        "validation": outcome.report,
        "timings_ms": timings,
        "parts": parts,
        "evidence": outcome.evidence,
    });
    if let Some(p) = &outcome.provenance {
        v["provenance"] = value(p)?;
        if let Some(x) = &outcome.external {
            v["provenance"]["external"] = value(x)?;
        }
    }
    if let Some(a) = &outcome.attempts {
        v["attempts"] = value(a)?;
    }
    if let Some(n) = &outcome.narrative {
        v["narrative"] = value(n)?;
    }
    Ok(v)
}
