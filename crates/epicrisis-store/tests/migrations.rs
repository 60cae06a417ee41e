//! The schema's migrations, on SQLite and on PostgreSQL (see `common`): sqlx's migrator
//! on a new database, two processes opening one at once, the adoption of a database made
//! by the earlier migrator (`schema_migrations`), and the refusals that say what to do.

use epicrisis_store::*;

#[macro_use]
mod common;
use common::*;

/// The applied versions and whether each succeeded, from sqlx's table.
async fn applied(db: &Db) -> Vec<(i64, bool)> {
    let raw = db.raw().await;
    // Any decodes no booleans: the flag as a number.
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT version, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) AS ok \
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    raw.close().await;
    rows.into_iter().map(|(v, ok)| (v, ok == 1)).collect()
}

async fn has_table(db: &Db, table: &str) -> bool {
    let raw = db.raw().await;
    let sql = if db.label == "sqlite" {
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1"
    } else {
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_name = $1"
    };
    let found = sqlx::query(sql)
        .bind(table)
        .fetch_optional(&raw)
        .await
        .unwrap()
        .is_some();
    raw.close().await;
    found
}

fn open_refused(r: Result<Store>) -> String {
    match r {
        Err(StoreError::Open { reason, .. }) => reason,
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("the database was accepted"),
    }
}

const ALL: [(i64, bool); 9] = [
    (1, true),
    (2, true),
    (3, true),
    (4, true),
    (5, true),
    (6, true),
    (7, true),
    (8, true),
    (9, true),
];

