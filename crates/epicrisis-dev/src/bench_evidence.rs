//! `epicrisis-dev bench-evidence`: how the evidence thresholds separate sentences the data
//! supports from sentences it does not, on the dev set.
//!
//! Supported: the sentences of each record's reference epicrisis, checked against that
//! record's data (the references were written from it; a few say more than the data, so
//! 100 % is not expected). Unsupported: the sentences of *another* record's reference —
//! another patient's course, drugs and diagnoses — checked against this record's data.
//! For every pair of thresholds (IDF-weighted word coverage of one passage; cosine with a
//! shared word) the benchmark prints the share of reference sentences that find evidence
//! (the rest would be amber marks that are noise) and the share of foreign sentences that
//! find none (amber marks that are right). Only sentences that make a claim are counted.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use crate::Failure;
use crate::cli::{BenchEvidenceArgs, ReportFormat};
use epicrisis_domain::Episode;
use epicrisis_embed::Role;
use epicrisis_pipeline::evidence::{EvidenceOptions, EvidenceVectors, evidence, sentence_texts};
use epicrisis_pipeline::retrieve::{Passage, passages};
use serde_json::json;

/// One record ready to check: its data, passages and their vectors, and two texts (its own
/// reference, another record's) with their sentence vectors.
struct Case {
    episode: Episode,
    passages: Vec<Passage>,
    passage_vectors: Vec<Vec<f32>>,
    texts: [(String, Vec<Vec<f32>>); 2],
}

#[derive(Default, Clone, Copy)]
struct Tally {
    own: usize,
    own_supported: usize,
    foreign: usize,
    foreign_unsupported: usize,
}

impl Tally {
    fn support(&self) -> f64 {
        self.own_supported as f64 / self.own.max(1) as f64
    }
    fn catch(&self) -> f64 {
        self.foreign_unsupported as f64 / self.foreign.max(1) as f64
    }
}

fn tally(cases: &[Case], opts: &EvidenceOptions, dense: bool) -> Tally {
    let mut t = Tally::default();
    for c in cases {
        for (k, (text, sv)) in c.texts.iter().enumerate() {
            let vectors = dense.then_some(EvidenceVectors {
                passages: &c.passage_vectors,
                sentences: sv,
            });
            for s in evidence(&c.episode, &c.passages, text, vectors, opts)
                .iter()
                .filter(|s| s.checked)
            {
                let found = !s.passages.is_empty() || !s.items.is_empty();
                if k == 0 {
                    t.own += 1;
                    t.own_supported += usize::from(found);
                } else {
                    t.foreign += 1;
                    t.foreign_unsupported += usize::from(!found);
                }
            }
        }
    }
    t
}

/// One row of the table: coverage threshold, cosine threshold (`None`: lexical evidence
/// only) and the figures.
type Row = (f32, Option<f32>, Tally);

