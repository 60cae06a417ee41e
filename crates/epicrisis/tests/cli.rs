//! The command line's contracts, as scripts rely on them: the real binary run on the
//! files of `testdata/` and on temporary files. Output shapes (`generate --format json`,
//! the validation REPORT), exit codes (0 ok, 1 errors in the text, 2 bad input) and spans
//! counted in Unicode characters. The `eval` summary is `epicrisis-dev`'s
//! (crates/epicrisis-dev/tests/eval.rs).

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::testdata;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Runs the binary with `args`, feeding `stdin` (or nothing) to it.
fn run(args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run epicrisis {args:?}: {e}"));
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // The program may stop reading early (size limit) and close the pipe: that is fine.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("epicrisis {args:?} did not finish: {e}"));
    if let Some(w) = writer {
        w.join().expect("stdin writer thread");
    }
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("the process exited normally")
}

/// Runs and parses stdout as JSON, asserting the expected exit code.
fn run_json(args: &[&str], stdin: Option<Vec<u8>>, expected_code: i32) -> Value {
    let o = run(args, stdin);
    assert_eq!(
        code(&o),
        expected_code,
        "epicrisis {args:?}: exit code; stderr: {}",
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "epicrisis {args:?}: stdout is not JSON ({e}):\n{}",
            stdout(&o)
        )
    })
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p
}

fn train_lines() -> Vec<String> {
    let p = testdata("dev/train.jsonl");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The reference epicrisis (`output`) of a train.jsonl line (1-based).
fn reference(line: usize) -> String {
    let v: Value = serde_json::from_str(&train_lines()[line - 1]).expect("train.jsonl line");
    v["output"]
        .as_str()
        .expect("output is a string")
        .to_string()
}

fn chars_slice(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end - start).collect()
}

const SEVERITIES: &[&str] = &["error", "warning"];
const KINDS: &[&str] = &["unsupported", "omission", "suspicious_source", "style"];
const CATEGORIES: &[&str] = &[
    "diagnosis",
    "procedure",
    "medication",
    "code",
    "dose",
    "number",
    "lab",
    "date",
    "allergy",
    "control",
    "other",
];

/// Checks that `report` has the REPORT shape and that its spans point into `text`
/// (Unicode characters) at the words they name.
fn check_report(report: &Value, text: &str, ctx: &str) {
    let ok = report["ok"]
        .as_bool()
        .unwrap_or_else(|| panic!("{ctx}: `ok` is not a bool in {report}"));
    let findings = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: `findings` is not a list in {report}"));
    let n_chars = text.chars().count();
    let mut errors = 0;
    for f in findings {
        let field = |k: &str| {
            f[k].as_str()
                .unwrap_or_else(|| panic!("{ctx}: finding field `{k}` is not a string: {f}"))
                .to_string()
        };
        let severity = field("severity");
        let kind = field("kind");
        let category = field("category");
        let mention = field("mention");
        let message = field("message");
        assert!(
            SEVERITIES.contains(&severity.as_str()),
            "{ctx}: severity {severity:?} in {f}"
        );
        assert!(
            KINDS.contains(&kind.as_str()),
            "{ctx}: kind {kind:?} in {f}"
        );
        assert!(
            CATEGORIES.contains(&category.as_str()),
            "{ctx}: category {category:?} in {f}"
        );
        assert!(!message.trim().is_empty(), "{ctx}: empty message in {f}");
        assert!(
            looks_spanish(&message),
            "{ctx}: the message should be in Spanish: {message:?}"
        );
        if severity == "error" {
            errors += 1;
        }
        match &f["span"] {
            Value::Null => {}
            Value::Array(a) => {
                assert_ne!(kind, "omission", "{ctx}: an omission has a span: {f}");
                assert_eq!(a.len(), 2, "{ctx}: span is not [start, end]: {f}");
                let start = a[0].as_u64().expect("span start") as usize;
                let end = a[1].as_u64().expect("span end") as usize;
                assert!(
                    start <= end && end <= n_chars,
                    "{ctx}: span [{start}, {end}] outside the text ({n_chars} chars): {f}"
                );
                assert_eq!(
                    chars_slice(text, start, end),
                    mention,
                    "{ctx}: the span does not hold the mention: {f}"
                );
            }
            other => panic!("{ctx}: span is neither null nor a list: {other}"),
        }
        if kind == "omission" {
            assert!(f["span"].is_null(), "{ctx}: omission with a span: {f}");
        }
    }
    assert_eq!(
        ok,
        errors == 0,
        "{ctx}: ok must be true exactly when there are no errors: {report}"
    );
}

