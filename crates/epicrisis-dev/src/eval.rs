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

/// Figures summed over the drafted records.
#[derive(Default)]
struct Totals {
    found: usize,
    total_codes: usize,
    unsupported: usize,
    errors: usize,
    rouge_sum: f64,
    rouge_n: usize,
    ley_sum: usize,
    ley_full: usize,
    /// Seconds per record, in record order.
    times: Vec<f64>,
    repaired: usize,
    fallbacks: usize,
    model_parts: usize,
}

impl Totals {
    /// The median of the seconds per record.
    fn median_seconds(&self) -> f64 {
        let mut sorted = self.times.clone();
        sorted.sort_by(f64::total_cmp);
        percentile(&sorted, 0.5)
    }
}

/// Drafts every record with the chosen engine and prints the quality figures.
fn generation(
    args: &EvalArgs,
    records: &[Record],
    narratives: &[(String, Option<String>)],
    config: &crate::config::Config,
) -> Result<ExitCode, Failure> {
    let mut narrative = crate::eval_narrative::NarrativeFigures::default();
    let mut report_file = open_report(&args.report)?;
    let mut totals = Totals {
        times: Vec::with_capacity(records.len()),
        ..Totals::default()
    };
    let engine = crate::engine::open(args.engine, &args.model, config, layout(args.layout))?;
    for r in records {
        draft_record(
            &engine,
            args,
            r,
            narratives,
            &mut narrative,
            &mut totals,
            report_file.as_mut(),
        )?;
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            let summary = summary_json(args, records, &totals, &narrative, &engine);
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&summary).map_err(anyhow::Error::from)?
            )?
        }
        ReportFormat::Text => {
            print_text(&mut out, args, records, &totals, &engine)?;
            narrative.print_text(&mut out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Drafts one record, adds its figures to `totals` and `narrative`, and writes its line to
/// the report file, if any.
fn draft_record(
    engine: &crate::engine::Ready,
    args: &EvalArgs,
    r: &Record,
    narratives: &[(String, Option<String>)],
    narrative: &mut crate::eval_narrative::NarrativeFigures,
    totals: &mut Totals,
    report_file: Option<&mut std::io::BufWriter<std::fs::File>>,
) -> Result<(), Failure> {
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
            Origin::Model => totals.model_parts += 1,
            Origin::Repaired => totals.repaired += 1,
            Origin::Fallback => totals.fallbacks += 1,
            Origin::Deterministic | Origin::Edited => {}
        }
    }
    totals.times.push(secs);
    let recall = code_recall(&r.episode, &text);
    totals.found += recall.found;
    totals.total_codes += recall.total;
    let u = unsupported_errors(&report);
    totals.unsupported += u;
    totals.errors += report.error_count();
    let rouge = r
        .reference
        .as_deref()
        .map(|reference| rouge_l(&text, reference));
    if let Some(x) = rouge {
        totals.rouge_sum += x;
        totals.rouge_n += 1;
    }
    let ley = ley_coverage(&r.episode, &text, &report);
    totals.ley_sum += ley.count();
    if ley.count() == 5 {
        totals.ley_full += 1;
    }
    if let Some(f) = report_file {
        let line = json!({
            "line": r.line, "file": file, "narrative": narrative_text,
            "narrative_rouge_l": narrative_rouge, "text": text, "code_recall": recall, "unsupported": u,
            "errors": report.error_count(), "rouge_l": rouge, "ley_20584": ley,
            "seconds": secs, "findings": report.findings,
        });
        writeln!(f, "{line}")?;
    }
    Ok(())
}

/// The summary printed with `--format json`.
fn summary_json(
    args: &EvalArgs,
    records: &[Record],
    totals: &Totals,
    narrative: &crate::eval_narrative::NarrativeFigures,
    engine: &crate::engine::Ready,
) -> serde_json::Value {
    let t = totals;
    let n = records.len() as f64;
    let (parsed, items) = item_parse_rate(records);
    json!({
        "dataset": args.dataset.display().to_string(),
        "engine": args.engine.as_str(),
        "layout": layout(args.layout).as_str(),
        "records": records.len(),
        "code_recall": {"found": t.found, "total": t.total_codes, "rate": t.found as f64 / t.total_codes.max(1) as f64},
        "unsupported_per_document": t.unsupported as f64 / n,
        "errors_per_document": t.errors as f64 / n,
        "rouge_l": if t.rouge_n > 0 { Some(t.rouge_sum / t.rouge_n as f64) } else { None },
        "ley_20584": {"mean_items": t.ley_sum as f64 / n, "complete_documents": t.ley_full},
        "seconds_per_document": {"mean": t.times.iter().sum::<f64>() / n, "median": t.median_seconds()},
        "items_fully_parsed": {"parsed": parsed, "total": items},
        "model_parts": {"accepted_first": t.model_parts, "repaired": t.repaired, "fallback": t.fallbacks},
        "narrative": (narrative.drafts > 0).then(|| narrative.summary()),
        "load_ms": engine.load_ms(),
    })
}

/// Prints the summary as text (`--format text`), but for the narrative figures.
fn print_text(
    out: &mut impl Write,
    args: &EvalArgs,
    records: &[Record],
    totals: &Totals,
    engine: &crate::engine::Ready,
) -> std::io::Result<()> {
    let t = totals;
    let n = records.len() as f64;
    let (parsed, items) = item_parse_rate(records);
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
        "code recall: {}/{} ({:.1} %)",
        t.found,
        t.total_codes,
        100.0 * t.found as f64 / t.total_codes.max(1) as f64
    )?;
    writeln!(
        out,
        "unsupported findings per document: {:.3} (all errors per document: {:.3})",
        t.unsupported as f64 / n,
        t.errors as f64 / n
    )?;
    if t.rouge_n > 0 {
        writeln!(
            out,
            "ROUGE-L F1 against the reference: {:.3} (mean of {})",
            t.rouge_sum / t.rouge_n as f64,
            t.rouge_n
        )?;
    }
    writeln!(
        out,
        "Ley 20.584 items a-e covered: {:.2}/5 on average; all five in {}/{}",
        t.ley_sum as f64 / n,
        t.ley_full,
        records.len()
    )?;
    writeln!(
        out,
        "seconds per document: mean {:.5}, median {:.5}",
        t.times.iter().sum::<f64>() / n,
        t.median_seconds()
    )?;
    writeln!(
        out,
        "compact list items fully parsed: {parsed}/{items} ({:.1} %)",
        100.0 * parsed as f64 / items.max(1) as f64
    )?;
    if args.engine != crate::cli::Engine::Deterministic {
        writeln!(
            out,
            "model-written parts: {} accepted as written, {} after repair, {} replaced by the deterministic writer (model load {:.1} s)",
            t.model_parts,
            t.repaired,
            t.fallbacks,
            engine.load_ms() / 1e3
        )?;
    }
    Ok(())
}
