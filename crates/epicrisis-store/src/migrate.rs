//! The schema: sqlx's migrations, one folder per backend (`migrations/sqlite`,
//! `migrations/postgres`, the same numbered files), embedded in the binary by
//! `sqlx::migrate!` and run on open. sqlx records each applied file with its SHA-384 in
//! `_sqlx_migrations`; a released file must never change (a changed checksum stops the
//! program), so a change to the schema is a new numbered file in both folders.
//!
//! **One transaction, one lock.** Everything below runs in one transaction on one
//! connection: on SQLite a `BEGIN IMMEDIATE`, which takes the write lock at once, so a
//! second process opening the same new file waits on the busy timeout and then finds the
//! work done (sqlx's own SQLite migrator does not lock); on PostgreSQL a transaction that
//! first takes `pg_advisory_xact_lock` (the key the earlier migrator used), released by
//! the commit or the rollback whatever happens. sqlx's own lock is therefore switched off:
//! it would cover the migrations but not the adoption and the step after them, and a
//! session lock outlives a failed run. Each migration runs in a savepoint of that
//! transaction (sqlx nests its `begin`), whole files at once: no splitting on `;` here.
//!
//! **Adoption.** Databases created by the earlier migrator have `schema_migrations`
//! (versions 1, 2…) and no `_sqlx_migrations`. They are adopted, in the same transaction:
//! sqlx's table is created and each version in `schema_migrations` is recorded with the
//! checksum of the file built into this program, then the migrator applies what is newer.
//! `schema_migrations` is kept up to date afterwards (each newly applied version is added),
//! so that an older epicrisis, which reads only that table, still refuses a database that
//! a newer one has migrated further (a rollback of the program without its database).
//!
//! **The step after the migrations.** Migration 3 (revisions) needs a revision 1 of every
//! episode from its JSON, with a SHA-256 computed here, which SQL cannot do the same way on
//! both backends and which sqlx cannot run between files. [`crate::revisions::backfill`]
//! runs after the migrator, in the same transaction, whenever migration 3 was not applied
//! before this open: it is idempotent (it only touches episodes that have no revision) and
//! costs nothing on every later open. Since revision rows are written with every import
//! from migration 3 on, an episode can lack one only if it was imported before.
//!
//! **A database written by a newer program** (a version this binary does not know, in
//! either table) is refused with a message that says to use that version; a version whose
//! checksum differs, with one that says the file was edited after release.

use std::collections::HashSet;

use sqlx::any::Any;
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{AnyConnection, AnyPool, Row, Transaction};

use crate::{Backend, Result, StoreError, revisions};

/// The PostgreSQL advisory lock that serialises migrating processes.
const PG_LOCK_KEY: i64 = 7_305_813_229;

/// The migration whose data the program fills in afterwards ([`revisions::backfill`]).
const REVISIONS_VERSION: i64 = 3;

/// The embedded migrations of a backend.
pub(crate) fn migrator(backend: Backend) -> Migrator {
    let mut m = match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    // Our transaction holds the lock (see the module documentation).
    m.set_locking(false);
    m
}

/// Adopts a database of the earlier migrator, applies what is pending and fills in what
/// only the program can, in one transaction.
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let migrator = migrator(backend);
    let mut tx = begin_locked(pool, backend).await?;
    adopt(&mut tx, backend, &migrator).await?;
    tx.ensure_migrations_table()
        .await
        .map_err(|e| explain(e, &migrator))?;
    let applied: HashSet<i64> = tx
        .list_applied_migrations()
        .await
        .map_err(|e| explain(e, &migrator))?
        .iter()
        .map(|m| m.version)
        .collect();
    refuse_newer(applied.iter().copied(), &migrator)?;
    // `run_direct` is what `Migrator::run` calls once it holds a connection; `run` itself
    // would make `Store::open`'s future not `Send` ("`Acquire` is not general enough",
    // sqlx's own comment on `run_direct`).
    migrator
        .run_direct(&mut *tx)
        .await
        .map_err(|e| explain(e, &migrator))?;
    keep_old_ledger(&mut tx, backend, &migrator, &applied).await?;
    if !applied.contains(&REVISIONS_VERSION) {
        revisions::backfill(&mut tx)
            .await
            .map_err(|e| StoreError::Db(format!("after migration 3 (revisions): {e}")))?;
    }
    tx.commit().await?;
    Ok(())
}