async fn check_migrations(db: &Db) {
    let store = Store::open(&db.url).await.expect("first open");
    drop(store);
    let store = Store::open(&db.url)
        .await
        .expect("second open (migrations are idempotent)");
    assert_eq!(
        store.backend(),
        if db.label == "sqlite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    );
    store.put_episode(&episode("E1", None, None)).await.unwrap();
    drop(store);
    assert_eq!(applied(db).await, ALL);
    assert!(!has_table(db, "schema_migrations").await);
    // A migration file edited after release.
    let raw = db.raw().await;
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 2")
        .bind(vec![0u8; 48])
        .execute(&raw)
        .await
        .unwrap();
    let reason = open_refused(Store::open(&db.url).await);
    assert!(
        reason.contains("migration 2 (vectors)") && reason.contains("edited after it was released"),
        "{reason}"
    );
    // A database written by a newer program.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 2")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'future', TRUE, $1, 0)",
    )
    .bind(vec![1u8; 48])
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    let reason = open_refused(Store::open(&db.url).await);
    assert!(
        reason.contains("999") && reason.contains("newer epicrisis"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_refuse_a_newer_or_edited_database() {
    on_every_database!(check_migrations);
}

/// Several processes (here: stores with pools of their own) opening one new database at
/// once: one migrates, the others wait and find the work done.
async fn check_concurrent_open(db: &Db) {
    let opens = (0..4).map(|_| {
        let url = db.url.clone();
        tokio::spawn(async move { Store::open(&url).await })
    });
    let stores: Vec<Store> = futures_join(opens).await;
    stores[0]
        .put_episode(&episode("C", None, None))
        .await
        .unwrap();
    assert!(stores[3].episode("C").await.unwrap().is_some());
    drop(stores);
    assert_eq!(applied(db).await, ALL);
}

async fn futures_join(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<Store>>>,
) -> Vec<Store> {
    let handles: Vec<_> = handles.collect();
    let mut stores = Vec::new();
    for h in handles {
        stores.push(h.await.unwrap().expect("a concurrent open failed"));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_of_a_new_database_all_succeed() {
    on_every_database!(check_concurrent_open);
}

/// The migration files of the versions before `upto`, for this database.
fn files(db: &Db, upto: usize) -> Vec<&'static str> {
    let sqlite = [
        include_str!("../migrations/sqlite/0001_initial.sql"),
        include_str!("../migrations/sqlite/0002_vectors.sql"),
        include_str!("../migrations/sqlite/0003_revisions.sql"),
        include_str!("../migrations/sqlite/0004_token_expiry.sql"),
    ];
    let postgres = [
        include_str!("../migrations/postgres/0001_initial.sql"),
        include_str!("../migrations/postgres/0002_vectors.sql"),
        include_str!("../migrations/postgres/0003_revisions.sql"),
        include_str!("../migrations/postgres/0004_token_expiry.sql"),
    ];
    let all = if db.label == "sqlite" {
        sqlite
    } else {
        postgres
    };
    all[..upto].to_vec()
}

/// A database as the earlier migrator left it at schema version 4: the SQL of versions
/// 1 to 4 and `schema_migrations`, with a user, an episode, its revision and a version.
/// `recorded`: the versions `schema_migrations` says were applied.
async fn old_database(db: &Db, recorded: &[i64]) {
    let raw = match db.url.strip_prefix("sqlite:") {
        // The file and its folder do not exist yet.
        Some(path) => {
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            sqlx::any::install_default_drivers();
            sqlx::AnyPool::connect(&format!("{}?mode=rwc", db.url))
                .await
                .unwrap()
        }
        None => db.raw().await,
    };
    for sql in files(db, 4) {
        sqlx::raw_sql(sql).execute(&raw).await.unwrap();
    }
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY NOT NULL, \
         name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&raw)
    .await
    .unwrap();
    for v in recorded {
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'x', 0)",
        )
        .bind(*v)
        .execute(&raw)
        .await
        .unwrap();
    }
    sqlx::raw_sql(
        "INSERT INTO users (username, display_name, role, password_hash, disabled, created_at) \
         VALUES ('ana', 'Dra. Ana', 'medico', 'h', 0, 5); \
         INSERT INTO episodes (episode_id, service, admission_date, discharge_date, \
         episode_json, source, source_kind, imported_at, updated_at, revision) \
         VALUES ('OLD', 'Cirugía', '2024-01-01', '2024-01-05', '{\"id\":\"OLD\"}', 'src', \
         'rich', 10, 20, 1); \
         INSERT INTO episode_revisions (episode_id, revision, episode_json, sha256, \
         source_kind, imported_at) VALUES ('OLD', 1, '{\"id\":\"OLD\"}', 'abc', 'rich', 20)",
    )
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
}

async fn check_adoption(db: &Db) {
    old_database(db, &[1, 2, 3, 4]).await;
    let store = Store::open(&db.url).await.expect("an old database opens");
    // The data is all there, untouched.
    let e = store.episode("OLD").await.unwrap().unwrap();
    assert_eq!(
        (
            e.service.as_deref(),
            e.episode_json.as_str(),
            e.revision,
            e.updated_at
        ),
        (Some("Cirugía"), "{\"id\":\"OLD\"}", 1, 20)
    );
    let revs = store.episode_revisions("OLD").await.unwrap();
    assert_eq!(revs.len(), 1, "the backfill did not run again");
    assert_eq!(revs[0].sha256, "abc");
    assert_eq!(store.user_by_name("ana").await.unwrap().unwrap().id, 1);
    // Version 5 (the episode list's columns) was applied.
    let unlisted = store.unlisted_episodes(10).await.unwrap();
    assert_eq!(unlisted.len(), 1);
    assert_eq!(unlisted[0].episode_json, "{\"id\":\"OLD\"}");
    store
        .set_list_columns(
            "OLD",
            &ListColumns {
                patient_name: Some("Juana Soto"),
                diagnosis: Some("Apendicitis"),
                search_text: "old juana",
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(store.unlisted_episodes(10).await.unwrap().is_empty());
    let found = store.list_episodes(&EpisodeQuery::default()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].patient_name.as_deref(), Some("Juana Soto"));
    drop(store);
    assert_eq!(applied(db).await, ALL);
    assert!(has_table(db, "schema_migrations").await, "kept");
    // Kept up to date: an older epicrisis reads only this table to refuse a database
    // newer than itself.
    let raw = db.raw().await;
    let old: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&raw)
        .await
        .unwrap();
    raw.close().await;
    assert_eq!(old, [(1,), (2,), (3,), (4,), (5,), (6,), (7,), (8,), (9,)]);
    // Opening again finds the recorded checksums equal to the built-in files.
    let store = Store::open(&db.url).await.expect("second open");
    assert_eq!(store.episode_revisions("OLD").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_earlier_migrator_is_adopted() {
    on_every_database!(check_adoption);
}

async fn check_old_newer_refused(db: &Db) {
    old_database(db, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).await;
    let reason = open_refused(Store::open(&db.url).await);
    assert!(
        reason.contains("schema version 10")
            && reason.contains("knows only up to version 9")
            && reason.contains("use that version (or newer)"),
        "{reason}"
    );
    // Nothing was adopted: the refusal rolled everything back.
    assert!(!has_table(db, "_sqlx_migrations").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_database_of_a_newer_program_is_refused() {
    on_every_database!(check_old_newer_refused);
}
