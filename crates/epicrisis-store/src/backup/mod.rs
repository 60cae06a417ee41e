//! Backups: a logical export of the store's tables to one file ([`Store::backup_to`]),
//! and its restore into an empty store ([`check_backup`], then [`Store::restore_backup`]).
//!
//! **Why a logical export, on both databases.** One format, written and read by this
//! program through the same sqlx code path, for SQLite and PostgreSQL alike: it needs no
//! `pg_dump` of a matching version on the machine, no `sqlite3` tool, and a backup of
//! either database restores into either (moving a site from SQLite to PostgreSQL is a
//! backup and a restore). It holds exactly our tables, so a restore cannot bring back
//! another program's objects or drop the append-only triggers: restoring is INSERTs only,
//! into a database the program migrated itself. A `VACUUM INTO` copy (SQLite) or a
//! `pg_dump` (PostgreSQL) remains possible beside it, but restores only into the same
//! database kind and bypasses the checks below.
//!
//! **One snapshot.** Every table is read in one read transaction: on PostgreSQL
//! `REPEATABLE READ READ ONLY` (one snapshot for all statements), on SQLite one deferred
//! transaction on one connection (in WAL mode a reader sees the database as of its first
//! read and never blocks the writers). Servers and workers keep running meanwhile.
//!
//! **The file (format 1): UTF-8 JSON Lines**, each line ending in `\n`, uncompressed (pipe
//! it through `gzip` or `zstd` if needed; the restore reads the plain file):
//! 1. a header: `{"format":"epicrisis-backup","format_version":1,"schema_version":8,…}`;
//! 2. per table, in restore order: a section line `{"table":"users","columns":[…]}`, then
//!    one JSON array per row, the values in the section's column order: integers as
//!    numbers, text as strings, binary (vectors) as lower-case hex strings, `null`;
//! 3. a section `{"table":"audit_anchor_file","columns":["line"]}` with the lines of the
//!    audit anchor file, read just before the snapshot (it holds hashes and MACs, no
//!    secret; see below);
//! 4. the manifest, last: `{"manifest":{…}}` ([`Manifest`]): the format, the program and
//!    schema versions, the time, the audit trail's head and key id, and per section the
//!    columns, the row count and the SHA-256 of its row lines (bytes as written,
//!    newlines included).
//!
//! The checksums find a damaged or truncated file, not a forger (who could recompute
//! them): what proves that the restored trail and signed versions are the ones written is
//! the audit chain's HMAC and the versions' hashes, which the restore command checks.
//!
//! **Not in the file**: `sessions` (everyone signs in again), sqlx's migration ledger (the
//! target is migrated by the program), and — never — the audit key: it lives in a file
//! outside the database (`EPICRISIS_AUDIT_KEY_FILE`) and must be backed up separately and
//! kept apart from the backups; without it a restored keyed trail cannot be checked nor
//! appended to. The anchor file's lines are in the file: a restore into a site without
//! an anchor file writes them there, so that the restored trail is anchored again.
//!
//! **Restore**: the file is read twice. First alone ([`check_backup`]): the header, the
//! format and schema versions (a backup of a newer schema is refused), every row against
//! the columns this program knows, each section's count and SHA-256 against the manifest;
//! nothing touches a database. Then into the store ([`Store::restore_backup`]), in one
//! write transaction: the target must be empty (migrated, no rows); rows are inserted in
//! the file's order (a row's references come before it) keeping their ids, the checksums
//! are computed again as the rows go in (a file changed in between rolls everything
//! back), `audit_head` is set to the backup's, and PostgreSQL's identity sequences are
//! moved past the restored ids. A backup of an older schema (from format 1 on) is read by
//! column name: a column added since takes its default.
//!
//! When a migration adds or changes a table, [`tables::TABLES`] and [`BACKED_UP_SCHEMA`]
//! are updated with it ([`Store::backup_schema_faults`], which a test runs on both databases).

mod export;
mod import;
mod tables;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Backend, StoreError};

pub use import::{RestoreReport, TableCount, check_backup};

/// The `format` of the header and the manifest.
pub const FORMAT: &str = "epicrisis-backup";
/// The newest file format this program writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The schema version [`tables::TABLES`] describes: the newest migration. Backups of an
/// older schema (but not older than format 1, which began at 7) are read by column name.
pub const BACKED_UP_SCHEMA: i64 = 9;
/// The oldest schema a format-1 backup can be of (the format began with it).
pub const OLDEST_SCHEMA: i64 = 7;
/// The section holding the audit anchor file's lines (not a table of the database).
pub const ANCHOR_SECTION: &str = "audit_anchor_file";

/// The file's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    pub program_version: String,
    pub schema_version: i64,
    pub source_backend: Backend,
    pub created_at: i64,
}

