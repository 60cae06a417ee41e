//! `validate`: correct texts accepted, planted errors reported with their categories and
//! spans (in Unicode characters), and the text or the episode read from stdin.

use serde_json::Value;
use std::path::Path;

use super::{
    chars_slice, check_report, code, errors_of, path_str, reference, run, stderr, stdout,
    write_file,
};
use crate::common::testdata;

/// A base text that is correct for `compact_hernia.json`, with accents and `ñ` before every
/// word the mutations touch, so that byte and character offsets differ.
fn base_texts() -> Vec<(&'static str, String)> {
    let episode = testdata("episodes/compact_hernia.json");
    let o = run(
        &["generate", path_str(&episode), "--layout", "paragraph"],
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let prefix = "Acompañado por su familia, señora Muñoz. ";
    vec![
        ("reference", format!("{prefix}{}", reference(1))),
        ("generated", format!("{prefix}{}", stdout(&o))),
    ]
}

/// Replaces the first match of any of `from` in `text` by `to`, or fails naming the case.
fn replace_one(text: &str, from: &[&str], to: &str, ctx: &str) -> String {
    for f in from {
        if text.contains(f) {
            return text.replacen(f, to, 1);
        }
    }
    panic!("{ctx}: none of {from:?} in the base text:\n{text}")
}

/// Removes the discharge medication clause (", indicandose paracetamol ... (N02BE01)").
fn remove_discharge_med(text: &str, ctx: &str) -> String {
    let start = text
        .find(", indicandose")
        .or_else(|| text.find(", indicándose"))
        .unwrap_or_else(|| panic!("{ctx}: no discharge medication clause in:\n{text}"));
    let end = text[start..]
        .find("(N02BE01)")
        .map(|i| start + i + "(N02BE01)".len())
        .unwrap_or_else(|| panic!("{ctx}: no (N02BE01) after the clause in:\n{text}"));
    format!("{}{}", &text[..start], &text[end..])
}

fn validate_json(episode: &Path, text: &str, dir: &Path, expected_code: i32, ctx: &str) -> Value {
    let t = write_file(dir, "text.txt", text.as_bytes());
    let o = run(
        &[
            "validate",
            path_str(episode),
            path_str(&t),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        code(&o),
        expected_code,
        "{ctx}: exit code; stdout: {}; stderr: {}",
        stdout(&o),
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{ctx}: not JSON ({e}): {}", stdout(&o)));
    check_report(&v, text, ctx);
    v
}

#[test]
fn validate_accepts_correct_texts() {
    let dir = tempfile::tempdir().unwrap();
    let episode = testdata("episodes/compact_hernia.json");
    for (name, text) in base_texts() {
        let v = validate_json(&episode, &text, dir.path(), 0, name);
        assert_eq!(v["ok"], true, "{name}: {v}");
        // The text format exits the same way.
        let t = write_file(dir.path(), "t.txt", text.as_bytes());
        let o = run(&["validate", path_str(&episode), path_str(&t)], None);
        assert_eq!(code(&o), 0, "{name} --format text: {}", stderr(&o));
        assert!(
            !stdout(&o).trim().is_empty(),
            "{name}: text report is empty"
        );
    }
}

struct Planted {
    name: &'static str,
    mutate: fn(&str, &str) -> String,
    kind: &'static str,
    category: &'static str,
    /// The mention must contain this (case-insensitive); `None` for omissions.
    mention: &'static str,
    has_span: bool,
}

#[test]
fn validate_reports_planted_errors_with_spans_and_categories() {
    let cases = [
        Planted {
            name: "wrong drug",
            mutate: |t, ctx| replace_one(t, &["metronidazol"], "clindamicina", ctx),
            kind: "unsupported",
            category: "medication",
            mention: "clindamicina",
            has_span: true,
        },
        Planted {
            name: "changed dose",
            mutate: |t, ctx| {
                replace_one(
                    t,
                    &["paracetamol 1g", "paracetamol 1 g"],
                    "paracetamol 2 g",
                    ctx,
                )
            },
            kind: "unsupported",
            category: "dose",
            mention: "2 g",
            has_span: true,
        },
        Planted {
            name: "invented code",
            mutate: |t, ctx| replace_one(t, &["(53.49)"], "(53.49) (K35.8)", ctx),
            kind: "unsupported",
            category: "code",
            mention: "K35.8",
            has_span: true,
        },
        Planted {
            name: "removed discharge medication",
            mutate: remove_discharge_med,
            kind: "omission",
            category: "medication",
            mention: "paracetamol",
            has_span: false,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let episode = testdata("episodes/compact_hernia.json");
    for (base, text) in base_texts() {
        for case in &cases {
            let ctx = format!("{} ({base} text)", case.name);
            let mutated = (case.mutate)(&text, &ctx);
            assert_ne!(mutated, text, "{ctx}: the mutation changed nothing");
            let v = validate_json(&episode, &mutated, dir.path(), 1, &ctx);
            assert_eq!(v["ok"], false, "{ctx}: {v}");
            let hit = errors_of(&v).into_iter().find(|f| {
                f["kind"] == case.kind
                    && f["category"] == case.category
                    && f["mention"]
                        .as_str()
                        .is_some_and(|m| m.to_lowercase().contains(&case.mention.to_lowercase()))
            });
            let Some(f) = hit else {
                panic!(
                    "{ctx}: no {} error of category {} mentioning {:?}; findings: {v:#}",
                    case.kind, case.category, case.mention
                );
            };
            if case.has_span {
                let span = f["span"].as_array().unwrap_or_else(|| {
                    panic!("{ctx}: the finding has no span: {f}");
                });
                let start = span[0].as_u64().unwrap() as usize;
                let end = span[1].as_u64().unwrap() as usize;
                let mention = f["mention"].as_str().unwrap();
                assert_eq!(
                    chars_slice(&mutated, start, end),
                    mention,
                    "{ctx}: span [{start}, {end}] counts characters, not bytes"
                );
                // The offending word lies after multi-byte characters, so a byte offset
                // would differ: the check above is meaningful.
                let byte_start = mutated.char_indices().nth(start).map(|(b, _)| b).unwrap();
                assert!(
                    byte_start > start,
                    "{ctx}: no multi-byte text before the span"
                );
                assert!(
                    mutated[byte_start..].starts_with(mention),
                    "{ctx}: the mention is not at the span"
                );
            } else {
                assert!(f["span"].is_null(), "{ctx}: an omission has span null: {f}");
            }
        }
    }
}

#[test]
fn validate_reads_the_text_or_the_episode_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let episode = testdata("episodes/compact_hernia.json");
    let (_, good) = base_texts().remove(0);
    let bad = good.replacen("metronidazol", "clindamicina", 1);
    for (name, text, expected) in [("correct", &good, 0), ("wrong drug", &bad, 1)] {
        let o = run(
            &["validate", path_str(&episode), "-", "--format", "json"],
            Some(text.as_bytes().to_vec()),
        );
        assert_eq!(code(&o), expected, "{name}, TEXT on stdin: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        check_report(&v, text, name);

        let t = write_file(dir.path(), "t.txt", text.as_bytes());
        let o = run(
            &["validate", "-", path_str(&t), "--format", "json"],
            Some(std::fs::read(&episode).unwrap()),
        );
        assert_eq!(
            code(&o),
            expected,
            "{name}, EPISODE on stdin: {}",
            stderr(&o)
        );
        let w: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v, w, "{name}: same report whichever input is stdin");
    }
}
