//! `epicrisis-dev eval --validator-only`: the validator on each reference (false errors), on
//! planted errors (recall), and on the references with their discharge sentence
//! rephrased (false errors and planted omissions again); the novel-word guard on each
//! reference, or on each reference narrative of a folder.

use crate::Failure;
use crate::cli::{EvalArgs, ReportFormat};
use crate::eval::{open_report, percentile};
use epicrisis_ingest::Record;
use epicrisis_validate::planted::{PlantKind, Planted, plant};
use epicrisis_validate::rephrase::{pick_shape, rephrase_discharge};
use epicrisis_validate::{EpisodeIndex, Report, Severity, validate_indexed};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// Error findings on correct texts.
#[derive(Default)]
struct FalseErrors {
    documents: usize,
    errors: usize,
    documents_with_errors: usize,
    by_kind: BTreeMap<String, usize>,
}

impl FalseErrors {
    fn add(&mut self, report: &Report) {
        self.documents += 1;
        let e = report.error_count();
        self.errors += e;
        if e > 0 {
            self.documents_with_errors += 1;
        }
        for f in report.errors() {
            *self
                .by_kind
                .entry(format!("{:?}/{:?}", f.kind, f.category).to_lowercase())
                .or_default() += 1;
        }
    }
    fn per_document(&self) -> f64 {
        self.errors as f64 / self.documents.max(1) as f64
    }
    fn json(&self) -> Value {
        json!({"documents": self.documents, "error_findings": self.errors, "errors_per_document": self.per_document(), "documents_with_errors": self.documents_with_errors, "by_kind": self.by_kind})
    }
    fn print(&self, out: &mut impl Write, what: &str) -> std::io::Result<()> {
        writeln!(
            out,
            "{what}: {} documents, {} error findings ({:.3} per document), {} documents with any error",
            self.documents,
            self.errors,
            self.per_document(),
            self.documents_with_errors
        )?;
        for (k, v) in &self.by_kind {
            writeln!(out, "  {k}: {v}")?;
        }
        Ok(())
    }
}

/// Planted errors caught, by kind.
#[derive(Default)]
struct Caught(BTreeMap<PlantKind, (usize, usize)>);

impl Caught {
    fn add(&mut self, kind: PlantKind, caught: bool) {
        let e = self.0.entry(kind).or_default();
        e.1 += 1;
        e.0 += usize::from(caught);
    }
    fn json(&self) -> Value {
        let m: BTreeMap<&str, Value> = self
            .0
            .iter()
            .map(|(k, (c, t))| {
                (
                    k.as_str(),
                    json!({"caught": c, "total": t, "rate": *c as f64 / (*t).max(1) as f64}),
                )
            })
            .collect();
        json!(m)
    }
    fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        for (k, (c, t)) in &self.0 {
            writeln!(
                out,
                "  {:30} {c}/{t} ({:.1} %)",
                k.as_str(),
                100.0 * *c as f64 / (*t).max(1) as f64
            )?;
        }
        Ok(())
    }
}

/// Files the per-case lines go to (`--report`, `--write-planted`).
struct Files {
    report: Option<std::io::BufWriter<std::fs::File>>,
    planted: Option<std::io::BufWriter<std::fs::File>>,
}

impl Files {
    fn line(&mut self, v: Value) -> std::io::Result<()> {
        match self.report.as_mut() {
            Some(f) => writeln!(f, "{v}"),
            None => Ok(()),
        }
    }
}

/// One record under evaluation.
struct Case<'a> {
    r: &'a Record,
    index: &'a EpisodeIndex,
    seed: u64,
}

/// Plants each of `kinds` in `text` and tallies what the validator catches.
fn plant_and_check(
    case: &Case<'_>,
    text: &str,
    kinds: &[PlantKind],
    caught: &mut Caught,
    files: &mut Files,
    case_prefix: &str,
) -> std::io::Result<()> {
    let Case { r, index, seed } = *case;
    for &kind in kinds {
        let Some(p): Option<Planted> = plant(&r.episode, text, kind, seed) else {
            continue;
        };
        let rep = validate_indexed(index, &r.episode, &p.text);
        let ok = p.caught_by(&rep);
        caught.add(kind, ok);
        let errors: Vec<_> = rep
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        files.line(json!({"line": r.line, "case": format!("{case_prefix}{}", kind.as_str()), "caught": ok, "planted": p, "findings": errors}))?;
        if let Some(f) = files.planted.as_mut() {
            writeln!(
                f,
                "{}",
                json!({"line": r.line, "kind": kind, "rephrased": !case_prefix.is_empty(), "text": p.text, "span": p.span, "mention": p.mention})
            )?;
        }
    }
    Ok(())
}

