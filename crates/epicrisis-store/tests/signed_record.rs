//! The immutable signed record, on SQLite and on PostgreSQL (see `common`): revisions of
//! an episode's data, the versions that name them, the record's hash and its
//! verification, and the migration of a database written before revisions existed.

use epicrisis_store::*;
use sha2::{Digest, Sha256};

#[macro_use]
mod common;
use common::*;

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn with_json(id: &str, json: &str) -> NewEpisode {
    NewEpisode {
        episode_json: json.to_string(),
        ..episode(id, Some("Cirugía"), Some("2024-01-05"))
    }
}

async fn raw_exec(db: &Db, sql: &str) {
    let raw = db.raw().await;
    sqlx::query(sql).execute(&raw).await.unwrap();
    raw.close().await;
}

async fn check_revisions_and_hashes(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let ana = store
        .add_user("ana", "Dra. Ana Pérez", Role::Medico, "h")
        .await
        .unwrap();
    let first = r#"{"id":"R","dose":"1 g"}"#;
    let e = store.put_episode(&with_json("R", first)).await.unwrap();
    assert_eq!(e.revision, 1);
    // The same data again: no new revision (the row still moves forward).
    let again = store.put_episode(&with_json("R", first)).await.unwrap();
    assert_eq!(again.revision, 1);
    assert!(again.updated_at > e.updated_at);
    let revs = store.episode_revisions("R").await.unwrap();
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0].sha256, sha256_hex(first));
    assert_eq!(e.content_sha256(), sha256_hex(first));

    // A draft and its signature refer to revision 1 and verify.
    let mut draft = version("R", VersionKind::Generated, "Alta con 1 g.", None);
    draft.author_id = Some(ana.id);
    let v1 = store.add_version(&draft).await.unwrap();
    assert_eq!(
        (v1.episode_revision, v1.hash_scheme),
        (1, HASH_SCHEME_RECORD)
    );
    let s2 = store.sign(v1.id, ana.id).await.unwrap();
    assert_eq!(s2.episode_revision, 1);
    for id in [v1.id, s2.id] {
        let c = store.verify_version(id).await.unwrap();
        assert!(c.matches, "{:?}", c.problems);
        assert_eq!(c.computed_hash, c.stored_hash);
        assert!(c.message().contains(&format!("id {id}")), "{}", c.message());
    }

    // A re-import with other data after the signature: revision 2, and the signed
    // version still names, and renders from, revision 1.
    let second = r#"{"id":"R","dose":"2 g"}"#;
    let e2 = store.put_episode(&with_json("R", second)).await.unwrap();
    assert_eq!(e2.revision, 2);
    assert_eq!(e2.episode_json, second);
    let snap = store
        .version_snapshot(&store.version(s2.id).await.unwrap().unwrap())
        .await
        .unwrap();
    assert_eq!((snap.revision, snap.episode_json.as_str()), (1, first));
    assert_eq!(
        store
            .episode_revision("R", 2)
            .await
            .unwrap()
            .unwrap()
            .sha256,
        sha256_hex(second)
    );
    let s2_again = store.version(s2.id).await.unwrap().unwrap();
    assert_eq!(
        (&s2_again.text, &s2_again.content_hash),
        (&s2.text, &s2.content_hash)
    );
    assert!(store.verify_version(s2.id).await.unwrap().matches);
    // Going back to the first data is a new revision too (3), not revision 1 again.
    assert_eq!(
        store
            .put_episode(&with_json("R", first))
            .await
            .unwrap()
            .revision,
        3
    );
    // An amendment written now refers to the current data; one naming a revision that
    // does not exist is refused.
    let mut amend = version(
        "R",
        VersionKind::Amendment,
        "Alta con 1 g (enmienda).",
        None,
    );
    amend.parent_id = Some(s2.id);
    amend.episode_revision = Some(9);
    match store.add_version(&amend).await {
        Err(StoreError::NotFound(m)) => assert!(m.contains("revision 9"), "{m}"),
        other => panic!("{other:?}"),
    }
    amend.episode_revision = Some(2);
    let a3 = store.add_version(&amend).await.unwrap();
    assert_eq!(a3.episode_revision, 2);
    amend.parent_id = Some(a3.id);
    amend.episode_revision = None;
    let a4 = store.add_version(&amend).await.unwrap();
    assert_eq!(a4.episode_revision, 3);

    let all = store.verify_signed_versions().await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].matches);

    // The database refuses to change a version or a revision…
    let raw = db.raw().await;
    for sql in [
        format!("UPDATE versions SET text = 'x' WHERE id = {}", s2.id),
        format!("DELETE FROM versions WHERE id = {}", a4.id),
        "UPDATE episode_revisions SET episode_json = '{}' WHERE episode_id = 'R'".to_string(),
        "DELETE FROM episode_revisions WHERE episode_id = 'R'".to_string(),
    ] {
        let e = sqlx::query(&sql)
            .execute(&raw)
            .await
            .expect_err(&sql)
            .to_string();
        assert!(
            e.contains("cannot be") || e.contains("append-only"),
            "{sql}: {e}"
        );
    }
    raw.close().await;
    assert!(store.verify_version(s2.id).await.unwrap().matches);
    // …but whoever owns the database can drop the triggers: each change is then found.
    db.drop_append_only_guards().await;
    raw_exec(
        db,
        &format!(
            "UPDATE versions SET text = 'Alta con 2 g.' WHERE id = {}",
            s2.id
        ),
    )
    .await;
    let c = store.verify_version(s2.id).await.unwrap();
    assert!(!c.matches);
    assert_ne!(c.computed_hash, c.stored_hash);
    let m = c.message();
    assert!(
        m.contains(&format!("id {}", s2.id)) && m.contains("NO coincide"),
        "{m}"
    );
    assert!(!store.verify_signed_versions().await.unwrap()[0].matches);

    raw_exec(
        db,
        &format!("UPDATE versions SET author_id = NULL WHERE id = {}", v1.id),
    )
    .await;
    assert!(!store.verify_version(v1.id).await.unwrap().matches);

    raw_exec(
        db,
        "UPDATE episode_revisions SET episode_json = '{\"id\":\"R\",\"dose\":\"5 g\"}' \
         WHERE episode_id = 'R' AND revision = 2",
    )
    .await;
    let c = store.verify_version(a3.id).await.unwrap();
    assert!(!c.matches);
    assert!(
        c.problems
            .iter()
            .any(|p| p.contains("revision 2") && p.contains("changed")),
        "{:?}",
        c.problems
    );
    assert!(store.verify_version(a4.id).await.unwrap().matches);

    match store.verify_version(987_654).await {
        Err(StoreError::NotFound(m)) => assert!(m.contains("987654"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_keep_the_signed_data_and_hashes_find_tampering() {
    on_every_database!(check_revisions_and_hashes);
}

/// A database as the program left it before revisions existed (schema version 2), with
/// an episode, a signed version and a draft after it, hashed under the old rule.
async fn version_2_database(db: &Db) {
    let (one, two) = if db.label == "sqlite" {
        (
            include_str!("../migrations/sqlite/0001_initial.sql"),
            include_str!("../migrations/sqlite/0002_vectors.sql"),
        )
    } else {
        (
            include_str!("../migrations/postgres/0001_initial.sql"),
            include_str!("../migrations/postgres/0002_vectors.sql"),
        )
    };
    // Creates the SQLite file when it is missing.
    drop(Store::open(&db.url).await.unwrap());
    let raw = db.raw().await;
    for table in [
        "draft_batch_items",
        "draft_batches",
        "draft_jobs",
        "archive_vectors",
        "passage_vectors",
        "passage_sets",
        "episode_revisions",
        "audit_head",
        "audit",
        "api_tokens",
        "sessions",
        "versions",
        "users",
        "episodes",
        "schema_migrations",
        "_sqlx_migrations",
    ] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(&raw)
            .await
            .unwrap();
    }
    for sql in [one, two] {
        sqlx::raw_sql(sql).execute(&raw).await.unwrap();
    }
    sqlx::query(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY NOT NULL, \
         name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&raw)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) \
         VALUES (1, 'initial', 0), (2, 'vectors', 0)",
    )
    .execute(&raw)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO episodes (episode_id, service, admission_date, discharge_date, \
         episode_json, source, source_kind, imported_at, updated_at) \
         VALUES ('OLD', NULL, NULL, NULL, '{\"id\":\"OLD\"}', 'src', 'rich', 10, 20)",
    )
    .execute(&raw)
    .await
    .unwrap();
    for (id, number, kind, status, text) in [
        (1, 1, "generated", "draft", "texto uno"),
        (2, 2, "signed", "signed", "texto uno"),
        (3, 3, "amendment", "draft", "texto dos"),
    ] {
        sqlx::query(
            "INSERT INTO versions (id, episode_id, number, kind, status, text, report_json, \
             provenance_json, engine, author_id, parent_id, amends, content_hash, created_at) \
             VALUES ($1, 'OLD', $2, $3, $4, $5, '{}', 'null', NULL, NULL, NULL, NULL, $6, 30)",
        )
        .bind(id as i64)
        .bind(number as i64)
        .bind(kind)
        .bind(status)
        .bind(text)
        .bind(sha256_hex(text))
        .execute(&raw)
        .await
        .unwrap();
    }
    if db.label == "postgres" {
        // What the identity column would say after three inserts of its own.
        sqlx::query("SELECT setval(pg_get_serial_sequence('versions', 'id'), 3)")
            .execute(&raw)
            .await
            .unwrap();
    }
    raw.close().await;
}

