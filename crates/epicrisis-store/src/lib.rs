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

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::{Any, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Transaction};
use sqlx::{Connection, Row};

pub mod listing;
pub mod revisions;
pub mod tokens;
pub mod vectors;

pub use listing::{EpisodeQuery, EpisodeSummary};
pub use revisions::{
    EpisodeRevision, HASH_SCHEME_RECORD, HASH_SCHEME_TEXT, RevisionInfo, VersionCheck,
};
pub use tokens::{ApiToken, TOKEN_DAYS};
pub use vectors::{ArchiveHit, PassageVector};

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
    #[error(
        "DATABASE_URL {0:?} is not understood: use sqlite:PATH (e.g. sqlite:epicrisis.db) or postgres://user:password@host/database"
    )]
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
    /// The arguments cannot be stored or compared as given (e.g. an empty or non-finite
    /// vector, or one whose dimension differs from the model's vectors already stored).
    #[error("{0}")]
    Invalid(String),
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
    /// The role as a person reads it: «médico», «administrativo», «administrador».
    pub fn label_es(self) -> &'static str {
        match self {
            Role::Medico => "médico",
            Role::Administrativo => "administrativo",
            Role::Admin => "administrador",
        }
    }

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
    /// The patient's name and the main diagnosis, for the episode list and its search
    /// ([`listing`]).
    pub patient_name: Option<String>,
    pub diagnosis: Option<String>,
    /// What the list's search matches, folded by the caller ([`listing`]).
    pub search_text: Option<String>,
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
    /// The newest revision of the episode's data (1, 2, 3…; see [`revisions`]):
    /// `episode_json` is that revision's.
    pub revision: i64,
}

impl EpisodeRow {
    /// SHA-256 (hex) of `episode_json`: what passage vectors are cut from, and what
    /// [`Store::put_passage_vectors`] wants to be told (see [`vectors`]).
    pub fn content_sha256(&self) -> String {
        sha256_hex(self.episode_json.as_bytes())
    }
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
    /// The revision of the episode's data the text was written from (the one the engine
    /// read, or the one the edit was validated against); `None`: the episode's current
    /// revision. `NotFound` when the episode has no such revision.
    pub episode_revision: Option<i64>,
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
    /// SHA-256 (hex) under `hash_scheme`: of the text alone (scheme 1, versions saved
    /// before the signed-record migration), or of the canonical record of text, data
    /// revision and metadata (scheme 2; see [`revisions`]).
    pub content_hash: String,
    /// [`HASH_SCHEME_TEXT`] or [`HASH_SCHEME_RECORD`].
    pub hash_scheme: i64,
    /// The revision of the episode's data this version was written from; its documents
    /// are rendered from it ([`Store::version_snapshot`]).
    pub episode_revision: i64,
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
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL with the `vector` extension: archive searches run in the database
    /// (see [`vectors`]).
    pgvector: bool,
}

