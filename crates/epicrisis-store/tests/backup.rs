//! Backups on SQLite and PostgreSQL (see `common`): a store written through its API is
//! backed up while it is being written to, restored into a fresh database of each kind
//! (SQLite ⇄ PostgreSQL included) and compared table by table; the audit trail and every
//! version verify on the restored store, the append-only triggers hold and the ids go on.
//! The refusals — a non-empty target, a changed byte, a cut file, a newer schema, another
//! audit key, a file changed between the check and the restore — leave the target empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use epicrisis_store::backup::*;
use epicrisis_store::*;

#[macro_use]
mod common;
use common::*;

const FAR: i64 = 4_000_000_000_000;
/// The audit key's secret, to look for in the backup.
const SECRET: &str = "clave-de-auditoria-de-prueba-0123456789abcdef";

fn seal(key: &AuditKey, dir: &Path) -> AuditSeal {
    AuditSeal {
        key: Some(key.clone()),
        anchor: Some(dir.join("audit.anchor")),
    }
}

/// Users, episodes (one with two revisions), drafts, a signature and an amendment, an API
/// token, a session, audit rows with anchors, vectors, a job and a batch.
async fn fill(store: &Store) -> i64 {
    let ana = store
        .add_user("ana", "Dra. Ana Pérez", Role::Medico, "h1")
        .await
        .unwrap();
    store
        .add_user("caja", "Caja Uno", Role::Administrativo, "h2")
        .await
        .unwrap();
    store
        .put_episode(&episode("E1", Some("Medicina"), Some("2024-01-05")))
        .await
        .unwrap();
    let mut draft = version("E1", VersionKind::Generated, "Alta con 1 g.", None);
    draft.author_id = Some(ana.id);
    let v1 = store.add_version(&draft).await.unwrap();
    let edit = version(
        "E1",
        VersionKind::Edited,
        "Alta con 1 g; control en 7 días.",
        Some(v1.id),
    );
    let v2 = store.add_version(&edit).await.unwrap();
    let signed = store.sign(v2.id, ana.id).await.unwrap();
    let mut e1 = episode("E1", Some("Medicina"), Some("2024-01-05"));
    e1.episode_json = "{\"id\":\"E1\",\"dose\":\"2 g\"}".to_string();
    store.put_episode(&e1).await.unwrap();
    let amend = version(
        "E1",
        VersionKind::Amendment,
        "Enmienda: 2 g.",
        Some(signed.id),
    );
    store.add_version(&amend).await.unwrap();
    fill_rest(store, ana.id, signed.id).await;
    signed.id
}

/// What surrounds the record: another episode, a token, a session, audit rows and
/// anchors, vectors, a job and a batch.
async fn fill_rest(store: &Store, ana: i64, signed: i64) {
    let e2 = store
        .put_episode(&episode("E2", Some("Cirugía"), None))
        .await
        .unwrap();
    store
        .add_api_token(ana, "his", "tokenhash", FAR)
        .await
        .unwrap();
    store
        .create_session("sessionhash", ana, "csrf", FAR)
        .await
        .unwrap();
    for ep in ["E1", "E2", "E1"] {
        store
            .audit(&audit_entry("view", Some(ep), "{}"))
            .await
            .unwrap();
        store.anchor_audit().await.unwrap();
    }
    let passages = [PassageVector {
        note_index: 0,
        day: Some(1),
        char_start: 0,
        char_end: 10,
        vector: vec![0.25, -1.5, 3.0],
    }];
    store
        .put_passage_vectors("E2", "m", &e2.content_sha256(), &passages)
        .await
        .unwrap();
    store
        .put_archive_vector("E1", signed, "m", &[0.5, -1.0, 2.0])
        .await
        .unwrap();
    let job = NewJob {
        episode_id: Some("E2".to_string()),
        episode_revision: None,
        inline_json: None,
        options_json: "{}".to_string(),
        requested_by: ana,
        batch: true,
    };
    let Enqueued::New(job) = store.enqueue_job(&job, 10).await.unwrap() else {
        panic!("the job was not queued");
    };
    let batch = store.create_batch("altas", ana).await.unwrap();
    store
        .put_batch_item(&batch.id, "E2", Some(&job.id))
        .await
        .unwrap();
}

