//! `epicrisis doctor`: every failing check, run on the real binary in a scratch folder with
//! its own `.env`. Secrets must never appear in the output.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

mod common;
use common::model_fixture;

/// Every setting the program reads, removed from the child's environment so the
/// developer's own settings cannot leak into a case.
const SETTINGS: &[&str] = &[
    "MODEL_TYPE",
    "LOCAL_LLM_PATH",
    "EMBEDDINGS_MODEL",
    "EMBEDDINGS_TYPE",
    "MAX_TOKENS",
    "TEMPERATURE",
    "TOP_P",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_BASE_URL",
    "HF_ENDPOINT",
    "HF_TOKEN",
    "DATABASE_URL",
    "EPICRISIS_MODELS_DIR",
    "EPICRISIS_THREADS",
    "EPICRISIS_CONTEXT_SIZE",
    "EPICRISIS_BATCH_SIZE",
    "EPICRISIS_GPU_LAYERS",
    "EPICRISIS_DRAFT_TOKENS",
    "EPICRISIS_FLASH_ATTENTION",
    "EPICRISIS_CHAT_TEMPLATE",
    "EPICRISIS_SEED",
    "EPICRISIS_TOP_K",
    "EPICRISIS_REPEAT_PENALTY",
    "EPICRISIS_MEMORY_LIMIT_MB",
    "EPICRISIS_LISTEN",
    "EPICRISIS_ALLOW_EXTERNAL",
];

/// A scratch folder with a `.env` holding `lines` (plus a writable SQLite location and
/// embeddings off unless the case sets them).
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(lines: &[&str]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        if !lines.iter().any(|l| l.starts_with("DATABASE_URL")) {
            text.push_str("DATABASE_URL=sqlite:epicrisis.db\n");
        }
        if !lines.iter().any(|l| l.starts_with("EMBEDDINGS_")) {
            text.push_str("EMBEDDINGS_TYPE=none\n");
        }
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(dir.path().join(".env"), text).unwrap();
        Case { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `doctor --format json`; returns (exit code, report, raw output).
    fn run(&self) -> (i32, Value, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
        for k in SETTINGS {
            c.env_remove(k);
        }
        let out = c
            .args(["doctor", "--format", "json"])
            .current_dir(self.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let v: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("doctor printed no JSON ({e}): {stdout}\n{stderr}"));
        (
            out.status.code().unwrap_or(-1),
            v,
            format!("{stdout}\n{stderr}"),
        )
    }
}

/// The checks named `name` with verdict `verdict`, as "detail → fix" strings.
fn find(report: &Value, name: &str, verdict: &str) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name && c["verdict"] == verdict)
        .map(|c| format!("{} → {}", c["detail"], c["fix"]))
        .collect()
}

#[track_caller]
fn assert_check(report: &Value, name: &str, verdict: &str, needles: &[&str]) {
    let found = find(report, name, verdict);
    assert!(
        !found.is_empty(),
        "expected a {verdict} check named {name:?} in {report:#}"
    );
    let text = found.join("\n");
    for n in needles {
        assert!(
            text.contains(n),
            "{name} check should mention {n:?}: {text}"
        );
    }
}

#[test]
fn a_sound_deterministic_setup_passes() {
    let case = Case::new(&["MODEL_TYPE=deterministic"]);
    let (code, report, _) = case.run();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_check(&report, "configuration", "ok", &[".env"]);
    assert_check(&report, "engine", "ok", &["ningún dato clínico sale"]);
    assert_check(&report, "database", "ok", &["epicrisis.db"]);
}

#[test]
fn a_wrong_value_names_the_variable_the_line_and_what_is_allowed() {
    for (line, needles) in [
        (
            "TEMPERATURE=caliente",
            &["TEMPERATURE", "línea 4", "caliente", "0.0 y 5.0"][..],
        ),
        (
            "EPICRISIS_FLASH_ATTENTION=rapido",
            &[
                "EPICRISIS_FLASH_ATTENTION",
                "línea 4",
                "rapido",
                "auto, on u off",
            ][..],
        ),
    ] {
        let case = Case::new(&["MODEL_TYPE=deterministic", line]);
        let (code, report, _) = case.run();
        assert_eq!(code, 1, "{line}");
        assert_check(&report, "configuration", "fail", needles);
    }
}