impl Store {
    /// Opens (creating the SQLite file and its folder when missing) and migrates.
    pub async fn open(url: &str) -> Result<Store> {
        install_drivers();
        let target = parse_url(url)?;
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let connect_url = match &target {
            Target::Postgres { url } => {
                options = options.max_connections(10);
                url.clone()
            }
            Target::Sqlite { path: None, .. } => {
                // One shared in-memory database: keep a connection so that it lives on.
                options = options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)));
                "sqlite::memory:".to_string()
            }
            Target::Sqlite {
                path: Some(path),
                params,
            } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                        place: path.display().to_string(),
                        reason: format!(
                            "cannot create the folder {}: {e}; create it or choose a writable place",
                            dir.display()
                        ),
                    })?;
                }
                options = options
                    .max_connections(8)
                    .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)));
                sqlite_url(path, params)
            }
        };
        let place = target.place();
        let failed = |e: sqlx::Error| StoreError::Open {
            place: place.clone(),
            reason: open_reason(&target, &e),
        };
        // One plain connection first: the pool would retry an unreachable server until its
        // acquire timeout, and the reason is better reported at once.
        if !matches!(target, Target::Sqlite { path: None, .. }) {
            let probe = <AnyConnection as Connection>::connect(&connect_url)
                .await
                .map_err(failed)?;
            let _ = probe.close().await;
        }
        let pool = options.connect(&connect_url).await.map_err(failed)?;
        let mut store = Store {
            pool,
            backend: match target {
                Target::Postgres { .. } => Backend::Postgres,
                Target::Sqlite { .. } => Backend::Sqlite,
            },
            pgvector: false,
        };
        migrate::run(&store.pool, store.backend)
            .await
            .map_err(|e| match e {
                StoreError::Db(reason) => StoreError::Open {
                    place: place.clone(),
                    reason: format!("migrating the schema failed: {reason}"),
                },
                StoreError::Conflict(reason) => StoreError::Open {
                    place: place.clone(),
                    reason,
                },
                other => other,
            })?;
        if store.backend == Backend::Postgres {
            store.pgvector = store
                .enable_pgvector()
                .await
                .map_err(|e| StoreError::Open {
                    place: place.clone(),
                    reason: format!("setting up the pgvector column failed: {e}"),
                })?;
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction: on SQLite `BEGIN IMMEDIATE` takes the write lock at once (so
    /// that two writers queue on the busy timeout instead of failing on upgrade).
    async fn write_tx(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    // --- episodes
    /// Inserts or replaces an episode (its versions are kept); `updated_at` always moves
    /// forward, so a re-import is seen as a change even within one millisecond. A JSON
    /// other than the newest revision's becomes the next revision ([`revisions`]); the
    /// same JSON again adds none.
    pub async fn put_episode(&self, e: &NewEpisode) -> Result<EpisodeRow> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO episodes (episode_id, service, admission_date, discharge_date, \
             episode_json, source, source_kind, imported_at, updated_at, patient_name, \
             diagnosis, search_text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11) \
             ON CONFLICT (episode_id) DO UPDATE SET service = excluded.service, \
             patient_name = excluded.patient_name, diagnosis = excluded.diagnosis, \
             search_text = excluded.search_text, \
             admission_date = excluded.admission_date, discharge_date = excluded.discharge_date, \
             episode_json = excluded.episode_json, source = excluded.source, \
             source_kind = excluded.source_kind, \
             updated_at = CASE WHEN excluded.updated_at > episodes.updated_at \
             THEN excluded.updated_at ELSE episodes.updated_at + 1 END",
        )
        .bind(&e.episode_id)
        .bind(&e.service)
        .bind(&e.admission_date)
        .bind(&e.discharge_date)
        .bind(&e.episode_json)
        .bind(&e.source)
        .bind(&e.source_kind)
        .bind(now)
        .bind(&e.patient_name)
        .bind(&e.diagnosis)
        .bind(&e.search_text)
        .execute(&mut *tx)
        .await?;
        revisions::record_import(&mut tx, &e.episode_id, &e.episode_json, &e.source_kind, now)
            .await?;
        tx.commit().await?;
        self.episode(&e.episode_id).await?.ok_or_else(|| {
            StoreError::Db(format!("episode {} vanished after saving", e.episode_id))
        })
    }

    /// The episode's `updated_at` alone (a cheap check of whether a parsed copy is
    /// still current: every re-import moves it forward, even within one millisecond).
    pub async fn episode_stamp(&self, episode_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT updated_at FROM episodes WHERE episode_id = $1")
            .bind(episode_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("updated_at")?)).transpose()
    }

    pub async fn episode(&self, episode_id: &str) -> Result<Option<EpisodeRow>> {
        let row = sqlx::query(
            "SELECT episode_id, service, admission_date, discharge_date, episode_json, source, \
             source_kind, imported_at, updated_at, revision FROM episodes WHERE episode_id = $1",
        )
        .bind(episode_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(EpisodeRow {
                episode_id: r.try_get("episode_id")?,
                service: r.try_get("service")?,
                admission_date: r.try_get("admission_date")?,
                discharge_date: r.try_get("discharge_date")?,
                episode_json: r.try_get("episode_json")?,
                source: r.try_get("source")?,
                source_kind: r.try_get("source_kind")?,
                imported_at: r.try_get("imported_at")?,
                updated_at: r.try_get("updated_at")?,
                revision: r.try_get("revision")?,
            })
        })
        .transpose()
    }

    // --- versions
    /// Appends a version in one transaction. `Conflict` when `parent_id` is not the
    /// latest version, when the latest is signed and `kind` is not `Amendment`, or when an
    /// amendment does not follow a signed version.
    pub async fn add_version(&self, v: &NewVersion) -> Result<VersionRow> {
        let mut tx = self.write_tx().await?;
        self.lock_episode(&mut tx, &v.episode_id).await?;
        let latest = latest_in(&mut tx, &v.episode_id).await?;
        let latest_id = latest.as_ref().map(|l| l.id);
        if v.parent_id != latest_id {
            return Err(StoreError::Conflict(match &latest {
                Some(l) => format!(
                    "el borrador cambió desde que lo abrió (la versión {n} es más reciente); recargue / \
                     the draft changed since you opened it (version {n} is newer); reload",
                    n = l.number
                ),
                None => "el episodio aún no tiene versiones; recargue / \
                         the episode has no version yet; reload"
                    .to_string(),
            }));
        }
        let signed_latest = latest
            .as_ref()
            .filter(|l| l.status == VersionStatus::Signed);
        if let Some(l) = signed_latest.filter(|_| v.kind != VersionKind::Amendment) {
            return Err(StoreError::Conflict(format!(
                "la versión {n} está firmada; un cambio debe ser una enmienda / \
                 version {n} is signed; a change must be an amendment",
                n = l.number
            )));
        }
        let mut amends = None;
        match v.kind {
            VersionKind::Amendment => {
                let signed = sqlx::query(
                    "SELECT id FROM versions WHERE episode_id = $1 AND status = $2 \
                     ORDER BY number DESC LIMIT 1",
                )
                .bind(&v.episode_id)
                .bind(VersionStatus::Signed.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                match signed {
                    Some(r) => amends = Some(r.try_get::<i64, _>("id")?),
                    None => {
                        return Err(StoreError::Conflict(
                            "una enmienda sigue a una versión firmada y este episodio no tiene ninguna / \
                             an amendment follows a signed version and this episode has none"
                                .to_string(),
                        ));
                    }
                }
            }
            VersionKind::Signed if latest.is_none() => {
                return Err(StoreError::Conflict(
                    "no hay nada que firmar / there is no version to sign".to_string(),
                ));
            }
            _ => {}
        }
        let number = latest.as_ref().map_or(1, |l| l.number + 1);
        let revision = revisions::resolve(&mut tx, &v.episode_id, v.episode_revision).await?;
        let id = insert_version(&mut tx, self.backend, v, number, amends, &revision).await?;
        let row = version_in(&mut tx, id).await?;
        tx.commit().await?;
        row.ok_or_else(|| StoreError::Db(format!("version {id} vanished after saving")))
    }

    /// Serialises writers of one episode's versions: `FOR UPDATE` on PostgreSQL (SQLite's
    /// `BEGIN IMMEDIATE` already holds the write lock). `NotFound` for an unknown episode.
    async fn lock_episode(
        &self,
        tx: &mut Transaction<'static, Any>,
        episode_id: &str,
    ) -> Result<()> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT episode_id FROM episodes WHERE episode_id = $1",
            Backend::Postgres => "SELECT episode_id FROM episodes WHERE episode_id = $1 FOR UPDATE",
        };
        match sqlx::query(sql)
            .bind(episode_id)
            .fetch_optional(&mut **tx)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("no episode {episode_id:?}"))),
        }
    }

    /// Signs: appends a `Signed` version with the text of `version_id`, which must be the
    /// latest and not already signed. The new version keeps the text, report, provenance,
    /// engine and episode data revision of the signed one; its author is the signer and
    /// its parent `version_id`.
    pub async fn sign(&self, version_id: i64, user_id: i64) -> Result<VersionRow> {
        let mut tx = self.write_tx().await?;
        let Some(v) = version_in(&mut tx, version_id).await? else {
            return Err(StoreError::NotFound(format!("no version {version_id}")));
        };
        self.lock_episode(&mut tx, &v.episode_id).await?;
        let latest = latest_in(&mut tx, &v.episode_id).await?;
        if let Some(l) = latest.as_ref().filter(|l| l.id != v.id) {
            return Err(StoreError::Conflict(format!(
                "solo se firma la última versión (la {n} es más reciente); recargue / \
                 only the latest version can be signed (version {n} is newer); reload",
                n = l.number
            )));
        }
        if v.status == VersionStatus::Signed {
            return Err(StoreError::Conflict(format!(
                "la versión {n} ya está firmada / version {n} is already signed",
                n = v.number
            )));
        }
        let new = NewVersion {
            episode_id: v.episode_id.clone(),
            kind: VersionKind::Signed,
            text: v.text.clone(),
            report_json: v.report_json.clone(),
            provenance_json: v.provenance_json.clone(),
            engine: v.engine.clone(),
            author_id: Some(user_id),
            parent_id: Some(v.id),
            episode_revision: Some(v.episode_revision),
        };
        let revision = revisions::resolve(&mut tx, &v.episode_id, new.episode_revision).await?;
        let id = insert_version(&mut tx, self.backend, &new, v.number + 1, None, &revision).await?;
        let row = version_in(&mut tx, id).await?;
        tx.commit().await?;
        row.ok_or_else(|| StoreError::Db(format!("version {id} vanished after saving")))
    }

    pub async fn version(&self, id: i64) -> Result<Option<VersionRow>> {
        let row = sqlx::query(&format!("{VERSION_SELECT} WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(version_row).transpose()
    }

    pub async fn latest_version(&self, episode_id: &str) -> Result<Option<VersionRow>> {
        let row = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE v.episode_id = $1 ORDER BY v.number DESC LIMIT 1"
        ))
        .bind(episode_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version_row).transpose()
    }

    /// Oldest first.
    pub async fn versions(&self, episode_id: &str) -> Result<Vec<VersionRow>> {
        let rows = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE v.episode_id = $1 ORDER BY v.number"
        ))
        .bind(episode_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_row).collect()
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
        let exists = StoreError::Conflict(format!(
            "el usuario {username:?} ya existe / the user {username:?} exists"
        ));
        let result = sqlx::query(
            "INSERT INTO users (username, display_name, role, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) RETURNING id",
        )
        .bind(username)
        .bind(display_name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await;
        let id: i64 = match result {
            Ok(r) => r.try_get("id")?,
            Err(e) if is_unique_violation(&e) => return Err(exists),
            Err(e) => return Err(e.into()),
        };
        self.user(id)
            .await?
            .ok_or_else(|| StoreError::Db(format!("user {id} vanished after saving")))
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE u.username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    /// By user name.
    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("{USER_SELECT} ORDER BY u.username"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_row).collect()
    }

    /// Sets a password, ends the user's sessions but `keep_session` (the hash of the
    /// session that asked, when a person changed their own password) and revokes their
    /// API tokens: whoever knew the old password must not keep a way in. `NotFound` for
    /// an unknown user.
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let id = user_id_in(&mut tx, username).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        end_access(&mut tx, id, keep_session).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disabling also ends the user's sessions and revokes their API tokens (enabling
    /// again does not bring them back). `NotFound` for an unknown user.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let id = user_id_in(&mut tx, username).await?;
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            end_access(&mut tx, id, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // --- sessions and tokens (only hashes of the secrets are stored)
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("the session token exists".to_string()))
            }
            Err(e) if is_foreign_key_violation(&e) => {
                Err(StoreError::NotFound(format!("no user {user_id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The unexpired session and its (enabled) user.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(&format!(
            "SELECT s.user_id AS s_user_id, s.csrf, s.created_at AS s_created_at, s.expires_at, \
             {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let session = Session {
            user_id: r.try_get("s_user_id")?,
            csrf: r.try_get("csrf")?,
            created_at: r.try_get("s_created_at")?,
            expires_at: r.try_get("expires_at")?,
        };
        Ok(Some((session, user_row(&r)?)))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // --- audit
    /// Appends a row (serialised against concurrent appends) and returns it.
    pub async fn audit(&self, e: &AuditEntry) -> Result<AuditRow> {
        // SQLite: one appender at a time in this process (BEGIN IMMEDIATE covers the others).
        let _guard = match self.backend {
            Backend::Sqlite => Some(AUDIT_LOCK.lock().await),
            Backend::Postgres => None,
        };
        let mut tx = self.write_tx().await?;
        let head_sql = match self.backend {
            Backend::Sqlite => "SELECT last_id, last_hash FROM audit_head WHERE one = 1",
            Backend::Postgres => {
                "SELECT last_id, last_hash FROM audit_head WHERE one = 1 FOR UPDATE"
            }
        };
        let head = sqlx::query(head_sql).fetch_one(&mut *tx).await?;
        let last_id: i64 = head.try_get("last_id")?;
        let prev_hash: String = head.try_get("last_hash")?;
        let mut row = AuditRow {
            id: last_id + 1,
            at: now_ms(),
            user_id: e.user_id,
            username: e.username.clone(),
            action: e.action.clone(),
            episode_id: e.episode_id.clone(),
            version_id: e.version_id,
            detail: e.detail.clone(),
            prev_hash,
            hash: String::new(),
        };
        row.hash = audit_hash(&row);
        sqlx::query(
            "INSERT INTO audit (id, at, user_id, username, action, episode_id, version_id, detail, \
             prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(row.id)
        .bind(row.at)
        .bind(row.user_id)
        .bind(&row.username)
        .bind(&row.action)
        .bind(&row.episode_id)
        .bind(row.version_id)
        .bind(&row.detail)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE one = 1")
            .bind(row.id)
            .bind(&row.hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Newest first; only the episode's rows when `episode_id` is given.
    pub async fn audit_trail(&self, episode_id: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        let limit = limit.clamp(0, 100_000);
        let rows = match episode_id {
            Some(ep) => sqlx::query(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE episode_id = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(ep)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(audit_row).collect()
    }

    /// Recomputes the chain from the first row.
    pub async fn verify_audit(&self) -> Result<AuditCheck> {
        let mut check = ChainCheck::default();
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE id > $1 ORDER BY id LIMIT 1000"
            ))
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let row = audit_row(r)?;
                after = row.id;
                check.row(&row);
            }
        }
        let head = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE one = 1")
            .fetch_optional(&self.pool)
            .await?;
        let head = match head {
            Some(h) => Some((
                h.try_get::<i64, _>("last_id")?,
                h.try_get::<String, _>("last_hash")?,
            )),
            None => None,
        };
        Ok(check.finish(head))
    }
}

static AUDIT_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// A user's id by name, inside a transaction; `NotFound` for an unknown user.
async fn user_id_in(tx: &mut Transaction<'static, Any>, username: &str) -> Result<i64> {
    let row = sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => Ok(r.try_get("id")?),
        None => Err(no_user(username)),
    }
}

/// Ends every session of a user but `keep_session` and revokes their API tokens.
async fn end_access(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
    keep_session: Option<&str>,
) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(data)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}

fn no_user(username: &str) -> StoreError {
    StoreError::NotFound(format!("no user {username:?}"))
}

/// Adds a text argument and returns its placeholder.
pub(crate) fn arg(args: &mut Vec<String>, v: String) -> String {
    args.push(v);
    format!("${}", args.len())
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

impl VersionStatus {
    fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Signed => "signed",
        }
    }
}

