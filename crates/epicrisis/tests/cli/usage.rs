//! Bad input exits 2 naming the file and the path in it; the help lists no dev commands.

use std::path::Path;

use super::{code, path_str, reference, run, stderr, stdout, write_file};
use crate::common::testdata;
use epicrisis_testkit::bad_input_faults;

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
        failures.extend(bad_input_faults(case.name, &o, &case.stderr_has));
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