#[test]
fn a_broken_env_file_names_the_line() {
    let case = Case::new(&["MODEL_TYPE=deterministic", "this line has no equals sign"]);
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(&report, "configuration", "fail", &[".env", "línea 4"]);
}

#[test]
fn a_misspelt_setting_is_a_warning_with_a_suggestion() {
    let case = Case::new(&["MODEL_TYPE=deterministic", "EPICRISIS_THREAD=4"]);
    let (code, report, _) = case.run();
    assert_eq!(code, 0, "{report:#}");
    assert_check(
        &report,
        "configuration",
        "warn",
        &["EPICRISIS_THREAD", "EPICRISIS_THREADS"],
    );
}

#[test]
fn a_missing_model_file_prints_the_path_tried() {
    let case = Case::new(&[
        "MODEL_TYPE=local",
        "LOCAL_LLM_PATH=/nonexistent/modelo.gguf",
    ]);
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(
        &report,
        "local model",
        "fail",
        &["/nonexistent/modelo.gguf", "LOCAL_LLM_PATH"],
    );
}

#[test]
fn no_model_at_all_in_local_mode_says_how_to_get_one() {
    let case = Case::new(&["MODEL_TYPE=local"]);
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(
        &report,
        "local model",
        "fail",
        &["epicrisis models download", "models import"],
    );
}

#[test]
fn a_folder_instead_of_a_model_file_is_named() {
    let case = Case::new(&["MODEL_TYPE=local", "LOCAL_LLM_PATH=."]);
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(&report, "local model", "fail", &["carpeta", ".gguf"]);
}

#[test]
fn a_file_that_is_not_gguf_is_refused() {
    let case = Case::new(&["MODEL_TYPE=local", "LOCAL_LLM_PATH=model.gguf"]);
    std::fs::write(case.path().join("model.gguf"), "<html>404 Not Found</html>").unwrap();
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(&report, "local model", "fail", &["model.gguf", "GGUF"]);
}

#[test]
fn a_truncated_download_is_detected() {
    let Some(fx) = model_fixture() else { return };
    let case = Case::new(&["MODEL_TYPE=local", "LOCAL_LLM_PATH=cut.gguf"]);
    let bytes = std::fs::read(fx.as_path()).unwrap();
    std::fs::write(case.path().join("cut.gguf"), &bytes[..bytes.len() / 3]).unwrap();
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(&report, "local model", "fail", &["cut.gguf"]);
}

#[test]
fn a_valid_model_reports_quantization_and_memory() {
    let Some(fx) = model_fixture() else { return };
    let fx = fx.as_path().display().to_string();
    let case = Case::new(&["MODEL_TYPE=local", &format!("LOCAL_LLM_PATH={fx}")]);
    let (code, report, _) = case.run();
    assert_eq!(code, 0, "{report:#}");
    assert_check(&report, "local model", "ok", &["GGUF", "Q4_1"]);
    assert_check(&report, "memory", "ok", &["necesita unos"]);
}

#[test]
fn a_model_too_big_for_the_memory_limit_suggests_smaller_ones() {
    let Some(fx) = model_fixture() else { return };
    let fx = fx.as_path().display().to_string();
    let case = Case::new(&[
        "MODEL_TYPE=local",
        &format!("LOCAL_LLM_PATH={fx}"),
        "EPICRISIS_MEMORY_LIMIT_MB=1",
    ]);
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(
        &report,
        "memory",
        "fail",
        &[
            "necesita unos",
            "modelo más pequeño",
            "cuantización",
            "proveedor externo",
        ],
    );
}

