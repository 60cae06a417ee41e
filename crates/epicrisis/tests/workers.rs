//! A network deployment on loopback, with real processes: one PostgreSQL, two servers
//! that only queue (`serve --no-worker`) and two `epicrisis worker` processes drafting
//! with the SmolLM2 fixture. One worker is killed (SIGKILL) in the middle of a draft and
//! one server is killed and restarted in the middle of the batch: every episode still
//! ends with exactly one generated version — none lost, none twice.
//!
//! Nothing here depends on the model's words. Needs PostgreSQL
//! (`EPICRISIS_TEST_DATABASE_URL`) and the model fixture; skipped (or failed under
//! `EPICRISIS_REQUIRE_TOOLS=1`) without them.

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::model_fixture;
use common::server::{Session, add_user, login, postgres_site, serve, worker};

const EPISODES: usize = 6;

/// Compact records of the project's dev set, as episodes `lote-1`…
fn import(s: &Session) -> Vec<String> {
    let text = std::fs::read_to_string(common::testdata("dev/train.jsonl")).unwrap();
    let mut ids = Vec::new();
    for (i, line) in text.lines().take(EPISODES).enumerate() {
        let id = format!("lote-{}", i + 1);
        let r = s.post_bytes(
            &format!("/api/v1/episodes?id={id}"),
            line.as_bytes().to_vec(),
        );
        assert_eq!(r.status(), 201, "{id}");
        ids.push(id);
    }
    ids
}

fn job(s: &Session, id: &str) -> Value {
    s.get(&format!("/api/v1/jobs/{id}")).json().unwrap()
}

fn generated_versions(s: &Session, episode: &str) -> usize {
    let v: Value = s
        .get(&format!("/api/v1/episodes/{episode}/versions"))
        .json()
        .unwrap();
    v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["kind"] == "generated")
        .count()
}

fn site(dir: &Path) {
    add_user(dir, "ana", "medico", "Dra. Ana Pérez");
    // A worker that stops answering loses its job after 3 s (30 s by default).
    std::fs::write(
        dir.join(".env"),
        "EPICRISIS_JOB_LEASE_SECONDS=3\nEPICRISIS_QUEUE_SIZE=50\n",
    )
    .unwrap();
}

#[test]
fn two_servers_two_workers_a_killed_worker_and_a_restarted_server_lose_nothing() {
    let Some(model) = model_fixture() else { return };
    let Some((dir, _db)) = postgres_site("workers") else {
        return;
    };
    let dir = dir.path();
    site(dir);
    let model = model.display().to_string();
    let drafting = [
        "--engine",
        "local",
        "--model",
        &model,
        "--context-size",
        "2048",
        "--max-tokens",
        "40",
        "--threads",
        "1",
    ];
    let first = serve(dir, &["--no-worker", "--quiet"]);
    let second = serve(dir, &["--no-worker", "--quiet"]);
    let s1 = login(&first.url, "ana");
    let s2 = login(&second.url, "ana");
    // A server that does not draft says so, without naming an engine it does not know.
    let page = s1.get("/episodios").text().unwrap();
    assert!(
        page.contains("Redactan los equipos de redacción del hospital"),
        "{page}"
    );
    let ids = import(&s1);
    // Queued through both servers; nothing drafts yet.
    let mut jobs = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let s = if i % 2 == 0 { &s1 } else { &s2 };
        let r = s.post(&format!("/api/v1/episodes/{id}/drafts"), &json!({}));
        assert_eq!(r.status(), 202, "{id}");
        let j: Value = r.json().unwrap();
        assert_eq!(j["status"], "queued");
        jobs.push(j["jobId"].as_str().unwrap().to_string());
    }
    // The second server sees the first one's jobs, in order.
    assert_eq!(job(&s2, &jobs[0])["ahead"], 0);
    assert_eq!(job(&s2, &jobs[2])["ahead"], 2);
    // One worker takes the first job; killed while it writes, it holds the job until
    // its lease runs out, and the second worker (started after) takes it over.
    let mut doomed = worker(dir, &drafting);
    wait_for(&s2, &jobs[0], |j| {
        j["status"] == "running" && !j["text"].as_str().unwrap_or("").is_empty()
    });
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    let _survivor = worker(dir, &drafting);
    // A server killed and restarted in the middle of the batch loses nothing either.
    drop(first);
    let first = serve(dir, &["--no-worker", "--quiet"]);
    let s1 = login(&first.url, "ana");
    for (i, id) in jobs.iter().enumerate() {
        let j = wait_for(&s1, id, |j| {
            j["status"] != "queued" && j["status"] != "running"
        });
        assert_eq!(j["status"], "done", "{j}");
        // The killed worker's job was taken over once; the others were drafted once.
        assert_eq!(j["attempts"], if i == 0 { 2 } else { 1 }, "{j}");
    }
    for id in &ids {
        assert_eq!(generated_versions(&s2, id), 1, "{id}");
    }
}

/// Polls a job until `done(job)`; at most ten minutes (two cores shared with other
/// tests).
fn wait_for(s: &Session, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let t = Instant::now();
    loop {
        let j = job(s, id);
        if done(&j) {
            return j;
        }
        assert!(t.elapsed() < Duration::from_secs(600), "stuck: {j}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
