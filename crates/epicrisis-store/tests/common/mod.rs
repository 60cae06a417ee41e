//! What the store's integration tests share: the databases every check runs on (SQLite
//! always, PostgreSQL through `EPICRISIS_TEST_DATABASE_URL`) and small builders. Each test
//! file uses only part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use epicrisis_store::*;
use epicrisis_testkit::postgres;
use sqlx::AnyPool;

pub struct Db {
    pub label: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the admin URL and the database to drop at the end.
    pg: Option<(String, String)>,
}

impl Db {
    /// A second connection, outside the store, for what only an attacker would do.
    pub async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.url).await.expect("raw connection")
    }

    /// Drops the triggers that make versions, episode revisions and audit rows
    /// append-only (migration 7), as someone who owns the database could, so that a test
    /// can tamper with them and check that verification still finds it.
    pub async fn drop_append_only_guards(&self) {
        let raw = self.raw().await;
        let triggers: &[(&str, &str)] = if self.label == "sqlite" {
            &[
                ("audit_is_append_only_update", ""),
                ("audit_is_append_only_delete", ""),
                ("versions_are_append_only_update", ""),
                ("versions_are_append_only_delete", ""),
                ("revisions_are_append_only_update", ""),
                ("revisions_are_append_only_delete", ""),
            ]
        } else {
            &[
                ("audit_is_append_only", " ON audit"),
                ("versions_are_append_only", " ON versions"),
                ("revisions_are_append_only", " ON episode_revisions"),
            ]
        };
        for (name, on) in triggers {
            sqlx::query(&format!("DROP TRIGGER {name}{on}"))
                .execute(&raw)
                .await
                .unwrap_or_else(|e| panic!("DROP TRIGGER {name}: {e}"));
        }
        raw.close().await;
    }

    pub async fn finish(self) {
        let Some((admin, name)) = &self.pg else {
            return;
        };
        if let Ok(pool) = AnyPool::connect(admin).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await;
            pool.close().await;
        }
    }
}

/// SQLite always; PostgreSQL when `EPICRISIS_TEST_DATABASE_URL` is set.
pub async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet: opening creates it.
    let path = dir.path().join("sub").join("epicrisis.db");
    let mut dbs = vec![Db {
        label: "sqlite",
        url: format!("sqlite:{}", path.display()),
        _dir: Some(dir),
        pg: None,
    }];
    if let Some(admin) = postgres::admin_url() {
        sqlx::any::install_default_drivers();
        let name = postgres::database_name("t");
        let pool = AnyPool::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at EPICRISIS_TEST_DATABASE_URL: {e}")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("CREATE DATABASE (the test user needs CREATEDB)");
        pool.close().await;
        dbs.push(Db {
            label: "postgres",
            url: postgres::database_url(&admin, &name),
            _dir: None,
            pg: Some((admin, name)),
        });
    }
    dbs
}

/// Runs `check` on every database.
macro_rules! on_every_database {
    ($check:ident) => {
        for db in databases().await {
            eprintln!("== {} on {}", stringify!($check), db.label);
            $check(&db).await;
            db.finish().await;
        }
    };
}

pub fn episode(id: &str, service: Option<&str>, discharge: Option<&str>) -> NewEpisode {
    NewEpisode {
        episode_id: id.to_string(),
        service: service.map(str::to_string),
        admission_date: Some("2024-01-01".to_string()),
        discharge_date: discharge.map(str::to_string),
        episode_json: format!("{{\"id\":\"{id}\"}}"),
        source: format!("source of {id}"),
        source_kind: "rich".to_string(),
        patient_name: None,
        diagnosis: None,
        search_text: None,
        physician: None,
    }
}

pub fn version(ep: &str, kind: VersionKind, text: &str, parent: Option<i64>) -> NewVersion {
    NewVersion {
        episode_id: ep.to_string(),
        kind,
        text: text.to_string(),
        report_json: "{\"ok\":true}".to_string(),
        provenance_json: "null".to_string(),
        engine: Some("deterministic".to_string()),
        author_id: None,
        parent_id: parent,
        episode_revision: None,
    }
}

pub fn is_conflict<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// An audit entry by user 1, "ana".
pub fn audit_entry(action: &str, ep: Option<&str>, detail: &str) -> AuditEntry {
    AuditEntry {
        user_id: Some(1),
        username: Some("ana".to_string()),
        action: action.to_string(),
        episode_id: ep.map(str::to_string),
        version_id: None,
        detail: detail.to_string(),
    }
}
