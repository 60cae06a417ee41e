//! `epicrisis-dev bench-retrieval`: does retrieval find the passage that answers a question in
//! a long stay? Recall@5 and MRR for lexical (BM25), dense (embeddings) and hybrid (RRF)
//! retrieval.
//!
//! The long stays are assembled from the dev records: record *i* of a group becomes day
//! *i* of one stay (its note is that day's note; its diagnoses, procedures and drugs
//! join the stay's). A question asks for a record's own item — a procedure, an admission
//! diagnosis, a discharge diagnosis, a drug — by its name, and its answer is the day
//! whose record has that item (every such day counts, so repeated diagnoses are fair).
//! Discharge diagnoses are worded differently from the notes, so they measure what
//! keywords miss; procedures and drugs are often named in the note, so they measure what
//! embeddings miss.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use crate::Failure;
use crate::cli::{BenchLongstayArgs, BenchRetrievalArgs, ReportFormat};
use epicrisis_domain::{Episode, EvolutionNote, text::fold};
use epicrisis_embed::Role;
use epicrisis_embed::bm25::Bm25;
use epicrisis_embed::search::{Fusion, dense_scores, hybrid};
use epicrisis_pipeline::retrieve::{Passage, passages};
use serde_json::json;

/// One stay made of `records`, day by day (see the module's comment).
pub fn assemble_stay(records: &[&Episode]) -> Episode {
    let mut stay = records[0].clone();
    stay.id = Some(format!("estadia-{}-dias", records.len()));
    stay.evolution.clear();
    stay.procedures.clear();
    stay.treatments.clear();
    stay.admission_diagnoses.clear();
    stay.discharge_diagnoses = records[records.len() - 1].discharge_diagnoses.clone();
    stay.discharge = records[records.len() - 1].discharge.clone();
    let start = records[0].admission_date;
    for (day, r) in records.iter().enumerate() {
        for n in &r.evolution {
            stay.evolution.push(EvolutionNote {
                day: Some(day as u32 + 1),
                date: start.map(|d| d.add_days(day as i64)),
                text: n.text.clone(),
                author: None,
            });
        }
        stay.procedures.extend(r.procedures.iter().cloned());
        stay.treatments.extend(r.treatments.iter().cloned());
        stay.admission_diagnoses
            .extend(r.admission_diagnoses.iter().cloned());
        stay.labs.extend(r.labs.iter().cloned());
    }
    if let (Some(s), Some(_)) = (start, records[records.len() - 1].discharge_date) {
        stay.discharge_date = Some(s.add_days(records.len() as i64 - 1));
    }
    stay
}

/// A question: the text asked, what kind of item it names, and the days that answer it.
struct Question {
    kind: &'static str,
    text: String,
    days: Vec<u32>,
}

fn questions(records: &[&Episode]) -> Vec<Question> {
    // Item name (folded) → days whose record has it.
    let mut by_item: BTreeMap<(&'static str, String), (String, Vec<u32>)> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        let day = i as u32 + 1;
        let mut add = |kind: &'static str, name: &str| {
            let e = by_item
                .entry((kind, fold(name)))
                .or_insert_with(|| (name.to_string(), Vec::new()));
            if !e.1.contains(&day) {
                e.1.push(day);
            }
        };
        for p in &r.procedures {
            add("procedimiento", &p.name);
        }
        for d in &r.admission_diagnoses {
            add("diagnóstico de ingreso", &d.name);
        }
        for d in &r.discharge_diagnoses {
            add("diagnóstico de egreso", &d.name);
        }
        for m in &r.treatments {
            add("medicamento", &m.name);
        }
    }
    by_item
        .into_iter()
        // An item on many days is not a question with a specific answer.
        .filter(|(_, (_, days))| days.len() <= 3)
        .map(|((kind, _), (text, days))| Question { kind, text, days })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Score {
    n: usize,
    hits5: usize,
    rr: f64,
}

impl Score {
    fn add(&mut self, ranking: &[usize], passages: &[Passage], q: &Question, stay: &Episode) {
        self.n += 1;
        let answers = |i: &usize| {
            let day = stay.evolution[passages[*i].note].day.unwrap_or(0);
            q.days.contains(&day)
        };
        if let Some(rank) = ranking.iter().position(answers) {
            if rank < 5 {
                self.hits5 += 1;
            }
            self.rr += 1.0 / (rank as f64 + 1.0);
        }
    }
    fn recall(&self) -> f64 {
        self.hits5 as f64 / self.n.max(1) as f64
    }
    fn mrr(&self) -> f64 {
        self.rr / self.n.max(1) as f64
    }
}

