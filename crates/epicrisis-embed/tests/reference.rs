//! The BERT-family backend against the reference implementation (sentence-transformers, run
//! by `tools/models/embed_reference.py` in the venv the test set-up makes) on the two
//! fixture models and a tiny XLM-RoBERTa: every vector must have cosine ≥ 0.999 with the
//! reference one.
//!
//! Needs the reference venv (`EPICRISIS_ST_PYTHON`) and the two fixtures (the cache of
//! `tools/models/fetch.py`, or `EPICRISIS_TEST_EMBED_MINILM` and `EPICRISIS_TEST_EMBED_E5`):
//! a missing one skips the test, or fails it under `EPICRISIS_REQUIRE_TOOLS=1`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use epicrisis_embed::{BertEmbedder, BertOptions, Embedder, Pooling, Role, cosine};

use epicrisis_testkit::fixtures::{e5, minilm};

/// The reference venv's Python (sentence-transformers); `EPICRISIS_ST_PYTHON` overrides.
fn st_python() -> Option<PathBuf> {
    epicrisis_testkit::fixtures::python(
        "EPICRISIS_ST_PYTHON",
        "st-venv",
        "sentence_transformers",
        "see `need_reference_embedder` in scripts/common.sh (scripts/test.sh runs it)",
    )
}