/// A cheap check that a message is Spanish prose, not English.
fn looks_spanish(msg: &str) -> bool {
    let lower = format!(" {} ", msg.to_lowercase());
    let spanish = [
        " el ", " la ", " los ", " las ", " de ", " del ", " no ", " en ", " con ", " que ",
        " es ", " un ", " una ", " falta", " se ", " por ", "«",
    ];
    let english = [
        " the ",
        " is not ",
        " does not ",
        " missing ",
        " found ",
        " should ",
    ];
    let spanish_letters = lower.chars().any(|c| "áéíóúñ¿¡«»".contains(c));
    (spanish_letters || spanish.iter().any(|w| lower.contains(w)))
        && !english.iter().any(|w| lower.contains(w))
}

fn errors_of(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .map(|fs| fs.iter().filter(|f| f["severity"] == "error").collect())
        .unwrap_or_default()
}

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

// ---------------------------------------------------------------------------------------
// generate
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

struct BadCase {
    name: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    /// Each must appear in stderr.
    stderr_has: Vec<String>,
}

#[test]
fn bad_input_exits_2_naming_the_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_episode = testdata("episodes/compact_hernia.json");
    let good_text = write_file(d, "good.txt", reference(1).as_bytes());
    let train = testdata("dev/train.jsonl");

    let not_json = write_file(d, "not_json.json", b"not json {");
    let latin1 = write_file(d, "latin1.json", b"{\"dx\": [\"Neumon\xeda (J18.9)\"]}");
    let no_dx = write_file(
        d,
        "no_dx.json",
        br#"{"dx": [], "proc": ["Apendicectomia (47.01)"], "dx_alta": [], "med": []}"#,
    );
    let wrong_type = write_file(
        d,
        "wrong_type.json",
        br#"{"dx": 5, "dx_alta": ["Neumonia (J18.9)"]}"#,
    );
    let wrong_nested = write_file(
        d,
        "wrong_nested.json",
        // Its only diagnosis cannot be read, so nothing makes it an episode; the refusal
        // names the nested path that could not be read.
        br#"{"motivo_ingreso": "Fiebre", "diagnostico_ingreso": [{"codigo": "J90", "nombre": 7}]}"#,
    );
    let empty = write_file(d, "empty.json", b"  \n");
    let array = write_file(d, "array.json", b"[1, 2]");
    let mut big = b"{\"dx\": [\"Neumonia (J18.9)\"], \"evo\": \"".to_vec();
    big.extend(std::iter::repeat_n(b' ', 17_000_000));
    big.extend_from_slice(b"\"}");
    let big_path = write_file(d, "big.json", &big);
    let bad_text = write_file(d, "bad_text.txt", b"Ingresa por neumon\xeda (J18.9).");
    let missing = d.join("does_not_exist.json");

    let s = |p: &Path| path_str(p).to_string();
    let fname = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
    let gen_args = |p: &Path| vec!["generate".to_string(), s(p)];

    let cases = vec![
        BadCase {
            name: "not JSON",
            args: gen_args(&not_json),
            stdin: None,
            stderr_has: vec![
                fname(&not_json),
                "no es JSON válido".into(),
                "detalle técnico".into(),
            ],
        },
        BadCase {
            name: "invalid UTF-8",
            args: gen_args(&latin1),
            stdin: None,
            stderr_has: vec![fname(&latin1), "expórtelo de nuevo en UTF-8".into()],
        },
        BadCase {
            name: "JSONL dataset given as one episode",
            args: gen_args(&train),
            stdin: None,
            stderr_has: vec!["train.jsonl".into()],
        },
        BadCase {
            name: "file does not exist",
            args: gen_args(&missing),
            stdin: None,
            stderr_has: vec![fname(&missing)],
        },
        BadCase {
            name: "episode without diagnoses",
            args: gen_args(&no_dx),
            stdin: None,
            stderr_has: vec![fname(&no_dx)],
        },
        BadCase {
            name: "wrong type (dx: 5)",
            args: gen_args(&wrong_type),
            stdin: None,
            stderr_has: vec![fname(&wrong_type), "dx".into(), "otro tipo".into()],
        },
        BadCase {
            name: "wrong type at a nested path",
            args: gen_args(&wrong_nested),
            stdin: None,
            stderr_has: vec![fname(&wrong_nested), "diagnostico_ingreso[0].nombre".into()],
        },
        BadCase {
            name: "wrong type on stdin",
            args: vec!["generate".into(), "-".into()],
            stdin: Some(std::fs::read(&wrong_type).unwrap()),
            stderr_has: vec!["<stdin>".into(), "dx".into()],
        },
        BadCase {
            name: "empty file",
            args: gen_args(&empty),
            stdin: None,
            stderr_has: vec![fname(&empty)],
        },
        BadCase {
            name: "a JSON list instead of an object",
            args: gen_args(&array),
            stdin: None,
            stderr_has: vec![fname(&array)],
        },
        BadCase {
            name: "file over 16 MiB",
            args: gen_args(&big_path),
            stdin: None,
            stderr_has: vec![fname(&big_path)],
        },
        BadCase {
            name: "stdin over 16 MiB",
            args: vec!["generate".into(), "-".into()],
            stdin: Some(big.clone()),
            stderr_has: vec!["<stdin>".into()],
        },
        BadCase {
            name: "validate: file over 16 MiB as the episode",
            args: vec!["validate".into(), s(&big_path), s(&good_text)],
            stdin: None,
            stderr_has: vec![fname(&big_path)],
        },
        BadCase {
            name: "validate - -",
            args: vec!["validate".into(), "-".into(), "-".into()],
            stdin: Some(Vec::new()),
            stderr_has: vec!["-".into()],
        },
        BadCase {
            name: "validate: bad episode",
            args: vec!["validate".into(), s(&wrong_type), s(&good_text)],
            stdin: None,
            stderr_has: vec![fname(&wrong_type), "dx".into()],
        },
        BadCase {
            name: "validate: text file does not exist",
            args: vec![
                "validate".into(),
                s(&good_episode),
                s(&d.join("no_text.txt")),
            ],
            stdin: None,
            stderr_has: vec!["no_text.txt".into()],
        },
        BadCase {
            name: "validate: text not UTF-8",
            args: vec!["validate".into(), s(&good_episode), s(&bad_text)],
            stdin: None,
            stderr_has: vec![fname(&bad_text), "UTF-8".into()],
        },
        BadCase {
            name: "validate: JSON report for a bad episode still exits 2",
            args: vec![
                "validate".into(),
                s(&not_json),
                s(&good_text),
                "--format".into(),
                "json".into(),
            ],
            stdin: None,
            stderr_has: vec![fname(&not_json)],
        },
        BadCase {
            name: "unknown layout",
            args: vec![
                "generate".into(),
                s(&good_episode),
                "--layout".into(),
                "poem".into(),
            ],
            stdin: None,
            stderr_has: vec!["poem".into()],
        },
    ];

    let mut failures = Vec::new();
    for case in cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let o = run(&args, case.stdin.clone());
        let err = stderr(&o);
        let c = code(&o);
        if c != 2 {
            failures.push(format!(
                "[{}] exit code {c}, expected 2; stderr: {err}",
                case.name
            ));
            continue;
        }
        if err.trim().is_empty() {
            failures.push(format!("[{}] nothing on stderr", case.name));
        }
        for needle in &case.stderr_has {
            if !err.contains(needle.as_str()) {
                failures.push(format!(
                    "[{}] stderr does not name {needle:?}: {err}",
                    case.name
                ));
            }
        }
        if !o.stdout.is_empty() {
            failures.push(format!(
                "[{}] bad input printed to stdout: {}",
                case.name,
                stdout(&o)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The product binary carries what a hospital runs: the benchmarks and evaluations are
/// `epicrisis-dev`'s.
#[test]
fn the_help_lists_no_dev_commands() {
    let o = run(&["--help"], None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let help = stdout(&o);
    assert!(
        help.lines()
            .any(|l| l.trim_start().starts_with("generate ")),
        "{help}"
    );
    for l in help.lines().map(str::trim_start) {
        assert!(
            !l.starts_with("eval") && !l.starts_with("bench"),
            "a development command in epicrisis --help: {l}\n{help}"
        );
    }
}