impl VersionKind {
    fn as_str(self) -> &'static str {
        match self {
            VersionKind::Generated => "generated",
            VersionKind::Edited => "edited",
            VersionKind::Signed => "signed",
            VersionKind::Amendment => "amendment",
        }
    }
}

pub(crate) fn parse_status(s: &str) -> Result<VersionStatus> {
    match s {
        "draft" => Ok(VersionStatus::Draft),
        "signed" => Ok(VersionStatus::Signed),
        other => Err(StoreError::Db(format!(
            "unknown version status {other:?} in the database"
        ))),
    }
}

fn parse_kind(s: &str) -> Result<VersionKind> {
    match s {
        "generated" => Ok(VersionKind::Generated),
        "edited" => Ok(VersionKind::Edited),
        "signed" => Ok(VersionKind::Signed),
        "amendment" => Ok(VersionKind::Amendment),
        other => Err(StoreError::Db(format!(
            "unknown version kind {other:?} in the database"
        ))),
    }
}

const VERSION_SELECT: &str = "SELECT v.id, v.episode_id, v.number, v.kind, v.status, v.text, \
     v.report_json, v.provenance_json, v.engine, v.author_id, u.display_name AS author_name, \
     v.parent_id, v.amends, v.content_hash, v.hash_scheme, v.episode_revision, v.created_at \
     FROM versions v LEFT JOIN users u ON u.id = v.author_id";

