//! Versions of an episode's discharge summary: drafts, signatures and amendments, only
//! ever appended (see the crate documentation for the invariants, and
//! [`revisions`](crate::revisions) for the hash each version carries).

use serde::{Deserialize, Serialize};
use sqlx::any::{Any, AnyRow};
use sqlx::{Row, Transaction};

use crate::{
    Backend, HASH_SCHEME_RECORD, Result, Store, StoreError, is_foreign_key_violation,
    is_unique_violation, now_ms, revisions,
};

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

impl Store {
    /// Appends a version in one transaction. `Conflict` when `parent_id` is not the
    /// latest version, when the latest is signed and `kind` is not `Amendment`, or when an
    /// amendment does not follow a signed version.
    pub async fn add_version(&self, v: &NewVersion) -> Result<VersionRow> {
        let mut tx = self.write_tx().await?;
        let row = self.add_version_in(&mut tx, v, None).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// [`Store::add_version`] inside `tx`; `job_id`: the draft job that wrote it (unique:
    /// see [`crate::jobs`]).
    pub(crate) async fn add_version_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        v: &NewVersion,
        job_id: Option<&str>,
    ) -> Result<VersionRow> {
        self.lock_episode(tx, &v.episode_id).await?;
        let latest = latest_in(tx, &v.episode_id).await?;
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
                .fetch_optional(&mut **tx)
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
        let revision = revisions::resolve(tx, &v.episode_id, v.episode_revision).await?;
        let id = insert_version(tx, self.backend, v, number, amends, &revision, job_id).await?;
        let row = version_in(tx, id).await?;
        row.ok_or_else(|| StoreError::Db(format!("version {id} vanished after saving")))
    }

    /// Serialises writers of one episode's versions: `FOR UPDATE` on PostgreSQL (SQLite's
    /// `BEGIN IMMEDIATE` already holds the write lock). `NotFound` for an unknown episode.
    pub(crate) async fn lock_episode(
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
        let id = insert_version(
            &mut tx,
            self.backend,
            &new,
            v.number + 1,
            None,
            &revision,
            None,
        )
        .await?;
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

    /// The newest version of each of these episodes that has one, by episode id: one
    /// query per 500 episodes (lists and batches, instead of one each).
    pub async fn latest_versions(
        &self,
        episode_ids: &[String],
    ) -> Result<std::collections::HashMap<String, VersionRow>> {
        let rows = self
            .rows_in(episode_ids, |list| {
                format!(
                    "{VERSION_SELECT} WHERE v.episode_id IN ({list}) AND v.number = \
                     (SELECT MAX(m.number) FROM versions m WHERE m.episode_id = v.episode_id)"
                )
            })
            .await?;
        rows.iter()
            .map(|r| version_row(r).map(|v| (v.episode_id.clone(), v)))
            .collect()
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
}

impl VersionStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Signed => "signed",
        }
    }
}

impl VersionKind {
    pub(crate) fn as_str(self) -> &'static str {
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

pub(crate) async fn latest_in(
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
    job_id: Option<&str>,
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
         episode_revision, created_at, job_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
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
    .bind(job_id)
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
