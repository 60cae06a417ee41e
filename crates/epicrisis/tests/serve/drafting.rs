//! Drafting: a re-imported episode validated against its new data, `regenerate`, saved
//! versions surviving a killed server, and model jobs cancelled, killed and stopped.

use reqwest::blocking::Response;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Command;

use super::{EPISODE, import, setup};
use crate::common::server::{Session, bin, login, serve};
use crate::common::{model_fixture, testdata};

/// Validation and pages use a cached parse of the episode; a re-import under the same id
/// must be seen at once (the store's `updated_at` moves on every import).
#[test]
fn a_reimported_episode_is_validated_against_its_new_data() {
    let dir = setup();
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    import(&s);
    let path = format!("/api/v1/episodes/{EPISODE}/validate");
    let unsupported = |s: &Session| -> Vec<String> {
        let r: Value = s
            .post(&path, &json!({"text": "Recibió meropenem por 7 días."}))
            .json()
            .unwrap();
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| f["mention"].as_str().unwrap_or("").to_lowercase())
            .collect()
    };
    // Twice (the second from the cache): meropenem is in this episode's data.
    for _ in 0..2 {
        assert!(
            !unsupported(&s).iter().any(|m| m.contains("meropenem")),
            "meropenem is supported by episode {EPISODE}"
        );
    }
    assert_eq!(s.get(&format!("/episodios/{EPISODE}")).status(), 200);
    // Another stay imported under the same id: meropenem is no longer supported, and the
    // page shows the new data.
    let hernia = std::fs::read(testdata("episodes/compact_hernia.json")).unwrap();
    let r = s.post_bytes(&format!("/api/v1/episodes?id={EPISODE}"), hernia);
    assert_eq!(r.status(), 201);
    assert!(
        unsupported(&s).iter().any(|m| m.contains("meropenem")),
        "the re-imported data is used at once"
    );
    let page = s.get(&format!("/episodios/{EPISODE}")).text().unwrap();
    assert!(
        page.contains("Hernia umbilical"),
        "the page shows the new data"
    );
    // Every sentence comes with its evidence; an invented one has none and a warning.
    let r: Value = s
        .post(
            &path,
            &json!({"text": "Presentó un neumotórax a tensión que requirió drenaje pleural."}),
        )
        .json()
        .unwrap();
    let ev = r["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 1, "{r}");
    assert!(ev[0]["passages"].as_array().unwrap().is_empty(), "{r}");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "warning" && f["kind"] == "unsupported"),
        "{r}"
    );
    let unknown = s.post("/api/v1/episodes/no-existe/validate", &json!({"text": "x"}));
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().unwrap().contains("no-existe"));
}

/// `POST /api/regenerate-epicrisis` takes the predecessor's body (the previous
/// violations, and the previous text) and answers a fresh validated draft; malformed
/// violations are refused with a JSON 400 naming the field.
#[test]
fn regenerate_takes_the_previous_violations() {
    let dir = setup();
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    import(&s);
    let violations =
        json!([{"type": "med", "mention": "warfarina", "reason": "no está en los datos"}]);
    let r = s.post(
        "/api/regenerate-epicrisis",
        &json!({"episodeId": EPISODE, "previousEpicrisis": "Se indica warfarina.", "violations": violations}),
    );
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["validation"]["ok"], true, "{v}");
    assert!(!v["text"].as_str().unwrap().contains("warfarina"));
    assert_eq!(v["regeneration"]["violations"], 1);
    // The deterministic writer cannot use them; it answers a fresh validated draft.
    assert_eq!(v["regeneration"]["toldTheModel"], false);
    assert!(v["versionId"].as_i64().is_some());
    // The predecessor's own shape: inline clinicalData, violations possibly empty.
    let inline = std::fs::read(testdata("episodes/predecessor_neumonia.json")).unwrap();
    let mut body: Value = serde_json::from_slice(&inline).unwrap();
    if body.get("clinicalData").is_none() {
        body = json!({"clinicalData": body});
    }
    body["violations"] = json!([]);
    let r = s.post("/api/regenerate-epicrisis", &body);
    assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    for (bad, field) in [
        (
            json!({"episodeId": EPISODE, "violations": "warfarina"}),
            "violations",
        ),
        (
            json!({"episodeId": EPISODE, "violations": [{"type": "med"}]}),
            "violations[0].mention",
        ),
        (
            json!({"episodeId": EPISODE, "violations": [{"mention": 5}]}),
            "violations[0].mention",
        ),
        (
            json!({"episodeId": EPISODE, "violations": [{"mention": "x", "reason": 1}]}),
            "violations[0].reason",
        ),
        (
            json!({"episodeId": EPISODE, "violations": ["x"]}),
            "violations[0]",
        ),
        (
            json!({"episodeId": EPISODE, "previousEpicrisis": 7}),
            "previousEpicrisis",
        ),
        (json!([1, 2]), "objeto"),
        (json!({"violations": []}), "episodeId"),
    ] {
        let r = s.post("/api/regenerate-epicrisis", &bad);
        assert_eq!(r.status(), 400, "{bad}");
        let e: Value = r.json().unwrap();
        assert!(e["error"].as_str().unwrap().contains(field), "{bad} → {e}");
    }
    // The administrative role may not generate.
    let caja = login(&srv.url, "caja");
    let r = caja.post(
        "/api/regenerate-epicrisis",
        &json!({"episodeId": EPISODE, "violations": []}),
    );
    assert_eq!(r.status(), 403);
}

