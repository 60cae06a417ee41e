//! `epicrisis-dev bench`: how fast a local model decodes on this machine through the whole
//! generator (queue, template, sampler, streaming), and what whole drafts cost. The reference figures (llama.cpp's own `llama-bench` at the same
//! lengths) come from `scripts/bench-llama.sh`, which runs both.

use crate::Failure;
use crate::cli::{BenchArgs, ReportFormat};
use epicrisis_llm::llama::LlamaGenerator;
use epicrisis_llm::{ChatMessage, GenerationRequest, Generator, SamplingSettings};
use epicrisis_pipeline::grounded::{PipelineOptions, Strategy, draft_with_model};
use epicrisis_pipeline::{Layout, Origin};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

/// Prompt and generation speed through the Generator (queue, template, streaming), and
/// the prompt's length in tokens (the bare loop is measured at the same length).
fn ours(
    g: &LlamaGenerator,
    prompt_tokens: usize,
    gen_tokens: usize,
) -> Result<(f64, f64, usize), Failure> {
    let sentence = "Paciente con neumonía adquirida en la comunidad tratada con ceftriaxona. ";
    // About 24 tokens per sentence for these tokenizers; the exact count is measured.
    let body = sentence.repeat(prompt_tokens / 24);
    let settings = SamplingSettings {
        max_tokens: gen_tokens as u32,
        temperature: 0.0,
        repeat_penalty: 1.0,
        ..Default::default()
    };
    let mut req = GenerationRequest::new(
        vec![ChatMessage::user(format!(
            "{body}\nEscribe una lista larga de recomendaciones al alta, numeradas, sin detenerte."
        ))],
        settings,
    );
    req.reuse_cache = false;
    let (_, s) = g
        .start(req)
        .map_err(|e| Failure::Internal(e.into()))?
        .collect()
        .map_err(|e| Failure::Internal(e.into()))?;
    Ok((
        s.prompt_tokens_per_s(),
        s.generation_tokens_per_s(),
        s.prompt_tokens as usize,
    ))
}