/// The file's last line: what it holds and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// The epicrisis version that wrote the file.
    pub program_version: String,
    /// The newest migration applied to the database that was backed up.
    pub schema_version: i64,
    pub source_backend: Backend,
    /// When the snapshot was taken (Unix milliseconds), and the same in UTC words.
    pub created_at: i64,
    pub created_at_utc: String,
    pub audit: AuditSummary,
    /// Sections in file order: the tables, then the anchor file's lines.
    pub sections: Vec<Section>,
    /// What the file does not hold, in words (for whoever opens it).
    pub not_included: Vec<String>,
}

/// The audit trail as backed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSummary {
    pub rows: u64,
    /// `audit_head`: the last row's id and hash.
    pub head_id: i64,
    pub head_hash: String,
    /// The id (public) of the key that sealed the newest row; `None`: not keyed.
    pub key_id: Option<String>,
}

/// One section of the file: a table, or the anchor file's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
    /// SHA-256 (hex) of the section's row lines as written, newlines included.
    pub sha256: String,
}

impl Manifest {
    /// All rows of the database's tables (not the anchor lines).
    pub fn table_rows(&self) -> u64 {
        self.sections
            .iter()
            .filter(|s| s.name != ANCHOR_SECTION)
            .map(|s| s.rows)
            .sum()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// What a backup wrote.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub manifest: Manifest,
    /// SHA-256 (hex) of the whole file, and its size.
    pub file_sha256: String,
    pub bytes: u64,
}

/// Why a backup or a restore stopped. Messages name the file (and line) and never quote
/// the data.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file cannot be created, written, read or renamed.
    #[error("{file}: {reason}")]
    File { file: PathBuf, reason: String },
    /// The backup's file exists and replacing it was not asked for.
    #[error("{0}: the file already exists; choose another name, or replace it on purpose")]
    Exists(PathBuf),
    /// `FILE.parcial` exists: another backup to the same file is running, or one was
    /// interrupted (then it can be deleted).
    #[error(
        "{0}: the file exists: another backup to the same file is running, or one was \
         interrupted (then delete it)"
    )]
    PartialExists(PathBuf),
    /// The first line is not an epicrisis backup's header.
    #[error("{0}: not an epicrisis backup (its first line is not a backup header)")]
    NotABackup(PathBuf),
    /// A line that does not fit the format; `reason` never quotes the line.
    #[error("{file}, line {line}: {reason}")]
    Format {
        file: PathBuf,
        line: u64,
        reason: String,
    },
    #[error(
        "{file}: backup format {found}; this program reads formats up to {known}: restore \
         with the epicrisis version that wrote it (or newer)"
    )]
    NewerFormat {
        file: PathBuf,
        found: u32,
        known: u32,
    },
    #[error(
        "the backup is of schema version {found}; this program knows up to {known}: restore \
         with the epicrisis version that wrote it (or newer)"
    )]
    NewerSchema { found: i64, known: i64 },
    /// A section's rows do not give the manifest's SHA-256.
    #[error(
        "{file}: section {section} does not match its checksum (the file was changed or damaged)"
    )]
    Checksum { file: PathBuf, section: String },
    /// A section has another number of rows than the manifest says.
    #[error("{file}: section {section} has {found} rows, the manifest says {expected}")]
    Count {
        file: PathBuf,
        section: String,
        expected: u64,
        found: u64,
    },
    /// The file ends before its manifest.
    #[error("{0}: the file ends before its manifest: it is incomplete")]
    Incomplete(PathBuf),
    /// The target store has rows: `table` is the first one found.
    #[error("the database is not empty (table {0} has rows): restore into a new database")]
    NotEmpty(String),
    /// The backup's trail is sealed with a key this store does not have.
    #[error(
        "the backup's audit trail is sealed with the key {backup}; this store's key is {}",
        configured.as_deref().unwrap_or("none")
    )]
    KeyMismatch {
        backup: String,
        configured: Option<String>,
    },
    /// The database's columns are not the ones this program backs up.
    #[error("the database's schema is not the one this program backs up: {0}")]
    Schema(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for BackupError {
    fn from(e: sqlx::Error) -> Self {
        BackupError::Store(e.into())
    }
}

pub type BackupResult<T> = std::result::Result<T, BackupError>;

/// The newest schema version this program knows (its newest migration).
pub fn known_schema() -> i64 {
    crate::migrate::migrator(Backend::Sqlite)
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

fn io_error(file: &std::path::Path, e: &std::io::Error) -> BackupError {
    BackupError::File {
        file: file.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backed_up_schema_is_the_newest_migration() {
        // A new migration: update tables::TABLES (and the restore of older backups) and
        // then this constant; `backup_schema_faults` is checked on both databases.
        assert_eq!(BACKED_UP_SCHEMA, known_schema());
    }
}
