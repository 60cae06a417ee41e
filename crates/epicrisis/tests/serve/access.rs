//! Sign-in and access: every route refuses anonymous callers and wrong tokens, health says
//! only that it is alive, answers with patient data are `no-store`, CSRF is required.

use reqwest::blocking::Client;
use serde_json::Value;

use super::{EPISODE, import, setup};
use crate::common::server::{login, serve};

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