/// Each section's row lines, sorted (PostgreSQL and SQLite order text differently).
fn sections(file: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in std::fs::read_to_string(file).unwrap().lines().skip(1) {
        if line.starts_with('[') {
            out.get_mut(&current).unwrap().push(line.to_string());
        } else if let Some(t) =
            serde_json::from_str::<serde_json::Value>(line).unwrap()["table"].as_str()
        {
            current = t.to_string();
            out.insert(current.clone(), Vec::new());
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

async fn check_round_trip(src: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::from_secret(SECRET.as_bytes()).unwrap();
    let store = Store::open(&src.url)
        .await
        .unwrap()
        .with_audit_seal(seal(&key, dir.path()));
    let signed = fill(&store).await;
    let faults = store.backup_schema_faults().await.unwrap();
    assert!(faults.is_empty(), "{faults:?}");

    // Backed up while another task appends to the trail: one snapshot all the same.
    let file = dir.path().join("respaldo.jsonl");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let detail = format!("{{\"n\":{i}}}");
                store
                    .audit(&audit_entry("view", None, &detail))
                    .await
                    .unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let summary = store
        .backup_to(&file, false, &mut |t, n| seen.push((t.to_string(), n)))
        .await
        .unwrap();
    writer.await.unwrap();
    let m = &summary.manifest;
    assert_eq!(seen.len(), m.sections.len());
    assert_eq!(m.schema_version, BACKED_UP_SCHEMA);
    assert_eq!(m.audit.key_id.as_deref(), Some(key.id()));
    assert_eq!(
        m.audit.rows as i64, m.audit.head_id,
        "head and rows of one snapshot"
    );
    assert_eq!(m.section("sessions"), None, "sessions are left out");
    assert_eq!(m.section("versions").unwrap().rows, 4);
    assert!(m.section(ANCHOR_SECTION).unwrap().rows >= 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(SECRET), "the key is never written");
    assert!(!dir.path().join("respaldo.jsonl.parcial").exists());
    let exists = store.backup_to(&file, false, &mut |_, _| {}).await;
    assert!(matches!(exists, Err(BackupError::Exists(_))), "{exists:?}");
    let manifest = check_backup(&file, &mut |_, _| {}).unwrap();
    assert_eq!(&manifest, m);

    for target in databases().await {
        eprintln!("   restored into {}", target.label);
        restore_into(&target, &file, &manifest, &key, signed).await;
        target.finish().await;
    }
    refusals(src, &file, &manifest, &key).await;
    older_schema(&file, &key).await;
}

async fn restore_into(target: &Db, file: &Path, manifest: &Manifest, key: &AuditKey, signed: i64) {
    let dir = tempfile::tempdir().unwrap();
    let t = Store::open(&target.url)
        .await
        .unwrap()
        .with_audit_seal(seal(key, dir.path()));
    let report = t
        .restore_backup(file, manifest, &mut |_, _| {})
        .await
        .unwrap();
    assert!(report.counts_match(), "{:?}", report.tables);
    let anchors = manifest.section(ANCHOR_SECTION).unwrap().rows;
    assert_eq!(report.anchors_written.as_ref().map(|a| a.1), Some(anchors));
    let check = t.verify_audit().await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!(check.rows as u64, manifest.audit.rows);
    assert_eq!(check.anchors as u64, anchors);
    let versions = t.verify_all_versions().await.unwrap();
    assert_eq!(versions.len(), 4);
    assert!(versions.iter().all(|c| c.matches), "{versions:?}");
    assert!(t.verify_version(signed).await.unwrap().matches);

    // The same rows, table by table: a backup of the restored store says so.
    let again = dir.path().join("otra.jsonl");
    t.backup_to(&again, false, &mut |_, _| {}).await.unwrap();
    assert_eq!(sections(file), sections(&again));

    // The triggers hold; new ids follow the restored ones; the trail goes on.
    let raw = target.raw().await;
    let update = sqlx::query("UPDATE versions SET text = 'x' WHERE id = $1")
        .bind(signed)
        .execute(&raw)
        .await;
    assert!(update.is_err(), "the append-only trigger is gone");
    raw.close().await;
    let user = t
        .add_user("nuevo", "Nuevo", Role::Medico, "h")
        .await
        .unwrap();
    assert_eq!(user.id, 3);
    let v = t
        .add_version(&version("E2", VersionKind::Edited, "Alta.", None))
        .await
        .unwrap();
    assert_eq!(v.id, 5);
    t.audit(&audit_entry("restore", None, "{}")).await.unwrap();
    assert!(t.verify_audit().await.unwrap().problems.is_empty());

    let again = t.restore_backup(file, manifest, &mut |_, _| {}).await;
    assert!(matches!(again, Err(BackupError::NotEmpty(_))), "{again:?}");
}

/// Writes `file` with `f` applied to its text, as a new file.
fn altered(file: &Path, name: &str, f: impl Fn(String) -> String) -> PathBuf {
    let out = file.with_file_name(name);
    std::fs::write(&out, f(std::fs::read_to_string(file).unwrap())).unwrap();
    out
}

async fn refusals(src: &Db, file: &Path, manifest: &Manifest, key: &AuditKey) {
    let none = &mut |_: &str, _: u64| {};
    // One byte of a version's text changed.
    let tampered = altered(file, "cambiado.jsonl", |t| {
        t.replacen("Alta con 1 g.", "Alta con 2 g.", 1)
    });
    match check_backup(&tampered, none) {
        Err(BackupError::Checksum { section, .. }) => assert_eq!(section, "versions"),
        other => panic!("{other:?}"),
    }
    // A row removed, the manifest cut off, a line cut in half.
    let all = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.starts_with("[\"E2\",\"m\",0"))
        .unwrap();
    let short = altered(file, "corto.jsonl", |_| {
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != row)
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    });
    assert!(matches!(
        check_backup(&short, none),
        Err(BackupError::Count { .. })
    ));
    let cut = altered(file, "sin-manifiesto.jsonl", |_| {
        lines[..lines.len() - 1]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect()
    });
    assert!(matches!(
        check_backup(&cut, none),
        Err(BackupError::Incomplete(_))
    ));
    let half = altered(file, "mitad.jsonl", |t| t[..t.len() / 2].to_string());
    assert!(matches!(
        check_backup(&half, none),
        Err(BackupError::Incomplete(_) | BackupError::Format { .. })
    ));
    // Newer schema, newer format, not a backup.
    let newer = altered(file, "nuevo.jsonl", |t| {
        t.replacen(
            &format!("\"schema_version\":{BACKED_UP_SCHEMA}"),
            "\"schema_version\":99",
            1,
        )
    });
    assert!(matches!(
        check_backup(&newer, none),
        Err(BackupError::NewerSchema { found: 99, .. })
    ));
    let format = altered(file, "formato.jsonl", |t| {
        t.replacen("\"format_version\":1", "\"format_version\":2", 1)
    });
    assert!(matches!(
        check_backup(&format, none),
        Err(BackupError::NewerFormat { found: 2, .. })
    ));
    let other = altered(file, "otro.jsonl", |_| "hola\n".to_string());
    assert!(matches!(
        check_backup(&other, none),
        Err(BackupError::NotABackup(_))
    ));

    refused_into_a_store(src, file, manifest, key, &tampered).await;
}

/// Into a fresh store: another key, then a file changed after its check. Nothing stays.
async fn refused_into_a_store(
    src: &Db,
    file: &Path,
    manifest: &Manifest,
    key: &AuditKey,
    tampered: &Path,
) {
    let none = &mut |_: &str, _: u64| {};
    for target in databases()
        .await
        .into_iter()
        .filter(|d| d.label == src.label)
    {
        let dir = tempfile::tempdir().unwrap();
        let wrong = AuditKey::generate().unwrap();
        let t = Store::open(&target.url)
            .await
            .unwrap()
            .with_audit_seal(seal(&wrong, dir.path()));
        let e = t.restore_backup(file, manifest, none).await;
        assert!(
            matches!(&e, Err(BackupError::KeyMismatch { backup, .. }) if backup == key.id()),
            "{e:?}"
        );
        let t = t.with_audit_seal(seal(key, dir.path()));
        let copy = altered(file, "copia.jsonl", |t| t);
        let checked = check_backup(&copy, none).unwrap();
        std::fs::copy(tampered, &copy).unwrap();
        let e = t.restore_backup(&copy, &checked, none).await;
        assert!(matches!(e, Err(BackupError::Checksum { .. })), "{e:?}");
        assert!(
            t.users().await.unwrap().is_empty(),
            "the failed restore was rolled back"
        );
        assert!(t.verify_audit().await.unwrap().rows == 0);
        assert!(!dir.path().join("audit.anchor").exists());
        target.finish().await;
    }
}

/// The backup as an epicrisis of schema 7 wrote it: `users` without the columns that
/// migration 8 added, its checksum to match.
fn as_schema_7(file: &Path) -> PathBuf {
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};
    let added = ["source", "directory_dn"];
    let (mut out, mut section, mut drop) = (String::new(), String::new(), Vec::new());
    let mut hash = Sha256::new();
    for (n, line) in std::fs::read_to_string(file).unwrap().lines().enumerate() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let text = if line.starts_with('[') && section == "users" {
            let row = v.as_array_mut().unwrap();
            for i in drop.iter().rev() {
                row.remove(*i);
            }
            let text = v.to_string();
            hash.update(format!("{text}\n"));
            text
        } else if let Some(t) = v["table"].as_str() {
            section = t.to_string();
            if section == "users" {
                let columns = v["columns"].as_array_mut().unwrap();
                drop = (0..columns.len())
                    .filter(|i| added.contains(&columns[*i].as_str().unwrap()))
                    .collect();
                columns.retain(|c| !added.contains(&c.as_str().unwrap()));
            }
            v.to_string()
        } else if n == 0 {
            v["schema_version"] = json!(7);
            v.to_string()
        } else if v.get("manifest").is_some() {
            let m = &mut v["manifest"];
            m["schema_version"] = json!(7);
            for s in m["sections"].as_array_mut().unwrap() {
                if s["name"] == "users" {
                    s["columns"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|c| !added.contains(&c.as_str().unwrap()));
                    s["sha256"] = json!(hex::encode(hash.clone().finalize()));
                }
            }
            v.to_string()
        } else {
            line.to_string()
        };
        out.push_str(&text);
        out.push('\n');
    }
    let old = file.with_file_name("esquema-7.jsonl");
    std::fs::write(&old, out).unwrap();
    old
}