pub fn run(args: BenchArgs, env_file: Option<&std::path::Path>) -> Result<ExitCode, Failure> {
    let (_, config) = crate::config::load(env_file, Some(&args.model))?;
    let settings = crate::config::local(&config)?;
    let t = Instant::now();
    let generator =
        LlamaGenerator::load(settings.llama.clone()).map_err(|e| Failure::Input(e.to_string()))?;
    let load_s = t.elapsed().as_secs_f64();
    let info = generator.info();
    // Speed through the Generator (queue, template, streaming, sampler): the best of
    // --reps runs (noisy machine). The anchor is llama.cpp's own llama-bench at the same
    // lengths, run by scripts/bench-llama.sh: a loop of our own would share our overhead.
    let mut our_pp: f64 = 0.0;
    let mut our_tg: f64 = 0.0;
    let mut measured_tokens = args.prompt_tokens;
    for _ in 0..args.reps.max(1) {
        let (pp, tg, n) = ours(&generator, args.prompt_tokens, args.gen_tokens)?;
        our_pp = our_pp.max(pp);
        our_tg = our_tg.max(tg);
        measured_tokens = n;
    }
    let drafts = if args.records == 0 {
        None
    } else {
        Some(drafts(&generator, &settings.sampling, &args)?)
    };
    let report = Report {
        model: info,
        threads: settings.llama.threads,
        load_s,
        speed: Speed {
            prompt_tokens: measured_tokens,
            generated_tokens: args.gen_tokens,
            prompt_tokens_per_s: our_pp,
            generation_tokens_per_s: our_tg,
        },
        drafts,
        peak_rss_bytes: peak_rss_bytes(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
        )?,
        ReportFormat::Text => write_text(&mut out, &report)?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Report {
    model: epicrisis_llm::ModelInfo,
    threads: Option<u32>,
    load_s: f64,
    speed: Speed,
    drafts: Option<Drafts>,
    peak_rss_bytes: Option<u64>,
}

/// Decode speed at one prompt length; generation runs right after the prompt, so at a
/// depth of `prompt_tokens` (llama-bench `-p 0 -n G -d P` is the same measurement).
#[derive(Serialize)]
struct Speed {
    prompt_tokens: usize,
    generated_tokens: usize,
    prompt_tokens_per_s: f64,
    generation_tokens_per_s: f64,
}

/// Whole drafts of dev records, and what the cached prefix saves.
#[derive(Serialize)]
struct Drafts {
    records: usize,
    seconds_mean: f64,
    seconds_median: f64,
    prompt_tokens_mean: f64,
    cached_prompt_tokens_mean: f64,
    generated_tokens_mean: f64,
    attempts_mean: f64,
    fallbacks: u32,
    cold_prompt_ms: f64,
    warm_prompt_ms: f64,
    warm_cached_tokens: u32,
}

/// Seconds per epicrisis over dev records (the first one pays for the cold prefix), then
/// the same first-draft prompt decoded cold and warm.
fn drafts(
    generator: &LlamaGenerator,
    sampling: &SamplingSettings,
    args: &BenchArgs,
) -> Result<Drafts, Failure> {
    let bytes = std::fs::read(&args.dataset)
        .map_err(|e| Failure::Input(format!("{}: {e}", args.dataset.display())))?;
    let records = epicrisis_ingest::read_dataset(&bytes, &args.dataset.display().to_string())?;
    let Some(first) = records.first() else {
        return Err(Failure::Input(format!(
            "{}: no records to draft; give a JSONL dataset with at least one episode, or --records 0",
            args.dataset.display()
        )));
    };
    let opts = PipelineOptions {
        layout: Layout::Paragraph,
        strategy: Strategy::Narrative,
        sampling: sampling.clone(),
        repair_rounds: 2,
        avoid: Vec::new(),
        retrieval: Default::default(),
        style_examples: Vec::new(),
        known_vectors: None,
    };
    let mut secs = Vec::new();
    let (mut prompt_tokens, mut cached, mut generated, mut attempts, mut fallbacks) =
        (0u32, 0u32, 0u32, 0u32, 0u32);
    for r in records.iter().take(args.records) {
        let t = Instant::now();
        let d = draft_with_model(generator, &r.episode, &opts, |_| {})
            .map_err(|e| Failure::Internal(e.into()))?;
        secs.push(t.elapsed().as_secs_f64());
        prompt_tokens += d.timings.prompt_tokens;
        cached += d.timings.cached_prompt_tokens;
        generated += d.timings.generated_tokens;
        attempts += d.timings.attempts;
        fallbacks += d
            .draft
            .parts
            .iter()
            .filter(|p| p.origin == Origin::Fallback)
            .count() as u32;
    }
    let n = secs.len() as f64;
    let mut sorted = secs.clone();
    sorted.sort_by(f64::total_cmp);
    let msgs = epicrisis_pipeline::grounded::first_messages(&first.episode, Strategy::Narrative);
    let timing = |reuse: bool| -> Result<(f64, u32), Failure> {
        let mut req = GenerationRequest::new(
            msgs.clone(),
            SamplingSettings {
                max_tokens: 1,
                ..sampling.clone()
            },
        );
        req.stable_prefix_messages = 3;
        req.reuse_cache = reuse;
        let (_, s) = generator
            .start(req)
            .map_err(|e| Failure::Internal(e.into()))?
            .collect()
            .map_err(|e| Failure::Internal(e.into()))?;
        Ok((s.prompt_ms, s.cached_tokens))
    };
    let (cold_prompt_ms, _) = timing(false)?;
    let (warm_prompt_ms, warm_cached_tokens) = timing(true)?;
    Ok(Drafts {
        records: secs.len(),
        seconds_mean: secs.iter().sum::<f64>() / n,
        seconds_median: sorted[sorted.len() / 2],
        prompt_tokens_mean: f64::from(prompt_tokens) / n,
        cached_prompt_tokens_mean: f64::from(cached) / n,
        generated_tokens_mean: f64::from(generated) / n,
        attempts_mean: f64::from(attempts) / n,
        fallbacks,
        cold_prompt_ms,
        warm_prompt_ms,
        warm_cached_tokens,
    })
}

fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let info = &r.model;
    writeln!(
        out,
        "model: {} ({}, {}), {} threads, loaded in {:.1} s",
        info.name,
        info.quantization.as_deref().unwrap_or("?"),
        info.template,
        info.threads.unwrap_or(0),
        r.load_s
    )?;
    let s = &r.speed;
    writeln!(
        out,
        "prompt processing ({} tokens): {:.1} tok/s; generation ({} tokens at that depth): {:.1} tok/s",
        s.prompt_tokens, s.prompt_tokens_per_s, s.generated_tokens, s.generation_tokens_per_s
    )?;
    writeln!(
        out,
        "  (llama.cpp's own llama-bench at the same lengths: scripts/bench-llama.sh)"
    )?;
    if let Some(d) = &r.drafts {
        writeln!(
            out,
            "epicrisis over {} dev records: {:.2} s mean, {:.2} s median; {:.0} prompt tokens ({:.0} cached), {:.0} generated, {:.2} model calls each; {} fallbacks",
            d.records,
            d.seconds_mean,
            d.seconds_median,
            d.prompt_tokens_mean,
            d.cached_prompt_tokens_mean,
            d.generated_tokens_mean,
            d.attempts_mean,
            d.fallbacks
        )?;
        writeln!(
            out,
            "prefix reuse: first-draft prompt {:.0} ms cold, {:.0} ms with {} cached tokens (saves {:.0} %)",
            d.cold_prompt_ms,
            d.warm_prompt_ms,
            d.warm_cached_tokens,
            100.0 * (1.0 - d.warm_prompt_ms / d.cold_prompt_ms)
        )?;
    }
    if let Some(p) = r.peak_rss_bytes {
        writeln!(
            out,
            "peak memory (RSS): {}",
            epicrisis_llm::system::human_bytes(p)
        )?;
    }
    Ok(())
}
