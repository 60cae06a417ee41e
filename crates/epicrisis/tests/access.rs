//! Who gets in. The login under attack, on a real `epicrisis serve` over loopback:
//! guesses sent in parallel are counted before their passwords are checked,
//! `X-Forwarded-For` is read only from a trusted proxy, and oversized names and bodies are
//! refused before anything is looked up or stored. API tokens from the command line:
//! created with an expiry, listed, revoked.

use reqwest::blocking::Client;
use serde_json::Value;

mod common;
use common::server::{PASSWORD, add_user, bin, login, login_form as form, serve};

/// One login attempt; the status code.
fn attempt(base: &str, user: &str, password: &str, forwarded_for: Option<&str>) -> u16 {
    let (client, csrf) = form(base);
    let mut req = client.post(format!("{base}/login")).form(&[
        ("username", user),
        ("password", password),
        ("csrf", &csrf),
    ]);
    if let Some(x) = forwarded_for {
        req = req.header("x-forwarded-for", x);
    }
    req.send().unwrap().status().as_u16()
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    add_user(dir.path(), "jefa", "admin", "Jefa de Servicio");
    dir
}

/// The audit trail, read by the administrator.
fn audit_rows(base: &str) -> Vec<Value> {
    let admin = login(base, "jefa");
    let v: Value = admin.get("/api/v1/audit?limit=5000").json().unwrap();
    v["audit"].as_array().cloned().expect("the audit list")
}

#[test]
fn parallel_guesses_are_counted_before_the_password_is_checked() {
    let dir = site();
    let srv = serve(dir.path(), &[]);
    // The administrator signs in first (a good login takes its attempt back).
    let rows_before = audit_rows(&srv.url).len();
    // Twelve wrong passwords for one account at once: five may be checked, the rest
    // are refused without a check.
    let codes: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let url = srv.url.clone();
                s.spawn(move || attempt(&url, "ana", &format!("mala-{i}"), None))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = codes.iter().filter(|c| **c == 401).count();
    let refused = codes.iter().filter(|c| **c == 429).count();
    assert_eq!(checked + refused, 12, "{codes:?}");
    assert!(checked <= 5, "{checked} passwords were checked: {codes:?}");
    // The right password is refused too while the lock holds.
    assert_eq!(attempt(&srv.url, "ana", PASSWORD, None), 429);

    // A user name longer than 64 characters is refused before any look-up, and a body
    // over the login's cap before it is read.
    let long = "x".repeat(65);
    let srv2 = serve(dir.path(), &[]);
    assert_eq!(attempt(&srv2.url, &long, "algo", None), 400);
    let (client, csrf) = form(&srv2.url);
    let r = client
        .post(format!("{}/login", srv2.url))
        .form(&[
            ("username", "ana"),
            ("password", &"p".repeat(16 * 1024)),
            ("csrf", &csrf),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    // A wrong name that is no account's is audited without the typed name.
    assert_eq!(
        attempt(&srv2.url, "contraseña-en-el-usuario", "x", None),
        401
    );
    let rows = audit_rows(&srv2.url);
    assert!(rows.len() > rows_before);
    let all = serde_json::to_string(&rows).unwrap();
    assert!(
        !all.contains("contraseña-en-el-usuario"),
        "typed name stored"
    );
    assert!(!all.contains(&long), "long name stored");
    assert!(all.contains("unknown_user"), "the failed login is audited");
}

#[test]
fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let dir = site();
    // Without trusted proxies the header is the client's to write: it changes nothing,
    // and the address that sends five bad logins is locked whatever it claims.
    {
        let srv = serve(dir.path(), &[]);
        for i in 0..5 {
            let ip = format!("203.0.113.{i}");
            assert_eq!(attempt(&srv.url, &format!("nadie{i}"), "x", Some(&ip)), 401);
        }
        assert_eq!(
            attempt(&srv.url, "otro", "x", Some("198.51.100.9")),
            429,
            "a spoofed X-Forwarded-For escaped the address lock"
        );
    }
    // Behind a trusted proxy (loopback here), each client is its own address: one
    // client's five bad logins do not lock the others out.
    std::fs::write(
        dir.path().join(".env"),
        "EPICRISIS_TRUSTED_PROXIES=127.0.0.1\n",
    )
    .unwrap();
    let srv = serve(dir.path(), &[]);
    for i in 0..5 {
        assert_eq!(
            attempt(&srv.url, &format!("nadie{i}"), "x", Some("203.0.113.5")),
            401
        );
    }
    assert_eq!(attempt(&srv.url, "otro", "x", Some("203.0.113.5")), 429);
    assert_eq!(attempt(&srv.url, "otro", "x", Some("198.51.100.9")), 401);
    assert_eq!(
        attempt(&srv.url, "ana", PASSWORD, Some("198.51.100.10")),
        200
    );
}

#[test]
fn tokens_are_added_listed_and_revoked_from_the_command_line() {
    let dir = site();
    let run = |args: &[&str]| bin(dir.path()).args(args).output().unwrap();
    let out = run(&["tokens", "add", "ana", "--name", "HIS", "--days", "7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.len() >= 32);
    assert!(String::from_utf8_lossy(&out.stderr).contains("7 días"));
    let list = String::from_utf8(run(&["tokens", "list", "ana"]).stdout).unwrap();
    let line = list.lines().find(|l| l.contains("HIS")).expect("listed");
    assert!(line.ends_with("vigente"), "{line}");
    assert!(!list.contains(&token), "the secret is never shown again");
    let id = line.split('\t').next().unwrap();
    // The token works, until it is revoked.
    let srv = serve(dir.path(), &[]);
    let me = |t: &str| {
        Client::new()
            .get(format!("{}/api/v1/me", srv.url))
            .bearer_auth(t)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(me(&token), 200);
    assert!(run(&["tokens", "revoke", id]).status.success());
    assert_eq!(me(&token), 401);
    let list = String::from_utf8(run(&["tokens", "list"]).stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with(id) && l.ends_with("revocado")),
        "{list}"
    );
    // Bad input is refused with a message that names it.
    let out = run(&["tokens", "add", "ana", "--name", "x", "--days", "0"]);
    assert!(!out.status.success());
    let out = run(&["tokens", "revoke", "999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokens list"));
    // A new password revokes the account's tokens.
    let out = run(&["tokens", "add", "ana", "--name", "HIS2"]);
    let token2 = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(me(&token2), 200);
    let mut c = bin(dir.path())
        .args(["users", "passwd", "ana"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(c.stdin.take().unwrap(), "otra-clave-muy-larga").unwrap();
    assert!(c.wait_with_output().unwrap().status.success());
    assert_eq!(me(&token2), 401);
}