/// A backup of schema 7 restores into the current schema: the added columns take their
/// defaults, and everything verifies.
async fn older_schema(file: &Path, key: &AuditKey) {
    let old = as_schema_7(file);
    let manifest = check_backup(&old, &mut |_, _| {}).unwrap();
    assert_eq!(manifest.schema_version, 7);
    let target = databases().await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let t = Store::open(&target.url)
        .await
        .unwrap()
        .with_audit_seal(seal(key, dir.path()));
    let report = t
        .restore_backup(&old, &manifest, &mut |_, _| {})
        .await
        .unwrap();
    assert!(report.counts_match(), "{:?}", report.tables);
    assert!(t.verify_audit().await.unwrap().problems.is_empty());
    assert!(
        t.verify_all_versions()
            .await
            .unwrap()
            .iter()
            .all(|c| c.matches)
    );
    let raw = target.raw().await;
    let sources: Vec<(String,)> = sqlx::query_as("SELECT source FROM users ORDER BY id")
        .fetch_all(&raw)
        .await
        .unwrap();
    assert_eq!(
        sources,
        vec![("local".to_string(),), ("local".to_string(),)]
    );
    raw.close().await;
    target.finish().await;
}

#[tokio::test]
async fn backups_round_trip_between_both_databases_and_refuse_damage() {
    on_every_database!(check_round_trip);
}
