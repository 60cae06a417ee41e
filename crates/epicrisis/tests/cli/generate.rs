//! `generate`: JSON valid, complete and shaped on every episode, the episode read from
//! stdin, and the Markdown sections.

use serde_json::Value;
use std::path::{Path, PathBuf};

use super::{
    check_report, code, errors_of, path_str, run, run_json, stderr, stdout, train_lines, write_file,
};
use crate::common::testdata;

/// Episodes the deterministic writer must handle: the three testdata episodes and a few
/// single records of train.jsonl written to files.
fn episodes(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = [
        "episodes/compact_hernia.json",
        "episodes/episodio_1416169.json",
        "episodes/predecessor_neumonia.json",
    ]
    .iter()
    .map(|r| (r.to_string(), testdata(r)))
    .collect();
    let lines = train_lines();
    for n in [1, 2, 57, 160, lines.len()] {
        let p = write_file(dir, &format!("train_{n}.json"), lines[n - 1].as_bytes());
        out.push((format!("train.jsonl line {n}"), p));
    }
    out
}

fn episode_codes(path: &Path) -> Vec<String> {
    let ep = epicrisis_ingest::read_episode_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ep.codes().into_iter().map(|c| c.display).collect()
}

#[test]
fn generate_json_is_valid_complete_and_shaped() {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in episodes(dir.path()) {
        let codes = episode_codes(&path);
        assert!(!codes.is_empty(), "{name}: the episode has codes");
        for layout in ["paragraph", "sections"] {
            let ctx = format!("{name} --layout {layout}");
            let v = run_json(
                &[
                    "generate",
                    path_str(&path),
                    "--engine",
                    "deterministic",
                    "--layout",
                    layout,
                    "--format",
                    "json",
                ],
                None,
                0,
            );
            assert!(v.is_object(), "{ctx}: not an object: {v}");
            let text = v["text"]
                .as_str()
                .unwrap_or_else(|| panic!("{ctx}: no `text` string in {v}"));
            assert!(!text.trim().is_empty(), "{ctx}: empty text");
            assert_eq!(v["layout"], layout, "{ctx}: layout");
            assert_eq!(v["engine"], "deterministic", "{ctx}: engine");
            assert!(v["timings_ms"].is_object(), "{ctx}: timings_ms: {v}");
            for (k, t) in v["timings_ms"].as_object().unwrap() {
                assert!(t.is_number(), "{ctx}: timings_ms.{k} is not a number");
            }
            let report = &v["validation"];
            check_report(report, text, &ctx);
            assert_eq!(
                report["ok"], true,
                "{ctx}: the draft must validate: {report}"
            );
            assert!(
                errors_of(report).is_empty(),
                "{ctx}: error findings in the deterministic draft: {:?}",
                errors_of(report)
            );
            for c in &codes {
                assert!(
                    text.contains(c.as_str()),
                    "{ctx}: the code {c} of the episode is missing from the text:\n{text}"
                );
            }

            // `validate` on the same text agrees with the report inside `generate`.
            let text_file = write_file(dir.path(), "draft.txt", text.as_bytes());
            let again = run_json(
                &[
                    "validate",
                    path_str(&path),
                    path_str(&text_file),
                    "--format",
                    "json",
                ],
                None,
                0,
            );
            assert_eq!(
                &again, report,
                "{ctx}: `validate` and `generate` disagree on the same text"
            );
        }
    }
}

#[test]
fn generate_reads_the_episode_from_stdin() {
    let path = testdata("episodes/compact_hernia.json");
    let bytes = std::fs::read(&path).unwrap();
    for format in ["text", "json", "markdown"] {
        let from_file = run(&["generate", path_str(&path), "--format", format], None);
        let from_stdin = run(&["generate", "-", "--format", format], Some(bytes.clone()));
        assert_eq!(code(&from_file), 0, "{format}: {}", stderr(&from_file));
        assert_eq!(code(&from_stdin), 0, "{format}: {}", stderr(&from_stdin));
        if format == "json" {
            let a: Value = serde_json::from_slice(&from_file.stdout).unwrap();
            let b: Value = serde_json::from_slice(&from_stdin.stdout).unwrap();
            assert_eq!(a["text"], b["text"], "{format}: same text from stdin");
            assert_eq!(a["validation"], b["validation"], "{format}: same report");
        } else {
            assert_eq!(
                stdout(&from_file),
                stdout(&from_stdin),
                "{format}: same output from stdin and from the file"
            );
        }
    }
}

#[test]
fn markdown_sections_have_headings_and_paragraph_is_one_paragraph() {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in episodes(dir.path()) {
        let o = run(
            &[
                "generate",
                path_str(&path),
                "--layout",
                "sections",
                "--format",
                "markdown",
            ],
            None,
        );
        assert_eq!(code(&o), 0, "{name} sections: {}", stderr(&o));
        let md = stdout(&o);
        assert!(
            md.starts_with("# "),
            "{name}: sections markdown starts with `# `:\n{md}"
        );
        let headings = md.lines().filter(|l| l.starts_with("## ")).count();
        assert!(
            headings >= 5,
            "{name}: sections markdown has `## ` headings (found {headings}):\n{md}"
        );
        assert_eq!(
            md.lines().filter(|l| l.starts_with("# ")).count(),
            1,
            "{name}: exactly one title"
        );

        for format in ["markdown", "text"] {
            let o = run(
                &[
                    "generate",
                    path_str(&path),
                    "--layout",
                    "paragraph",
                    "--format",
                    format,
                ],
                None,
            );
            assert_eq!(code(&o), 0, "{name} paragraph {format}: {}", stderr(&o));
            let text = stdout(&o);
            let body = text.trim();
            assert!(!body.is_empty(), "{name} paragraph {format}: empty");
            assert!(
                !body.contains('\n'),
                "{name} paragraph {format}: more than one paragraph:\n{text}"
            );
            assert!(
                !body.starts_with('#'),
                "{name} paragraph {format}: a paragraph has no heading:\n{text}"
            );
        }
    }
}
