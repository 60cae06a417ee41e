//! Account administration: an admin adds, disables, enables and resets accounts over the
//! API and through the administration page's forms.

use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::setup;
use crate::common::server::{PASSWORD, add_user, bin, csrf_of, login, serve};

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