fn version_row(r: &AnyRow) -> Result<VersionRow> {
    Ok(VersionRow {
        id: r.try_get("id")?,
        episode_id: r.try_get("episode_id")?,
        number: r.try_get("number")?,
        kind: parse_kind(&r.try_get::<String, _>("kind")?)?,
        status: parse_status(&r.try_get::<String, _>("status")?)?,
        text: r.try_get("text")?,
        report_json: r.try_get("report_json")?,
        provenance_json: r.try_get("provenance_json")?,
        engine: r.try_get("engine")?,
        author_id: r.try_get("author_id")?,
        author_name: r.try_get("author_name")?,
        parent_id: r.try_get("parent_id")?,
        amends: r.try_get("amends")?,
        content_hash: r.try_get("content_hash")?,
        hash_scheme: r.try_get("hash_scheme")?,
        episode_revision: r.try_get("episode_revision")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn version_in(tx: &mut Transaction<'static, Any>, id: i64) -> Result<Option<VersionRow>> {
    let row = sqlx::query(&format!("{VERSION_SELECT} WHERE v.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(version_row).transpose()
}

async fn latest_in(
    tx: &mut Transaction<'static, Any>,
    episode_id: &str,
) -> Result<Option<VersionRow>> {
    let row = sqlx::query(&format!(
        "{VERSION_SELECT} WHERE v.episode_id = $1 ORDER BY v.number DESC LIMIT 1"
    ))
    .bind(episode_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(version_row).transpose()
}

/// The only statement that writes to `versions`: an INSERT, with the id taken first and
/// the scheme-2 hash of the record (`revision`: the data revision and its SHA-256, from
/// [`revisions::resolve`]). A second writer that got the same number (it cannot, under
/// the locks above, but the unique index holds anyway) gets `Conflict`.
async fn insert_version(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    v: &NewVersion,
    number: i64,
    amends: Option<i64>,
    revision: &(i64, String),
) -> Result<i64> {
    let status = if v.kind == VersionKind::Signed {
        VersionStatus::Signed
    } else {
        VersionStatus::Draft
    };
    let id = revisions::next_version_id(tx, backend).await?;
    let created_at = now_ms();
    let hash = revisions::record_hash(&revisions::RecordFields {
        version_id: id,
        episode_id: &v.episode_id,
        number,
        kind: v.kind,
        parent_id: v.parent_id,
        amends,
        author_id: v.author_id,
        engine: v.engine.as_deref(),
        created_at,
        episode_revision: revision.0,
        episode_sha256: &revision.1,
        provenance_json: &v.provenance_json,
        text: &v.text,
    });
    let result = sqlx::query(
        "INSERT INTO versions (id, episode_id, number, kind, status, text, report_json, \
         provenance_json, engine, author_id, parent_id, amends, content_hash, hash_scheme, \
         episode_revision, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         RETURNING id",
    )
    .bind(id)
    .bind(&v.episode_id)
    .bind(number)
    .bind(v.kind.as_str())
    .bind(status.as_str())
    .bind(&v.text)
    .bind(&v.report_json)
    .bind(&v.provenance_json)
    .bind(&v.engine)
    .bind(v.author_id)
    .bind(v.parent_id)
    .bind(amends)
    .bind(&hash)
    .bind(HASH_SCHEME_RECORD)
    .bind(revision.0)
    .bind(created_at)
    .fetch_one(&mut **tx)
    .await;
    match result {
        Ok(r) => Ok(r.try_get("id")?),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "el borrador cambió mientras se guardaba (versión {number}); recargue / \
             the draft changed while saving (version {number}); reload"
        ))),
        Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound(
            "the author, the episode or the parent version does not exist".to_string(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(crate) const USER_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.role, u.password_hash, u.disabled, u.created_at";
const USER_SELECT: &str = "SELECT u.id, u.username, u.display_name, u.role, u.password_hash, \
     u.disabled, u.created_at FROM users u";

pub(crate) fn user_row(r: &AnyRow) -> Result<User> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Db(format!("unknown role {role:?} in the database")))?,
        password_hash: r.try_get("password_hash")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

const AUDIT_COLUMNS: &str =
    "id, at, user_id, username, action, episode_id, version_id, detail, prev_hash, hash";

fn audit_row(r: &AnyRow) -> Result<AuditRow> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        user_id: r.try_get("user_id")?,
        username: r.try_get("username")?,
        action: r.try_get("action")?,
        episode_id: r.try_get("episode_id")?,
        version_id: r.try_get("version_id")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// The previous hash of the first audit row.
const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) of the canonical form of a row: the JSON array
/// `[id, at, user_id, username, action, episode_id, version_id, detail, prev_hash]`.
fn audit_hash(r: &AuditRow) -> String {
    let canonical = serde_json::json!([
        r.id,
        r.at,
        r.user_id,
        r.username,
        r.action,
        r.episode_id,
        r.version_id,
        r.detail,
        r.prev_hash
    ]);
    sha256_hex(canonical.to_string().as_bytes())
}

/// Walks the audit rows in id order.
#[derive(Default)]
struct ChainCheck {
    rows: i64,
    last: Option<(i64, String)>,
    problems: Vec<String>,
}

impl ChainCheck {
    fn row(&mut self, row: &AuditRow) {
        self.rows += 1;
        let (expected_id, expected_prev) = match &self.last {
            Some((id, hash)) => (id + 1, hash.as_str()),
            None => (1, GENESIS_HASH),
        };
        let gap = row.id != expected_id;
        if gap {
            let what = if row.id == expected_id + 1 {
                format!("row {expected_id} was deleted")
            } else {
                format!("rows {expected_id} to {} were deleted", row.id - 1)
            };
            self.problems.push(what);
        }
        if audit_hash(row) != row.hash {
            self.problems.push(format!(
                "row {} was changed (its hash does not match its contents)",
                row.id
            ));
        }
        if !gap && row.prev_hash != expected_prev {
            self.problems.push(format!(
                "row {} does not follow row {} (the previous row was changed or replaced)",
                row.id,
                row.id - 1
            ));
        }
        self.last = Some((row.id, row.hash.clone()));
    }

    fn finish(mut self, head: Option<(i64, String)>) -> AuditCheck {
        let (last_id, last_hash) = self.last.clone().unwrap_or((0, GENESIS_HASH.to_string()));
        match head {
            None => self
                .problems
                .push("the audit head row is missing".to_string()),
            Some((head_id, head_hash)) => {
                if head_id > last_id {
                    self.problems.push(if head_id == last_id + 1 {
                        format!("the chain's end was cut: row {head_id} was deleted")
                    } else {
                        format!(
                            "the chain's end was cut: rows {} to {head_id} were deleted",
                            last_id + 1
                        )
                    });
                } else if head_id < last_id {
                    self.problems.push(format!(
                        "rows {} to {last_id} were added outside the store (the head says {head_id})",
                        head_id + 1
                    ));
                } else if head_hash != last_hash {
                    self.problems.push(format!(
                        "row {last_id} does not match the recorded end of the chain (changed or replaced)"
                    ));
                }
            }
        }
        AuditCheck {
            rows: self.rows,
            problems: self.problems,
        }
    }
}

// --- opening

enum Target {
    Sqlite {
        path: Option<PathBuf>,
        params: Option<String>,
    },
    Postgres {
        url: String,
    },
}

impl Target {
    /// Where, for messages: the file, or the PostgreSQL URL with its password masked.
    fn place(&self) -> String {
        match self {
            Target::Sqlite { path: Some(p), .. } => p.display().to_string(),
            Target::Sqlite { path: None, .. } => "sqlite::memory:".to_string(),
            Target::Postgres { url } => mask_password(url),
        }
    }
}

fn parse_url(url: &str) -> Result<Target> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres {
            url: url.to_string(),
        });
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::BadUrl(mask_password(url)))?;
    let (path, params) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string()).filter(|q| !q.is_empty())),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(StoreError::BadUrl(url.to_string()));
    }
    if path == ":memory:" {
        return Ok(Target::Sqlite {
            path: None,
            params: None,
        });
    }
    Ok(Target::Sqlite {
        path: Some(PathBuf::from(path)),
        params,
    })
}

