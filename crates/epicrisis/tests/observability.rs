//! Logs and metrics of `epicrisis serve` (issue 22), on the real binary: JSON log lines
//! with the request's id and no patient data, and `/metrics` — behind its token on the
//! server's port, on its own address too — read by an independent parser (Python's
//! `prometheus_client`, which `scripts/test.sh` installs).

mod common;

use common::logs::{json_lines, request_lines, serve_json};
use common::server::{PASSWORD, Session, add_user, bin, draft, login};
use common::testdata;
use reqwest::blocking::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EPISODE: &str = "1416169";
const NAME: &str = "Rosa Elvira Tapia Quiroz";
const RUT: &str = "15.432.876-K";
/// Words of an evolution note of the episode.
const NOTE: &str = "PLEUROSTOMIA 1340 CC SEROHEMATICO";
const TOKEN: &str = "prometeo-0123456789abcdef0123456789";

/// The test episode with a patient's name and RUT.
fn episode() -> Vec<u8> {
    let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    let mut e: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(e.to_string().contains(NOTE));
    e["paciente"]["nombre"] = json!(NAME);
    e["paciente"]["rut"] = json!(RUT);
    serde_json::to_vec(&e).unwrap()
}

#[derive(Debug, Deserialize)]
struct Family {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    help: String,
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The scrape as `prometheus_client`'s `text_string_to_metric_families` reads it.
fn parse(python: &Path, text: &str) -> Vec<Family> {
    const SCRIPT: &str = "import json, sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        json.dump([{'name': f.name, 'type': f.type, 'help': f.documentation,\n\
                    'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value}\n\
                                for s in f.samples]}\n\
                   for f in text_string_to_metric_families(sys.stdin.read())], sys.stdout)\n";
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn value(families: &[Family], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

fn family<'a>(families: &'a [Family], name: &str, kind: &str) -> &'a Family {
    let f = families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"));
    assert_eq!(f.kind, kind, "{name}");
    f
}

fn scrape(url: &str, bearer: Option<&str>) -> reqwest::blocking::Response {
    let mut r = Client::new().get(format!("{url}/metrics"));
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    r.send().unwrap()
}

/// Who may read `/metrics`: on the server's port the metrics token or an admin's API
/// token; on the metrics address the token; nothing else is served there.
fn check_access(dir: &Path, main: &str, port: &str, ana: &Session) {
    let r = scrape(main, None);
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert!(r.text().unwrap().contains("EPICRISIS_METRICS_TOKEN_FILE"));
    assert_eq!(ana.get("/metrics").status(), 403, "a physician's session");
    assert_eq!(
        scrape(main, Some("otro-token-0123456789abcdef")).status(),
        401
    );
    let r = scrape(main, Some(TOKEN));
    assert_eq!(r.status(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    add_user(dir, "tic", "admin", "Informática");
    let out = bin(dir)
        .args(["tokens", "add", "tic", "--name", "prometheus"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let admin_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(scrape(main, Some(&admin_token)).status(), 200);
    assert_eq!(scrape(port, None).status(), 401);
    assert_eq!(scrape(port, Some(&admin_token)).status(), 401);
    assert_eq!(scrape(port, Some(TOKEN)).status(), 200);
    let api = Client::new()
        .get(format!("{port}/api/v1/me"))
        .bearer_auth(&admin_token)
        .send()
        .unwrap();
    assert_eq!(api.status(), 404, "the metrics address serves nothing else");
}

/// The figures after one deterministic draft and three reads of the episode.
fn check_values(families: &[Family], text: &str) {
    for f in families {
        assert_ne!(f.kind, "unknown", "{} has no TYPE:\n{text}", f.name);
        assert!(!f.help.is_empty(), "{} has no HELP", f.name);
    }
    family(families, "epicrisis_http_requests", "counter");
    let drafts = [
        ("method", "POST"),
        ("route", "/api/v1/episodes/{id}/drafts"),
        ("status", "202"),
        ("status_class", "2xx"),
    ];
    assert_eq!(
        value(families, "epicrisis_http_requests_total", &drafts),
        1.0
    );
    let reads = [("method", "GET"), ("route", "/api/v1/episodes/{id}")];
    let ok = [reads[0], reads[1], ("status", "200")];
    assert_eq!(value(families, "epicrisis_http_requests_total", &ok), 3.0);
    let h = "epicrisis_http_request_duration_seconds";
    family(families, h, "histogram");
    assert_eq!(value(families, &format!("{h}_count"), &reads), 3.0);
    let inf = [reads[0], reads[1], ("le", "+Inf")];
    assert_eq!(value(families, &format!("{h}_bucket"), &inf), 3.0);
    let job = [("engine", "deterministic"), ("model", "")];
    family(families, "epicrisis_job_duration_seconds", "histogram");
    assert_eq!(
        value(families, "epicrisis_job_duration_seconds_count", &job),
        1.0
    );
    assert!(value(families, "epicrisis_job_duration_seconds_sum", &job) > 0.0);
    let done = [("engine", "deterministic"), ("outcome", "done")];
    assert_eq!(value(families, "epicrisis_jobs_ended_total", &done), 1.0);
    let errors = "epicrisis_draft_validation_errors_count";
    assert_eq!(value(families, errors, &[("engine", "deterministic")]), 1.0);
    assert_eq!(value(families, "epicrisis_model_loaded", &job), 1.0);
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(value(families, "epicrisis_build_info", &version), 1.0);
    assert_eq!(
        value(families, "epicrisis_jobs", &[("state", "queued")]),
        0.0
    );
    assert_eq!(
        value(families, "epicrisis_jobs", &[("state", "running")]),
        0.0
    );
    assert_eq!(value(families, "epicrisis_database_up", &[]), 1.0);
    assert!(value(families, "epicrisis_db_pool_max_connections", &[]) >= 1.0);
    assert!(value(families, "process_resident_memory_bytes", &[]) > 1e6);
    assert!(value(families, "epicrisis_uptime_seconds", &[]) > 0.0);
    for word in [
        EPISODE,
        NAME,
        RUT,
        "Tapia",
        NOTE,
        "PLEUROSTOMIA",
        "Meropenem",
    ] {
        assert!(!text.contains(word), "{word:?} in the metrics:\n{text}");
    }
}

/// Stops the server with SIGTERM and waits for it, so that its last lines are in.
fn stop(srv: &mut common::server::Served) {
    unsafe { libc::kill(srv.child.id() as i32, libc::SIGTERM) };
    let t = Instant::now();
    while srv.child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(60), "it did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Every line JSON with its fields; requests by pattern with their id; drafts by job;
/// no patient, token or password anywhere.
fn check_log(log: &str, safe_id: &str) {
    let lines = json_lines(log);
    let requests = request_lines(&lines);
    let read = requests
        .iter()
        .find(|l| l["route"] == "/api/v1/episodes/{id}" && l["method"] == "GET")
        .unwrap_or_else(|| panic!("no request line for the episode:\n{log}"));
    assert_eq!(read["status"], 200, "{read}");
    assert!(
        requests.iter().any(|l| l["span"]["request_id"] == safe_id),
        "the client's id is carried:\n{log}"
    );
    let ended = lines
        .iter()
        .find(|l| l["target"] == "epicrisis::jobs" && l["outcome"] == "done")
        .unwrap_or_else(|| panic!("no job line:\n{log}"));
    assert_eq!(ended["engine"], "deterministic", "{ended}");
    assert!(ended["span"]["job_id"].is_string(), "{ended}");
    assert!(ended["duration_s"].is_number(), "{ended}");
    assert!(log.contains("deteniendo") && log.contains("epicrisis detenido"));
    for word in [
        EPISODE,
        NAME,
        RUT,
        "Tapia",
        "Rosa",
        NOTE,
        "PLEUROSTOMIA",
        "Miles",
        TOKEN,
        PASSWORD,
    ] {
        assert!(!log.contains(word), "{word:?} in the log:\n{log}");
    }
}

#[test]
fn json_logs_and_metrics_of_a_drafting_server_name_no_patient() {
    let Some(python) = epicrisis_testkit::fixtures::python(
        "EPICRISIS_PROMETHEUS_PYTHON",
        "fhir-venv",
        "prometheus_client",
        "scripts/test.sh installs prometheus_client into ~/.cache/epicrisis/fhir-venv",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_user(d, "ana", "medico", "Dra. Ana Pérez");
    let token_file: PathBuf = d.join("metrics-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let port = epicrisis_testkit::free_port().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let token_path = token_file.display().to_string();
    let mut srv = serve_json(
        d,
        &["--engine", "deterministic"],
        &[
            ("EPICRISIS_METRICS_LISTEN", &listen),
            ("EPICRISIS_METRICS_TOKEN_FILE", &token_path),
        ],
    );
    let s = login(&srv.url, "ana");
    assert_eq!(s.post_bytes("/api/v1/episodes", episode()).status(), 201);
    draft(&s, EPISODE);
    // A client's id is kept when it is a safe token, replaced when it is not (a RUT).
    let safe_id = "prometeo-request-0123456789";
    for id in [safe_id, RUT, "12345678-9"] {
        let r = s
            .client
            .get(format!("{}/api/v1/episodes/{EPISODE}", srv.url))
            .header("X-Request-Id", id)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let answered = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(answered == id, id == safe_id, "{id} → {answered}");
    }
    let metrics_url = format!("http://{listen}");
    check_access(d, &srv.url, &metrics_url, &s);
    let text = scrape(&metrics_url, Some(TOKEN)).text().unwrap();
    check_values(&parse(&python, &text), &text);
    stop(&mut srv);
    let log = srv.log.lock().unwrap().clone();
    check_log(&log, safe_id);
}
