//! `epicrisis bench`: how fast a local model drafts on this machine, and what this
//! program costs on top of llama.cpp.

use crate::Failure;
use crate::cli::{BenchArgs, ReportFormat};
use epicrisis_llm::llama::LlamaGenerator;
use epicrisis_llm::{ChatMessage, GenerationRequest, Generator, SamplingSettings};
use epicrisis_pipeline::grounded::{PipelineOptions, Strategy, draft_with_model};
use epicrisis_pipeline::{Layout, Origin};
use serde_json::json;
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
    // Speed: alternate bare loop and ours, keep the best of two runs each (noisy machine).
    let mut bare_pp: f64 = 0.0;
    let mut bare_tg: f64 = 0.0;
    let mut our_pp: f64 = 0.0;
    let mut our_tg: f64 = 0.0;
    let mut measured_tokens = args.prompt_tokens;
    for _ in 0..2 {
        let (pp, tg, n) = ours(&generator, args.prompt_tokens, args.gen_tokens)?;
        our_pp = our_pp.max(pp);
        our_tg = our_tg.max(tg);
        measured_tokens = n;
        let (pp, tg) = generator
            .bare_loop(n, args.gen_tokens)
            .map_err(|e| Failure::Internal(anyhow::anyhow!(e)))?;
        bare_pp = bare_pp.max(pp);
        bare_tg = bare_tg.max(tg);
    }
    // Seconds per epicrisis over dev records (the first one pays for the cold prefix).
    let bytes = std::fs::read(&args.dataset)
        .map_err(|e| Failure::Input(format!("{}: {e}", args.dataset.display())))?;
    let records = epicrisis_ingest::read_dataset(&bytes, &args.dataset.display().to_string())?;
    let opts = PipelineOptions {
        layout: Layout::Paragraph,
        strategy: Strategy::Narrative,
        sampling: settings.sampling.clone(),
        repair_rounds: 2,
        avoid: Vec::new(),
        retrieval: Default::default(),
        style_examples: Vec::new(),
        known_vectors: None,
    };
    let mut secs = Vec::new();
    let mut prompt_tokens = 0u32;
    let mut cached = 0u32;
    let mut generated = 0u32;
    let mut attempts = 0u32;
    let mut fallbacks = 0u32;
    for r in records.iter().take(args.records.max(1)) {
        let t = Instant::now();
        let d = draft_with_model(&generator, &r.episode, &opts, |_| {})
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
    // Prefix reuse: the same first-draft prompt, cold and warm.
    let ep = &records[0].episode;
    let msgs = epicrisis_pipeline::grounded::first_messages(ep, Strategy::Narrative);
    let timing = |reuse: bool| -> Result<(f64, u32), Failure> {
        let mut req = GenerationRequest::new(
            msgs.clone(),
            SamplingSettings {
                max_tokens: 1,
                ..settings.sampling.clone()
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
    let (cold_ms, _) = timing(false)?;
    let (warm_ms, warm_cached) = timing(true)?;
    let peak = peak_rss_bytes();
    let summary = json!({
        "model": info,
        "threads": settings.llama.threads,
        "load_s": load_s,
        "speed": {
            "prompt_tokens_per_s": {"epicrisis": our_pp, "bare_llama_cpp": bare_pp, "ratio": our_pp / bare_pp},
            "generation_tokens_per_s": {"epicrisis": our_tg, "bare_llama_cpp": bare_tg, "ratio": our_tg / bare_tg},
            "prompt_tokens": measured_tokens, "generated_tokens": args.gen_tokens,
        },
        "epicrisis": {
            "records": secs.len(),
            "seconds_mean": secs.iter().sum::<f64>() / n,
            "seconds_median": sorted[sorted.len() / 2],
            "prompt_tokens_mean": f64::from(prompt_tokens) / n,
            "cached_prompt_tokens_mean": f64::from(cached) / n,
            "generated_tokens_mean": f64::from(generated) / n,
            "attempts_mean": f64::from(attempts) / n,
            "fallbacks": fallbacks,
        },
        "prefix_reuse": {"cold_prompt_ms": cold_ms, "warm_prompt_ms": warm_ms, "cached_tokens": warm_cached, "saving": 1.0 - warm_ms / cold_ms},
        "peak_rss_bytes": peak,
    });
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&summary).map_err(anyhow::Error::from)?
        )?,
        ReportFormat::Text => {
            writeln!(
                out,
                "model: {} ({}, {}), {} threads, loaded in {load_s:.1} s",
                info.name,
                info.quantization.as_deref().unwrap_or("?"),
                info.template,
                info.threads.unwrap_or(0)
            )?;
            writeln!(
                out,
                "prompt processing ({measured_tokens} tokens): {our_pp:.1} tok/s; bare llama.cpp loop {bare_pp:.1} tok/s (ratio {:.3})",
                our_pp / bare_pp
            )?;
            writeln!(
                out,
                "generation (at that depth): {our_tg:.1} tok/s; bare llama.cpp loop {bare_tg:.1} tok/s (ratio {:.3})",
                our_tg / bare_tg
            )?;
            writeln!(
                out,
                "epicrisis over {} dev records: {:.2} s mean, {:.2} s median; {:.0} prompt tokens ({:.0} cached), {:.0} generated, {:.2} model calls each; {fallbacks} fallbacks",
                secs.len(),
                secs.iter().sum::<f64>() / n,
                sorted[sorted.len() / 2],
                f64::from(prompt_tokens) / n,
                f64::from(cached) / n,
                f64::from(generated) / n,
                f64::from(attempts) / n
            )?;
            writeln!(
                out,
                "prefix reuse: first-draft prompt {cold_ms:.0} ms cold, {warm_ms:.0} ms with {warm_cached} cached tokens (saves {:.0} %)",
                100.0 * (1.0 - warm_ms / cold_ms)
            )?;
            if let Some(p) = peak {
                writeln!(
                    out,
                    "peak memory (RSS): {}",
                    epicrisis_llm::system::human_bytes(p)
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
