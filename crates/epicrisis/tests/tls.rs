//! HTTPS in `serve` with the real binary: certificates made by `openssl` for the test;
//! a client that trusts only that certificate logs in and gets a `Secure` session cookie
//! (forced whenever TLS is on); plain HTTP on the port gets nothing; a renewed
//! certificate is taken on SIGHUP without a restart; a broken file on SIGHUP keeps the
//! previous certificate.

use reqwest::blocking::Client;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::server::{PASSWORD, Served, add_user, bin, csrf_of, serve_command};

/// A self-signed certificate for 127.0.0.1 named `name`: (cert.pem, key.pem) bytes.
fn certificate(dir: &Path, name: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let openssl =
        epicrisis_testkit::fixtures::tool("openssl", "apt-get install openssl (Debian's)")?;
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((std::fs::read(cert).unwrap(), std::fs::read(key).unwrap()))
}

/// A client that trusts only `cert`.
fn trusting(cert: &[u8]) -> Client {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert).unwrap())
        .cookie_store(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn wait_for_log(served: &Served, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !served.log.lock().unwrap().contains(what) {
        assert!(
            Instant::now() < deadline,
            "no «{what}»: {}",
            served.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sighup(served: &Served) {
    let pid = i32::try_from(served.child.id()).unwrap();
    // SAFETY: kill(2) with a pid of our own child process and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

/// Logging in over HTTPS works and the session cookie is Secure; plain HTTP on the port
/// gets no page.
fn logs_in_with_a_secure_cookie(base: &str, cert_a: &[u8]) {
    // Plain HTTP on the HTTPS port gets no page.
    let plain = base.replacen("https://", "http://", 1);
    assert!(Client::new().get(format!("{plain}/login")).send().is_err());
    let client = Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_a).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let page = client
        .get(format!("{base}/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let r = client
        .post(format!("{base}/login"))
        .form(&[
            ("username", "ana"),
            ("password", PASSWORD),
            ("csrf", &csrf_of(&page)),
        ])
        .send()
        .unwrap();
    let to = r.headers().get("location").and_then(|l| l.to_str().ok());
    assert!(
        to.is_some_and(|l| l.starts_with("/episodios")),
        "{:?} {to:?}",
        r.status()
    );
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    assert!(
        !cookies.is_empty() && cookies.iter().all(|c| c.contains("Secure")),
        "{cookies:?}"
    );
}

#[test]
fn serve_speaks_https_and_takes_a_renewed_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((cert_a, key_a)) = certificate(d, "epicrisis-a") else {
        return;
    };
    let (cert_b, key_b) = certificate(d, "epicrisis-b").unwrap();
    let (cert, key) = (d.join("servidor.crt"), d.join("servidor.key"));
    std::fs::write(&cert, &cert_a).unwrap();
    std::fs::write(&key, &key_a).unwrap();
    add_user(d, "ana", "medico", "Dra. Ana Pérez");
    let mut cmd = bin(d);
    cmd.env("EPICRISIS_TLS_CERT_FILE", &cert)
        .env("EPICRISIS_TLS_KEY_FILE", &key)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "deterministic",
        ]);
    let served = serve_command(cmd);
    let base = served.url.clone();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");

    logs_in_with_a_secure_cookie(&base, &cert_a);

    // The certificate is renewed: SIGHUP, and new connections get the new one.
    std::fs::write(&cert, &cert_b).unwrap();
    std::fs::write(&key, &key_b).unwrap();
    sighup(&served);
    wait_for_log(&served, "TLS: certificado recargado");
    assert!(
        trusting(&cert_b)
            .get(format!("{base}/login"))
            .send()
            .is_ok()
    );
    assert!(
        trusting(&cert_a)
            .get(format!("{base}/login"))
            .send()
            .is_err()
    );

    // A half-written file on SIGHUP: the previous certificate stays.
    std::fs::write(&cert, b"-----BEGIN CERTIFICATE-----\nroto").unwrap();
    sighup(&served);
    wait_for_log(&served, "TLS: no se pudo recargar");
    assert!(
        trusting(&cert_b)
            .get(format!("{base}/login"))
            .send()
            .is_ok()
    );
}

/// `serve` with these settings, expected to refuse to start: its standard error.
fn refused(d: &Path, env: &[(&str, std::path::PathBuf)]) -> String {
    let mut c = bin(d);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "deterministic",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

#[test]
fn a_certificate_without_its_key_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = ("EPICRISIS_TLS_CERT_FILE", d.join("no-existe.crt"));
    let err = refused(d, std::slice::from_ref(&cert));
    assert!(err.contains("EPICRISIS_TLS_KEY_FILE"), "{err}");
    let err = refused(
        d,
        &[cert, ("EPICRISIS_TLS_KEY_FILE", d.join("no-existe.key"))],
    );
    assert!(
        err.contains("EPICRISIS_TLS_CERT_FILE=") && err.contains("no-existe.crt"),
        "{err}"
    );
}