/// Measures the evidence thresholds on the dev set and prints the table.
pub fn run(
    args: BenchEvidenceArgs,
    env_file: Option<&std::path::Path>,
) -> Result<ExitCode, Failure> {
    let (embedder, records) =
        crate::bench_embed::for_bench(args.embeddings.as_deref(), &args.dataset, env_file)?;
    let usable: Vec<(&Episode, &str)> = records
        .iter()
        .filter_map(|r| Some((&r.episode, r.reference.as_deref()?)))
        .filter(|(e, r)| !e.evolution.is_empty() && !r.trim().is_empty())
        .collect();
    if usable.len() < 2 {
        return Err(Failure::Input(format!(
            "{}: fewer than two records with notes and a reference epicrisis",
            args.dataset.display()
        )));
    }
    let started = Instant::now();
    let cases = embed_cases(embedder.as_ref(), &usable)?;
    let embed_s = started.elapsed().as_secs_f64();
    let rows = threshold_rows(&cases);
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => print_json(&mut out, embedder.name(), cases.len(), embed_s, &rows)?,
        ReportFormat::Text => print_text(&mut out, embedder.name(), cases.len(), embed_s, &rows)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Cuts each usable record's data into passages and embeds them, with the sentences of its
/// own reference and of another record's.
fn embed_cases(
    embedder: &dyn epicrisis_embed::Embedder,
    usable: &[(&Episode, &str)],
) -> Result<Vec<Case>, Failure> {
    let count = |s: &str| crate::bench_embed::token_count(embedder, s);
    let embed = |texts: &[&str], role: Role| {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        crate::bench_embed::embed(embedder, texts, role)
    };
    let sentence_vectors = |text: &str| {
        let owned = sentence_texts(text);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        embed(&refs, Role::Query)
    };
    // The foreign text comes from half the dataset away: neighbours in the file are
    // often the same service.
    let shift = usable.len() / 2;
    let mut cases = Vec::with_capacity(usable.len());
    for (i, (ep, own)) in usable.iter().enumerate() {
        let foreign = usable[(i + shift) % usable.len()].1;
        let ps = passages(ep, 64, &count);
        let texts: Vec<&str> = ps.iter().map(|p| p.text.as_str()).collect();
        cases.push(Case {
            episode: (*ep).clone(),
            passage_vectors: embed(&texts, Role::Passage)?,
            passages: ps,
            texts: [
                (own.to_string(), sentence_vectors(own)?),
                (foreign.to_string(), sentence_vectors(foreign)?),
            ],
        });
    }
    Ok(cases)
}

/// Tallies every pair of thresholds: each coverage alone, then with each cosine.
fn threshold_rows(cases: &[Case]) -> Vec<Row> {
    let coverages = [0.4f32, 0.5, 0.6];
    let cosines = [0.84f32, 0.86, 0.88, 0.90, 0.92];
    let mut rows = Vec::new();
    for &min_coverage in &coverages {
        let lexical = EvidenceOptions {
            min_coverage,
            min_cosine: f32::INFINITY,
            ..EvidenceOptions::default()
        };
        rows.push((min_coverage, None, tally(cases, &lexical, false)));
        for &min_cosine in &cosines {
            let opts = EvidenceOptions {
                min_coverage,
                min_cosine,
                ..EvidenceOptions::default()
            };
            rows.push((min_coverage, Some(min_cosine), tally(cases, &opts, true)));
        }
    }
    rows
}

/// Prints the rows as JSON (`--format json`).
fn print_json(
    out: &mut impl Write,
    model: &str,
    records: usize,
    embed_s: f64,
    rows: &[Row],
) -> std::io::Result<()> {
    let defaults = EvidenceOptions::default();
    let list: Vec<_> = rows
        .iter()
        .map(|(cov, cos, t)| {
            json!({"min_coverage": cov, "min_cosine": cos, "reference_sentences": t.own,
                   "reference_supported": t.support(), "foreign_sentences": t.foreign,
                   "foreign_unsupported": t.catch()})
        })
        .collect();
    writeln!(
        out,
        "{:#}",
        json!({"model": model, "records": records, "embed_seconds": embed_s,
               "default": {"min_coverage": defaults.min_coverage, "min_cosine": defaults.min_cosine},
               "rows": list})
    )
}

/// Prints the rows as a table (`--format text`), marking the default thresholds.
fn print_text(
    out: &mut impl Write,
    model: &str,
    records: usize,
    embed_s: f64,
    rows: &[Row],
) -> std::io::Result<()> {
    let defaults = EvidenceOptions::default();
    let t0 = rows.first().map(|r| r.2).unwrap_or_default();
    writeln!(
        out,
        "evidence on {} dev records ({} reference sentences, {} foreign sentences), model {}, embedding {embed_s:.1} s",
        records, t0.own, t0.foreign, model
    )?;
    writeln!(
        out,
        "  {:>8} {:>8}  {:>20}  {:>20}",
        "coverage", "cosine", "reference supported", "foreign flagged"
    )?;
    for (cov, cos, t) in rows {
        let is_default = *cov == defaults.min_coverage && *cos == Some(defaults.min_cosine);
        writeln!(
            out,
            "  {:>8.2} {:>8}  {:>19.1}%  {:>19.1}%{}",
            cov,
            cos.map(|c| format!("{c:.2}")).unwrap_or_else(|| "—".into()),
            100.0 * t.support(),
            100.0 * t.catch(),
            if is_default { "   ← default" } else { "" }
        )?;
    }
    Ok(())
}
