//! The data-driven validator suite: every case under `testdata/validator/cases/` and the
//! planted-error corpus `testdata/validator/planted.jsonl` (built from the dev references
//! by `epicrisis-dev eval --validator-only --write-planted`). One helper runs them all; a
//! failure names the case.

use epicrisis_domain::Episode;
use epicrisis_testkit::fixtures::testdata;
use epicrisis_validate::planted::{PlantKind, Planted};
use epicrisis_validate::{EpisodeIndex, Finding, Report, validate, validate_indexed};
use serde_json::Value;
use std::collections::BTreeMap;

fn fold(s: &str) -> String {
    epicrisis_domain::text::fold(s)
}

/// Does a finding match an expectation (`severity`, `kind`, `category`, `mention`
/// contained, accent- and case-insensitively, and `claim_text`, the exact words its
/// claim covers in `text`)?
fn matches(f: &Finding, want: &Value, text: &str) -> bool {
    if let Some(w) = want.get("claim_text").and_then(Value::as_str) {
        let Some([a, b]) = f.claim else { return false };
        let covered: String = text.chars().skip(a).take(b.saturating_sub(a)).collect();
        if covered != w {
            return false;
        }
    }
    let s = serde_json::to_value(f).expect("finding serialises");
    for key in ["severity", "kind", "category"] {
        if let Some(w) = want.get(key)
            && s.get(key) != Some(w)
        {
            return false;
        }
    }
    match want.get("mention").and_then(Value::as_str) {
        Some(m) => fold(&f.mention).contains(&fold(m)),
        None => true,
    }
}

fn check_case(name: &str, case: &Value) -> Result<(), String> {
    let episode: Episode = if let Some(file) = case.get("episode_file").and_then(Value::as_str) {
        let path = testdata("validator/cases").join(file);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        epicrisis_ingest::read_episode(&bytes, file).map_err(|e| e.to_string())?
    } else {
        let ep = case.get("episode").ok_or("case has no episode")?;
        epicrisis_ingest::read_episode(ep.to_string().as_bytes(), name)
            .map_err(|e| e.to_string())?
    };
    let text = case
        .get("text")
        .and_then(Value::as_str)
        .ok_or("case has no text")?;
    let report = validate(&episode, text);
    let expect = &case["expect"];
    let show = || report.to_text();
    if let Some(ok) = expect.get("ok").and_then(Value::as_bool)
        && report.ok != ok
    {
        return Err(format!(
            "expected ok={ok}, got ok={}\n{}",
            report.ok,
            show()
        ));
    }
    if let Some(n) = expect.get("errors").and_then(Value::as_u64)
        && report.error_count() as u64 != n
    {
        return Err(format!(
            "expected {n} errors, got {}\n{}",
            report.error_count(),
            show()
        ));
    }
    for want in expect
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !report.findings.iter().any(|f| matches(f, want, text)) {
            return Err(format!("missing finding {want}\n{}", show()));
        }
    }
    for unwanted in expect
        .get("absent")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(f) = report.findings.iter().find(|f| matches(f, unwanted, text)) {
            return Err(format!(
                "unexpected finding {f:?} (matches {unwanted})\n{}",
                show()
            ));
        }
    }
    // Spans always point at the mention in the text.
    let chars: Vec<char> = text.chars().collect();
    for f in &report.findings {
        if let Some([a, b]) = f.span
            && !(a <= b && b <= chars.len())
        {
            return Err(format!(
                "span {a}..{b} outside the text ({} chars)",
                chars.len()
            ));
        }
    }
    Ok(())
}

#[test]
fn handcrafted_cases() {
    let dir = testdata("validator/cases");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 20,
        "expected the case corpus, found {}",
        entries.len()
    );
    let mut failures = Vec::new();
    for path in &entries {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let case: Value =
            serde_json::from_slice(&std::fs::read(path).expect("read case")).expect("case is JSON");
        if let Err(e) = check_case(&name, &case) {
            failures.push(format!("case {name}: {}\n{e}", case["description"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n\n")
    );
}

fn dev_records() -> Vec<epicrisis_ingest::Record> {
    let path = testdata("dev/train.jsonl");
    let bytes = std::fs::read(&path).expect("train.jsonl");
    epicrisis_ingest::read_dataset(&bytes, "train.jsonl").expect("dataset reads")
}

/// The bars: at most 0.05 error findings per reference document, at least 95 % of each
/// kind of planted error caught and 98 % of planted omissions (also in the references
/// with their discharge sentence rephrased, which the corpus holds too).
#[test]
fn references_are_quiet_and_planted_errors_are_caught() {
    let records = dev_records();
    let by_line: BTreeMap<usize, &epicrisis_ingest::Record> =
        records.iter().map(|r| (r.line, r)).collect();
    let mut ref_errors = 0usize;
    let mut ref_docs = 0usize;
    let mut noisy = Vec::new();
    let mut indexes: BTreeMap<usize, EpisodeIndex> = BTreeMap::new();
    for r in &records {
        let Some(reference) = &r.reference else {
            continue;
        };
        let index = EpisodeIndex::new(&r.episode);
        let report: Report = validate_indexed(&index, &r.episode, reference);
        ref_docs += 1;
        ref_errors += report.error_count();
        for f in report.errors() {
            noisy.push(format!(
                "line {}: {:?}/{:?} «{}»",
                r.line, f.kind, f.category, f.mention
            ));
        }
        indexes.insert(r.line, index);
    }
    let per_doc = ref_errors as f64 / ref_docs as f64;
    assert!(
        per_doc <= 0.05,
        "{per_doc:.3} errors per reference (bar 0.05):\n{}",
        noisy.join("\n")
    );

    let planted_path = testdata("validator/planted.jsonl");
    let text = std::fs::read_to_string(&planted_path).expect("planted.jsonl");
    let mut tally: BTreeMap<PlantKind, (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("planted line is JSON");
        let rec_line = v["line"].as_u64().expect("line") as usize;
        let planted: Planted = serde_json::from_value(v).expect("planted case");
        let record = by_line[&rec_line];
        let report = validate_indexed(&indexes[&rec_line], &record.episode, &planted.text);
        let t = tally.entry(planted.kind).or_default();
        t.1 += 1;
        if planted.caught_by(&report) {
            t.0 += 1;
        } else {
            missed.push(format!(
                "line {rec_line} {}: «{}»",
                planted.kind.as_str(),
                planted.mention
            ));
        }
    }
    assert_eq!(tally.len(), PlantKind::ALL.len(), "every kind is planted");
    for (kind, (caught, total)) in &tally {
        let rate = *caught as f64 / *total as f64;
        let bar = if PlantKind::OMISSIONS.contains(kind) {
            0.98
        } else {
            0.95
        };
        assert!(
            rate >= bar,
            "{}: {caught}/{total} caught ({:.1} %), bar {:.0} %\nmissed:\n{}",
            kind.as_str(),
            rate * 100.0,
            bar * 100.0,
            missed.join("\n")
        );
    }
}
