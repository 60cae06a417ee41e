//! The episode list: a search over the columns kept for it (id, service, patient,
//! main diagnosis, treating physician, dates) with each episode's latest and signed versions, so that a
//! page can say «Firmada (v2) · enmienda en borrador» without reading any version.

use crate::{Result, Store, StoreError, VersionStatus, arg, like_escape, parse_status};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// One line of the episode list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeSummary {
    pub episode_id: String,
    pub service: Option<String>,
    pub admission_date: Option<String>,
    pub discharge_date: Option<String>,
    pub imported_at: i64,
    /// The patient's name and the main diagnosis (absent for an episode imported before
    /// they were kept, until the server fills them at its next start).
    pub patient_name: Option<String>,
    pub diagnosis: Option<String>,
    /// The treating physician as the data names them.
    pub physician: Option<String>,
    /// The newest version's status, if any draft exists.
    pub latest_status: Option<VersionStatus>,
    /// The newest version's number.
    pub latest_number: Option<i64>,
    /// The newest signed version's number, if one was signed: with a later draft, that
    /// draft is an amendment and the signed version is still the valid document.
    pub signed_number: Option<i64>,
}

/// A search: every field optional; `text` matches the episode id or the service
/// (case-insensitive substring), or any of `terms` the episode's search text (its id,
/// service, patient and diagnoses folded by the caller, lower case without accents);
/// dates are inclusive ISO bounds on the discharge date.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EpisodeQuery {
    pub text: Option<String>,
    /// Folded alternatives of `text` («iamsest» and «infarto agudo al miocardio»).
    #[serde(default)]
    pub terms: Vec<String>,
    pub service: Option<String>,
    pub discharged_from: Option<String>,
    pub discharged_to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// What the episode list shows and searches of one episode, copied from its data.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListColumns<'a> {
    pub patient_name: Option<&'a str>,
    pub diagnosis: Option<&'a str>,
    pub physician: Option<&'a str>,
    /// Folded by the caller (lower case, no accents).
    pub search_text: &'a str,
}

/// An episode whose list columns are still empty: its id and its episode JSON.
#[derive(Debug, Clone)]
pub struct Unlisted {
    pub episode_id: String,
    pub episode_json: String,
}

impl Store {
    /// Newest discharge first (episodes without a discharge date last), then by id.
    /// `limit` defaults to 100 and is at most 1000. `service` matches the whole service
    /// name, ignoring case.
    pub async fn list_episodes(&self, q: &EpisodeQuery) -> Result<Vec<EpisodeSummary>> {
        let mut sql = String::from(
            "SELECT e.episode_id, e.service, e.admission_date, e.discharge_date, e.imported_at, \
             e.patient_name, e.diagnosis, e.physician, \
             (SELECT v.status FROM versions v WHERE v.episode_id = e.episode_id \
              ORDER BY v.number DESC LIMIT 1) AS latest_status, \
             (SELECT MAX(v.number) FROM versions v WHERE v.episode_id = e.episode_id) \
              AS latest_number, \
             (SELECT MAX(v.number) FROM versions v WHERE v.episode_id = e.episode_id \
              AND v.status = 'signed') AS signed_number \
             FROM episodes e WHERE 1 = 1",
        );
        let mut args: Vec<String> = Vec::new();
        if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let p = arg(&mut args, format!("%{}%", like_escape(text)));
            let mut any = vec![
                format!("LOWER(e.episode_id) LIKE LOWER({p}) ESCAPE '\\'"),
                format!("LOWER(e.service) LIKE LOWER({p}) ESCAPE '\\'"),
            ];
            for t in q.terms.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                let p = arg(&mut args, format!("%{}%", like_escape(t)));
                any.push(format!("e.search_text LIKE {p} ESCAPE '\\'"));
            }
            sql += &format!(" AND ({})", any.join(" OR "));
        }
        if let Some(service) = q
            .service
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let p = arg(&mut args, service.to_string());
            sql += &format!(" AND LOWER(e.service) = LOWER({p})");
        }
        if let Some(from) = q.discharged_from.as_deref().filter(|t| !t.is_empty()) {
            let p = arg(&mut args, from.to_string());
            sql += &format!(" AND e.discharge_date >= {p}");
        }
        if let Some(to) = q.discharged_to.as_deref().filter(|t| !t.is_empty()) {
            let p = arg(&mut args, to.to_string());
            sql += &format!(" AND e.discharge_date <= {p}");
        }
        let limit = q.limit.unwrap_or(100).clamp(0, 1000);
        let offset = q.offset.unwrap_or(0).max(0);
        sql += &format!(
            " ORDER BY (e.discharge_date IS NULL), e.discharge_date DESC, e.episode_id \
             LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let mut query = sqlx::query(&sql);
        for a in &args {
            query = query.bind(a.as_str());
        }
        let rows = query.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let status: Option<String> = r.try_get("latest_status")?;
                Ok(EpisodeSummary {
                    episode_id: r.try_get("episode_id")?,
                    service: r.try_get("service")?,
                    admission_date: r.try_get("admission_date")?,
                    discharge_date: r.try_get("discharge_date")?,
                    imported_at: r.try_get("imported_at")?,
                    patient_name: r.try_get("patient_name")?,
                    diagnosis: r.try_get("diagnosis")?,
                    physician: r
                        .try_get::<Option<String>, _>("physician")?
                        .filter(|p| !p.is_empty()),
                    latest_status: status.as_deref().map(parse_status).transpose()?,
                    latest_number: r.try_get("latest_number")?,
                    signed_number: r.try_get("signed_number")?,
                })
            })
            .collect()
    }

    /// Up to `limit` episodes whose list columns were never written (imported before
    /// they existed, or restored from a backup of that time), for the caller to fill with
    /// [`Store::set_list_columns`].
    pub async fn unlisted_episodes(&self, limit: i64) -> Result<Vec<Unlisted>> {
        let rows = sqlx::query(
            "SELECT episode_id, episode_json FROM episodes \
             WHERE search_text IS NULL OR physician IS NULL ORDER BY episode_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Unlisted {
                    episode_id: r.try_get("episode_id")?,
                    episode_json: r.try_get("episode_json")?,
                })
            })
            .collect()
    }

    /// Writes an episode's list columns (`search_text` folded by the caller; an empty
    /// one, and an absent physician, still mark the row as done for
    /// [`Store::unlisted_episodes`]).
    pub async fn set_list_columns(&self, episode_id: &str, c: &ListColumns<'_>) -> Result<()> {
        let done = sqlx::query(
            "UPDATE episodes SET patient_name = $1, diagnosis = $2, search_text = $3, \
             physician = $4 WHERE episode_id = $5",
        )
        .bind(c.patient_name)
        .bind(c.diagnosis)
        .bind(c.search_text)
        .bind(c.physician.unwrap_or(""))
        .bind(episode_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("episode {episode_id}")));
        }
        Ok(())
    }
}
