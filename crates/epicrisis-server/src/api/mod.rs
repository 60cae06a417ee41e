//! The JSON API: the predecessor's paths (its frontend and scripts keep working) and our
//! versioned `/api/v1`. Bodies are parsed into typed requests ([`body::JsonBody`]) before
//! any work and answers are typed ([`types`]), so the OpenAPI document
//! (`/api/v1/openapi.json`, [`crate::openapi`]) is generated from the same types the
//! handlers use. Every route but `/api/health` needs a session or an API token; every
//! read or change of a patient's episode is written to the audit trail.
//!
//! Modules: [`legacy`] (the predecessor's paths), [`episodes`], [`versions`] (save,
//! read, sign), [`search`] (the archive), [`trail`] (the audit trail), [`users`], and
//! [`documents`] (rendering for every export route). Drafting, exports of versions and
//! API tokens live in [`crate::drafting`], [`crate::record`] and [`crate::tokens`].

pub mod body;
pub mod documents;
pub mod episodes;
pub mod legacy;
pub mod search;
pub mod trail;
pub mod types;
pub mod users;
pub mod versions;

use crate::AppState;
use crate::auth::Principal;
use crate::cache::{Parsed, StoredEpisode, StoredMeta};
use crate::error::{ApiError, ApiResult};
use epicrisis_domain::Episode;
use epicrisis_pipeline::engine::Outcome;
use epicrisis_pipeline::{Draft, writer};
use epicrisis_store::{AuditEntry, EpisodeRow, NewEpisode, VersionRow};
use epicrisis_validate::{Finding, Kind, Report, Severity};
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;

pub use documents::{file_response, meta, render};
pub use episodes::episode_query;
pub use search::{
    ARCHIVE_MAX_K, ARCHIVE_MAX_QUERY, ArchiveAnswer, ArchiveResult, index_archive_later,
    search_archive,
};
pub use users::{change_password, create_user, set_disabled, users};
pub use versions::{version_evidence, version_summary};

/// The routes of this module, with their OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(legacy::routes())
        .merge(episodes::routes())
        .merge(versions::routes())
        .merge(search::routes())
        .merge(trail::routes())
        .merge(users::routes())
}

/// Writes one audit row; a failure to audit fails the request (nothing unaudited).
pub async fn audit(
    state: &AppState,
    p: Option<&Principal>,
    action: &str,
    episode_id: Option<&str>,
    version_id: Option<i64>,
    detail: Value,
) -> ApiResult<()> {
    state
        .store
        .audit(&AuditEntry {
            user_id: p.map(|p| p.user.id),
            username: p.map(|p| p.user.username.clone()),
            action: action.into(),
            episode_id: episode_id.map(str::to_string),
            version_id,
            detail: detail.to_string(),
        })
        .await?;
    Ok(())
}

/// Reads an episode of any shape the readers accept.
pub fn read_episode(bytes: &[u8], name: &str) -> ApiResult<Episode> {
    Ok(epicrisis_ingest::read_episode(bytes, name)?)
}

pub(crate) fn unknown_episode(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no existe el episodio {id:?}; impórtelo primero (POST /api/v1/episodes)"
    ))
}

/// The stored episode, parsed (with its source document, which the cache does not keep).
pub async fn load_episode(state: &AppState, id: &str) -> ApiResult<(EpisodeRow, Episode)> {
    let row = state
        .store
        .episode(id)
        .await?
        .ok_or_else(|| unknown_episode(id))?;
    let ep: Episode = serde_json::from_str(&row.episode_json)
        .map_err(|e| ApiError::internal(format!("stored episode {id:?} cannot be read: {e}")))?;
    Ok((row, ep))
}

/// The stored episode, parsed and indexed for validation: from the cache while the
/// store's row is unchanged (one small query), else read, parsed, indexed and cached.
/// Runs CPU-bound work (reading an episode, indexing it, validating a text) on the
/// blocking pool, so one large request cannot stall the async threads that serve
/// everybody else.
pub async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

pub async fn parsed_episode(state: &AppState, id: &str) -> ApiResult<Arc<StoredEpisode>> {
    let stamp = state
        .store
        .episode_stamp(id)
        .await?
        .ok_or_else(|| unknown_episode(id))?;
    if let Some(hit) = state.episodes.get(id, stamp) {
        return Ok(hit);
    }
    let (row, ep) = load_episode(state, id).await?;
    let meta = StoredMeta {
        content_sha256: row.content_sha256(),
        revision: row.revision,
        episode_id: row.episode_id,
        source_kind: row.source_kind,
        imported_at: row.imported_at,
        updated_at: row.updated_at,
    };
    // Indexing takes a few milliseconds of CPU: off the async threads.
    let stored = tokio::task::spawn_blocking(move || StoredEpisode {
        meta,
        parsed: Parsed::new(ep),
    })
    .await
    .map_err(ApiError::internal)?;
    let stored = Arc::new(stored);
    state
        .episodes
        .put(id, stored.meta.updated_at, stored.clone());
    Ok(stored)
}

