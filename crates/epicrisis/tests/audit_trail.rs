//! The audit trail's seal end to end, with the real binary: the SQLite file, its key and
//! its anchor file are private; `epicrisis audit verify` passes on an honest trail, and
//! finds a trail that the database's owner cut after dropping the append-only triggers;
//! a machine with another key is stopped with the setting to fix.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

mod common;
use common::server::{add_user, bin, login, serve};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn verify(dir: &Path) -> (bool, String) {
    let out = bin(dir).args(["audit", "verify"]).output().unwrap();
    (out.status.success(), text(&out))
}

/// The row id of the anchor file's last line.
fn last_anchored(anchor: &Path) -> i64 {
    std::fs::read_to_string(anchor)
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(0)
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn audit_verify_finds_a_trail_cut_by_the_database_owner() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "EMBEDDINGS_TYPE=none\nEPICRISIS_AUDIT_ANCHOR_SECONDS=1\n",
    )
    .unwrap();
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    let db = dir.path().join("db/epicrisis.db");
    let key = dir.path().join("db/epicrisis.db.audit-key");
    let anchor = dir.path().join("db/epicrisis.db.audit-anchor");
    #[cfg(unix)]
    for p in [&db, &key, &anchor] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    // `users add` anchored its own row at once.
    assert_eq!(last_anchored(&anchor), 1);

    let mut srv = serve(dir.path(), &["--engine", "deterministic"]);
    for _ in 0..3 {
        let s = login(&srv.url, "ana");
        assert_eq!(s.get("/api/v1/me").status(), 200);
    }
    // Three logins: rows 2–4, anchored by the server within a second or two.
    let started = Instant::now();
    while last_anchored(&anchor) < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no anchor for row 4: {}",
            std::fs::read_to_string(&anchor).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    let (ok, out) = verify(dir.path());
    assert!(ok, "{out}");
    assert!(
        out.contains("bitácora íntegra: 4 fila(s), 4 sellada(s) con la clave")
            && out.contains("ancla(s) coinciden"),
        "{out}"
    );

    // The owner of the file drops the triggers, removes the last two rows and sets the
    // head back: the remaining chain is consistent, the anchor file is not.
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], timeout=30)\n\
             try:\n\
             \x20   c.execute('DELETE FROM audit WHERE id > 2')\n\
             \x20   sys.exit('the DELETE of audit rows was not refused')\n\
             except sqlite3.DatabaseError as e:\n\
             \x20   assert 'cannot be deleted' in str(e), str(e)\n\
             c.execute('DROP TRIGGER audit_is_append_only_delete')\n\
             c.execute('DELETE FROM audit WHERE id > 2')\n\
             h = c.execute('SELECT hash FROM audit WHERE id = 2').fetchone()[0]\n\
             c.execute('UPDATE audit_head SET last_id = 2, last_hash = ?', (h,))\n\
             c.commit()",
        ])
        .arg(&db)
        .status()
        .expect("python3 runs (scripts/test.sh needs it too)");
    assert!(status.success());
    let (ok, out) = verify(dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains("ALTERADA") && out.contains("end was cut") && out.contains("anchored"),
        "{out}"
    );

    // A machine given another key cannot add to this trail, and is told what to set.
    let other = dir.path().join("other.key");
    let out = bin(dir.path())
        .args(["audit", "new-key"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = bin(dir.path())
        .args(["audit", "new-key"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a key is never overwritten");
    assert!(text(&out).contains("never overwritten"), "{}", text(&out));
    let out = bin(dir.path())
        .env("EPICRISIS_AUDIT_KEY_FILE", &other)
        .args(["users", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("EPICRISIS_AUDIT_KEY_FILE") && text(&out).contains("not the one"),
        "{}",
        text(&out)
    );
}
