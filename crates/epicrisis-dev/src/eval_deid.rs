//! `epicrisis-dev eval-deid`: recall and precision of de-identification per identifier type on
//! the Spanish clinical test set, and the clinical words it keeps; `--write` builds the
//! set from the dev records and the example episode.

use crate::Failure;
use crate::cli::{EvalDeidArgs, ReportFormat};
use epicrisis_deid::testset::{self, Case};
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: EvalDeidArgs) -> Result<ExitCode, Failure> {
    if args.write {
        return write(&args);
    }
    let bytes = std::fs::read(&args.cases).map_err(|e| {
        Failure::Input(format!(
            "{}: {e} (build it with `epicrisis-dev eval-deid --write {}`)",
            args.cases.display(),
            args.cases.display()
        ))
    })?;
    let mut cases = Vec::new();
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let c: Case = serde_json::from_str(line).map_err(|e| {
            Failure::Input(format!("{}: line {}: {e}", args.cases.display(), i + 1))
        })?;
        cases.push(c);
    }
    let score = testset::evaluate(&cases);
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &score).map_err(anyhow::Error::from)?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            writeln!(
                out,
                "de-identification on {} cases ({})",
                score.cases,
                args.cases.display()
            )?;
            writeln!(
                out,
                "{:<11} {:>7} {:>8} {:>9} {:>10}",
                "type", "planted", "recall", "replaced", "precision"
            )?;
            for (kind, s) in &score.by_kind {
                writeln!(
                    out,
                    "{kind:<11} {:>7} {:>7.1}% {:>9} {:>9.1}%",
                    s.planted,
                    100.0 * s.recall(),
                    s.replaced,
                    100.0 * s.precision()
                )?;
            }
            writeln!(
                out,
                "clinical words kept: {}/{} ({:.1}%)",
                score.clinical_kept,
                score.clinical_words,
                100.0 * score.clinical_precision()
            )?;
            for (id, kind, value) in score.missed.iter().take(30) {
                writeln!(out, "missed {kind} in {id}: {value}")?;
            }
            if !score.missed_cases.is_empty() {
                writeln!(
                    out,
                    "cases with a missed value: {}",
                    score.missed_cases.join(", ")
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(args: &EvalDeidArgs) -> Result<ExitCode, Failure> {
    let mut notes: Vec<(String, String, bool)> = Vec::new();
    let dev = std::fs::read(&args.dataset)?;
    for (i, line) in String::from_utf8_lossy(&dev).lines().enumerate() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if let Some(evo) = v.pointer("/input/evo").and_then(|e| e.as_str())
            && !evo.trim().is_empty()
        {
            notes.push((format!("dev-{}", i + 1), evo.to_string(), false));
        }
    }
    let ep = epicrisis_ingest::read_episode_path(&args.episode)?;
    let name = args
        .episode
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    for n in &ep.evolution {
        let day = n.day.map(|d| d.to_string()).unwrap_or_default();
        notes.push((format!("{name}-dia-{day}"), n.text.clone(), true));
    }
    let cases = testset::generate(&notes, args.seed);
    if let Some(dir) = args.cases.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&args.cases)?);
    for c in &cases {
        serde_json::to_writer(&mut f, c).map_err(anyhow::Error::from)?;
        writeln!(f)?;
    }
    f.flush()?;
    eprintln!("{} cases written to {}", cases.len(), args.cases.display());
    Ok(ExitCode::SUCCESS)
}