async fn check_migration_from_version_2(db: &Db) {
    version_2_database(db).await;
    let store = Store::open(&db.url).await.unwrap();
    // Revision 1 is the episode's JSON at the time of the migration.
    let e = store.episode("OLD").await.unwrap().unwrap();
    assert_eq!(e.revision, 1);
    let revs = store.episode_revisions("OLD").await.unwrap();
    assert_eq!(revs.len(), 1);
    assert_eq!(
        (revs[0].sha256.as_str(), revs[0].imported_at),
        (sha256_hex("{\"id\":\"OLD\"}").as_str(), 20)
    );
    // Old versions keep their hashes and verify under the old rule.
    let signed = store.version(2).await.unwrap().unwrap();
    assert_eq!(
        (signed.hash_scheme, signed.episode_revision),
        (HASH_SCHEME_TEXT, 1)
    );
    let c = store.verify_version(2).await.unwrap();
    assert!(c.matches, "{:?}", c.problems);
    assert!(c.covers.contains("text only"), "{}", c.covers);
    assert_eq!(store.verify_signed_versions().await.unwrap().len(), 1);
    assert_eq!(
        store.version_snapshot(&signed).await.unwrap().episode_json,
        "{\"id\":\"OLD\"}"
    );
    // Opening again changes nothing.
    drop(store);
    let store = Store::open(&db.url).await.unwrap();
    assert_eq!(store.episode_revisions("OLD").await.unwrap().len(), 1);
    // New versions use the new rule and fresh ids; a re-import makes revision 2.
    let v4 = store
        .add_version(&version("OLD", VersionKind::Edited, "texto tres", Some(3)))
        .await
        .unwrap();
    assert_eq!(
        (v4.id, v4.hash_scheme, v4.episode_revision),
        (4, HASH_SCHEME_RECORD, 1)
    );
    assert!(store.verify_version(4).await.unwrap().matches);
    assert_eq!(
        store
            .put_episode(&with_json("OLD", "{\"id\":\"OLD\",\"x\":1}"))
            .await
            .unwrap()
            .revision,
        2
    );
    // An old version tampered with is still found.
    db.drop_append_only_guards().await;
    raw_exec(db, "UPDATE versions SET text = 'otro' WHERE id = 2").await;
    let c = store.verify_version(2).await.unwrap();
    assert!(!c.matches);
    assert!(c.message().contains("id 2"), "{}", c.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_migrates_and_old_hashes_still_verify() {
    on_every_database!(check_migration_from_version_2);
}