/// What the validator and the novel-word guard found over the dataset.
#[derive(Default)]
struct Tallies {
    refs: FalseErrors,
    rephrased: FalseErrors,
    /// Milliseconds to index and check each reference.
    times: Vec<f64>,
    planted: Caught,
    rephrased_planted: Caught,
    novel: crate::novel_flags::NovelFlags,
}

/// Runs the validator and the novel-word guard over the dataset and prints the figures.
pub fn run(
    args: &EvalArgs,
    records: &[Record],
    narratives: &crate::eval_narrative::Narratives,
) -> Result<ExitCode, Failure> {
    let mut files = Files {
        report: open_report(&args.report)?,
        planted: open_report(&args.write_planted)?,
    };
    let mut t = Tallies::default();
    for (r, (_, narrative)) in records.iter().zip(narratives) {
        if let Some(text) = narrative {
            let flagged = t.novel.add(&EpisodeIndex::new(&r.episode), text);
            files.line(json!({"line": r.line, "case": "novel_words", "words": flagged}))?;
        }
    }
    for r in records {
        if let Some(reference) = r.reference.as_deref() {
            check_reference(args, r, reference, &mut t, &mut files)?;
        }
    }
    t.times.sort_by(f64::total_cmp);
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&t.summary_json(args)).map_err(anyhow::Error::from)?
        )?,
        ReportFormat::Text => t.print_text(&mut out, args.plant_seed)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Validates one reference, plants errors in it, and does both again on the reference
/// with its discharge sentence rephrased; the novel-word guard checks the reference too.
fn check_reference(
    args: &EvalArgs,
    r: &Record,
    reference: &str,
    t: &mut Tallies,
    files: &mut Files,
) -> Result<(), Failure> {
    let seed = args.plant_seed.wrapping_add(r.line as u64);
    let started = Instant::now();
    let index = EpisodeIndex::new(&r.episode);
    let report = validate_indexed(&index, &r.episode, reference);
    t.times.push(started.elapsed().as_secs_f64() * 1000.0);
    t.refs.add(&report);
    files.line(
        json!({"line": r.line, "case": "reference", "ok": report.ok, "findings": report.findings}),
    )?;
    let flagged = t.novel.add(&index, reference);
    files.line(json!({"line": r.line, "case": "novel_words", "words": flagged}))?;
    let case = Case {
        r,
        index: &index,
        seed,
    };
    plant_and_check(&case, reference, &PlantKind::ALL, &mut t.planted, files, "")?;
    if let Some(text) = rephrase_discharge(reference, pick_shape(seed)) {
        let report = validate_indexed(&index, &r.episode, &text);
        t.rephrased.add(&report);
        files.line(json!({"line": r.line, "case": "rephrased_reference", "ok": report.ok, "text": text, "findings": report.findings}))?;
        plant_and_check(
            &case,
            &text,
            &PlantKind::OMISSIONS,
            &mut t.rephrased_planted,
            files,
            "rephrased_",
        )?;
    }
    Ok(())
}

impl Tallies {
    /// The summary printed with `--format json` (`times` sorted).
    fn summary_json(&self, args: &EvalArgs) -> Value {
        let (times, novel) = (&self.times, &self.novel);
        json!({
            "dataset": args.dataset.display().to_string(),
            "references": self.refs.json(),
            "planted": self.planted.json(),
            "rephrased": {"references": self.rephrased.json(), "planted": self.rephrased_planted.json()},
            "validation_ms": {"median": percentile(times, 0.5), "p90": percentile(times, 0.9), "max": times.last().copied().unwrap_or(0.0)},
            "seed": args.plant_seed,
            "novel_words": {"documents": novel.documents, "sentences": novel.sentences, "flags": novel.flags, "per_document": novel.per_document(), "documents_with_flags": novel.documents_with_flags, "most_flagged": novel.top(25)},
        })
    }

    /// Prints the figures as text (`--format text`; `times` sorted).
    fn print_text(&self, out: &mut impl Write, seed: u64) -> std::io::Result<()> {
        self.refs.print(out, "references")?;
        writeln!(out, "planted errors caught (seed {seed}):")?;
        self.planted.print(out)?;
        self.rephrased
            .print(out, "references with the discharge sentence rephrased")?;
        writeln!(out, "planted omissions caught in them:")?;
        self.rephrased_planted.print(out)?;
        writeln!(
            out,
            "validation time per document (index + check, one thread): median {:.3} ms, p90 {:.3} ms",
            percentile(&self.times, 0.5),
            percentile(&self.times, 0.9)
        )?;
        self.novel.print_text(out)
    }
}
