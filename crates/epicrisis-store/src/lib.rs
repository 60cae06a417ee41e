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

// SKELETON: the API the server is written against. Bodies are filled in by the store work.
#![allow(unused_variables)]

use serde::{Deserialize, Serialize};

/// Which database the URL named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not `sqlite:PATH`, `sqlite://PATH` or `postgres(ql)://…`.
    #[error("DATABASE_URL {0:?} is not understood: use sqlite:PATH (e.g. sqlite:epicrisis.db) or postgres://user:password@host/database")]
    BadUrl(String),
    /// Could not open or reach the database; the message says which and why (password masked).
    #[error("cannot open the database {place}: {reason}")]
    Open { place: String, reason: String },
    /// Something that the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation would break an invariant (e.g. editing after a signature).
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Generates, edits, approves and signs.
    Medico,
    /// Views and exports.
    Administrativo,
    /// Manages users and settings.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Medico => "medico",
            Role::Administrativo => "administrativo",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "medico" | "médico" => Some(Role::Medico),
            "administrativo" => Some(Role::Administrativo),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// An episode to import or replace (by `episode_id`).
#[derive(Debug, Clone)]
pub struct NewEpisode {
    pub episode_id: String,
    /// Service or unit, when known (for search).
    pub service: Option<String>,
    /// Admission and discharge dates as ISO `YYYY-MM-DD`, when known.
    pub admission_date: Option<String>,
    pub discharge_date: Option<String>,
    /// The parsed `epicrisis_domain::Episode`, serialised as JSON.
    pub episode_json: String,
    /// The document it was read from, byte for byte, and its shape ("rich", "compact",
    /// "predecessor", "fhir").
    pub source: String,
    pub source_kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EpisodeRow {
    pub episode_id: String,
    pub service: Option<String>,
    pub admission_date: Option<String>,
    pub discharge_date: Option<String>,
    pub episode_json: String,
    pub source: String,
    pub source_kind: String,
    pub imported_at: i64,
    pub updated_at: i64,
}

/// One line of the episode list.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeSummary {
    pub episode_id: String,
    pub service: Option<String>,
    pub admission_date: Option<String>,
    pub discharge_date: Option<String>,
    pub imported_at: i64,
    /// The newest version's status, if any draft exists.
    pub latest_status: Option<VersionStatus>,
}

/// A search: every field optional; `text` matches the episode id or the service
/// (case-insensitive substring); dates are inclusive ISO bounds on the discharge date.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EpisodeQuery {
    pub text: Option<String>,
    pub service: Option<String>,
    pub discharged_from: Option<String>,
    pub discharged_to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    Draft,
    Signed,
}

/// How a version came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionKind {
    /// Written by an engine.
    Generated,
    /// Saved by a person.
    Edited,
    /// The signature of the previous version's text.
    Signed,
    /// A change after a signature (linked to the signed version through `amends`).
    Amendment,
}

