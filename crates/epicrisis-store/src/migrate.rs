//! Migrations built into the binary: per backend, numbered, applied in order in one
//! transaction and recorded in `schema_migrations`.
use sqlx::{AnyPool, Row};

use crate::{Backend, Result, StoreError, now_ms};

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
    /// What the program does after the SQL, in the same transaction.
    pub then: Step,
}

/// A migration's work that SQL cannot do on both backends.
#[derive(Clone, Copy)]
pub(crate) enum Step {
    None,
    /// Revision 1 of every episode from its JSON (SHA-256 computed here).
    Revisions,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
        then: Step::None,
    },
    Migration {
        version: 2,
        name: "vectors",
        sqlite: include_str!("../migrations/sqlite/0002_vectors.sql"),
        postgres: include_str!("../migrations/postgres/0002_vectors.sql"),
        then: Step::None,
    },
    Migration {
        version: 3,
        name: "revisions",
        sqlite: include_str!("../migrations/sqlite/0003_revisions.sql"),
        postgres: include_str!("../migrations/postgres/0003_revisions.sql"),
        then: Step::Revisions,
    },
    Migration {
        version: 4,
        name: "token_expiry",
        sqlite: include_str!("../migrations/sqlite/0004_token_expiry.sql"),
        postgres: include_str!("../migrations/postgres/0004_token_expiry.sql"),
        then: Step::None,
    },
    Migration {
        version: 5,
        name: "episode_list",
        sqlite: include_str!("../migrations/sqlite/0005_episode_list.sql"),
        postgres: include_str!("../migrations/postgres/0005_episode_list.sql"),
        then: Step::None,
    },
];

/// The statements of a migration file: comment lines dropped, split at semicolons.
pub(crate) fn statements(sql: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            // Two processes opening a new database at once: one migrates, the other waits.
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7305813229)) AS l")
                .execute(&mut *tx)
                .await?;
            tx
        }
    };
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await?;
    let current: i64 = row.try_get::<Option<i64>, _>("v")?.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::Conflict(format!(
            "the database is at schema version {current} but this program knows only up to \
             version {known}: it was written by a newer epicrisis; use that version (or newer)"
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        for statement in statements(sql) {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::Db(format!("migration {} ({}): {e}", m.version, m.name))
                })?;
        }
        match m.then {
            Step::None => {}
            Step::Revisions => crate::revisions::backfill(&mut tx).await.map_err(|e| {
                StoreError::Db(format!("migration {} ({}): {e}", m.version, m.name))
            })?,
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_split_into_statements() {
        for m in MIGRATIONS {
            let s = statements(m.sqlite);
            let p = statements(m.postgres);
            assert_eq!(
                s.len(),
                p.len(),
                "migration {} differs in length",
                m.version
            );
            assert!(s.iter().all(|st| !st.contains("--")));
        }
        assert_eq!(
            statements("-- a; b\nCREATE x;\n\nCREATE y;"),
            ["CREATE x", "CREATE y"]
        );
    }
}
