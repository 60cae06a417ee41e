//! Similar cases and passage vectors: the server without an embeddings model, the search
//! among signed epicrisis, and a model draft that reuses vectors and shows signed style.

use serde_json::{Value, json};
use std::time::{Duration, Instant};

use super::{EPISODE, import, setup};
use crate::common::server::{Session, add_user, draft, login, serve};
use crate::common::{model_fixture, testdata};

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