/// Adds the versions just applied to the earlier migrator's `schema_migrations`, where an
/// adopted database has one: an older binary reads only that table to refuse a database
/// newer than itself.
async fn keep_old_ledger(
    conn: &mut AnyConnection,
    backend: Backend,
    migrator: &Migrator,
    applied_before: &HashSet<i64>,
) -> Result<()> {
    if !has_table(conn, backend, "schema_migrations").await? {
        return Ok(());
    }
    for m in migrator.iter() {
        if applied_before.contains(&m.version) {
            continue;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(m.version)
        .bind(m.description.to_string())
        .bind(crate::now_ms())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The transaction everything runs in, with the write lock (SQLite) or the advisory lock
/// (PostgreSQL) held.
async fn begin_locked(pool: &AnyPool, backend: Backend) -> Result<Transaction<'static, Any>> {
    Ok(match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(PG_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            tx
        }
    })
}

/// A database of the earlier migrator (`schema_migrations`, no `_sqlx_migrations`): records
/// its applied versions in sqlx's table with the checksums of the files built in.
async fn adopt(conn: &mut AnyConnection, backend: Backend, migrator: &Migrator) -> Result<()> {
    if !has_table(conn, backend, "schema_migrations").await?
        || has_table(conn, backend, "_sqlx_migrations").await?
    {
        return Ok(());
    }
    let versions: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("version"))
        .collect::<std::result::Result<_, _>>()?;
    refuse_newer(versions.iter().copied(), migrator)?;
    conn.ensure_migrations_table()
        .await
        .map_err(|e| explain(e, migrator))?;
    for version in versions {
        let Some(m) = migrator.iter().find(|m| m.version == version) else {
            return Err(StoreError::Conflict(format!(
                "schema_migrations names version {version}, which no release of epicrisis \
                 had: the table was changed by hand; restore the database from a backup"
            )));
        };
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES ($1, $2, TRUE, $3, 0)",
        )
        .bind(m.version)
        .bind(m.description.to_string())
        .bind(m.checksum.to_vec())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn has_table(conn: &mut AnyConnection, backend: Backend, name: &str) -> Result<bool> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = $1"
        }
        Backend::Postgres => {
            "SELECT 1 AS found FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let row = sqlx::query(sql)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// The newest of the applied versions this program does not know, if any.
fn refuse_newer(applied: impl Iterator<Item = i64>, migrator: &Migrator) -> Result<()> {
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match applied.filter(|v| !migrator.version_exists(*v)).max() {
        Some(current) => Err(newer(current, known)),
        None => Ok(()),
    }
}

fn newer(current: i64, known: i64) -> StoreError {
    StoreError::Conflict(format!(
        "the database is at schema version {current} but this program knows only up to \
         version {known}: it was written by a newer epicrisis; use that version (or newer)"
    ))
}

/// sqlx's migration errors in words that say what to do.
fn explain(e: MigrateError, migrator: &Migrator) -> StoreError {
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let name = |v: i64| {
        migrator
            .iter()
            .find(|m| m.version == v)
            .map_or_else(|| format!("{v}"), |m| format!("{v} ({})", m.description))
    };
    match e {
        MigrateError::VersionMissing(v) => newer(v, known),
        MigrateError::VersionMismatch(v) => StoreError::Conflict(format!(
            "migration {} applied to this database differs from the one built into this \
             program (another checksum in _sqlx_migrations): the migration file was edited \
             after it was released, or the table was changed by hand; build from the \
             released migration files (add a new numbered migration for a change) or use the \
             epicrisis version that migrated this database",
            name(v)
        )),
        MigrateError::Dirty(v) => StoreError::Conflict(format!(
            "migration {} was left half-applied (marked failed in _sqlx_migrations); restore \
             the database from a backup",
            name(v)
        )),
        MigrateError::ExecuteMigration(e, v) => {
            StoreError::Db(format!("migration {}: {e}", name(v)))
        }
        other => StoreError::Db(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations() {
        let s = migrator(Backend::Sqlite);
        let p = migrator(Backend::Postgres);
        let versions = |m: &Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(&s), versions(&p));
        let numbers: Vec<i64> = s.iter().map(|m| m.version).collect();
        assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
        assert!(numbers.contains(&REVISIONS_VERSION));
        assert!(s.iter().all(|m| !m.no_tx));
    }

    #[test]
    fn a_newer_database_is_refused_in_words() {
        let m = migrator(Backend::Sqlite);
        assert!(refuse_newer([1, 2, 3].into_iter(), &m).is_ok());
        let e = refuse_newer([1, 2, 999].into_iter(), &m)
            .unwrap_err()
            .to_string();
        assert!(e.contains("999") && e.contains("newer epicrisis"), "{e}");
        let e = explain(MigrateError::VersionMismatch(2), &m).to_string();
        assert!(e.contains("2 (vectors)") && e.contains("edited"), "{e}");
        let e = explain(MigrateError::VersionMissing(7), &m).to_string();
        assert!(e.contains("version 7") && e.contains("newer"), "{e}");
    }
}