#[test]
fn a_killed_server_keeps_the_saved_versions() {
    let dir = setup();
    let mut srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    import(&s);
    for _ in 0..3 {
        let job: Value = s
            .post(&format!("/api/v1/episodes/{EPISODE}/drafts"), &json!({}))
            .json()
            .unwrap();
        let _ = s.get(job["eventsUrl"].as_str().unwrap()).text().unwrap();
    }
    // Jobs in flight when the process dies.
    for _ in 0..3 {
        let _ = s.post(&format!("/api/v1/episodes/{EPISODE}/drafts"), &json!({}));
    }
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    let srv2 = serve(dir.path(), &["--engine", "deterministic"]);
    let s2 = login(&srv2.url, "ana");
    let v: Value = s2
        .get(&format!("/api/v1/episodes/{EPISODE}/versions"))
        .json()
        .unwrap();
    let list = v["versions"].as_array().unwrap();
    assert!(list.len() >= 3);
    for (i, x) in list.iter().enumerate() {
        assert_eq!(x["number"], i as u64 + 1);
        let full: Value = s2
            .get(&format!("/api/v1/versions/{}", x["id"]))
            .json()
            .unwrap();
        assert!(full["text"].as_str().unwrap().contains("EPICRISIS"));
    }
    let out = bin(dir.path()).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Reads a Server-Sent Events stream until an event of one of `names`; returns its name.
fn wait_event(events: &mut BufReader<Response>, names: &[&str]) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = events.read_line(&mut line).unwrap();
        assert!(n > 0, "the event stream ended before any of {names:?}");
        if let Some(name) = line.trim().strip_prefix("event: ")
            && names.contains(&name)
        {
            return name.to_string();
        }
    }
}

fn version_count(s: &Session, episode: &str) -> usize {
    let v: Value = s
        .get(&format!("/api/v1/episodes/{episode}/versions"))
        .json()
        .unwrap();
    v["versions"].as_array().unwrap().len()
}

/// With a real model: a job is cancelled mid-answer; a server killed mid-answer loses
/// nothing saved, saves nothing half-written and, restarted, drafts the killed job
/// again; a server stopped with SIGTERM mid-answer finishes the job, saves it and exits
/// cleanly.
///
/// Nothing here depends on the model's words, only on its writing at least one token.
/// The model runs on one thread: the other tests of this binary run beside it, and
/// llama.cpp's OpenMP threads spin while they wait, so two of them on two shared cores
/// can slow a draft tenfold; and the shutdown grace is long enough for a draft of three
/// rounds on a loaded machine (with the default 120 s it once ended `cancelled`).
#[test]
fn model_jobs_cancel_survive_sigkill_and_finish_on_sigterm() {
    let Some(model) = model_fixture() else { return };
    let model = model.display().to_string();
    let args = [
        "--engine",
        "local",
        "--model",
        &model,
        "--context-size",
        "2048",
        "--max-tokens",
        "120",
        "--threads",
        "1",
        "--shutdown-grace",
        "900",
    ];
    let dir = setup();
    let mut srv = serve(dir.path(), &args);
    let s = login(&srv.url, "ana");
    let bytes = std::fs::read(testdata("episodes/compact_hernia.json")).unwrap();
    assert_eq!(
        s.post_bytes("/api/v1/episodes?id=hernia", bytes).status(),
        201
    );
    let start = |s: &Session| -> (String, BufReader<Response>) {
        let job: Value = s
            .post("/api/v1/episodes/hernia/drafts", &json!({}))
            .json()
            .unwrap();
        let events = BufReader::new(s.get(job["eventsUrl"].as_str().unwrap()));
        (job["jobId"].as_str().unwrap().to_string(), events)
    };
    // Cancelled while the model writes: no version.
    let (id, mut ev) = start(&s);
    wait_event(&mut ev, &["token"]);
    let r: Value = s
        .post(&format!("/api/v1/jobs/{id}/cancel"), &json!({}))
        .json()
        .unwrap();
    assert_eq!(r["cancelled"], true);
    assert_eq!(
        wait_event(&mut ev, &["cancelled", "done", "failed"]),
        "cancelled"
    );
    assert_eq!(version_count(&s, "hernia"), 0);
    // One finished draft, then SIGKILL in the middle of the next.
    let (_, mut ev) = start(&s);
    assert_eq!(
        wait_event(&mut ev, &["done", "failed", "cancelled"]),
        "done"
    );
    assert_eq!(version_count(&s, "hernia"), 1);
    let (killed, mut ev) = start(&s);
    wait_event(&mut ev, &["token"]);
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    let mut srv = serve(dir.path(), &args);
    let s = login(&srv.url, "ana");
    assert_eq!(
        version_count(&s, "hernia"),
        1,
        "a half-written draft was saved"
    );
    // The killed job is durable: the restarted server takes it back at once (its
    // worker is gone) and drafts it again; asking for a draft returns that job.
    let (resumed, mut ev) = start(&s);
    assert_eq!(resumed, killed, "the job of the killed server was lost");
    // SIGTERM in the middle of a draft: it is finished and saved, then the server exits.
    wait_event(&mut ev, &["token"]);
    let term = Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert_eq!(
        wait_event(&mut ev, &["done", "failed", "cancelled"]),
        "done"
    );
    let status = srv.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(srv.log.lock().unwrap().contains("deteniendo"));
    let srv = serve(dir.path(), &args);
    let s = login(&srv.url, "ana");
    assert_eq!(version_count(&s, "hernia"), 2);
    let out = bin(dir.path()).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
