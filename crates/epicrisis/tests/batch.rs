//! Batches of drafts with the real binary and the deterministic writer on SQLite:
//! `epicrisis batch` over a folder (files and a JSONL), its report, a bad file refused
//! by name, a second run that drafts nothing again, the account rules, `--no-worker`;
//! and `POST /api/v1/batches` on a real server, with its CSV report.

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::server::{add_user, bin, login, serve};
use common::testdata;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    add_user(dir.path(), "caja", "administrativo", "Caja Uno");
    dir
}

/// A day's discharges: two episode files and a JSONL of three compact records.
fn discharges(dir: &Path) -> std::path::PathBuf {
    let day = dir.join("altas");
    std::fs::create_dir_all(&day).unwrap();
    for name in ["episodio_1416169.json", "compact_hernia.json"] {
        std::fs::copy(testdata(&format!("episodes/{name}")), day.join(name)).unwrap();
    }
    let lines: Vec<String> = std::fs::read_to_string(testdata("dev/train.jsonl"))
        .unwrap()
        .lines()
        .skip(1)
        .take(3)
        .map(str::to_string)
        .collect();
    std::fs::write(day.join("compactos.jsonl"), lines.join("\n") + "\n").unwrap();
    day
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = bin(dir).arg("batch").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_days_discharges_are_drafted_reported_and_not_drafted_twice() {
    let dir = site();
    let d = dir.path();
    let day = discharges(d);
    std::fs::write(day.join("roto.json"), "{").unwrap();
    let day_s = day.display().to_string();
    let csv = d.join("informe.csv");
    let args = [
        day_s.as_str(),
        "--as",
        "ana",
        "--engine",
        "deterministic",
        "--name",
        "Altas de prueba",
        "--report",
        csv.to_str().unwrap(),
    ];
    let (code, err) = run(d, &args);
    // The broken file is named and the rest is drafted.
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("roto.json"), "{err}");
    assert!(err.contains("5 borradores listos"), "{err}");
    let report = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "episodio,estado,errores,segundos,mensaje");
    assert_eq!(lines.len(), 6, "{report}");
    assert!(
        lines[1..].iter().all(|l| l.contains(",borrador listo,")),
        "{report}"
    );
    // Again, without the broken file: nothing is drafted twice.
    std::fs::remove_file(day.join("roto.json")).unwrap();
    let json_report = d.join("informe.json");
    let mut again = args.to_vec();
    let json_s = json_report.display().to_string();
    *again.last_mut().unwrap() = &json_s;
    let (code, err) = run(d, &again);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_report).unwrap()).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(
        items
            .iter()
            .all(|i| i["state"] == "ready" && i["jobId"].is_null()),
        "{v}"
    );
    let out = bin(d).args(["versions", "verify"]).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn only_a_physician_asks_and_no_worker_only_queues() {
    let dir = site();
    let d = dir.path();
    let day = discharges(d);
    let day_s = day.display().to_string();
    let (code, err) = run(d, &[&day_s, "--as", "caja", "--engine", "deterministic"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("solo un médico"), "{err}");
    let (code, err) = run(d, &[&day_s, "--as", "nadie", "--engine", "deterministic"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--as nadie"), "{err}");
    let (code, err) = run(d, &[&day_s, "--as", "ana", "--no-worker"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("5 en cola o en redacción"), "{err}");
}

#[test]
fn a_batch_over_the_api_drafts_reports_and_skips_what_is_done() {
    let dir = site();
    let srv = serve(dir.path(), &["--engine", "deterministic", "--quiet"]);
    let s = login(&srv.url, "ana");
    for (id, file) in [("a", "compact_hernia.json"), ("b", "episodio_1416169.json")] {
        let bytes = std::fs::read(testdata(&format!("episodes/{file}"))).unwrap();
        let r = s.post_bytes(&format!("/api/v1/episodes?id={id}"), bytes);
        assert_eq!(r.status(), 201);
    }
    let r = s.post(
        "/api/v1/batches",
        &json!({"name": "Altas", "episodes": ["a", "b", "nadie", "a"]}),
    );
    assert_eq!(r.status(), 201);
    let batch: Value = r.json().unwrap();
    assert_eq!(batch["items"].as_array().unwrap().len(), 2, "{batch}");
    assert_eq!(batch["refused"][0]["episodeId"], "nadie");
    let id = batch["id"].as_str().unwrap();
    let t = Instant::now();
    let done = loop {
        let v: Value = s.get(&format!("/api/v1/batches/{id}")).json().unwrap();
        if v["finished"] == true {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "{v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["counts"]["ready"], 2, "{done}");
    let csv = s
        .get(&format!("/api/v1/batches/{id}/report?format=csv"))
        .text()
        .unwrap();
    assert!(
        csv.starts_with("episodio,estado,errores,segundos,mensaje\na,borrador listo,"),
        "{csv}"
    );
    // A second batch finds the drafts made and queues nothing.
    let again: Value = s
        .post("/api/v1/batches", &json!({"episodes": ["a", "b"]}))
        .json()
        .unwrap();
    assert_eq!(again["finished"], true, "{again}");
    assert!(
        again["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["jobId"].is_null())
    );
    let list: Value = s.get("/api/v1/batches").json().unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Only a physician makes batches.
    let caja = login(&srv.url, "caja");
    let r = caja.post("/api/v1/batches", &json!({"episodes": ["a"]}));
    assert_eq!(r.status(), 403);
}

/// «Redactar las N sin borrador» on the page of 2025-12-26's discharges, with `extra`
/// fields.
fn draft_the_day(
    s: &common::server::Session,
    extra: &[(&str, &str)],
) -> reqwest::blocking::Response {
    let mut form = vec![
        ("csrf", s.csrf.as_str()),
        ("desde", "2025-12-26"),
        ("hasta", "2025-12-26"),
    ];
    form.extend_from_slice(extra);
    s.client
        .post(format!("{}/episodios/lote", s.base))
        .form(&form)
        .send()
        .unwrap()
}

#[test]
fn the_days_discharges_page_drafts_those_without_a_draft_and_shows_their_state() {
    let dir = site();
    let srv = serve(dir.path(), &["--engine", "deterministic", "--quiet"]);
    let s = login(&srv.url, "ana");
    // Two episodes discharged on 2025-12-26.
    let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    for id in ["x1", "x2"] {
        let r = s.post_bytes(&format!("/api/v1/episodes?id={id}"), bytes.clone());
        assert_eq!(r.status(), 201);
    }
    let day = "/episodios?orden=revision&desde=2025-12-26&hasta=2025-12-26";
    let page = s.get(day).text().unwrap();
    assert!(page.contains("Redactar las 2 sin borrador"), "{page}");
    let r = draft_the_day(&s, &[]);
    assert!(r.status().is_success(), "{}", r.status());
    let t = Instant::now();
    let page = loop {
        let page = s.get(day).text().unwrap();
        if !page.contains("id=\"day-progress\"") {
            break page;
        }
        assert!(page.contains("http-equiv=\"refresh\""), "{page}");
        assert!(t.elapsed() < Duration::from_secs(120), "{page}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        page.matches("Borrador listo para revisar").count(),
        2,
        "{page}"
    );
    assert!(
        !page.contains("draft-day-form"),
        "nothing left to draft: {page}"
    );
    // The administrativo sees the states but no button.
    let caja = login(&srv.url, "caja");
    let page = caja.get(day).text().unwrap();
    assert!(!page.contains("draft-day-form"));
}

#[test]
fn my_discharges_are_those_whose_treating_physician_is_my_name() {
    let dir = site();
    let srv = serve(dir.path(), &["--engine", "deterministic", "--quiet"]);
    let s = login(&srv.url, "ana");
    let base: Value =
        serde_json::from_slice(&std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap())
            .unwrap();
    // Written the way exports write names: surname first in capitals, or with a title.
    for (id, doc) in [
        ("mio", Some("PÉREZ ANA")),
        ("ajeno", Some("Dr. Juan Soto")),
        ("solo-apellido", Some("Dra. Pérez")),
        ("sin-medico", None),
    ] {
        let mut ep = base.clone();
        if let Some(doc) = doc {
            ep["atencion"]["medico_tratante"] = json!(doc);
        }
        let r = s.post_bytes(
            &format!("/api/v1/episodes?id={id}"),
            serde_json::to_vec(&ep).unwrap(),
        );
        assert_eq!(r.status(), 201);
    }
    let home = s.get("/episodios").text().unwrap();
    assert!(
        home.contains(">Mis altas de hoy</a>") && home.contains("mias=1"),
        "a physician's link goes to their own discharges"
    );
    let mine = "/episodios?orden=revision&mias=1&desde=2025-12-26&hasta=2025-12-26";
    let page = s.get(mine).text().unwrap();
    assert!(page.contains("<h1>Mis altas de hoy</h1>"), "{page}");
    assert!(page.contains("(1 de 4)"), "{page}");
    assert!(page.contains("/episodios/mio\"") && !page.contains("/episodios/ajeno\""));
    assert!(
        !page.contains("/episodios/solo-apellido\""),
        "a surname alone is nobody's"
    );
    assert!(page.contains("Redactar las 1 sin borrador"), "{page}");
    assert!(
        page.contains("PÉREZ ANA"),
        "the column shows the name as written"
    );
    // Drafting «my» day drafts mine only, and comes back to my list.
    let r = draft_the_day(&s, &[("mias", "1")]);
    assert!(r.status().is_success(), "{}", r.status());
    assert!(r.url().as_str().contains("mias=1"), "{}", r.url());
    let t = Instant::now();
    let all = "/episodios?orden=revision&desde=2025-12-26&hasta=2025-12-26";
    let page = loop {
        let page = s.get(all).text().unwrap();
        if !page.contains("id=\"day-progress\"") {
            break page;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "{page}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(page.matches("Borrador listo para revisar").count(), 1);
    assert_eq!(page.matches("Sin borrador").count(), 3, "{page}");
    assert!(page.contains("id=\"mine-today\""), "{page}");
    // The physician's name is searched like the patient's.
    let found = s.get("/episodios?q=soto").text().unwrap();
    assert!(found.contains("/episodios/ajeno\"") && !found.contains("/episodios/mio\""));
    // Someone else's account: none of the day's discharges name them.
    let caja = login(&srv.url, "caja");
    let page = caja.get(mine).text().unwrap();
    assert!(
        page.contains("Ninguna de las 4 altas del día nombra a Caja Uno"),
        "{page}"
    );
}
