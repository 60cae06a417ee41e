//! Episodes: the parsed episode (JSON) and the document it was read from, replaced by
//! `episode_id` on every import; each distinct JSON is also kept as a revision
//! ([`revisions`](crate::revisions)).

use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, StoreError, now_ms, revisions, sha256_hex};

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
    /// The treating physician as the data names them (`None` when it names none).
    pub physician: Option<String>,
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

impl Store {
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
             diagnosis, search_text, physician) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12) \
             ON CONFLICT (episode_id) DO UPDATE SET service = excluded.service, \
             patient_name = excluded.patient_name, diagnosis = excluded.diagnosis, \
             physician = excluded.physician, \
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
        .bind(e.physician.as_deref().unwrap_or(""))
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

    /// The number of the episode's newest data revision alone (a cheap check of whether
    /// a draft was written from the current data), `None` when there is no such episode.
    pub async fn current_revision(&self, episode_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT revision FROM episodes WHERE episode_id = $1")
            .bind(episode_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("revision")?)).transpose()
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
}
