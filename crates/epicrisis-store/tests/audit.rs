//! The audit trail on both databases: appends, the hash chain, the triggers that refuse
//! UPDATE and DELETE, and the seal outside the database (an HMAC key and an anchor file)
//! that finds what someone who owns the database does after dropping those triggers.

use epicrisis_store::*;

#[macro_use]
mod common;
use common::*;

async fn check_audit(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let empty = store.verify_audit().await.unwrap();
    assert_eq!((empty.rows, empty.problems.len()), (0, 0));
    for i in 1..=5 {
        let ep = if i % 2 == 0 { Some("E2") } else { Some("E1") };
        let row = store
            .audit(&audit_entry("view", ep, &format!("{{\"n\":{i}}}")))
            .await
            .unwrap();
        assert_eq!(row.id, i);
    }
    // Concurrent appends keep one chain.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .audit(&audit_entry("export", None, &format!("{{\"c\":{i}}}")))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let ok = store.verify_audit().await.unwrap();
    assert_eq!(ok.rows, 15);
    assert!(ok.problems.is_empty(), "{:?}", ok.problems);

    let trail = store.audit_trail(None, 100).await.unwrap();
    assert_eq!(trail.len(), 15);
    assert_eq!(trail[0].id, 15, "newest first");
    assert_eq!(trail[14].prev_hash, "0".repeat(64));
    assert_eq!(trail[13].prev_hash, trail[14].hash);
    let e2 = store.audit_trail(Some("E2"), 100).await.unwrap();
    assert_eq!(e2.iter().map(|r| r.id).collect::<Vec<_>>(), [4, 2]);
    assert_eq!(store.audit_trail(None, 3).await.unwrap().len(), 3);

    // The database refuses to change or delete audit rows…
    let raw = db.raw().await;
    let mut refused = vec![
        "UPDATE audit SET detail = '{}' WHERE id = 3",
        "DELETE FROM audit WHERE id = 15",
    ];
    if db.label == "postgres" {
        refused.push("TRUNCATE audit");
    }
    for sql in refused {
        let e = sqlx::query(sql)
            .execute(&raw)
            .await
            .expect_err(sql)
            .to_string();
        assert!(
            e.contains("cannot be") || e.contains("append-only"),
            "{sql}: {e}"
        );
    }
    assert!(store.verify_audit().await.unwrap().problems.is_empty());
    // …but whoever owns the database can drop the triggers, and every change is found.
    db.drop_append_only_guards().await;
    // A changed row.
    sqlx::query("UPDATE audit SET detail = '{\"n\":99}' WHERE id = 3")
        .execute(&raw)
        .await
        .unwrap();
    let bad = store.verify_audit().await.unwrap();
    assert!(
        bad.problems.iter().any(|p| p.contains("row 3 was changed")),
        "{:?}",
        bad.problems
    );
    assert_eq!(bad.problems.len(), 1, "{:?}", bad.problems);
    sqlx::query("UPDATE audit SET detail = '{\"n\":3}' WHERE id = 3")
        .execute(&raw)
        .await
        .unwrap();
    assert!(store.verify_audit().await.unwrap().problems.is_empty());
    // A deleted row in the middle.
    sqlx::query("DELETE FROM audit WHERE id = 7")
        .execute(&raw)
        .await
        .unwrap();
    let bad = store.verify_audit().await.unwrap();
    assert_eq!(bad.rows, 14);
    assert!(
        bad.problems.iter().any(|p| p.contains("row 7 was deleted")),
        "{:?}",
        bad.problems
    );
    // The last row deleted.
    sqlx::query("DELETE FROM audit WHERE id = 15")
        .execute(&raw)
        .await
        .unwrap();
    let bad = store.verify_audit().await.unwrap();
    assert!(
        bad.problems
            .iter()
            .any(|p| p.contains("end was cut") && p.contains("row 15")),
        "{:?}",
        bad.problems
    );
    raw.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_chain_appends_and_finds_tampering() {
    on_every_database!(check_audit);
}

async fn check_sealed_audit(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let anchor = dir.path().join("anchors").join("audit-anchor");
    let key = AuditKey::create(&dir.path().join("audit.key")).unwrap();
    // Two rows from before the key existed.
    let plain = Store::open(&db.url).await.unwrap();
    for i in 1..=2 {
        plain
            .audit(&audit_entry("view", Some("E1"), &format!("{{\"n\":{i}}}")))
            .await
            .unwrap();
    }
    assert_eq!(
        plain.anchor_audit().await.unwrap(),
        None,
        "no key, no anchor"
    );
    let store = Store::open(&db.url)
        .await
        .unwrap()
        .with_audit_seal(AuditSeal {
            key: Some(key.clone()),
            anchor: Some(anchor.clone()),
        });
    store.check_audit_key().await.unwrap();
    for i in 3..=5 {
        let row = store
            .audit(&audit_entry("view", Some("E1"), &format!("{{\"n\":{i}}}")))
            .await
            .unwrap();
        assert_eq!(row.key_id.as_deref(), Some(key.id()));
    }
    let a = store.anchor_audit().await.unwrap().expect("an anchor");
    assert_eq!(a.row_id, 5);
    assert_eq!(
        store.anchor_audit().await.unwrap(),
        None,
        "the head did not move"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&anchor).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the anchor file is private");
    }
    for i in 6..=7 {
        store
            .audit(&audit_entry("export", None, &format!("{{\"n\":{i}}}")))
            .await
            .unwrap();
    }
    let ok = store.verify_audit().await.unwrap();
    assert!(ok.problems.is_empty(), "{:?}", ok.problems);
    assert_eq!(
        (ok.rows, ok.keyed_rows, ok.unkeyed_rows, ok.anchors),
        (7, 5, 2, 1)
    );
    assert!(
        ok.notes
            .iter()
            .any(|n| n.contains("2 row(s) were written before")),
        "{:?}",
        ok.notes
    );

    // Once the trail is sealed, a program without the key, or with another one, cannot
    // add to it: it is told which setting to fix.
    for other in [
        plain.clone(),
        Store::open(&db.url)
            .await
            .unwrap()
            .with_audit_seal(AuditSeal {
                key: Some(AuditKey::from_secret(&[b'z'; 32]).unwrap()),
                anchor: None,
            }),
    ] {
        let e = other.check_audit_key().await.unwrap_err().to_string();
        assert!(
            e.contains("EPICRISIS_AUDIT_KEY_FILE") && e.contains(key.id()),
            "{e}"
        );
        let e = other
            .audit(&audit_entry("view", None, "{}"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(key.id()), "{e}");
    }
    // Verifying without the key says what could not be checked.
    let p = plain.verify_audit().await.unwrap().problems;
    assert!(
        p.iter()
            .any(|m| m.contains("5 row(s) from row 3 on") && m.contains(key.id())),
        "{p:?}"
    );

    // Someone who owns the database cuts the last five rows and sets the head back: the
    // chain that remains is consistent by itself, but the anchor saw row 5.
    db.drop_append_only_guards().await;
    let raw = db.raw().await;
    let row2 = plain
        .audit_trail(None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == 2)
        .unwrap();
    sqlx::query("DELETE FROM audit WHERE id > 2")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET last_id = 2, last_hash = $1 WHERE one = 1")
        .bind(&row2.hash)
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    assert!(
        plain.verify_audit().await.unwrap().problems.is_empty(),
        "without the anchors nothing shows"
    );
    let p = store.verify_audit().await.unwrap().problems;
    assert!(
        p.iter()
            .any(|m| m.contains("end was cut") && m.contains("row 5 was anchored")),
        "{p:?}"
    );
    // An anchor line changed by hand is named.
    let text = std::fs::read_to_string(&anchor).unwrap();
    std::fs::write(&anchor, text.replacen(" 5 ", " 2 ", 1)).unwrap();
    let p = store.verify_audit().await.unwrap().problems;
    assert!(
        p.iter().any(|m| m.contains("line 1 of the anchor file")),
        "{p:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_trail_finds_what_the_database_owner_rewrites() {
    on_every_database!(check_sealed_audit);
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("epicrisis.db");
    let store = Store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    store.audit(&audit_entry("view", None, "{}")).await.unwrap();
    let mut seen = 0;
    for suffix in ["", "-wal", "-shm"] {
        let p = dir.path().join(format!("epicrisis.db{suffix}"));
        if let Ok(m) = std::fs::metadata(&p) {
            seen += 1;
            assert_eq!(
                m.permissions().mode() & 0o077,
                0,
                "{} is readable by others",
                p.display()
            );
        }
    }
    assert!(seen >= 2, "the database and its WAL exist");
}
