//! The documents' whole flow — generate, flag, edit, sign, amend, export, audit — on SQLite
//! and on PostgreSQL, with no clinical text or secret in the JSON log.

use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

use super::{EPISODE, import, setup, setup_postgres};
use crate::common;
use crate::common::server::{PASSWORD, add_user, bin, login};

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