#[derive(Debug, Clone)]
pub struct NewVersion {
    pub episode_id: String,
    pub kind: VersionKind,
    pub text: String,
    /// The validator's report, JSON.
    pub report_json: String,
    /// Provenance and per-part origin, JSON (`null` for a hand edit).
    pub provenance_json: String,
    /// The engine that wrote it ("deterministic", "local", …) or `None` for a person.
    pub engine: Option<String>,
    pub author_id: Option<i64>,
    /// The version this one follows; must be the episode's latest (optimistic check:
    /// `Conflict` when someone saved in between).
    pub parent_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub id: i64,
    pub episode_id: String,
    /// 1, 2, 3… per episode.
    pub number: i64,
    pub kind: VersionKind,
    pub status: VersionStatus,
    pub text: String,
    pub report_json: String,
    pub provenance_json: String,
    pub engine: Option<String>,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub parent_id: Option<i64>,
    /// For an amendment: the signed version it amends.
    pub amends: Option<i64>,
    /// SHA-256 of the text (hex).
    pub content_hash: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub user_id: i64,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What happened, for the audit trail. `detail` never holds clinical text.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    /// "view", "generate", "edit", "approve", "amend", "export", "import", "login",
    /// "login_failed", "logout", "user_add", "token_add", …
    pub action: String,
    pub episode_id: Option<String>,
    pub version_id: Option<i64>,
    /// Small JSON object (format of an export, engine, counts…).
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub action: String,
    pub episode_id: Option<String>,
    pub version_id: Option<i64>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of checking the audit chain.
#[derive(Debug, Clone, Serialize)]
pub struct AuditCheck {
    pub rows: i64,
    /// Empty when the chain is intact; otherwise each problem found, naming the row id
    /// and whether it was changed, deleted or the chain's end was cut.
    pub problems: Vec<String>,
}

/// The open store; cheap to clone (a pool).
#[derive(Clone)]
pub struct Store {}

impl Store {
    /// Opens (creating the SQLite file and its folder when missing) and migrates.
    pub async fn open(url: &str) -> Result<Store> {
        todo!()
    }
    pub fn backend(&self) -> Backend {
        todo!()
    }

    // --- episodes
    /// Inserts or replaces an episode (its versions are kept).
    pub async fn put_episode(&self, e: &NewEpisode) -> Result<EpisodeRow> {
        todo!()
    }
    pub async fn episode(&self, episode_id: &str) -> Result<Option<EpisodeRow>> {
        todo!()
    }
    /// Newest discharge first.
    pub async fn list_episodes(&self, q: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> {
        todo!()
    }

    // --- versions
    /// Appends a version in one transaction. `Conflict` when `parent_id` is not the
    /// latest version, when the latest is signed and `kind` is not `Amendment`, or when an
    /// amendment does not follow a signed version.
    pub async fn add_version(&self, v: &NewVersion) -> Result<VersionRow> {
        todo!()
    }
    /// Signs: appends a `Signed` version with the text of `version_id`, which must be the
    /// latest and not already signed.
    pub async fn sign(&self, version_id: i64, user_id: i64) -> Result<VersionRow> {
        todo!()
    }
    pub async fn version(&self, id: i64) -> Result<Option<VersionRow>> {
        todo!()
    }
    pub async fn latest_version(&self, episode_id: &str) -> Result<Option<VersionRow>> {
        todo!()
    }
    /// Oldest first.
    pub async fn versions(&self, episode_id: &str) -> Result<Vec<VersionRow>> {
        todo!()
    }

    // --- users
    /// `Conflict` when the user name exists.
    pub async fn add_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<User> {
        todo!()
    }
    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        todo!()
    }
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        todo!()
    }
    pub async fn users(&self) -> Result<Vec<User>> {
        todo!()
    }
    /// `NotFound` for an unknown user.
    pub async fn set_password(&self, username: &str, password_hash: &str) -> Result<()> {
        todo!()
    }
    /// Disabling also ends the user's sessions and revokes their API tokens.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        todo!()
    }

    // --- sessions and tokens (only hashes of the secrets are stored)
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> Result<()> {
        todo!()
    }
    /// The unexpired session and its (enabled) user.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(Session, User)>> {
        todo!()
    }
    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        todo!()
    }
    pub async fn add_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> Result<i64> {
        todo!()
    }
    /// The enabled user owning an unrevoked token.
    pub async fn api_token_user(&self, token_hash: &str) -> Result<Option<User>> {
        todo!()
    }

    // --- audit
    /// Appends a row (serialised against concurrent appends) and returns it.
    pub async fn audit(&self, e: &AuditEntry) -> Result<AuditRow> {
        todo!()
    }
    /// Newest first; only the episode's rows when `episode_id` is given.
    pub async fn audit_trail(&self, episode_id: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        todo!()
    }
    /// Recomputes the chain from the first row.
    pub async fn verify_audit(&self) -> Result<AuditCheck> {
        todo!()
    }
}