#[test]
fn an_external_provider_without_key_or_consent_fails() {
    let case = Case::new(&["MODEL_TYPE=openai"]);
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(
        &report,
        "external provider",
        "fail",
        &["OPENAI_API_KEY", "EPICRISIS_ALLOW_EXTERNAL"],
    );
}

#[test]
fn keys_are_never_printed() {
    let secret = "sk-ultra-secret-0123456789";
    let case = Case::new(&[
        "MODEL_TYPE=anthropic",
        "EPICRISIS_ALLOW_EXTERNAL=true",
        &format!("ANTHROPIC_API_KEY={secret}"),
        &format!("OPENAI_API_KEY={secret}"),
        &format!("HF_TOKEN={secret}"),
        "DATABASE_URL=postgres://app:hunter2pass@127.0.0.1:1/epicrisis",
    ]);
    let (_, report, all) = case.run();
    assert!(!all.contains(secret), "a key leaked: {all}");
    assert!(!all.contains("hunter2pass"), "a password leaked: {all}");
    assert_check(&report, "engine", "warn", &["Anthropic", "desidentificado"]);
}

#[test]
fn network_keys_set_in_local_mode_are_a_warning() {
    let case = Case::new(&[
        "MODEL_TYPE=deterministic",
        "OPENAI_API_KEY=sk-unused-key-999",
    ]);
    let (code, report, all) = case.run();
    assert_eq!(code, 0, "{report:#}");
    assert!(!all.contains("sk-unused-key-999"));
    assert_check(
        &report,
        "external provider",
        "warn",
        &["OPENAI_API_KEY", "no se usa"],
    );
}

#[test]
fn an_unreachable_database_fails_with_the_password_hidden() {
    // Port 1 on loopback: nothing listens there.
    let case = Case::new(&[
        "MODEL_TYPE=deterministic",
        "DATABASE_URL=postgres://app:s3cr3tpw@127.0.0.1:1/epicrisis",
    ]);
    let (code, report, all) = case.run();
    assert_eq!(code, 1);
    assert!(!all.contains("s3cr3tpw"));
    assert_check(&report, "database", "fail", &["app:***@", "127.0.0.1:1"]);
}

#[test]
fn a_sqlite_file_in_a_missing_folder_fails() {
    let case = Case::new(&[
        "MODEL_TYPE=deterministic",
        "DATABASE_URL=sqlite:no/such/dir/e.db",
    ]);
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(&report, "database", "fail", &["no/such/dir", "mkdir -p"]);
}

#[test]
fn an_incomplete_embeddings_folder_names_what_is_missing() {
    let case = Case::new(&[
        "MODEL_TYPE=deterministic",
        "EMBEDDINGS_TYPE=local",
        "EMBEDDINGS_MODEL=emb",
    ]);
    std::fs::create_dir(case.path().join("emb")).unwrap();
    std::fs::write(case.path().join("emb/config.json"), "{}").unwrap();
    let (code, report, _) = case.run();
    assert_eq!(code, 1);
    assert_check(
        &report,
        "embeddings",
        "fail",
        &["model.safetensors", "tokenizer.json"],
    );
}

#[test]
fn gpu_layers_on_a_cpu_build_is_a_warning() {
    if cfg!(feature = "cuda") {
        return;
    }
    let case = Case::new(&["MODEL_TYPE=deterministic", "EPICRISIS_GPU_LAYERS=99"]);
    let (code, report, _) = case.run();
    assert_eq!(code, 0);
    assert_check(&report, "gpu", "warn", &["--features cuda"]);
}

