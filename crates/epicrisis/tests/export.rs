//! `epicrisis export`: every format from an episode, a saved draft and a FHIR Bundle;
//! binary formats refuse standard output; errors name the file.

use std::process::{Command, Output};

mod common;
use common::testdata;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_epicrisis"))
        .args(args)
        .env_remove("HOSPITAL_NAME")
        .env_remove("HOSPITAL_LOGO")
        .output()
        .expect("runs epicrisis")
}

fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn every_format_from_an_episode() {
    let dir = tempfile::tempdir().unwrap();
    let ep = testdata("episodes/episodio_1416169.json");
    let ep = ep.to_str().unwrap();
    for (format, magic) in [
        ("pdf", &b"%PDF-"[..]),
        ("docx", &b"PK"[..]),
        ("fhir", &b"{"[..]),
        ("markdown", &b"# Epicrisis"[..]),
        ("text", &b"EPICRISIS"[..]),
    ] {
        let out = dir.path().join(format!("out.{format}"));
        ok(&[
            "export",
            ep,
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
            "--hospital",
            "Hospital de Prueba",
        ]);
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.starts_with(magic), "{format}");
    }
}

#[test]
fn text_to_stdout_and_signed() {
    let ep = testdata("episodes/compact_hernia.json");
    let o = ok(&[
        "export",
        ep.to_str().unwrap(),
        "--format",
        "text",
        "-o",
        "-",
        "--signed-by",
        "Dra. Prueba",
        "--signed-at",
        "2025-12-26T18:30:00-03:00",
    ]);
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.contains("Firmado por: Dra. Prueba"), "{s}");
    assert!(s.contains("26/12/2025 18:30"));
    assert!(!s.contains("BORRADOR"));
}

#[test]
fn fhir_bundle_and_saved_draft_as_input() {
    let dir = tempfile::tempdir().unwrap();
    let ep = testdata("episodes/episodio_1416169.json");
    let bundle = dir.path().join("bundle.json");
    ok(&[
        "export",
        ep.to_str().unwrap(),
        "--format",
        "fhir",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    let o = ok(&[
        "export",
        bundle.to_str().unwrap(),
        "--format",
        "markdown",
        "-o",
        "-",
    ]);
    let md = String::from_utf8(o.stdout).unwrap();
    for code in ["C20", "K74.6", "48.52", "J01DH02"] {
        assert!(md.contains(code), "{code} survives FHIR in and out");
    }
    // A saved draft {"episode", "draft", "meta"} prints the draft as edited.
    let episode = epicrisis_ingest::read_episode_path(&ep).unwrap();
    let mut draft =
        epicrisis_pipeline::writer::write(&episode, epicrisis_pipeline::Layout::Sections);
    for p in &mut draft.parts {
        if p.id == epicrisis_pipeline::PartId::Evolution {
            p.body = epicrisis_pipeline::Body::Text("Evolución revisada por la médica.".into());
            p.origin = epicrisis_pipeline::Origin::Model;
        }
    }
    let file = epicrisis_export::DraftFile {
        episode,
        draft,
        meta: Some(epicrisis_export::DocumentMeta {
            hospital_name: "Hospital Guardado".into(),
            ..Default::default()
        }),
    };
    let saved = dir.path().join("draft.json");
    std::fs::write(&saved, serde_json::to_vec(&file).unwrap()).unwrap();
    let o = ok(&[
        "export",
        saved.to_str().unwrap(),
        "--format",
        "text",
        "-o",
        "-",
    ]);
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.contains("Evolución revisada por la médica."), "{s}");
    assert!(s.contains("Hospital Guardado"));
}

#[test]
fn refusals_name_the_problem() {
    let ep = testdata("episodes/episodio_1416169.json");
    let o = run(&["export", ep.to_str().unwrap(), "--format", "pdf", "-o", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("binary"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("draft.json");
    std::fs::write(&bad, r#"{"episode": {}, "draft": 3}"#).unwrap();
    let o = run(&[
        "export",
        bad.to_str().unwrap(),
        "--format",
        "text",
        "-o",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("draft.json: not a valid saved draft"), "{err}");
}