/// The URL handed to sqlx: `sqlite:PATH?mode=rwc` (the file is created when missing),
/// with the characters that URLs give a meaning to escaped.
fn sqlite_url(path: &Path, params: &Option<String>) -> String {
    let mut s = String::from("sqlite:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => s.push_str("%25"),
            '?' => s.push_str("%3F"),
            '#' => s.push_str("%23"),
            ' ' => s.push_str("%20"),
            c => s.push(c),
        }
    }
    match params {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => s + "?" + q,
        Some(q) => s + "?mode=rwc&" + q,
        None => s + "?mode=rwc",
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

fn open_reason(target: &Target, e: &sqlx::Error) -> String {
    match target {
        Target::Sqlite { path: Some(p), .. } => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| ".".to_string(), |d| d.display().to_string());
            format!(
                "{e}; check that the folder {dir} exists and is writable by this user, that the \
                 file is a SQLite database and that no other program holds it locked"
            )
        }
        Target::Sqlite { path: None, .. } => e.to_string(),
        Target::Postgres { .. } => format!(
            "{e}; check that the server is running and reachable, and the user, password and \
             database name in DATABASE_URL"
        ),
    }
}

async fn sqlite_pragmas(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    // busy_timeout first, so that switching to WAL waits for a lock held by another process.
    sqlx::query("PRAGMA busy_timeout = 5000")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

mod migrate {
    //! Migrations built into the binary: per backend, numbered, applied in order in one
    //! transaction and recorded in `schema_migrations`.
    use super::*;

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
                sqlx::query(
                    "SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7305813229)) AS l",
                )
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password() {
        assert_eq!(
            mask_password("postgres://app:s3cr:et@db.example:5432/epi?sslmode=require"),
            "postgres://app:***@db.example:5432/epi?sslmode=require"
        );
        assert_eq!(
            mask_password("postgres://app@db/epi"),
            "postgres://app@db/epi"
        );
        assert_eq!(mask_password("postgresql://h/epi"), "postgresql://h/epi");
    }

    #[test]
    fn parses_urls() {
        assert!(matches!(
            parse_url("sqlite::memory:"),
            Ok(Target::Sqlite { path: None, .. })
        ));
        match parse_url("sqlite:data/epi.db").unwrap() {
            Target::Sqlite {
                path: Some(p),
                params: None,
            } => assert_eq!(p, Path::new("data/epi.db")),
            _ => panic!("not a file"),
        }
        match parse_url("sqlite:///var/lib/epi.db?cache=shared").unwrap() {
            Target::Sqlite {
                path: Some(p),
                params,
            } => {
                assert_eq!(p, Path::new("/var/lib/epi.db"));
                assert_eq!(params.as_deref(), Some("cache=shared"));
            }
            _ => panic!("not a file"),
        }
        assert!(matches!(
            parse_url("postgresql://u@h/d"),
            Ok(Target::Postgres { .. })
        ));
        assert!(matches!(
            parse_url("mysql://u@h/d"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(parse_url("sqlite:"), Err(StoreError::BadUrl(_))));
        assert!(matches!(parse_url("epi.db"), Err(StoreError::BadUrl(_))));
    }

    #[test]
    fn sqlite_urls_create_the_file_and_escape() {
        assert_eq!(
            sqlite_url(Path::new("a b/x%y.db"), &None),
            "sqlite:a%20b/x%25y.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url(Path::new("/x.db"), &Some("mode=ro".into())),
            "sqlite:/x.db?mode=ro"
        );
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn migration_files_split_into_statements() {
        for m in migrate::MIGRATIONS {
            let s = migrate::statements(m.sqlite);
            let p = migrate::statements(m.postgres);
            assert_eq!(
                s.len(),
                p.len(),
                "migration {} differs in length",
                m.version
            );
            assert!(s.iter().all(|st| !st.contains("--")));
        }
        assert_eq!(
            migrate::statements("-- a; b\nCREATE x;\n\nCREATE y;"),
            ["CREATE x", "CREATE y"]
        );
    }

    fn chained(n: i64) -> Vec<AuditRow> {
        let mut rows: Vec<AuditRow> = Vec::new();
        for id in 1..=n {
            let mut r = AuditRow {
                id,
                at: 1000 + id,
                user_id: Some(1),
                username: Some("ana".into()),
                action: "view".into(),
                episode_id: Some("E1".into()),
                version_id: None,
                detail: "{}".into(),
                prev_hash: rows
                    .last()
                    .map_or(GENESIS_HASH.to_string(), |p| p.hash.clone()),
                hash: String::new(),
            };
            r.hash = audit_hash(&r);
            rows.push(r);
        }
        rows
    }

    fn check(rows: &[AuditRow], head: Option<(i64, String)>) -> AuditCheck {
        let mut c = ChainCheck::default();
        rows.iter().for_each(|r| c.row(r));
        c.finish(head)
    }

    #[test]
    fn the_chain_finds_changes_deletions_and_a_cut_end() {
        let rows = chained(5);
        let head = Some((5, rows[4].hash.clone()));
        assert!(check(&rows, head.clone()).problems.is_empty());

        let mut changed = rows.clone();
        changed[2].detail = "{\"x\":1}".into();
        let p = check(&changed, head.clone()).problems;
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("row 3 was changed"), "{p:?}");

        let mut deleted = rows.clone();
        deleted.remove(1);
        let p = check(&deleted, head.clone()).problems;
        assert!(p.iter().any(|m| m.contains("row 2 was deleted")), "{p:?}");

        let p = check(&rows[..4], head.clone()).problems;
        assert!(
            p.iter()
                .any(|m| m.contains("end was cut") && m.contains("row 5")),
            "{p:?}"
        );

        let p = check(&rows[1..], head).problems;
        assert!(p.iter().any(|m| m.contains("row 1 was deleted")), "{p:?}");

        assert!(
            check(&[], Some((0, GENESIS_HASH.into())))
                .problems
                .is_empty()
        );
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
