//! A real `epicrisis serve` for the integration tests: the binary in a site's folder, a
//! server on loopback whose standard error is kept, and a browser-like session.

use reqwest::blocking::{Client, Response};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The password every test account gets.
pub const PASSWORD: &str = "clave-secreta-123";

/// The binary, run in a site's folder. The site's database is SQLite in the folder,
/// unless the folder's `database_url` file names another (PostgreSQL).
pub fn bin(dir: &Path) -> Command {
    let db = std::fs::read_to_string(dir.join("database_url"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| format!("sqlite:{}/db/epicrisis.db", dir.display()));
    let mut c = Command::new(env!("CARGO_BIN_EXE_epicrisis"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("DATABASE_URL", db);
    c
}

pub fn add_user(dir: &Path, name: &str, role: &str, display: &str) {
    let mut c = bin(dir)
        .args(["users", "add", name, "--role", role, "--name", display])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Served {
    pub child: Child,
    pub url: String,
    pub log: Arc<Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(dir: &Path, extra: &[&str]) -> Served {
    let mut cmd = bin(dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
    serve_command(cmd)
}

/// Starts a prepared `epicrisis serve` command (e.g. with limits set before it runs)
/// and waits until it listens.
pub fn serve_command(cmd: Command) -> Served {
    let (child, url, log) = spawn_logged(cmd, "escuchando en ");
    Served {
        child,
        url: url.split_whitespace().next().unwrap_or("").to_string(),
        log,
    }
}

/// `epicrisis worker` for the site (the drafting process of a network deployment).
pub fn worker(dir: &Path, extra: &[&str]) -> Served {
    let mut cmd = bin(dir);
    cmd.arg("worker").args(extra);
    let (child, _, log) = spawn_logged(cmd, "redactando los trabajos");
    Served {
        child,
        url: String::new(),
        log,
    }
}

/// Starts `cmd` with its standard error kept, and waits for the line with `ready`;
/// returns what follows `ready` on that line.
fn spawn_logged(mut cmd: Command, ready: &'static str) -> (Child, String, Arc<Mutex<String>>) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let l = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(ready).nth(1) {
                let _ = tx.send(rest.to_string());
            }
            l.lock().unwrap().push_str(&line);
            l.lock().unwrap().push('\n');
        }
    });
    let rest = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("it did not start: {}", log.lock().unwrap()));
    (child, rest, log)
}

/// A database of its own on the test PostgreSQL server (`EPICRISIS_TEST_DATABASE_URL`,
/// started by scripts/test.sh), dropped at the end.
pub struct PgDatabase {
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A site folder whose database is a new PostgreSQL database (`None`: no test server;
/// see [`epicrisis_testkit::postgres`]).
pub fn postgres_site(prefix: &str) -> Option<(tempfile::TempDir, PgDatabase)> {
    use epicrisis_testkit::postgres;
    let admin = postgres::admin_url()?;
    let name = postgres::database_name(prefix);
    let out = Command::new("psql")
        .args([&admin, "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql (postgresql-client) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = PgDatabase {
        admin: admin.clone(),
        name: name.clone(),
    };
    let url = postgres::database_url(&admin, &name);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("database_url"), url).unwrap();
    Some((dir, db))
}

/// A browser-like client: logs in through the form, keeps the cookie, sends the CSRF
/// header.
pub struct Session {
    pub client: Client,
    pub base: String,
    pub csrf: String,
}

/// The CSRF token of a page's form (the login page, the administration page).
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page has a form with a csrf field")
        .to_string()
}

/// A fresh browser-like client holding the login form's CSRF cookie, and the form's
/// token.
pub fn login_form(base: &str) -> (Client, String) {
    let client = Client::builder().cookie_store(true).build().unwrap();
    let page = client
        .get(format!("{base}/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = csrf_of(&page);
    (client, csrf)
}

pub fn login(base: &str, user: &str) -> Session {
    let (client, csrf) = login_form(base);
    let r = client
        .post(format!("{base}/login"))
        .form(&[("username", user), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "login failed");
    assert!(r.url().path().starts_with("/episodios"));
    let me: Value = client
        .get(format!("{base}/api/v1/me"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    Session {
        client,
        base: base.into(),
        csrf: me["csrf"].as_str().unwrap().into(),
    }
}

impl Session {
    pub fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap()
    }
    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("X-CSRF-Token", &self.csrf)
            .json(body)
            .send()
            .unwrap()
    }
    pub fn post_bytes(&self, path: &str, body: Vec<u8>) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("X-CSRF-Token", &self.csrf)
            .body(body)
            .send()
            .unwrap()
    }
}

/// Drafts a stored episode, waits for the job and returns the new version's JSON.
pub fn draft(s: &Session, id: &str) -> Value {
    let r = s.post(
        &format!("/api/v1/episodes/{id}/drafts"),
        &serde_json::json!({}),
    );
    assert_eq!(r.status(), 202);
    let job: Value = r.json().unwrap();
    let url = format!("/api/v1/jobs/{}", job["jobId"].as_str().unwrap());
    let t = Instant::now();
    let job = loop {
        let j: Value = s.get(&url).json().unwrap();
        if !matches!(j["status"].as_str(), Some("queued" | "running")) {
            break j;
        }
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "the draft did not finish: {j}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(job["status"], "done", "{job}");
    s.get(&format!("/api/v1/versions/{}", job["versionId"]))
        .json()
        .unwrap()
}
