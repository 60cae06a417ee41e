//! The signed record over HTTP: a version's documents are rendered from the episode data
//! it was written from, and a version's hash can be recomputed on request.
//!
//! Every version names the revision of the episode's data it was written from
//! (`epicrisis_store::revisions`). `GET /api/v1/episodes/{id}/export?format=…&version=…`
//! and `GET /api/v1/versions/{id}/export?format=…` render the version's text with *that*
//! revision — identification block, lab table, discharge prescription with doses — never
//! with the episode's current data, so re-importing an episode with other details never
//! changes the document shown under a physician's signature. A signed document is also
//! stamped with its signature time rather than the time of the export (the FHIR Bundle's
//! `timestamp`), so exporting a signed version twice gives the same bytes.
//!
//! `GET /api/v1/versions/{id}/verify` recomputes the version's hash from its stored text,
//! data snapshot, provenance and metadata (`Store::verify_version`) and says whether it
//! matches the hash stored when it was saved, naming the version either way; any signed-in
//! role may ask (as for reading a version), and the question is audited (`verify`, with
//! the verdict only). `epicrisis versions verify` does the same from the command line.
//!
//! Pages and the version answer show evidence and findings against the same snapshot
//! when a version was written from an older revision ([`version_data`]).

use crate::AppState;
use crate::api::types::VerifyAnswer;
use crate::api::{audit, draft_of, file_response, load_version, meta, render, unknown_episode};
use crate::auth::Principal;
use crate::cache::{Parsed, StoredEpisode};
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use epicrisis_domain::Episode;
use epicrisis_export::Format;
use epicrisis_store::VersionRow;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_episode))
        .routes(routes!(export_version))
        .routes(routes!(verify_version))
}

/// The episode data a version was written from, parsed.
pub async fn snapshot_episode(state: &AppState, v: &VersionRow) -> ApiResult<Episode> {
    let revision = state.store.version_snapshot(v).await.map_err(|e| match e {
        // The version exists but its data does not: the database was damaged, not the
        // request (the message says what is missing and what to do).
        epicrisis_store::StoreError::NotFound(m) => ApiError::internal(m),
        other => other.into(),
    })?;
    serde_json::from_str(&revision.episode_json).map_err(|e| {
        ApiError::internal(format!(
            "revision {} of episode {:?} cannot be read as an episode ({e}); it was written \
             by another version of epicrisis or changed outside it",
            revision.revision, v.episode_id
        ))
    })
}

/// The parsed episode a version is checked against: the cached current one, or the
/// older revision it was written from, parsed and indexed for this request.
pub enum VersionData {
    Current(Arc<StoredEpisode>),
    Snapshot(Box<Parsed>),
}

impl VersionData {
    pub fn parsed(&self) -> &Parsed {
        match self {
            VersionData::Current(s) => &s.parsed,
            VersionData::Snapshot(p) => p,
        }
    }
}

/// What `v`'s evidence and findings refer to (`stored`: the episode as it is now).
pub async fn version_data(
    state: &AppState,
    stored: Arc<StoredEpisode>,
    v: &VersionRow,
) -> ApiResult<VersionData> {
    if v.episode_revision == stored.meta.revision {
        return Ok(VersionData::Current(stored));
    }
    let ep = snapshot_episode(state, v).await?;
    // Indexing takes a few milliseconds of CPU: off the async threads.
    let parsed = tokio::task::spawn_blocking(move || Parsed::new(ep))
        .await
        .map_err(ApiError::internal)?;
    Ok(VersionData::Snapshot(Box::new(parsed)))
}

