//! The store: episodes (the parsed episode and its source document), drafts and their
//! versions, users, sessions, API tokens and an append-only audit trail with a hash chain.
//!
//! One code path for SQLite (the default: one file, WAL, created on first use) and
//! PostgreSQL (when `DATABASE_URL` is `postgres://…`), through sqlx's `Any` driver with
//! `$1`-style parameters, which both databases accept. Migrations are built into the binary
//! and run on open. Times are Unix milliseconds (UTC).
//!
//! Invariants: versions are never updated or deleted — an edit, a signature or an amendment
//! is a new row; a signed version's text never changes and nothing but an amendment may
//! follow it. Audit rows are never updated; each carries the SHA-256 of the previous one so
//! that [`Store::verify_audit`] finds a changed or deleted row. Nothing here logs.
//!
//! Sentence embeddings live here too ([`vectors`]): passage vectors of an episode's
//! evolution notes and the archive of signed epicrisis texts, both per model.
//!
//! The immutable signed record lives in [`revisions`]: every content an episode was
//! imported with is kept as a revision, every version names the revision it was written
//! from, and its hash covers its text, that data and its metadata.
//!
//! Where things are (every type is re-exported here; [`Store`]'s methods are spread over
//! the modules by subject):
//! - `error`: [`StoreError`] and [`Result`];
//! - `open`: [`Store::open`] — the URL, the pool, SQLite's pragmas, messages;
//! - `migrate`: the schema — sqlx's migrations per backend, the adoption of databases
//!   from the earlier migrator, the step after them that only the program can do;
//! - `episodes`: [`NewEpisode`], [`EpisodeRow`], [`Store::put_episode`] and reading;
//! - `versions`: drafts, signatures and amendments ([`NewVersion`], [`VersionRow`]);
//! - `users`: [`Role`], [`User`], [`Session`]; `directory`: the accounts of the hospital's
//!   directory ([`DirectoryAccount`]);
//! - `audit`: the audit trail and its hash chain ([`AuditEntry`], [`AuditCheck`]);
//! - `batches`: drafts of many episodes together ([`BatchRow`], [`BatchItem`]);
//! - [`backup`]: the logical export of every table to one checked file, and its restore
//!   into an empty store (SQLite or PostgreSQL, either way);
//! - [`jobs`], [`listing`], [`revisions`], [`tokens`], [`vectors`]: durable draft jobs,
//!   the episode list, the signed record, API tokens, sentence embeddings.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::Any;
use sqlx::{AnyPool, Transaction};

mod audit;
mod batches;
mod directory;
mod episodes;
mod error;
mod migrate;
mod open;
mod users;
mod versions;

pub mod backup;
pub mod jobs;
pub mod listing;
pub mod revisions;
pub mod tokens;
pub mod vectors;

pub use audit::{Anchor, AuditCheck, AuditEntry, AuditKey, AuditRow, AuditSeal, MIN_KEY_BYTES};
pub use batches::{BatchItem, BatchRow};
pub use directory::{
    DISABLED_BY_ADMIN, DISABLED_BY_DIRECTORY, DirectoryAccount, DirectorySync, NO_PASSWORD,
};
pub use episodes::{EpisodeRow, NewEpisode};
pub use error::{Result, StoreError};
pub(crate) use error::{is_foreign_key_violation, is_unique_violation};
pub use jobs::{
    ClaimedJob, Completed, Enqueued, Heartbeat, JobEnd, JobListener, JobRow, JobState, NewJob,
};
pub use listing::{EpisodeQuery, EpisodeSummary, ListColumns};
pub use revisions::{
    EpisodeRevision, HASH_SCHEME_RECORD, HASH_SCHEME_TEXT, RevisionInfo, VersionCheck,
};
pub use tokens::{ApiToken, TOKEN_DAYS};
pub use users::{Role, Session, User, UserSource};
pub(crate) use users::{USER_COLUMNS, user_row};
pub use vectors::{ArchiveHit, PassageVector};
pub(crate) use versions::parse_status;
pub use versions::{NewVersion, VersionKind, VersionRow, VersionStatus};

/// Which database the URL named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The open store; cheap to clone (a pool).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL with the `vector` extension: archive searches run in the database
    /// (see [`vectors`]).
    pgvector: bool,
    /// PostgreSQL: where a worker's listening connection goes ([`Store::job_listener`]).
    listen_url: Option<String>,
    /// The audit key and anchor file ([`Store::with_audit_seal`]); empty by default.
    seal: std::sync::Arc<AuditSeal>,
    /// The head id this store last anchored, so that an unchanged head is not repeated.
    last_anchor: std::sync::Arc<tokio::sync::Mutex<Option<i64>>>,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool now: (open connections, idle ones, the most it opens), for
    /// the server's metrics.
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        )
    }

    /// A write transaction: on SQLite `BEGIN IMMEDIATE` takes the write lock at once (so
    /// that two writers queue on the busy timeout instead of failing on upgrade).
    pub(crate) async fn write_tx(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// SHA-256, lower-case hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Adds a text argument and returns its placeholder.
pub(crate) fn arg(args: &mut Vec<String>, v: String) -> String {
    args.push(v);
    format!("${}", args.len())
}

/// Most values bound in one `IN (…)` list (SQLite allows 32,766 parameters, PostgreSQL
/// 65,535; lists longer than this take several queries).
pub(crate) const IN_CHUNK: usize = 500;

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The rows of `sql(list)` for every id, where `list` is the placeholders of one
    /// chunk of at most [`IN_CHUNK`] ids (bound in order): one query per chunk.
    pub(crate) async fn rows_in(
        &self,
        ids: &[String],
        sql: impl Fn(&str) -> String,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let text = sql(&placeholders(chunk.len()));
            let mut q = sqlx::query(&text);
            for id in chunk {
                q = q.bind(id);
            }
            out.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }
}

/// Escapes `%`, `_` and the escape character itself for `LIKE … ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
