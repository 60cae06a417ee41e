//! The command line's contracts, as scripts rely on them: the real binary run on the
//! files of `testdata/` and on temporary files. Output shapes (`generate --format json`,
//! the validation REPORT), exit codes (0 ok, 1 errors in the text, 2 bad input) and spans
//! counted in Unicode characters. The `eval` summary is `epicrisis-dev`'s
//! (crates/epicrisis-dev/tests/eval.rs).

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

#[path = "../common/mod.rs"]
mod common;
use epicrisis_testkit::fixtures::{train_lines, write_file};

mod generate;
mod usage;
mod validate;

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
