//! `epicrisis-dev eval`: quality figures over a JSONL dataset.

use crate::Failure;
use crate::cli::{EvalArgs, ReportFormat};
use crate::generate::layout;
use epicrisis_domain::posology::parse_item;
use epicrisis_ingest::Record;
use epicrisis_pipeline::metrics::{code_recall, ley_coverage, rouge_l, unsupported_errors};
use epicrisis_pipeline::{Origin, TextFormat};
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

pub fn read_dataset(path: &std::path::Path) -> Result<Vec<Record>, Failure> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Input(format!("{name}: cannot read the dataset: {e}")))?;
    let records = epicrisis_ingest::read_dataset(&bytes, &name)?;
    if records.is_empty() {
        return Err(Failure::Input(format!(
            "{name}: the dataset has no records"
        )));
    }
    Ok(records)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub(crate) fn open_report(
    path: &Option<std::path::PathBuf>,
) -> Result<Option<std::io::BufWriter<std::fs::File>>, Failure> {
    match path {
        None => Ok(None),
        Some(p) => {
            let f = std::fs::File::create(p).map_err(|e| {
                Failure::Input(format!(
                    "{}: cannot create the report file: {e}",
                    p.display()
                ))
            })?;
            Ok(Some(std::io::BufWriter::new(f)))
        }
    }
}

pub fn run(args: EvalArgs, env_file: Option<&std::path::Path>) -> Result<ExitCode, Failure> {
    // A folder: episode files with reference narratives (testdata/rich/).
    let (mut records, mut narratives) = if args.dataset.is_dir() {
        crate::eval_narrative::read_folder(&args.dataset)?
    } else {
        (read_dataset(&args.dataset)?, Vec::new())
    };
    if let Some(n) = args.limit {
        records.truncate(n);
        narratives.truncate(n);
    }
    if args.validator_only {
        crate::eval_validator::run(&args, &records, &narratives)
    } else {
        let (_, config) = crate::config::load(env_file, Some(&args.model))?;
        generation(&args, &records, &narratives, &config)
    }
}

/// Items of the compact lists (`tto`, `med`) that parse fully.
fn item_parse_rate(records: &[Record]) -> (usize, usize) {
    let mut full = 0;
    let mut total = 0;
    for r in records {
        for m in r
            .episode
            .treatments
            .iter()
            .chain(&r.episode.discharge.medications)
        {
            if let Some(raw) = &m.raw {
                total += 1;
                if parse_item(raw).fully_parsed() {
                    full += 1;
                }
            }
        }
        for raw in r
            .episode
            .discharge
            .controls
            .iter()
            .chain(&r.episode.discharge.care)
        {
            if r.episode.shape == epicrisis_domain::SourceShape::Compact {
                total += 1;
                if parse_item(raw).fully_parsed() {
                    full += 1;
                }
            }
        }
    }
    (full, total)
}

