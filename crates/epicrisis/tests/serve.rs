//! `epicrisis serve` end to end: the real binary on loopback with a SQLite store, driven
//! over real HTTP (and, for the interface, by headless Chromium through WebDriver).

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::server::{
    PASSWORD, PgDatabase, Session, add_user, bin, csrf_of, draft, login, postgres_site, serve,
};
use common::{model_fixture, testdata};

const EPISODE: &str = "1416169";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    add_users(dir.path());
    dir
}

fn add_users(dir: &Path) {
    add_user(dir, "ana", "medico", "Dra. Ana Pérez");
    add_user(dir, "caja", "administrativo", "Caja Uno");
}

fn setup_postgres() -> Option<(tempfile::TempDir, PgDatabase)> {
    let (dir, db) = postgres_site("serve_e2e")?;
    add_users(dir.path());
    Some((dir, db))
}

fn import(s: &Session) {
    let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    let r = s.post_bytes("/api/v1/episodes", bytes);
    assert_eq!(r.status(), 201);
}

#[test]
fn every_route_refuses_anonymous_requests() {
    let dir = setup();
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    import(&s);
    let anon = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let routes: &[(&str, &str)] = &[
        ("GET", "/api/episodes/1416169"),
        ("POST", "/api/generate-epicrisis"),
        ("POST", "/api/regenerate-epicrisis"),
        ("POST", "/api/validate-epicrisis"),
        ("POST", "/api/export/pdf"),
        ("POST", "/api/export/word"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/episodes"),
        ("POST", "/api/v1/episodes"),
        ("GET", "/api/v1/episodes/1416169"),
        ("POST", "/api/v1/episodes/1416169/drafts"),
        ("GET", "/api/v1/episodes/1416169/versions"),
        ("POST", "/api/v1/episodes/1416169/versions"),
        ("POST", "/api/v1/episodes/1416169/validate"),
        ("GET", "/api/v1/episodes/1416169/export"),
        ("GET", "/api/v1/episodes/1416169/audit"),
        ("GET", "/api/v1/versions/1"),
        ("POST", "/api/v1/versions/1/sign"),
        ("GET", "/api/v1/versions/1/export"),
        ("GET", "/api/v1/versions/1/verify"),
        ("GET", "/api/v1/jobs/x"),
        ("POST", "/api/v1/jobs/x/cancel"),
        ("GET", "/api/v1/jobs/x/events"),
        ("GET", "/api/v1/archive/search?q=hernia"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/audit/verify"),
        ("POST", "/api/v1/tokens"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens/1/revoke"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("POST", "/api/v1/users/ana/disable"),
        ("POST", "/api/v1/users/ana/enable"),
        ("POST", "/api/v1/users/ana/password"),
        ("POST", "/administracion/usuarios"),
        ("POST", "/administracion/usuarios/ana/deshabilitar"),
        ("POST", "/administracion/usuarios/ana/habilitar"),
        ("POST", "/administracion/usuarios/ana/contrasena"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ];
    for (m, p) in routes {
        let r = anon
            .request(m.parse().unwrap(), format!("{}{p}", srv.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{m} {p} answered {}", r.status());
        let body = r.text().unwrap();
        assert!(
            !body.contains("PLEUROSTOMIA") && !body.contains("Meropenem"),
            "{m} {p}"
        );
    }
    for p in [
        "/episodios",
        "/episodios/1416169",
        "/",
        "/administracion",
        "/casos-similares?q=hernia",
    ] {
        let r = anon.get(format!("{}{p}", srv.url)).send().unwrap();
        assert!(r.status().is_redirection(), "{p}");
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(loc == "/login" || loc == "/episodios", "{p} → {loc}");
    }
    // A wrong token is refused, not treated as anonymous.
    let r = anon
        .get(format!("{}/api/v1/episodes", srv.url))
        .bearer_auth("nope")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // Health is public and carries no clinical data.
    let h: Value = anon
        .get(format!("{}/api/health", srv.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h["status"], "ok");
    assert!(!h.to_string().contains(EPISODE));
    // Anonymous callers learn only that it is alive; a signed-in one sees the engine.
    assert!(h.get("engine").is_none() && h.get("queue").is_none(), "{h}");
    let h: Value = s.get("/api/health").json().unwrap();
    assert!(h["engine"].is_string() && h["queue"].is_object(), "{h}");
    // Answers with patient data are not kept by browsers or proxies.
    let r = s.get(&format!("/api/v1/episodes/{EPISODE}"));
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    // A state-changing request with the cookie but without the CSRF header is refused.
    let r = s
        .client
        .post(format!("{}/api/v1/episodes/{EPISODE}/drafts", srv.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

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

/// The server never requires an embeddings model: with `EMBEDDINGS_TYPE=none` it starts
/// and says the archive has none.
#[test]
fn the_server_starts_without_an_embeddings_model() {
    let dir = setup();
    std::fs::write(dir.path().join(".env"), "EMBEDDINGS_TYPE=none\n").unwrap();
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    assert_eq!(s.get("/api/v1/me").status(), 200);
    assert!(
        srv.log
            .lock()
            .unwrap()
            .contains("archivo de casos: sin modelo de embeddings"),
        "{}",
        srv.log.lock().unwrap()
    );
    // The archive search says what is missing, in the API and on the page.
    let r = s.get("/api/v1/archive/search?q=neumon%C3%ADa");
    assert_eq!(r.status(), 503);
    assert!(r.text().unwrap().contains("EMBEDDINGS_MODEL"));
    // The page says it to the physician as a notice, without the setting's name.
    let r = s.get("/casos-similares?q=neumon%C3%ADa");
    assert_eq!(r.status(), 503);
    assert!(
        r.text()
            .unwrap()
            .contains("no está activada en este servidor")
    );
    assert_eq!(s.get("/casos-similares").status(), 200);
}

/// Imports a test episode under `id`, drafts it and signs the draft; returns the
/// signed version's JSON.
fn draft_and_sign(s: &Session, file: &str, id: &str) -> Value {
    let bytes = std::fs::read(testdata(&format!("episodes/{file}"))).unwrap();
    assert_eq!(
        s.post_bytes(&format!("/api/v1/episodes?id={id}"), bytes)
            .status(),
        201
    );
    let version = draft(s, id);
    let r = s.post(
        &format!("/api/v1/versions/{}/sign", version["id"]),
        &json!({"acknowledgeFindings": true}),
    );
    assert_eq!(r.status(), 201);
    r.json().unwrap()
}

/// Waits until the background indexing has every signed epicrisis in the archive (the
/// search answers `pending: 0`); returns how many searches that took (each is audited).
fn wait_indexed(s: &Session) -> usize {
    let t = Instant::now();
    for polls in 1.. {
        let r: Value = s.get("/api/v1/archive/search?q=epicrisis").json().unwrap();
        if r["pending"] == 0 {
            return polls;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "still indexing: {r}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    unreachable!()
}

/// Signed epicrisis are embedded (in the background after signing, and whatever is
/// missing before a search); the API and the «Casos similares» page find the closest,
/// validate their parameters and audit the search without its words.
#[test]
fn similar_cases_are_found_among_signed_epicrisis() {
    let Some(e5) = epicrisis_testkit::fixtures::e5() else {
        return;
    };
    let dir = setup();
    std::fs::write(
        dir.path().join(".env"),
        format!("EMBEDDINGS_MODEL={}\n", e5.display()),
    )
    .unwrap();
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    draft_and_sign(&s, "compact_hernia.json", "hernia");
    draft_and_sign(&s, "predecessor_neumonia.json", "neumonia");
    import(&s);
    // Signing indexes in the background; a search meanwhile says how many are pending.
    let polls = wait_indexed(&s);
    let search = |q: &str| -> Value {
        let r = s
            .client
            .get(format!("{}/api/v1/archive/search", srv.url))
            .query(&[("q", q), ("k", "5")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().unwrap()
    };
    let first = |v: &Value| v["results"][0]["episodeId"].as_str().unwrap().to_string();
    let hits = search("hernia umbilical atascada, hernioplastia con malla");
    assert_eq!(first(&hits), "hernia", "{hits}");
    assert_eq!(hits["results"].as_array().unwrap().len(), 2, "{hits}");
    assert!(hits["model"].is_string());
    assert_eq!(hits["pending"], 0);
    let r0 = &hits["results"][0];
    assert!(r0["score"].as_f64().unwrap() > hits["results"][1]["score"].as_f64().unwrap());
    assert!(r0["versionId"].is_i64() && r0["signedAt"].is_string());
    assert!(!r0["snippet"].as_str().unwrap().is_empty());
    let hits = search("neumonía con insuficiencia respiratoria, tratada con ceftriaxona");
    assert_eq!(first(&hits), "neumonia", "{hits}");
    // The unsigned episode is not in the archive; `exclude` leaves one out.
    let hits: Value = s
        .get("/api/v1/archive/search?q=hernia%20umbilical&exclude=hernia")
        .json()
        .unwrap();
    let ids: Vec<&str> = hits["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["episodeId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["neumonia"]);
    // Bad parameters: a 400 that names the parameter.
    for (q, names) in [
        ("", "q"),
        ("?q=%20%20", "q"),
        ("?q=hernia&k=0", "k"),
        ("?q=hernia&k=51", "k"),
        ("?q=hernia&k=muchos", "k"),
        ("?q=hernia&limite=3", "limite"),
    ] {
        let r = s.get(&format!("/api/v1/archive/search{q}"));
        assert_eq!(r.status(), 400, "{q}");
        let body = r.text().unwrap();
        assert!(body.contains(names), "{q}: {body}");
    }
    let long = "a".repeat(2001);
    let r = s.get(&format!("/api/v1/archive/search?q={long}"));
    assert_eq!(r.status(), 400);
    // Audited: the searches and how many results, never the words searched.
    add_user(dir.path(), "jefa", "admin", "Jefa TI");
    let admin = login(&srv.url, "jefa");
    let audit: Value = admin.get("/api/v1/audit?limit=1000").json().unwrap();
    let searches: Vec<&Value> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "search")
        .collect();
    assert_eq!(searches.len(), polls + 3, "{audit}");
    assert!(!audit.to_string().contains("umbilical atascada"));
    assert!(
        !audit
            .to_string()
            .contains("insuficiencia respiratoria, tratada")
    );
    // The page: a link from the episode, the form, the results with links.
    let page = s.get(&format!("/episodios/{EPISODE}")).text().unwrap();
    assert!(
        page.contains(&format!(
            "href=\"/casos-similares?episodio={EPISODE}\" id=\"similar-episode-link\""
        )),
        "no link to similar cases (with the episode id only)"
    );
    // From an episode: its own terms are the query, and it is left out.
    let r = s.get("/casos-similares?episodio=hernia");
    assert_eq!(r.status(), 200);
    let page = r.text().unwrap();
    assert!(
        page.contains("Hernia umbilical"),
        "the episode's terms fill the form"
    );
    assert!(
        !page.contains("href=\"/episodios/hernia\""),
        "the episode itself is left out"
    );
    assert!(page.contains("href=\"/episodios/neumonia\""));
    assert_eq!(s.get("/casos-similares?episodio=no-existe").status(), 404);
    let r = s
        .client
        .get(format!("{}/casos-similares", srv.url))
        .query(&[("q", "hernia umbilical operada"), ("excluir", EPISODE)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().unwrap();
    let hernia = page
        .find("href=\"/episodios/hernia\"")
        .expect("hernia listed");
    let neumonia = page
        .find("href=\"/episodios/neumonia\"")
        .expect("neumonia listed");
    assert!(hernia < neumonia, "the closest case comes first");
    assert!(page.contains("2 caso(s) similar(es)"));
    let r = s.get("/casos-similares?q=hernia&k=cero");
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("«Resultados»"));
    // No clinical words of the searches in the server's log.
    let log = srv.log.lock().unwrap().clone();
    assert!(!log.contains("hernia umbilical"), "{log}");
}

/// The bundled episode with the notes of its first six days written as one note (as a
/// service that writes one note per shift block would): longer than a step's notes
/// budget, so that step retrieves passages instead of quoting its notes whole.
fn with_one_long_note() -> Vec<u8> {
    let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    let mut ep: Value = serde_json::from_slice(&bytes).unwrap();
    let notes = ep["evolucion_resumen"].as_array_mut().unwrap();
    let first: Vec<Value> = notes.drain(..6).collect();
    let text: Vec<&str> = first.iter().map(|n| n["texto"].as_str().unwrap()).collect();
    notes.insert(0, json!({"dia": 1, "texto": text.join(" ")}));
    serde_json::to_vec(&ep).unwrap()
}

/// With a model engine and an embeddings model: the passage vectors a draft made are
/// kept in the store and the next draft of the episode reuses them; a signed epicrisis
/// of another episode is shown to the model as a style example.
#[test]
fn a_model_draft_reuses_passage_vectors_and_shows_signed_style() {
    let Some(model) = model_fixture() else { return };
    let Some(e5) = epicrisis_testkit::fixtures::e5() else {
        return;
    };
    let model = model.display().to_string();
    let dir = setup();
    std::fs::write(
        dir.path().join(".env"),
        format!("EMBEDDINGS_MODEL={}\n", e5.display()),
    )
    .unwrap();
    let args = [
        "--engine",
        "local",
        "--model",
        &model,
        "--context-size",
        "4096",
        "--max-tokens",
        "120",
        "--threads",
        "1",
    ];
    let srv = serve(dir.path(), &args);
    let s = login(&srv.url, "ana");
    let r = s.post_bytes("/api/v1/episodes", with_one_long_note());
    assert_eq!(r.status(), 201);
    let v1 = draft(&s, EPISODE);
    // The stay is narrated in steps of a few days; the long note is a step of its own
    // whose text passes the notes budget, so passages are retrieved for it, with the
    // embeddings model. The passage vectors are stored, and the next draft reuses them.
    let retrieval = &v1["provenance"]["provenance"]["retrieval"];
    assert_eq!(retrieval["vectors_reused"], false, "{retrieval}");
    assert_ne!(retrieval["method"], "whole", "{retrieval}");
    assert!(retrieval["model"].is_string(), "{retrieval}");
    assert_eq!(v1["provenance"]["provenance"]["style_examples"], 0);
    // Sign another episode: the next draft is shown its evolution paragraph as style.
    draft_and_sign(&s, "compact_hernia.json", "hernia");
    wait_indexed(&s);
    let v2 = draft(&s, EPISODE);
    let retrieval = &v2["provenance"]["provenance"]["retrieval"];
    assert_eq!(retrieval["vectors_reused"], true, "{retrieval}");
    assert_eq!(v2["provenance"]["provenance"]["style_examples"], 1);
    // Reused vectors still give dense evidence.
    assert!(
        v2["provenance"]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| !e["passages"].as_array().unwrap().is_empty()),
        "{}",
        v2["provenance"]["evidence"]
    );
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
fn generate_edit_approve_amend_export_and_no_clinical_text_in_logs() {
    let dir = setup();
    full_flow(dir.path());
}

/// The same run with the store on PostgreSQL.
#[test]
fn the_whole_flow_on_postgresql() {
    let Some((dir, _db)) = setup_postgres() else {
        return;
    };
    full_flow(dir.path());
}

/// Generate, flag, edit, sign, amend, export, audit — and search the log (JSON lines).
fn full_flow(dir: &Path) {
    let srv = common::logs::serve_json(dir, &["--engine", "deterministic"], &[]);
    let s = login(&srv.url, "ana");
    import(&s);
    // Predecessor surface.
    let legacy: Value = s.get(&format!("/api/episodes/{EPISODE}")).json().unwrap();
    assert_eq!(legacy["episodeId"], EPISODE);
    assert!(legacy["clinicalData"].is_object());
    // Start a draft job and follow its event stream to the end.
    let r = s.post(&format!("/api/v1/episodes/{EPISODE}/drafts"), &json!({}));
    assert_eq!(r.status(), 202);
    let job: Value = r.json().unwrap();
    let events = s.get(job["eventsUrl"].as_str().unwrap()).text().unwrap();
    assert!(events.contains("event: snapshot"), "{events}");
    assert!(events.contains("\"done\""), "{events}");
    let versions: Value = s
        .get(&format!("/api/v1/episodes/{EPISODE}/versions"))
        .json()
        .unwrap();
    let v1 = &versions["versions"][0];
    assert_eq!(v1["kind"], "generated");
    assert_eq!(v1["errors"], 0);
    let full: Value = s
        .get(&format!("/api/v1/versions/{}", v1["id"]))
        .json()
        .unwrap();
    let text = full["text"].as_str().unwrap().to_string();
    assert!(full["provenance"]["draft"]["parts"].is_array());
    // The generated version comes with the evidence the engine found, resolved: some
    // sentence rests on a passage of the notes (with its day and text) or on an item.
    let ev = full["evidence"].as_array().unwrap();
    assert!(!ev.is_empty());
    assert!(full["provenance"]["evidence"].is_array());
    assert!(
        ev.iter().any(|e| e["passages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["text"].as_str().is_some_and(|t| !t.is_empty()) && p["day"].is_u64())),
        "{}",
        full["evidence"]
    );
    assert!(
        ev.iter().any(|e| e["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["label"].is_string() && i["name"].is_string())),
        "{}",
        full["evidence"]
    );
    // Typing an invented drug: live validation marks it, with its place.
    let bad = format!("{text}\nSe indica warfarina 5 mg cada 24 horas.\n");
    let report: Value = s
        .post(
            &format!("/api/v1/episodes/{EPISODE}/validate"),
            &json!({"text": bad}),
        )
        .json()
        .unwrap();
    assert_eq!(report["ok"], false);
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "error")
        .unwrap()
        .clone();
    let span = f["span"].as_array().unwrap();
    let chars: Vec<char> = bad.chars().collect();
    let marked: String = chars
        [span[0].as_u64().unwrap() as usize..span[1].as_u64().unwrap() as usize]
        .iter()
        .collect();
    assert!(marked.to_lowercase().contains("warfarina"), "{marked}");
    // Predecessor validation says the same, in its shape.
    let lv: Value = s
        .post(
            "/api/validate-epicrisis",
            &json!({"text": bad, "episodeId": EPISODE}),
        )
        .json()
        .unwrap();
    assert_eq!(lv["ok"], false);
    assert!(
        lv["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["type"] == "med")
    );
    // Saving against a stale parent is refused; against the latest it works.
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": bad, "parentId": 999}),
    );
    assert_eq!(r.status(), 409);
    let fixed = text.clone();
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": format!("{fixed}\nPaciente se va de alta en buenas condiciones.\n"), "parentId": v1["id"]}),
    );
    assert_eq!(r.status(), 201);
    let v2: Value = r.json().unwrap();
    assert_eq!(v2["kind"], "edited");
    // The administrative role may not sign.
    let caja = login(&srv.url, "caja");
    let r = caja.post(&format!("/api/v1/versions/{}/sign", v2["id"]), &json!({}));
    assert_eq!(r.status(), 403);
    // The bundled episode's data gives ceftriaxone vancomycin's ATC code: signing names
    // it and waits for a confirmation, which the audit records.
    let r = s.post(&format!("/api/v1/versions/{}/sign", v2["id"]), &json!({}));
    assert_eq!(r.status(), 409);
    let refusal: Value = r.json().unwrap();
    assert_eq!(refusal["needsConfirmation"], true, "{refusal}");
    let said = refusal["error"].as_str().unwrap();
    assert!(
        said.contains("J01XA01") && said.contains("vancomicina"),
        "{said}"
    );
    let r = s.post(
        &format!("/api/v1/versions/{}/sign", v2["id"]),
        &json!({"acknowledgeFindings": true}),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    let signed: Value = s
        .get(&format!("/api/v1/episodes/{EPISODE}/versions"))
        .json()
        .unwrap();
    let v3 = signed["versions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(v3["status"], "signed");
    // A signed epicrisis never changes: an edit is refused, an amendment is linked.
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": "otro texto", "parentId": v3["id"]}),
    );
    assert_eq!(r.status(), 409);
    let r = s.post(
        &format!("/api/v1/episodes/{EPISODE}/versions"),
        &json!({"text": format!("{fixed}\nEnmienda: control en 7 días.\n"), "parentId": v3["id"], "amend": true}),
    );
    assert_eq!(r.status(), 201);
    let v4: Value = r.json().unwrap();
    assert_eq!(v4["amends"], v3["id"]);
    // Export of the signed version.
    let r = caja.get(&format!(
        "/api/v1/episodes/{EPISODE}/export?format=pdf&version={}",
        v3["id"]
    ));
    assert_eq!(r.status(), 200);
    assert!(r.bytes().unwrap().starts_with(b"%PDF"));
    let r = s.post(
        "/api/export/word",
        &json!({"episodeId": EPISODE, "text": fixed}),
    );
    assert_eq!(r.status(), 200);
    assert!(r.bytes().unwrap().starts_with(b"PK"));
    // The audit trail has it all and its chain holds.
    let audit: Value = s
        .get(&format!("/api/v1/episodes/{EPISODE}/audit"))
        .json()
        .unwrap();
    let actions: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in [
        "import", "view", "generate", "edit", "approve", "amend", "export",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // Only an admin creates API tokens; one works without CSRF and is shown once.
    assert_eq!(
        s.post("/api/v1/tokens", &json!({"name": "HIS"})).status(),
        403
    );
    add_user(dir, "tic", "admin", "Informática");
    let admin = login(&srv.url, "tic");
    let t: Value = admin
        .post("/api/v1/tokens", &json!({"name": "HIS", "days": 30}))
        .json()
        .unwrap();
    let token = t["token"].as_str().unwrap().to_string();
    let expires = t["expiresAt"].as_i64().unwrap();
    let in_30_days = epicrisis_server::now_ms() + 30 * 86_400_000;
    assert!((expires - in_30_days).abs() < 600_000, "{t}");
    // A token cannot make more tokens.
    assert_eq!(
        Client::new()
            .post(format!("{}/api/v1/tokens", srv.url))
            .bearer_auth(&token)
            .json(&json!({"name": "otro"}))
            .send()
            .unwrap()
            .status(),
        403
    );
    let r = Client::new()
        .get(format!("{}/api/v1/episodes?q=1416", srv.url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    let list: Value = r.json().unwrap();
    // camelCase, as the rest of /api/v1; the list carries patient and diagnosis.
    assert_eq!(list["episodes"][0]["episodeId"], EPISODE);
    assert!(list["episodes"][0]["diagnosis"].is_string(), "{list}");
    // Tokens are listed (an admin sees all, others their own) and revoked by id.
    let all: Value = admin.get("/api/v1/tokens").json().unwrap();
    let his = all
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "HIS")
        .expect("the token is listed")
        .clone();
    assert!(his.get("token").is_none() && his["revokedAt"].is_null());
    let own: Value = s.get("/api/v1/tokens").json().unwrap();
    assert_eq!(own.as_array().unwrap().len(), 0, "{own}");
    let id = his["id"].as_i64().unwrap();
    assert_eq!(
        s.post(&format!("/api/v1/tokens/{id}/revoke"), &json!({}))
            .status(),
        404,
        "someone else's token"
    );
    let revoked: Value = admin
        .post(&format!("/api/v1/tokens/{id}/revoke"), &json!({}))
        .json()
        .unwrap();
    assert!(revoked["revokedAt"].is_i64(), "{revoked}");
    let r = Client::new()
        .get(format!("{}/api/v1/episodes?q=1416", srv.url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // Pages render.
    let page = s.get(&format!("/episodios/{EPISODE}")).text().unwrap();
    assert!(
        page.contains("Texto de la epicrisis") && page.contains("Evolución"),
        "{}",
        &page[..page.len().min(600)]
    );
    // The server's log: no clinical text, identifiers, tokens or passwords.
    std::thread::sleep(Duration::from_millis(200));
    let log = srv.log.lock().unwrap().clone();
    assert!(
        log.contains("POST /api/v1/episodes/{id}/versions 201"),
        "{log}"
    );
    for secret in [
        EPISODE,
        "PLEUROSTOMIA",
        "Meropenem",
        "warfarina",
        "Miles",
        &token,
        PASSWORD,
        &s.csrf,
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}:\n{log}");
    }
    // Every line is JSON; request lines have the route pattern and the request's id.
    let lines = common::logs::json_lines(&log);
    let saved = common::logs::request_lines(&lines)
        .into_iter()
        .find(|l| l["route"] == "/api/v1/episodes/{id}/versions" && l["status"] == 201);
    assert!(saved.is_some_and(|l| l["method"] == "POST"), "{log}");
    let out = bin(dir).args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
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

#[test]
fn openai_compatible_endpoint_serves_the_local_model_to_our_openai_backend() {
    use epicrisis_llm::{ChatMessage, GenerationRequest, Generator, SamplingSettings};
    let Some(model) = model_fixture() else { return };
    let dir = setup();
    let srv = serve(
        dir.path(),
        &[
            "--engine",
            "local",
            "--model",
            &model.display().to_string(),
            "--context-size",
            "1024",
            "--threads",
            "1",
        ],
    );
    add_user(dir.path(), "tic", "admin", "Informática");
    let s = login(&srv.url, "tic");
    let token = s
        .post("/api/v1/tokens", &json!({"name": "other server"}))
        .json::<Value>()
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let c = Client::new();
    let models: Value = c
        .get(format!("{}/v1/models", srv.url))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let name = models["data"][0]["id"].as_str().unwrap().to_string();
    assert!(name.contains("SmolLM2"), "{models}");
    // Not streamed. The words are forced by a grammar (llama.cpp server's `grammar`
    // field): what a free model says depends on the CPU.
    let hola = epicrisis_llm::grammar::exactly("¡Hola! ¿En qué puedo ayudar?");
    let r: Value = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"model": name, "messages": [{"role": "user", "content": "Di hola."}], "max_tokens": 32, "temperature": 0, "grammar": hola}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["object"], "chat.completion");
    assert!(r["usage"]["completion_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(r["choices"][0]["finish_reason"], "stop", "{r}");
    let plain = r["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(plain, "¡Hola! ¿En qué puedo ayudar?");
    // A grammar llama.cpp cannot build is the caller's mistake, named.
    let r = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 4, "grammar": "root ::= saludo"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("grammar"),
        "{e}"
    );
    // One answer may not ask for more than the server allows (EPICRISIS_V1_MAX_TOKENS).
    let r = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 40000}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("EPICRISIS_V1_MAX_TOKENS"),
        "{e}"
    );
    // Free words: greedy decoding gives the same text twice on one machine.
    let free = |c: &Client| -> String {
        let r: Value = c
            .post(format!("{}/v1/chat/completions", srv.url))
            .bearer_auth(&token)
            .json(&json!({"messages": [{"role": "user", "content": "Di hola."}], "max_tokens": 8, "temperature": 0}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(free(&c), free(&c));
    // Streamed, through our own OpenAI backend (real HTTP, real server).
    let mut settings =
        epicrisis_llm::http::HttpSettings::new(format!("{}/v1", srv.url), name.clone());
    settings.api_key = Some(epicrisis_llm::http::ApiKey::new(&token));
    let g = epicrisis_llm::http::openai::open(settings).unwrap();
    let sampling = SamplingSettings {
        max_tokens: 32,
        temperature: 0.0,
        grammar: Some(hola.clone()),
        ..SamplingSettings::default()
    };
    let (text, stats) = g
        .start(GenerationRequest::new(
            vec![ChatMessage::user("Di hola.")],
            sampling,
        ))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        text, plain,
        "the grammar reaches the server through our backend, streamed"
    );
    assert!(stats.generated_tokens >= 1 || !text.is_empty());
    // A wrong token gets the OpenAI error shape.
    let r = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth("wrong")
        .json(&json!({"messages": [{"role": "user", "content": "x"}]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // An unknown model is named.
    let r: Value = c
        .post(format!("{}/v1/chat/completions", srv.url))
        .bearer_auth(&token)
        .json(&json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(r["error"]["message"].as_str().unwrap().contains("gpt-9"));
}

#[test]
fn an_admin_manages_accounts_over_the_api() {
    let dir = setup();
    add_user(dir.path(), "jefa", "admin", "Jefa TI");
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let admin = login(&srv.url, "jefa");
    let caja = login(&srv.url, "caja");
    // Only an admin lists or creates accounts.
    assert_eq!(caja.get("/api/v1/users").status(), 403);
    let r = caja.post(
        "/api/v1/users",
        &json!({"username": "x", "role": "admin", "password": PASSWORD}),
    );
    assert_eq!(r.status(), 403);
    // Bad input is named.
    let r = admin.post(
        "/api/v1/users",
        &json!({"username": "bo", "role": "cirujano", "password": PASSWORD}),
    );
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("cirujano"));
    let r = admin.post(
        "/api/v1/users",
        &json!({"username": "bo", "role": "medico", "password": "corta"}),
    );
    assert_eq!(r.status(), 400);
    let r = admin.post(
        "/api/v1/users",
        &json!({"username": "Bo.Rojas", "displayName": "Dr. Bo Rojas", "role": "medico", "password": PASSWORD}),
    );
    assert_eq!(r.status(), 201);
    let r = admin.post(
        "/api/v1/users",
        &json!({"username": "bo.rojas", "role": "medico", "password": PASSWORD}),
    );
    assert_eq!(r.status(), 409, "duplicate user names are refused");
    let list: Value = admin.get("/api/v1/users").json().unwrap();
    assert!(
        list["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "bo.rojas" && u["role"] == "medico")
    );
    // The new account works; disabling it ends its session at once.
    let bo = login(&srv.url, "bo.rojas");
    assert_eq!(bo.get("/api/v1/me").status(), 200);
    assert_eq!(
        admin
            .post("/api/v1/users/bo.rojas/disable", &json!({}))
            .status(),
        200
    );
    assert_eq!(bo.get("/api/v1/me").status(), 401);
    assert_eq!(
        admin
            .post("/api/v1/users/jefa/disable", &json!({}))
            .status(),
        409,
        "an admin cannot lock themselves out"
    );
    // A user changes their own password, not someone else's.
    assert_eq!(
        caja.post(
            "/api/v1/users/ana/password",
            &json!({"password": "otra-clave-larga"})
        )
        .status(),
        403
    );
    // One's own password needs the current one; the change ends the account's other
    // sessions and keeps the one that asked.
    let caja_elsewhere = login(&srv.url, "caja");
    assert_eq!(
        caja.post(
            "/api/v1/users/caja/password",
            &json!({"password": "otra-clave-larga"})
        )
        .status(),
        403
    );
    assert_eq!(
        caja.post(
            "/api/v1/users/caja/password",
            &json!({"password": "otra-clave-larga", "currentPassword": "no-es-esta"})
        )
        .status(),
        403
    );
    assert_eq!(
        caja.post(
            "/api/v1/users/caja/password",
            &json!({"password": "otra-clave-larga", "currentPassword": PASSWORD})
        )
        .status(),
        200
    );
    assert_eq!(caja.get("/api/v1/me").status(), 200);
    assert_eq!(caja_elsewhere.get("/api/v1/me").status(), 401);
    let out = bin(dir.path()).args(["audit", "verify"]).output().unwrap();
    assert!(out.status.success());
}

/// The administration page: only admins see it (and its link); accounts are added,
/// disabled, enabled and given a new password through its forms, with the form's CSRF
/// token; refused input is shown on the page, naming the field.
#[test]
fn an_admin_manages_accounts_in_the_web_interface() {
    let dir = setup();
    add_user(dir.path(), "jefa", "admin", "Jefa TI");
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let admin = login(&srv.url, "jefa");
    let ana = login(&srv.url, "ana");
    // The link and the page are for admins only.
    let list = admin.get("/episodios").text().unwrap();
    assert!(list.contains("href=\"/administracion\""));
    assert!(
        !ana.get("/episodios")
            .text()
            .unwrap()
            .contains("/administracion")
    );
    let r = ana.get("/administracion");
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("administrar usuarios"));
    let page = admin.get("/administracion").text().unwrap();
    assert!(page.contains("<h1>Administración</h1>") && page.contains("Estado del servidor"));
    assert!(page.contains("Dra. Ana Pérez") && page.contains("Médico"));
    let csrf = csrf_of(&page);
    let form = |path: &str, fields: &[(&str, &str)]| {
        admin
            .client
            .post(format!("{}{path}", srv.url))
            .form(fields)
            .send()
            .unwrap()
    };
    // Without the form's token: refused, nothing added.
    let r = form(
        "/administracion/usuarios",
        &[
            ("username", "bo"),
            ("role", "medico"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("csrf"));
    // A non-admin's form is refused even with their own token.
    let r = ana
        .client
        .post(format!("{}/administracion/usuarios", srv.url))
        .form(&[
            ("csrf", ana.csrf.as_str()),
            ("username", "bo"),
            ("role", "medico"),
            ("password", PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    // Bad input is shown on the page, naming the field; what was typed stays.
    let r = form(
        "/administracion/usuarios",
        &[
            ("csrf", &csrf),
            ("username", "bo.rojas"),
            ("role", "cirujano"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status(), 400);
    let t = r.text().unwrap();
    assert!(t.contains("role") && t.contains("cirujano"), "{t}");
    assert!(t.contains("value=\"bo.rojas\""));
    let r = form(
        "/administracion/usuarios",
        &[
            ("csrf", &csrf),
            ("username", "bo.rojas"),
            ("role", "medico"),
            ("password", "corta"),
        ],
    );
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("contraseña"));
    // Add.
    let r = form(
        "/administracion/usuarios",
        &[
            ("csrf", &csrf),
            ("username", "Bo.Rojas"),
            ("display_name", "Dr. Bo Rojas"),
            ("role", "medico"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status(), 200);
    assert!(r.url().path() == "/administracion");
    let t = r.text().unwrap();
    assert!(t.contains("Se agregó la cuenta bo.rojas"), "{t}");
    assert!(t.contains("Dr. Bo Rojas"));
    let r = form(
        "/administracion/usuarios",
        &[
            ("csrf", &csrf),
            ("username", "bo.rojas"),
            ("role", "medico"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status(), 409, "duplicate user names are refused");
    let bo = login(&srv.url, "bo.rojas");
    assert_eq!(bo.get("/api/v1/me").status(), 200);
    // Disable: the session ends at once.
    let r = form(
        "/administracion/usuarios/bo.rojas/deshabilitar",
        &[("csrf", &csrf)],
    );
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .unwrap()
            .contains("Se deshabilitó la cuenta bo.rojas")
    );
    assert_eq!(bo.get("/api/v1/me").status(), 401);
    let users: Value = admin.get("/api/v1/users").json().unwrap();
    let bo_row = |users: &Value| {
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "bo.rojas")
            .cloned()
            .unwrap()
    };
    assert_eq!(bo_row(&users)["disabled"], true);
    assert_eq!(
        form(
            "/administracion/usuarios/jefa/deshabilitar",
            &[("csrf", &csrf)]
        )
        .status(),
        409,
        "an admin cannot lock themselves out"
    );
    assert_eq!(
        form(
            "/administracion/usuarios/nadie/deshabilitar",
            &[("csrf", &csrf)]
        )
        .status(),
        404
    );
    // Enable, then a new password: the old one no longer works, the new one does.
    let r = form(
        "/administracion/usuarios/bo.rojas/habilitar",
        &[("csrf", &csrf)],
    );
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("Se habilitó la cuenta bo.rojas"));
    let users: Value = admin.get("/api/v1/users").json().unwrap();
    assert_eq!(bo_row(&users)["disabled"], false);
    let r = form(
        "/administracion/usuarios/bo.rojas/contrasena",
        &[("csrf", &csrf), ("password", "corta")],
    );
    assert_eq!(r.status(), 400);
    let r = form(
        "/administracion/usuarios/bo.rojas/contrasena",
        &[("csrf", &csrf), ("password", "otra-clave-larga")],
    );
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .unwrap()
            .contains("Se cambió la contraseña de bo.rojas")
    );
    let try_login = |password: &str| {
        let c = Client::builder().cookie_store(true).build().unwrap();
        let page = c
            .get(format!("{}/login", srv.url))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let t = csrf_of(&page);
        c.post(format!("{}/login", srv.url))
            .form(&[
                ("username", "bo.rojas"),
                ("password", password),
                ("csrf", &t),
            ])
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(try_login(PASSWORD), 401);
    assert_eq!(try_login("otra-clave-larga"), 200);
    // The changes are in the audit trail, and the log holds no password or token.
    let audit: Value = admin.get("/api/v1/audit").json().unwrap();
    let actions: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    for a in ["user_add", "user_disable", "user_enable", "user_passwd"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let log = srv.log.lock().unwrap().clone();
    for secret in [PASSWORD, "otra-clave-larga", csrf.as_str(), "bo.rojas"] {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
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
/// The model runs on one thread: the other tests of this file run beside it, and
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