fn order(scores: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// The retrieval methods compared, in the table's column order.
const METHODS: [&str; 3] = ["lexical", "dense", "hybrid"];

/// The question kinds of the table, in row order (`todas`: all questions).
const KINDS: [&str; 5] = [
    "todas",
    "procedimiento",
    "medicamento",
    "diagnóstico de ingreso",
    "diagnóstico de egreso",
];

/// Scores by (method, question kind).
type Totals = BTreeMap<(&'static str, &'static str), Score>;

/// Measures lexical, dense and hybrid retrieval on assembled stays and prints the table.
pub fn run(
    args: BenchRetrievalArgs,
    env_file: Option<&std::path::Path>,
) -> Result<ExitCode, Failure> {
    let (embedder, records) =
        crate::bench_embed::for_bench(args.embeddings.as_deref(), &args.dataset, env_file)?;
    let episodes: Vec<&Episode> = records
        .iter()
        .map(|r| &r.episode)
        .filter(|e| !e.evolution.is_empty())
        .collect();
    if episodes.len() < args.days {
        return Err(Failure::Input(format!(
            "{}: {} records with notes, fewer than --days {}",
            args.dataset.display(),
            episodes.len(),
            args.days
        )));
    }
    let mut totals = Totals::new();
    let mut stays = 0;
    let mut n_passages = 0;
    let started = Instant::now();
    for group in episodes.chunks(args.days).filter(|g| g.len() == args.days) {
        stays += 1;
        n_passages += score_stay(embedder.as_ref(), group, args.passage_tokens, &mut totals)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => writeln!(
            out,
            "{:#}",
            json!({"model": embedder.name(), "stays": stays, "days": args.days,
                   "passages": n_passages, "seconds": seconds, "rows": json_rows(&totals)})
        )?,
        ReportFormat::Text => {
            writeln!(
                out,
                "retrieval on {stays} assembled stays of {} days ({n_passages} passages), model {}, {seconds:.1} s",
                args.days,
                embedder.name()
            )?;
            print_table(&mut out, &totals)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Assembles one stay from `group`, asks its questions with each method and adds the
/// scores to `totals`; returns the number of passages.
fn score_stay(
    embedder: &dyn epicrisis_embed::Embedder,
    group: &[&Episode],
    passage_tokens: usize,
    totals: &mut Totals,
) -> Result<usize, Failure> {
    let count = |s: &str| crate::bench_embed::token_count(embedder, s);
    let stay = assemble_stay(group);
    let ps = passages(&stay, passage_tokens, &count);
    let texts: Vec<&str> = ps.iter().map(|p| p.text.as_str()).collect();
    let vectors = crate::bench_embed::embed(embedder, &texts, Role::Passage)?;
    let bm25 = Bm25::new(&texts);
    let qs = questions(group);
    let qtexts: Vec<&str> = qs.iter().map(|q| q.text.as_str()).collect();
    let qvecs = crate::bench_embed::embed(embedder, &qtexts, Role::Query)?;
    for (q, qv) in qs.iter().zip(&qvecs) {
        let lexical = bm25.scores(&q.text);
        let dense = dense_scores(qv, &vectors);
        let fused: Vec<usize> = hybrid(Some(&dense), Some(&lexical), Fusion::default(), ps.len())
            .into_iter()
            .map(|h| h.index)
            .collect();
        // A lexical search that shares no term with any passage finds nothing:
        // passages with score 0 are not a ranking.
        let lex_rank: Vec<usize> = order(&lexical)
            .into_iter()
            .filter(|&i| lexical[i] > 0.0)
            .collect();
        for (m, ranking) in METHODS.iter().zip([lex_rank, order(&dense), fused]) {
            totals
                .entry((m, q.kind))
                .or_default()
                .add(&ranking, &ps, q, &stay);
            totals
                .entry((m, "todas"))
                .or_default()
                .add(&ranking, &ps, q, &stay);
        }
    }
    Ok(ps.len())
}

/// The rows of the JSON report: one per question kind and method.
fn json_rows(totals: &Totals) -> Vec<serde_json::Value> {
    KINDS
        .iter()
        .flat_map(|k| {
            METHODS.iter().map(|m| {
                let s = totals.get(&(*m, *k)).copied().unwrap_or_default();
                json!({"questions": k, "method": m, "n": s.n, "recall_at_5": s.recall(), "mrr": s.mrr()})
            }).collect::<Vec<_>>()
        })
        .collect()
}

/// Prints the table: one row per question kind, recall@5 and MRR per method.
fn print_table(out: &mut impl Write, totals: &Totals) -> std::io::Result<()> {
    writeln!(
        out,
        "  {:<24} {:>5}  {:>22}  {:>22}  {:>22}",
        "questions", "n", "lexical R@5 / MRR", "dense R@5 / MRR", "hybrid R@5 / MRR"
    )?;
    for k in KINDS {
        let s = |m: &str| totals.get(&(m, k)).copied().unwrap_or_default();
        let cell = |m: &str| format!("{:.3} / {:.3}", s(m).recall(), s(m).mrr());
        writeln!(
            out,
            "  {:<24} {:>5}  {:>22}  {:>22}  {:>22}",
            k,
            s("hybrid").n,
            cell("lexical"),
            cell("dense"),
            cell("hybrid")
        )?;
    }
    Ok(())
}

/// One end-to-end draft of a long stay.
struct Run {
    seconds: f64,
    prompt_tokens: u32,
    first_prompt_tokens: u32,
    rounds: u32,
    errors: usize,
    origin: String,
    retrieval: Option<epicrisis_pipeline::grounded::RetrievalUse>,
    failure: Option<String>,
}

fn draft_once(
    generator: &epicrisis_llm::llama::LlamaGenerator,
    ep: &Episode,
    sampling: &epicrisis_llm::SamplingSettings,
    retrieval: epicrisis_pipeline::grounded::Retrieval,
) -> Run {
    use epicrisis_pipeline::grounded::{PipelineOptions, Strategy, draft_with_model};
    let opts = PipelineOptions {
        layout: epicrisis_pipeline::Layout::Sections,
        strategy: Strategy::Narrative,
        sampling: sampling.clone(),
        repair_rounds: 2,
        avoid: Vec::new(),
        retrieval,
        style_examples: Vec::new(),
        known_vectors: None,
    };
    let t = Instant::now();
    let mut first: Option<u32> = None;
    match draft_with_model(generator, ep, &opts, |_| {}) {
        Ok(d) => {
            first.get_or_insert(d.timings.prompt_tokens / d.timings.attempts.max(1));
            let origin = d
                .draft
                .part(epicrisis_pipeline::PartId::Evolution)
                .map(|p| format!("{:?}", p.origin).to_lowercase())
                .unwrap_or_default();
            Run {
                seconds: t.elapsed().as_secs_f64(),
                prompt_tokens: d.timings.prompt_tokens,
                first_prompt_tokens: first.unwrap_or(0),
                rounds: d.timings.attempts,
                errors: d.report.errors().count(),
                origin,
                retrieval: Some(d.provenance.retrieval),
                failure: None,
            }
        }
        Err(e) => Run {
            seconds: t.elapsed().as_secs_f64(),
            prompt_tokens: 0,
            first_prompt_tokens: 0,
            rounds: 0,
            errors: 0,
            origin: String::new(),
            retrieval: None,
            failure: Some(e.to_string()),
        },
    }
}

/// One episode's two drafts: its name, its number of notes, the draft with the whole
/// notes and the draft with retrieval.
type LongstayRow = (String, usize, Run, Run);

/// Drafts the rich example episode and an assembled long stay end to end, with the whole
/// notes and with retrieval, and prints what retrieval saves.
pub fn run_longstay(
    args: BenchLongstayArgs,
    env_file: Option<&std::path::Path>,
) -> Result<ExitCode, Failure> {
    use epicrisis_pipeline::grounded::Retrieval;
    let (_, config) = crate::config::load(env_file, Some(&args.model))?;
    let settings = crate::config::local(&config)?;
    let context = settings.llama.context_size;
    let generator = epicrisis_llm::llama::LlamaGenerator::load(settings.llama.clone())
        .map_err(|e| Failure::Input(e.to_string()))?;
    let dir = args
        .embeddings
        .clone()
        .unwrap_or_else(|| config.embeddings_dir());
    let embedder = crate::embedder::load(&dir, Default::default())?;
    let (rich, stay) = longstay_episodes(&args)?;
    let whole = Retrieval {
        embedder: None,
        notes_budget_tokens: usize::MAX,
        ..Retrieval::default()
    };
    let retrieved = Retrieval {
        embedder: Some(embedder.clone()),
        notes_budget_tokens: args.notes_budget,
        ..Retrieval::default()
    };
    let cases = [
        (args.episode.display().to_string(), &rich),
        (format!("estadía armada de {} días", args.days), &stay),
    ];
    let mut rows: Vec<LongstayRow> = Vec::new();
    for (name, ep) in cases {
        let a = draft_once(&generator, ep, &settings.sampling, whole.clone());
        let b = draft_once(&generator, ep, &settings.sampling, retrieved.clone());
        rows.push((name, ep.evolution.len(), a, b));
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|(n, notes, a, b)| json!({"episode": n, "notes": notes, "whole_notes": describe(a), "retrieval": describe(b)}))
                .collect();
            writeln!(
                out,
                "{:#}",
                json!({"model": generator_name(&settings), "context": context, "embeddings": embedder.name(), "runs": v})
            )?;
        }
        ReportFormat::Text => {
            writeln!(
                out,
                "end to end, model {} (context {context} tokens), embeddings {}",
                generator_name(&settings),
                embedder.name()
            )?;
            for row in &rows {
                print_longstay_row(&mut out, row)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The rich example episode (`--episode`) and the stay assembled from the first `--days`
/// dev records with notes.
fn longstay_episodes(args: &BenchLongstayArgs) -> Result<(Episode, Episode), Failure> {
    let rich = epicrisis_ingest::read_episode_path(&args.episode)?;
    let records = crate::eval::read_dataset(&args.dataset)?;
    let days: Vec<&Episode> = records
        .iter()
        .map(|r| &r.episode)
        .filter(|e| !e.evolution.is_empty())
        .take(args.days)
        .collect();
    if days.len() < args.days {
        return Err(Failure::Input(format!(
            "{}: fewer than --days {} records with notes",
            args.dataset.display(),
            args.days
        )));
    }
    Ok((rich, assemble_stay(&days)))
}

/// One draft in the JSON report: its figures, or its failure.
fn describe(r: &Run) -> serde_json::Value {
    match &r.failure {
        Some(f) => json!({"failure": f}),
        None => json!({
            "seconds": r.seconds, "prompt_tokens": r.prompt_tokens,
            "first_round_prompt_tokens": r.first_prompt_tokens, "rounds": r.rounds,
            "validator_errors": r.errors, "evolution_origin": r.origin,
            "retrieval": r.retrieval,
        }),
    }
}

/// Prints one episode's two drafts as text, and what retrieval saved when both succeeded.
fn print_longstay_row(out: &mut impl Write, row: &LongstayRow) -> std::io::Result<()> {
    let (name, notes, a, b) = row;
    writeln!(out, "  {name} ({notes} notes)")?;
    for (label, r) in [("whole notes", a), ("retrieval", b)] {
        match &r.failure {
            Some(f) => writeln!(out, "    {label:<12} failed: {f}")?,
            None => {
                let ret = r.retrieval.as_ref();
                writeln!(
                    out,
                    "    {label:<12} {:>6.1} s  prompt {:>5} tokens/round ({} rounds, {} in all)  notes {} of {} tokens ({})  errors {}  evolution: {}",
                    r.seconds,
                    r.first_prompt_tokens,
                    r.rounds,
                    r.prompt_tokens,
                    ret.map_or(0, |x| x.tokens_used),
                    ret.map_or(0, |x| x.tokens_total),
                    ret.map_or("", |x| x.method.as_str()),
                    r.errors,
                    r.origin
                )?;
            }
        }
    }
    if a.failure.is_none() && b.failure.is_none() && a.first_prompt_tokens > 0 {
        writeln!(
            out,
            "    retrieval saved {} prompt tokens per round ({:.0} %); seconds per epicrisis {:.2}x",
            a.first_prompt_tokens as i64 - b.first_prompt_tokens as i64,
            100.0 * (1.0 - b.first_prompt_tokens as f64 / a.first_prompt_tokens as f64),
            b.seconds / a.seconds
        )?;
    }
    Ok(())
}

fn generator_name(settings: &crate::config::LocalSettings) -> String {
    settings
        .llama
        .model_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