fn generation(
    args: &EvalArgs,
    records: &[Record],
    narratives: &[(String, Option<String>)],
    config: &crate::config::Config,
) -> Result<ExitCode, Failure> {
    let mut narrative = crate::eval_narrative::NarrativeFigures::default();
    let mut report_file = open_report(&args.report)?;
    let mut found = 0usize;
    let mut total_codes = 0usize;
    let mut unsupported = 0usize;
    let mut errors = 0usize;
    let mut rouge_sum = 0.0;
    let mut rouge_n = 0usize;
    let mut ley_sum = 0usize;
    let mut ley_full = 0usize;
    let mut times = Vec::with_capacity(records.len());
    let engine = crate::engine::open(args.engine, &args.model, config, layout(args.layout))?;
    let mut repaired = 0usize;
    let mut fallbacks = 0usize;
    let mut model_parts = 0usize;
    for r in records {
        let t = Instant::now();
        let outcome = engine.draft(&r.episode, layout(args.layout), TextFormat::Plain, |_| {})?;
        let (file, reference) = narratives
            .get(r.line - 1)
            .map_or((None, None), |(f, n)| (Some(f.as_str()), n.as_deref()));
        let narrative_rouge = narrative.add(&outcome, reference);
        let narrative_text = crate::eval_narrative::evolution_text(&outcome);
        let text = outcome.text;
        let report = outcome.report;
        let secs = t.elapsed().as_secs_f64();
        for p in &outcome.draft.parts {
            match p.origin {
                Origin::Model => model_parts += 1,
                Origin::Repaired => repaired += 1,
                Origin::Fallback => fallbacks += 1,
                Origin::Deterministic | Origin::Edited => {}
            }
        }
        times.push(secs);
        let recall = code_recall(&r.episode, &text);
        found += recall.found;
        total_codes += recall.total;
        let u = unsupported_errors(&report);
        unsupported += u;
        errors += report.error_count();
        let rouge = r
            .reference
            .as_deref()
            .map(|reference| rouge_l(&text, reference));
        if let Some(x) = rouge {
            rouge_sum += x;
            rouge_n += 1;
        }
        let ley = ley_coverage(&r.episode, &text, &report);
        ley_sum += ley.count();
        if ley.count() == 5 {
            ley_full += 1;
        }
        if let Some(f) = report_file.as_mut() {
            let line = json!({
                "line": r.line, "file": file, "narrative": narrative_text,
                "narrative_rouge_l": narrative_rouge, "text": text, "code_recall": recall, "unsupported": u,
                "errors": report.error_count(), "rouge_l": rouge, "ley_20584": ley,
                "seconds": secs, "findings": report.findings,
            });
            writeln!(f, "{line}")?;
        }
    }
    let n = records.len() as f64;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let (parsed, items) = item_parse_rate(records);
    let summary = json!({
        "dataset": args.dataset.display().to_string(),
        "engine": args.engine.as_str(),
        "layout": layout(args.layout).as_str(),
        "records": records.len(),
        "code_recall": {"found": found, "total": total_codes, "rate": found as f64 / total_codes.max(1) as f64},
        "unsupported_per_document": unsupported as f64 / n,
        "errors_per_document": errors as f64 / n,
        "rouge_l": if rouge_n > 0 { Some(rouge_sum / rouge_n as f64) } else { None },
        "ley_20584": {"mean_items": ley_sum as f64 / n, "complete_documents": ley_full},
        "seconds_per_document": {"mean": times.iter().sum::<f64>() / n, "median": percentile(&sorted, 0.5)},
        "items_fully_parsed": {"parsed": parsed, "total": items},
        "model_parts": {"accepted_first": model_parts, "repaired": repaired, "fallback": fallbacks},
        "narrative": (narrative.drafts > 0).then(|| narrative.summary()),
        "load_ms": engine.load_ms(),
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
                "dataset: {} ({} records), engine {}, layout {}",
                args.dataset.display(),
                records.len(),
                args.engine.as_str(),
                layout(args.layout).as_str()
            )?;
            writeln!(
                out,
                "code recall: {found}/{total_codes} ({:.1} %)",
                100.0 * found as f64 / total_codes.max(1) as f64
            )?;
            writeln!(
                out,
                "unsupported findings per document: {:.3} (all errors per document: {:.3})",
                unsupported as f64 / n,
                errors as f64 / n
            )?;
            if rouge_n > 0 {
                writeln!(
                    out,
                    "ROUGE-L F1 against the reference: {:.3} (mean of {rouge_n})",
                    rouge_sum / rouge_n as f64
                )?;
            }
            writeln!(
                out,
                "Ley 20.584 items a-e covered: {:.2}/5 on average; all five in {ley_full}/{}",
                ley_sum as f64 / n,
                records.len()
            )?;
            writeln!(
                out,
                "seconds per document: mean {:.5}, median {:.5}",
                times.iter().sum::<f64>() / n,
                percentile(&sorted, 0.5)
            )?;
            writeln!(
                out,
                "compact list items fully parsed: {parsed}/{items} ({:.1} %)",
                100.0 * parsed as f64 / items.max(1) as f64
            )?;
            if args.engine != crate::cli::Engine::Deterministic {
                writeln!(
                    out,
                    "model-written parts: {model_parts} accepted as written, {repaired} after repair, {fallbacks} replaced by the deterministic writer (model load {:.1} s)",
                    engine.load_ms() / 1e3
                )?;
            }
            narrative.print_text(&mut out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
