//! `epicrisis generate --engine local` on the SmolLM2 fixture, and the settings' errors.

use std::process::Command;

mod common;
use common::{model_fixture, testdata};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
    for k in [
        "LOCAL_LLM_PATH",
        "MAX_TOKENS",
        "TEMPERATURE",
        "TOP_P",
        "EPICRISIS_THREADS",
        "EPICRISIS_CONTEXT_SIZE",
        "EPICRISIS_CHAT_TEMPLATE",
        "EPICRISIS_SEED",
    ] {
        c.env_remove(k);
    }
    c
}

#[test]
fn local_engine_json_adds_provenance_attempts_and_origins() {
    let Some(fx) = model_fixture() else { return };
    let out = bin()
        .args([
            "generate",
            &testdata("episodes/compact_hernia.json")
                .display()
                .to_string(),
            "--engine",
            "local",
            "--layout",
            "paragraph",
            "--format",
            "json",
            "--max-tokens",
            "40",
        ])
        .env("LOCAL_LLM_PATH", fx.as_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "text",
        "layout",
        "engine",
        "validation",
        "timings_ms",
        "provenance",
        "attempts",
        "parts",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["engine"], "local");
    assert_eq!(v["validation"]["ok"], true, "{}", v["validation"]);
    let p = &v["provenance"];
    assert_eq!(p["model"]["name"], "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(
        p["model"]["sha256"],
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert_eq!(p["model"]["quantization"], "Q4_1");
    assert_eq!(p["sampling"]["max_tokens"], 40);
    for key in ["template", "size_bytes"] {
        assert!(!p["model"][key].is_null(), "provenance.model.{key}");
    }
    for key in ["prompt_version", "program_version", "seed"] {
        assert!(!p[key].is_null(), "provenance.{key}");
    }
    let origins: Vec<&str> = v["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["origin"].as_str().unwrap())
        .collect();
    assert!(
        origins
            .iter()
            .any(|o| matches!(*o, "model" | "repaired" | "fallback")),
        "{origins:?}"
    );
    let t = &v["timings_ms"];
    for key in [
        "load",
        "prompt_tokens",
        "prompt",
        "generated_tokens",
        "generation",
        "validate",
        "attempts",
    ] {
        assert!(t[key].is_number(), "timings_ms.{key}: {t}");
    }
}

#[test]
fn the_same_seed_gives_the_same_draft() {
    let Some(fx) = model_fixture() else { return };
    let run = || {
        let out = bin()
            .args([
                "generate",
                &testdata("episodes/compact_hernia.json")
                    .display()
                    .to_string(),
                "--engine",
                "local",
                "--layout",
                "paragraph",
                "--max-tokens",
                "40",
                "--temperature",
                "0.8",
                "--seed",
                "7",
            ])
            .env("LOCAL_LLM_PATH", fx.as_path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    assert_eq!(run(), run());
}

#[test]
fn wrong_settings_name_the_variable_and_what_is_allowed() {
    let ep = testdata("episodes/compact_hernia.json")
        .display()
        .to_string();
    /// (case name, environment, extra arguments, what stderr must mention)
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        (
            "no model configured",
            &[],
            &[],
            &["--model", "LOCAL_LLM_PATH"],
        ),
        (
            "missing model file",
            &[("LOCAL_LLM_PATH", "/nonexistent/model.gguf")],
            &[],
            &["/nonexistent/model.gguf", "not found"],
        ),
        (
            "temperature from the environment",
            &[("TEMPERATURE", "caliente")],
            &["--model", "x.gguf"],
            &["TEMPERATURE", "caliente", "0.0 y 5.0"],
        ),
        (
            "top_p flag",
            &[],
            &["--model", "x.gguf", "--top-p", "1.5"],
            &["--top-p", "1.5"],
        ),
        (
            "template",
            &[("EPICRISIS_CHAT_TEMPLATE", "vicuna")],
            &["--model", "x.gguf"],
            &["EPICRISIS_CHAT_TEMPLATE", "vicuna", "chatml"],
        ),
        (
            "context size",
            &[("EPICRISIS_CONTEXT_SIZE", "12")],
            &["--model", "x.gguf"],
            &["EPICRISIS_CONTEXT_SIZE", "512"],
        ),
    ];
    for (name, env, args, needles) in cases {
        let mut c = bin();
        c.args(["generate", &ep, "--engine", "local"]).args(*args);
        for (k, v) in *env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {name}: {err}");
        for n in *needles {
            assert!(
                err.contains(n),
                "case {name}: stderr should mention {n:?}: {err}"
            );
        }
    }
}