fn format_of(name: Option<&str>) -> ApiResult<Format> {
    Ok(match name.unwrap_or("pdf") {
        "pdf" => Format::Pdf,
        "docx" | "word" => Format::Docx,
        "fhir" => Format::Fhir,
        "markdown" | "md" => Format::Markdown,
        "text" | "txt" => Format::Text,
        other => {
            return Err(ApiError::bad_request(format!(
                "format {other:?} no existe; use pdf, docx, fhir, markdown o text"
            )));
        }
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    // `pdf` (by default), `docx`, `fhir`, `markdown` or `text`.
    /// `pdf` (predeterminado), `docx`, `fhir`, `markdown` o `text`.
    format: Option<String>,
    // The version's id (the latest by default).
    /// El id de la versión (predeterminado: la más reciente).
    version: Option<i64>,
}

/// A version of the episode (`version`, else the latest), as a document.
#[utoipa::path(get, path = "/api/v1/episodes/{id}/export", tag = "documentos",
    summary = "Exportar una versión del episodio como documento",
    description = "Una versión del episodio (`version`, o si no la más reciente) como \
                   documento: PDF, Word, Bundle FHIR, Markdown o texto, según `format`. \
                   Se genera con los datos del episodio desde los que se escribió la \
                   versión, nunca con los actuales; un documento firmado lleva la hora \
                   de su firma, así que exportarlo dos veces da los mismos bytes. \
                   Cualquier rol. Se registra en la bitácora (`export`, con el formato). \
                   Errores: 400 si el formato no existe, 404 si el episodio o la versión \
                   no existen o si el episodio aún no tiene borrador.",
    params(("id" = String, Path, description = "El número de episodio"), ExportQuery),
    responses((status = 200, description = "El documento (PDF, Word, FHIR Bundle, Markdown o texto)"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_episode(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let format = format_of(q.format.as_deref())?;
    // An unknown episode is a 404 that names it.
    state
        .store
        .episode_stamp(&id)
        .await?
        .ok_or_else(|| unknown_episode(&id))?;
    let v = match q.version {
        Some(vid) => Some(load_version(&state, vid).await?)
            .filter(|v| v.episode_id == id)
            .ok_or_else(|| {
                ApiError::not_found(format!("no existe la versión {vid} de este episodio"))
            })?,
        None => state.store.latest_version(&id).await?.ok_or_else(|| {
            ApiError::not_found("el episodio aún no tiene borrador; genere uno primero")
        })?,
    };
    export(&state, &p, &v, format).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    // `pdf` (by default), `docx`, `fhir`, `markdown` or `text`.
    /// `pdf` (predeterminado), `docx`, `fhir`, `markdown` o `text`.
    format: Option<String>,
}

/// A version by its id, as a document (whatever was saved after it).
#[utoipa::path(get, path = "/api/v1/versions/{id}/export", tag = "documentos",
    summary = "Exportar una versión como documento",
    description = "Una versión, por su id, como documento en el formato de `format` \
                   (aunque después se hayan guardado otras versiones). Como la \
                   exportación por episodio, se genera con los datos desde los que se \
                   escribió la versión. Cualquier rol. Se registra en la bitácora \
                   (`export`, con el formato). Errores: 400 si el formato no existe, 404 \
                   si la versión no existe.",
    params(("id" = i64, Path, description = "El id de la versión"), FormatQuery),
    responses((status = 200, description = "El documento (PDF, Word, FHIR Bundle, Markdown o texto)"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<FormatQuery>,
) -> ApiResult<Response> {
    let format = format_of(q.format.as_deref())?;
    let v = load_version(&state, id).await?;
    export(&state, &p, &v, format).await
}

/// `v` as a document, rendered from the episode data it was written from (what the export
/// routes answer, and what is sent back to the hospital's FHIR server).
pub async fn render_version(
    state: &AppState,
    v: &VersionRow,
    format: Format,
) -> ApiResult<Vec<u8>> {
    let mut docs = render_version_as(state, v, &[format]).await?;
    Ok(docs.pop().unwrap_or_default())
}

/// [`render_version`] in several formats, the data snapshot read once; in `formats`' order.
pub async fn render_version_as(
    state: &AppState,
    v: &VersionRow,
    formats: &[Format],
) -> ApiResult<Vec<Vec<u8>>> {
    let ep = snapshot_episode(state, v).await?;
    let draft = draft_of(v, &ep, state.settings.layout);
    let m = meta(state, Some(v), None);
    let mut docs = Vec::with_capacity(formats.len());
    for &format in formats {
        docs.push(render(format, ep.clone(), draft.clone(), m.clone()).await?);
    }
    Ok(docs)
}

/// Renders `v` from the data it was written from, audits the export, answers the file.
async fn export(
    state: &AppState,
    p: &Principal,
    v: &VersionRow,
    format: Format,
) -> ApiResult<Response> {
    let bytes = render_version(state, v, format).await?;
    audit(
        state,
        Some(p),
        "export",
        Some(&v.episode_id),
        Some(v.id),
        json!({"format": format.as_str(), "episodeRevision": v.episode_revision}),
    )
    .await?;
    Ok(file_response(format, &v.episode_id, bytes))
}

/// Recomputes a version's hash from its stored text, data snapshot, provenance and
/// metadata, and says whether it matches the one stored when it was saved.
#[utoipa::path(get, path = "/api/v1/versions/{id}/verify", tag = "documentos",
    summary = "Verificar la huella de una versión",
    description = "Recalcula la huella (hash) de una versión desde su texto, la copia de \
                   los datos del episodio, la procedencia y los metadatos guardados, y \
                   dice si coincide con la guardada al crearla, nombrando la versión en \
                   ambos casos. Cualquier rol. Se registra en la bitácora (`verify`, \
                   solo con el resultado). Error 404 si la versión no existe.",
    params(("id" = i64, Path, description = "El id de la versión")),
    responses((status = 200, body = VerifyAnswer), (status = 404, body = ErrorBody)))]
async fn verify_version(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<VerifyAnswer>> {
    let check = state.store.verify_version(id).await?;
    audit(
        &state,
        Some(&p),
        "verify",
        Some(&check.episode_id),
        Some(check.version_id),
        json!({"matches": check.matches, "hashScheme": check.hash_scheme}),
    )
    .await?;
    Ok(Json(VerifyAnswer::from(check)))
}
