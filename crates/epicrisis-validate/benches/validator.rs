//! Validator speed on the dev references, one thread: `cargo bench -p epicrisis-validate`.
//! Prints the median, p90 and max time per document, with and without indexing the
//! episode (the server indexes once per episode and validates every edit).

use epicrisis_validate::{EpisodeIndex, validate, validate_indexed};
use std::time::Instant;

fn percentile(v: &[f64], p: f64) -> f64 {
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // The lexicon loads once per process (not part of a document's cost).
    let t = Instant::now();
    let terms = epicrisis_domain::lexicon::lexicon().term_count();
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let path = epicrisis_testkit::fixtures::testdata("dev/train.jsonl");
    let bytes = std::fs::read(&path).expect("train.jsonl");
    let records = epicrisis_ingest::read_dataset(&bytes, "train.jsonl").expect("dataset");
    let docs: Vec<_> = records
        .iter()
        .filter_map(|r| Some((&r.episode, r.reference.as_deref()?)))
        .collect();
    let rounds = 20;
    let mut full = Vec::with_capacity(docs.len() * rounds);
    let mut check_only = Vec::with_capacity(docs.len() * rounds);
    let mut errors = 0;
    for _ in 0..rounds {
        for (ep, text) in &docs {
            let t = Instant::now();
            let r = validate(ep, text);
            full.push(t.elapsed().as_secs_f64() * 1e3);
            errors += r.error_count();
            let ix = EpisodeIndex::new(ep);
            let t = Instant::now();
            let r = validate_indexed(&ix, ep, text);
            check_only.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(r);
        }
    }
    full.sort_by(f64::total_cmp);
    check_only.sort_by(f64::total_cmp);
    println!(
        "validator on {} dev references x {rounds} rounds, one thread",
        docs.len()
    );
    println!("lexicon load (once per process): {load_ms:.1} ms, {terms} terms");
    println!(
        "index + check per document: median {:.3} ms, p90 {:.3} ms, max {:.3} ms",
        percentile(&full, 0.5),
        percentile(&full, 0.9),
        full[full.len() - 1]
    );
    println!(
        "check only (episode indexed): median {:.3} ms, p90 {:.3} ms, max {:.3} ms",
        percentile(&check_only, 0.5),
        percentile(&check_only, 0.9),
        check_only[check_only.len() - 1]
    );
    println!(
        "error findings per reference: {:.3}",
        errors as f64 / (docs.len() * rounds) as f64
    );
}
