//! `epicrisis-dev eval`'s contracts: the real binary run on `testdata/dev/train.jsonl` and
//! on temporary files. The summary's shape and its bars (code recall, no errors on our
//! drafts, few false errors on the references, planted errors caught), `--report`, and
//! bad datasets refused with exit code 2 and a message naming the file.

use epicrisis_testkit::bad_input_faults;
use epicrisis_testkit::fixtures::{testdata, train_lines, write_file};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Runs `epicrisis-dev` with `args`, with nothing on stdin.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_epicrisis-dev"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run epicrisis-dev {args:?}: {e}"))
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
fn run_json(args: &[&str], expected_code: i32) -> Value {
    let o = run(args);
    assert_eq!(
        code(&o),
        expected_code,
        "epicrisis-dev {args:?}: exit code; stderr: {}",
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "epicrisis-dev {args:?}: stdout is not JSON ({e}):\n{}",
            stdout(&o)
        )
    })
}

#[test]
fn bad_datasets_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| path_str(p).to_string();
    let fname = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
    let latin1 = write_file(d, "latin1.json", b"{\"dx\": [\"Neumon\xeda (J18.9)\"]}");
    let empty = write_file(d, "empty.json", b"  \n");
    let bad_line = write_file(
        d,
        "bad_line.jsonl",
        format!("{}\n{{\"input\": {{\"dx\": 5}}}}\n", train_lines()[0]).as_bytes(),
    );
    struct BadCase {
        name: &'static str,
        args: Vec<String>,
        stderr_has: Vec<String>,
    }
    let cases = vec![
        BadCase {
            name: "eval: dataset does not exist",
            args: vec!["eval".into(), s(&d.join("no_dataset.jsonl"))],
            stderr_has: vec!["no_dataset.jsonl".into()],
        },
        BadCase {
            name: "eval: a bad record names its line and path",
            args: vec!["eval".into(), s(&bad_line)],
            stderr_has: vec![fname(&bad_line), "línea 2".into(), "dx".into()],
        },
        BadCase {
            name: "eval: empty dataset",
            args: vec!["eval".into(), s(&empty)],
            stderr_has: vec![fname(&empty)],
        },
        BadCase {
            name: "eval: dataset not UTF-8",
            args: vec!["eval".into(), s(&latin1), "--validator-only".into()],
            stderr_has: vec![fname(&latin1), "UTF-8".into()],
        },
    ];
    let mut failures = Vec::new();
    for case in cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let o = run(&args);
        failures.extend(bad_input_faults(case.name, &o, &case.stderr_has));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_help_lists_the_dev_commands() {
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let help = stdout(&o);
    for c in [
        "eval",
        "bench",
        "bench-embeddings",
        "bench-retrieval",
        "bench-longstay",
        "bench-evidence",
        "eval-deid",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{c} "))),
            "`{c}` missing from epicrisis-dev --help:\n{help}"
        );
    }
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("summary.{} is not a number in {v:#}", path.join(".")))
}

#[test]
fn eval_generation_meets_the_bars_on_train() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("per_record.jsonl");
    let dataset = testdata("dev/train.jsonl");
    let v = run_json(
        &[
            "eval",
            path_str(&dataset),
            "--format",
            "json",
            "--report",
            path_str(&report),
        ],
        0,
    );
    for key in [
        "dataset",
        "engine",
        "layout",
        "records",
        "code_recall",
        "unsupported_per_document",
        "errors_per_document",
        "rouge_l",
        "ley_20584",
        "seconds_per_document",
    ] {
        assert!(v.get(key).is_some(), "eval summary lacks `{key}`: {v:#}");
    }
    let records = train_lines().len();
    assert_eq!(num(&v, &["records"]) as usize, records, "records: {v:#}");
    assert_eq!(num(&v, &["code_recall", "rate"]), 1.0, "code recall: {v:#}");
    assert_eq!(
        num(&v, &["code_recall", "found"]),
        num(&v, &["code_recall", "total"]),
        "codes found: {v:#}"
    );
    assert_eq!(
        num(&v, &["errors_per_document"]),
        0.0,
        "errors per document: {v:#}"
    );
    assert_eq!(
        num(&v, &["unsupported_per_document"]),
        0.0,
        "unsupported per document: {v:#}"
    );
    let rouge = num(&v, &["rouge_l"]);
    assert!((0.0..=1.0).contains(&rouge), "rouge_l in [0, 1]: {v:#}");

    let lines: Vec<Value> = std::fs::read_to_string(&report)
        .expect("--report wrote the file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("report lines are JSON"))
        .collect();
    assert_eq!(lines.len(), records, "one report line per record");
    for l in &lines {
        assert!(l["text"].is_string(), "report line has text: {l}");
        assert!(l["findings"].is_array(), "report line has findings: {l}");
    }
}

#[test]
fn eval_validator_only_meets_the_bars_on_train() {
    let dataset = testdata("dev/train.jsonl");
    let v = run_json(
        &[
            "eval",
            path_str(&dataset),
            "--validator-only",
            "--format",
            "json",
        ],
        0,
    );
    assert!(
        num(&v, &["references", "documents"]) as usize == train_lines().len(),
        "every record has a reference: {v:#}"
    );
    let per_doc = num(&v, &["references", "errors_per_document"]);
    assert!(
        per_doc <= 0.05,
        "false errors on the references: {per_doc} per document (bar: 0.05): {:#}",
        v["references"]
    );
    // The same references with the discharge sentence written in other shapes
    // («Egresa con …», «Alta con X. Se indica …», a list under a heading).
    let rephrased = &v["rephrased"];
    let per_doc = num(rephrased, &["references", "errors_per_document"]);
    assert!(
        per_doc <= 0.05,
        "false errors on rephrased references: {per_doc} per document (bar: 0.05): {rephrased:#}"
    );
    for kind in [
        "omitted_discharge_medication",
        "omitted_discharge_diagnosis",
    ] {
        let rate = num(rephrased, &["planted", kind, "rate"]);
        assert!(
            rate >= 0.98,
            "planted {kind} in rephrased references: caught {rate} (bar 0.98): {rephrased:#}"
        );
    }
    let planted = v["planted"]
        .as_object()
        .unwrap_or_else(|| panic!("summary.planted is not an object: {v:#}"));
    assert!(
        planted.len() >= 4,
        "planted error kinds (wrong drug, dose, code, omission at least): {v:#}"
    );
    for (kind, figures) in planted {
        let rate = figures["rate"]
            .as_f64()
            .unwrap_or_else(|| panic!("planted.{kind}.rate: {figures}"));
        let total = figures["total"].as_u64().unwrap_or(0);
        assert!(total > 0, "planted.{kind}: no cases: {figures}");
        assert!(
            rate >= 0.95,
            "planted {kind}: caught {rate} (bar 0.95): {figures}"
        );
    }
}

#[test]
fn eval_text_format_on_a_small_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let small = write_file(
        dir.path(),
        "small.jsonl",
        (train_lines()[..3].join("\n") + "\n").as_bytes(),
    );
    for extra in [&[][..], &["--validator-only"][..]] {
        let mut args = vec!["eval", path_str(&small)];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert_eq!(code(&o), 0, "eval {extra:?}: {}", stderr(&o));
        assert!(
            !stdout(&o).trim().is_empty(),
            "eval {extra:?}: prints a summary"
        );
        let mut json_args = args.clone();
        json_args.extend_from_slice(&["--format", "json"]);
        let v = run_json(&json_args, 0);
        assert!(v.is_object(), "eval {extra:?} --format json: {v}");
    }
}