/// Vectors from sentence-transformers for `texts` with `prompt` before each.
fn reference(python: &Path, model: &Path, texts: &[&str], prompt: &str) -> Vec<Vec<f32>> {
    let script =
        epicrisis_testkit::fixtures::workspace_root().join("tools/models/embed_reference.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the reference embedder");
    let body = serde_json::json!({
        "model": model, "texts": texts, "prompt": prompt, "batch_size": 8
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "reference embedder failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("reference JSON");
    serde_json::from_value(v["vectors"].clone()).expect("vectors")
}

const SPANISH: &[&str] = &[
    "dolor torácico opresivo irradiado al brazo izquierdo",
    "síndrome coronario agudo con dolor precordial irradiado a miembro superior izquierdo",
    "Paciente evoluciona afebril, hemodinámicamente estable, tolera régimen liviano.",
    "Se inicia ceftriaxona 2 g EV cada 24 horas por neumonía adquirida en la comunidad (J18.9).",
    "Hb 9,8 g/dL; PCR 145 mg/L; creatinina 1,3 mg/dL.",
    "Alta con amoxicilina/ácido clavulánico 875/125 mg VO c/12h por 7 días, control en policlínico en 10 días.",
    "POP día 2 de colecistectomía laparoscópica sin incidentes, herida operatoria limpia, drenaje con débito seroso escaso.",
    "ok",
];

const ENGLISH: &[&str] = &[
    "The patient was discharged home in good condition.",
    "A man is eating food.",
    "Chest pain radiating to the left arm, diaphoresis and nausea for two hours before admission.",
    "hello",
];

fn check(python: &Path, model: &Path, texts: &[&str], role: Role, prompt: &str) -> f32 {
    let ours = BertEmbedder::load(model, BertOptions::default()).expect("load");
    assert_eq!(
        ours.prompt(role),
        prompt,
        "the folder's prompt for {role:?}"
    );
    let got = ours.embed(texts, role).expect("embed");
    let want = reference(python, model, texts, prompt);
    assert_eq!(got.len(), want.len());
    let mut worst = 1f32;
    for ((t, g), w) in texts.iter().zip(&got).zip(&want) {
        assert_eq!(g.len(), ours.dim());
        let c = cosine(g, w);
        assert!(c >= 0.999, "cosine {c} < 0.999 for {t:?}");
        let norm: f32 = g.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
        worst = worst.min(c);
    }
    worst
}

#[test]
fn minilm_matches_sentence_transformers() {
    let (Some(dir), Some(python)) = (minilm(), st_python()) else {
        return;
    };
    let all: Vec<&str> = ENGLISH.iter().chain(SPANISH).copied().collect();
    let worst = check(&python, &dir, &all, Role::Passage, "");
    eprintln!(
        "all-MiniLM-L6-v2: worst cosine {worst:.6} over {} texts",
        all.len()
    );
    let m = BertEmbedder::load(&dir, BertOptions::default()).unwrap();
    assert_eq!(m.pooling(), Pooling::Mean);
    assert_eq!(m.dim(), 384);
}

/// XLM-RoBERTa, BGE-M3's architecture (position ids from `pad_token_id + 1`, one token
/// type, CLS pooling): a tiny model with seeded random weights made by
/// `tools/models/tiny_xlmr.py` in the reference venv, with the e5 fixture's XLM-R
/// tokenizer — the real BGE-M3 is 2 GB.
#[test]
fn xlm_roberta_matches_sentence_transformers() {
    let (Some(e5), Some(python)) = (e5(), st_python()) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("epicrisis-tiny-xlmr-{}", std::process::id()));
    let script = epicrisis_testkit::fixtures::workspace_root().join("tools/models/tiny_xlmr.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&e5)
        .arg(&dir)
        .output()
        .expect("run tiny_xlmr.py");
    assert!(
        out.status.success(),
        "tiny_xlmr.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<&str> = SPANISH.iter().chain(ENGLISH).copied().collect();
    let worst = check(&python, &dir, &all, Role::Passage, "");
    eprintln!(
        "tiny XLM-RoBERTa: worst cosine {worst:.6} over {} texts",
        all.len()
    );
    let m = BertEmbedder::load(&dir, BertOptions::default()).unwrap();
    assert_eq!(m.pooling(), Pooling::Cls);
    assert_eq!(m.dim(), 64);
    assert_eq!(m.max_tokens(), 512);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn e5_matches_sentence_transformers_with_its_prompts() {
    let (Some(dir), Some(python)) = (e5(), st_python()) else {
        return;
    };
    let worst_q = check(&python, &dir, SPANISH, Role::Query, "query: ");
    let worst_p = check(&python, &dir, SPANISH, Role::Passage, "passage: ");
    eprintln!("multilingual-e5-small: worst cosine query {worst_q:.6}, passage {worst_p:.6}");
}

#[test]
fn e5_ranks_the_clinical_paraphrase_first() {
    let Some(e5) = e5() else { return };
    let m = BertEmbedder::load(&e5, BertOptions::default()).unwrap();
    let q = m
        .embed(
            &["dolor torácico opresivo irradiado al brazo izquierdo"],
            Role::Query,
        )
        .unwrap();
    let passages = [
        "síndrome coronario agudo con dolor precordial irradiado a miembro superior izquierdo",
        "fractura de cadera derecha por caída a nivel",
        "infección del tracto urinario baja no complicada",
        "I had a great weekend with my friends at the beach",
    ];
    let p = m.embed(&passages, Role::Passage).unwrap();
    let scores: Vec<f32> = p.iter().map(|v| cosine(&q[0], v)).collect();
    let best = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(best, 0, "scores {scores:?}");
}

#[test]
fn batching_and_padding_do_not_change_vectors() {
    let Some(e5) = e5() else { return };
    let m = BertEmbedder::load(&e5, BertOptions::default()).unwrap();
    // A batch mixing very short and long texts pads the short ones heavily.
    let batch = m.embed(SPANISH, Role::Passage).unwrap();
    for (t, b) in SPANISH.iter().zip(&batch) {
        let alone = m.embed(&[t], Role::Passage).unwrap();
        let c = cosine(&alone[0], b);
        assert!(c > 0.99999, "{t:?}: batched vs alone cosine {c}");
    }
    // A tiny token budget forces one text per forward pass: same vectors again.
    let small = BertEmbedder::load(
        &e5,
        BertOptions {
            batch_tokens: Some(64),
            ..Default::default()
        },
    )
    .unwrap();
    let one_by_one = small.embed(SPANISH, Role::Passage).unwrap();
    for (a, b) in batch.iter().zip(&one_by_one) {
        assert!(cosine(a, b) > 0.99999);
    }
}

#[test]
fn a_text_longer_than_the_window_is_split_not_cut() {
    let Some(e5) = e5() else { return };
    let m = BertEmbedder::load(&e5, BertOptions::default()).unwrap();
    let first = "Paciente con neumonía grave que requiere ventilación mecánica en la unidad de cuidados intensivos. ";
    let last = "Al alta camina sin ayuda, sin oxígeno, con indicación de kinesioterapia respiratoria ambulatoria. ";
    let long = format!("{}{}", first.repeat(40), last.repeat(40));
    let tokens = m.count_tokens(&long).unwrap();
    assert!(tokens > 2 * m.max_tokens(), "{tokens} tokens");
    let v = m.embed(&[&long], Role::Passage).unwrap();
    let head = m.embed(&[&first.repeat(40)], Role::Passage).unwrap();
    let tail = m.embed(&[&last.repeat(40)], Role::Passage).unwrap();
    // Cutting at the window would keep only the first half: the vector would be the
    // head's. Averaging windows keeps the tail's meaning too.
    let (ch, ct) = (cosine(&v[0], &head[0]), cosine(&v[0], &tail[0]));
    assert!(ct > 0.9 && ch > 0.9, "head {ch}, tail {ct}");
    assert!(
        ch < 0.9999,
        "the tail was dropped (cosine with the head {ch})"
    );
}