#[test]
fn text_output_has_a_verdict_and_a_fix_per_failing_check() {
    let case = Case::new(&["MODEL_TYPE=local", "LOCAL_LLM_PATH=/nonexistent/m.gguf"]);
    let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
    for k in SETTINGS {
        c.env_remove(k);
    }
    let out = c.arg("doctor").current_dir(case.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FALLA"), "{text}");
    assert!(text.contains("→"), "{text}");
    assert!(text.contains("/nonexistent/m.gguf"), "{text}");
}

/// Words that only English prose has. Setting names, commands and paths in the output
/// (LOCAL_LLM_PATH, `epicrisis models download`, --env-file <FILE>) contain none of them
/// as whole words.
const ENGLISH: &[&str] = &[
    " the ",
    " is ",
    " are ",
    " not ",
    " and ",
    " or ",
    " of ",
    " to ",
    " with ",
    " for ",
    " cannot ",
    "found",
    "missing",
    " free ",
    "read from",
    " write ",
    " check ",
    " run ",
    " measure ",
    " print ",
    " should ",
    " installed",
    " available",
    " folder",
    "usage:",
    "options:",
    "commands:",
    "arguments:",
    "os error",
];

#[track_caller]
fn assert_no_english(what: &str, text: &str) {
    for line in text.lines() {
        let l = format!(" {} ", line.to_lowercase());
        for w in ENGLISH {
            assert!(
                !l.contains(w),
                "{what}: English {w:?} in the line {line:?}\n{text}"
            );
        }
    }
}

#[test]
fn doctor_and_the_help_speak_spanish() {
    let cases: &[&[&str]] = &[
        &["MODEL_TYPE=deterministic"],
        &["MODEL_TYPE=local", "EPICRISIS_THREAD=4"],
        &[
            "MODEL_TYPE=local",
            "LOCAL_LLM_PATH=/nonexistent/modelo.gguf",
        ],
        &["MODEL_TYPE=local", "LOCAL_LLM_PATH=."],
        &["MODEL_TYPE=openai"],
        &[
            "MODEL_TYPE=deterministic",
            "OPENAI_API_KEY=sk-unused-key-999",
        ],
        &["MODEL_TYPE=deterministic", "TEMPERATURE=caliente"],
        &["MODEL_TYPE=deterministic", "this line has no equals sign"],
        &[
            "MODEL_TYPE=deterministic",
            "DATABASE_URL=sqlite:no/such/dir/e.db",
            "EMBEDDINGS_TYPE=local",
            "EMBEDDINGS_MODEL=emb",
        ],
    ];
    for lines in cases {
        let case = Case::new(lines);
        std::fs::create_dir_all(case.path().join("emb")).unwrap();
        std::fs::write(case.path().join("emb/config.json"), "{}").unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
        for k in SETTINGS {
            c.env_remove(k);
        }
        let out = c.arg("doctor").current_dir(case.path()).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_english(&format!("doctor with {lines:?}"), &text);
        // The text report shows the Spanish names; the JSON keeps the identifiers.
        assert!(text.contains("configuración"), "{text}");
        let (_, report, _) = case.run();
        for c in report["checks"].as_array().unwrap() {
            assert!(c["name"].is_string() && c["label"].is_string(), "{c}");
            assert!(
                ["ok", "warn", "fail"].contains(&c["verdict"].as_str().unwrap()),
                "{c}"
            );
        }
    }
    let case = Case::new(&["MODEL_TYPE=deterministic"]);
    let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
    for k in SETTINGS {
        c.env_remove(k);
    }
    let out = c.arg("doctor").current_dir(case.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for label in [
        "motor de redacción",
        "base de datos",
        "dirección de escucha",
        "disco",
    ] {
        assert!(text.contains(label), "{label}: {text}");
    }

    for args in [
        &["--help"][..],
        &["-h"],
        &["doctor", "--help"],
        &["models", "--help"],
        &["serve", "--help"],
        &["export", "--help"],
        &["users", "--help"],
        &["users", "add", "--help"],
        &["tokens", "add", "--help"],
        &["tokens", "list", "--help"],
        &["audit", "verify", "--help"],
        &["versions", "verify", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_epicrisis"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Uso:") && text.contains("Opciones:"),
            "{text}"
        );
        assert_no_english(&format!("epicrisis {}", args.join(" ")), &text);
    }
}
