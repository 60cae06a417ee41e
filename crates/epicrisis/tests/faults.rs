//! Faults on a real server (issue 17, item 6).
//! - The database goes away in the middle of the work and comes back: the server runs on
//!   the test PostgreSQL through a TCP relay that this test cuts (every open connection
//!   reset, new ones refused) and restores, as a crashed or unreachable database server
//!   would look to it; the shared PostgreSQL itself keeps running for the other tests.
//! - The disk fills up while saving: the server runs with a file-size limit
//!   (`RLIMIT_FSIZE`, with `SIGXFSZ` ignored, so a write past it fails as on a full
//!   disk) on its SQLite database.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::server::{add_user, bin, draft, login, postgres_site, serve, serve_command};
use common::testdata;

/// A TCP relay to `upstream` that can be cut and restored.
struct Relay {
    port: u16,
    open: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (o, l) = (open.clone(), live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if !o.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut kept = l.lock().unwrap();
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
                kept.push(client);
                kept.push(server);
            }
        });
        Relay { port, open, live }
    }

    /// Resets every open connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

fn versions(s: &common::server::Session) -> usize {
    let v: Value = s.get("/api/v1/episodes/1416169/versions").json().unwrap();
    v["versions"].as_array().unwrap().len()
}

#[test]
fn a_database_that_goes_away_is_a_clear_503_and_the_server_recovers() {
    let Some((dir, _db)) = postgres_site("faults") else {
        return;
    };
    // The site reaches its database through the relay.
    let url = std::fs::read_to_string(dir.path().join("database_url")).unwrap();
    let (head, rest) = url.split_once('@').unwrap();
    let (host_port, path) = rest.split_once('/').unwrap();
    let relay = Relay::start(host_port.to_string());
    std::fs::write(
        dir.path().join("database_url"),
        format!("{head}@127.0.0.1:{}/{path}", relay.port),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "EMBEDDINGS_TYPE=none\nEPICRISIS_AUDIT_KEY_FILE=audit.key\n",
    )
    .unwrap();
    let out = common::server::bin(dir.path())
        .args(["audit", "new-key", "audit.key"])
        .output()
        .unwrap();
    assert!(out.status.success());
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    let s = login(&srv.url, "ana");
    let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    assert_eq!(s.post_bytes("/api/v1/episodes", bytes).status(), 201);
    let v1 = draft(&s, "1416169");
    assert_eq!(versions(&s), 1);

    relay.cut();
    // Reading and saving both fail in words, with nothing saved.
    let t = Instant::now();
    let r = s.get("/api/v1/episodes/1416169/versions");
    assert_eq!(r.status(), 503, "{:?}", r.text());
    let text = r.text().unwrap();
    assert!(
        text.contains("La base de datos no respondió") && text.contains("no se guardó nada"),
        "{text}"
    );
    let r = s.post(
        "/api/v1/episodes/1416169/versions",
        &json!({"text": format!("{}\nEditado.\n", v1["text"].as_str().unwrap()),
                "parentId": v1["id"]}),
    );
    assert_eq!(r.status(), 503);
    assert!(
        t.elapsed() < Duration::from_secs(120),
        "the answers took {:?}",
        t.elapsed()
    );
    // The server itself is still up and answers.
    let health = reqwest::blocking::get(format!("{}/api/health", srv.url)).unwrap();
    assert_eq!(health.status(), 200);

    relay.restore();
    // Back: the pool reconnects, the edit made during the cut is not there, and saving
    // works again.
    let started = Instant::now();
    let count = loop {
        let r = s.get("/api/v1/episodes/1416169/versions");
        if r.status() == 200 {
            break r.json::<Value>().unwrap()["versions"]
                .as_array()
                .unwrap()
                .len();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no recovery: {}",
            r.status()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(count, 1, "nothing half-written during the cut");
    let r = s.post(
        "/api/v1/episodes/1416169/versions",
        &json!({"text": format!("{}\nEditado.\n", v1["text"].as_str().unwrap()),
                "parentId": v1["id"]}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    drop(srv);
    let out = common::server::bin(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The bytes of the site's SQLite files, the largest one.
fn largest_db_file(dir: &std::path::Path) -> u64 {
    ["epicrisis.db", "epicrisis.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join("db").join(f)).ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_while_saving_is_a_clear_error_and_earlier_versions_stay() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "EMBEDDINGS_TYPE=none\n").unwrap();
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    let v1 = {
        let mut srv = serve(dir.path(), &["--engine", "deterministic"]);
        let s = login(&srv.url, "ana");
        let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
        assert_eq!(s.post_bytes("/api/v1/episodes", bytes).status(), 201);
        let v1 = draft(&s, "1416169");
        // A clean stop folds the write-ahead log into the database file.
        unsafe { libc::kill(srv.child.id() as i32, libc::SIGTERM) };
        srv.child.wait().unwrap();
        v1
    };
    // Room for the files as they are and 128 KiB more.
    let limit = largest_db_file(dir.path()) + 128 * 1024;
    let mut cmd = bin(dir.path());
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--engine",
        "deterministic",
    ]);
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let srv = serve_command(cmd);
    let s = login(&srv.url, "ana");
    let text = v1["text"].as_str().unwrap();
    // A megabyte and a half of edits (under the 2 MiB a text may have) does not fit.
    let big = format!("{text}\n{}", "Control en policlínico. ".repeat(60_000));
    let r = s.post(
        "/api/v1/episodes/1416169/versions",
        &json!({"text": big, "parentId": v1["id"]}),
    );
    assert_eq!(r.status(), 507, "{:?}", r.text());
    let message = r.json::<Value>().unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("disco del servidor está lleno") && message.contains("No se guardó nada"),
        "{message}"
    );
    assert!(srv.log.lock().unwrap().contains("could not write"));
    // What was saved before is intact, and a small edit still fits.
    assert_eq!(versions(&s), 1);
    let r: Value = s
        .get(&format!("/api/v1/versions/{}", v1["id"]))
        .json()
        .unwrap();
    assert_eq!(r["text"], v1["text"], "{r} {}", srv.log.lock().unwrap());
    let r = s.post(
        "/api/v1/episodes/1416169/versions",
        &json!({"text": format!("{text}\nEditado.\n"), "parentId": v1["id"]}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(versions(&s), 2);
}