/// Stores an episode read from `bytes`; `id` overrides (or supplies) its id.
pub async fn store_episode(
    state: &AppState,
    bytes: &[u8],
    id: Option<String>,
) -> ApiResult<(EpisodeRow, Episode)> {
    let owned = bytes.to_vec();
    let mut ep = blocking(move || read_episode(&owned, "episode")).await??;
    if let Some(id) = id {
        ep.id = Some(id);
    }
    let episode_id = match ep.id.clone().filter(|s| !s.trim().is_empty()) {
        Some(id) => id,
        None => {
            let id = crate::listing::assigned_id(&ep)?;
            ep.warnings.push(epicrisis_domain::SourceWarning {
                kind: epicrisis_domain::WarningKind::Normalised,
                path: "id".into(),
                message: format!(
                    "the record has no episode number (id_atencion, episodeId or Encounter.id); \
                     it was given {id:?}, derived from its contents"
                ),
                message_es: format!(
                    "El registro no trae número de episodio (id_atencion); se le asignó «{id}» \
                     a partir de su contenido. Importar el mismo archivo otra vez abre este \
                     episodio; para que un archivo corregido lo actualice, agregue id_atencion."
                ),
            });
            ep.id = Some(id.clone());
            id
        }
    };
    if episode_id.len() > 128 || episode_id.contains(['/', '?', '#']) {
        return Err(ApiError::bad_request(
            "el identificador del episodio debe tener hasta 128 caracteres, sin / ? #; corríjalo en el archivo o indíquelo con ?id=…",
        ));
    }
    let row = state
        .store
        .put_episode(&NewEpisode {
            episode_id,
            service: ep.service.clone(),
            admission_date: ep.admission_date.map(|d| d.to_string()),
            discharge_date: ep.discharge_date.map(|d| d.to_string()),
            episode_json: serde_json::to_string(&ep).map_err(ApiError::internal)?,
            source: String::from_utf8_lossy(bytes).into_owned(),
            source_kind: ep.shape.as_str().to_string(),
            patient_name: ep.patient.name.clone(),
            diagnosis: crate::listing::main_diagnosis(&ep),
            physician: ep.physician.clone().filter(|p| !p.trim().is_empty()),
            search_text: Some(crate::listing::search_text(
                &ep.id.clone().unwrap_or_default(),
                &ep,
            )),
        })
        .await?;
    // The stamp moved on anyway; forgetting the old copy frees its memory now.
    state.episodes.invalidate(&row.episode_id);
    Ok((row, ep))
}

pub(crate) fn report_of(v: &VersionRow) -> Report {
    serde_json::from_str(&v.report_json).unwrap_or_default()
}

/// The draft structure of a version (its parts), for documents. `ep`: the episode data
/// the version was written from (`record::snapshot_episode`).
pub(crate) fn draft_of(v: &VersionRow, ep: &Episode, layout: epicrisis_pipeline::Layout) -> Draft {
    let stored: Option<Draft> = serde_json::from_str::<Value>(&v.provenance_json)
        .ok()
        .and_then(|p| p.get("draft").cloned())
        .and_then(|d| serde_json::from_value(d).ok());
    let template = stored.unwrap_or_else(|| writer::write(ep, layout));
    template.from_edited_text(&v.text)
}

/// What is saved with a generated version: the parts (with their origin) and the
/// provenance, attempts and timings.
pub(crate) fn provenance_json(o: &Outcome) -> String {
    json!({
        "draft": o.draft,
        "provenance": o.provenance,
        "external": o.external,
        "attempts": o.attempts,
        "narrative": o.narrative,
        "timings": o.timings,
        "generateMs": o.generate_ms,
        "evidence": o.evidence,
    })
    .to_string()
}

pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A problem that costs a convenience, not a request: a warning event (never patient
/// text: the store's and the model's errors name files, settings and shapes), in the
/// span of the request or job it happened in.
pub(crate) fn warn(what: &str, e: &dyn std::fmt::Display) {
    tracing::warn!("aviso: {what}: {e}");
}

/// A stored version, or 404.
pub(crate) async fn load_version(state: &AppState, id: i64) -> ApiResult<VersionRow> {
    state
        .store
        .version(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no existe la versión {id}")))
}

/// Used by the web pages: a version's findings with the kind of highlight.
pub fn finding_class(f: &Finding) -> &'static str {
    match (f.severity, f.kind) {
        (Severity::Error, _) => "error",
        (_, Kind::Omission) => "omission",
        _ => "warning",
    }
}
