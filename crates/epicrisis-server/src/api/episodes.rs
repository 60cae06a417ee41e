//! `/api/v1/me` and the episodes: import, list, read, and live validation of a text.

use super::body::{BodyShape, JsonBody};
use super::types::{EpisodeDetail, EpisodeList, Imported, Me, ValidateBody, Validation, Version};
use super::{audit, blocking, parsed_episode, store_episode};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use epicrisis_store::{EpisodeQuery, Role};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_episodes, import_episode))
        .routes(routes!(get_episode))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(validate_text))
                .layer(super::body::limit(super::body::TEXT_BODY)),
        )
}

/// Who is calling, and the CSRF token a browser session sends with every change.
#[utoipa::path(get, path = "/api/v1/me", tag = "episodios",
    summary = "La cuenta que llama",
    description = "La cuenta que hace la solicitud (id, nombre de usuario, nombre \
                   visible y rol) y, en `csrf`, el valor que una sesión del navegador \
                   debe enviar en la cabecera `X-CSRF-Token` con cada cambio (vacío \
                   cuando se llama con un token de API). Cualquier rol. No se registra \
                   en la bitácora. Error 401 sin sesión ni token de API.",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(p: Principal) -> Json<Me> {
    Json(Me {
        id: p.user.id,
        username: p.user.username.clone(),
        display_name: p.user.display_name.clone(),
        role: p.user.role,
        csrf: p.csrf().to_string(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    // The episode's id, when the file has none or another is wanted.
    /// El número de episodio, cuando el archivo no trae uno o se quiere otro.
    id: Option<String>,
}

/// Imports an episode file in any shape the readers accept (compact JSON, the rich
/// export, the predecessor's `clinicalData`, a FHIR Bundle). The same id again updates
/// the episode: a new revision when its data changed.
#[utoipa::path(post, path = "/api/v1/episodes", tag = "episodios", params(ImportQuery),
    summary = "Importar un episodio",
    description = "Importa un archivo de episodio en cualquiera de las formas que se \
                   leen: JSON compacto, la exportación enriquecida, el `clinicalData` \
                   del sistema anterior o un Bundle FHIR. El mismo número de episodio \
                   otra vez actualiza el episodio: una revisión nueva si sus datos \
                   cambiaron. Responde 201 con el número de episodio, la forma leída, la \
                   revisión y las advertencias de lectura. Roles: médico, administrativo \
                   o admin. Se registra en la bitácora (`import`, con la forma leída). \
                   Errores: 400 si el número de episodio no sirve (hasta 128 caracteres, \
                   sin / ? #), 403 si el rol no lo permite, 422 si el archivo no se \
                   puede leer como episodio.",
    request_body(content = Object, description = "El episodio, en cualquiera de las formas que se leen"),
    responses((status = 201, body = Imported), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_episode(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Imported>)> {
    p.require(&[Role::Medico, Role::Administrativo], "importar episodios")?;
    let (row, ep) = store_episode(&state, &body, q.id).await?;
    audit(
        &state,
        Some(&p),
        "import",
        Some(&row.episode_id),
        None,
        json!({"shape": row.source_kind}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Imported {
            episode_id: row.episode_id,
            shape: row.source_kind,
            revision: row.revision,
            warnings: ep.warnings.into_iter().map(|w| w.message_es).collect(),
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    // Words of the id, the patient's name, the service, the treating physician or the diagnoses.
    /// Texto libre: palabras del número de episodio, del nombre del paciente, del
    /// servicio, del médico tratante o de los diagnósticos (también por los nombres del
    /// léxico).
    q: Option<String>,
    /// El servicio, por su nombre completo (sin distinguir mayúsculas).
    service: Option<String>,
    // Discharged on or after, `AAAA-MM-DD`.
    /// Alta en esta fecha o después, `AAAA-MM-DD`.
    from: Option<String>,
    // Discharged on or before, `AAAA-MM-DD`.
    /// Alta en esta fecha o antes, `AAAA-MM-DD`.
    to: Option<String>,
    /// Cuántos episodios, hasta 1000 (predeterminado: 100).
    limit: Option<i64>,
    /// Cuántos episodios saltar, para paginar (predeterminado: 0).
    offset: Option<i64>,
}

fn check_date(field: &str, v: &Option<String>) -> ApiResult<()> {
    if let Some(d) = v
        && !d.is_empty()
        && (d.len() != 10 || epicrisis_domain::Date::parse(d).is_err())
    {
        return Err(ApiError::bad_request(format!(
            "{field}={d:?} no es una fecha AAAA-MM-DD"
        )));
    }
    Ok(())
}

/// A list query from its parameters (the API's and the episode page's), checked.
pub fn episode_query(
    q: Option<String>,
    service: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
) -> ApiResult<EpisodeQuery> {
    check_date("from", &from)?;
    check_date("to", &to)?;
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let q = nonempty(q);
    Ok(EpisodeQuery {
        terms: q
            .as_deref()
            .map(crate::listing::search_terms)
            .unwrap_or_default(),
        text: q,
        service: nonempty(service),
        discharged_from: nonempty(from),
        discharged_to: nonempty(to),
        limit,
        offset,
    })
}

/// The stored episodes, newest discharge first.
#[utoipa::path(get, path = "/api/v1/episodes", tag = "episodios", params(ListQuery),
    summary = "Listar episodios",
    description = "Los episodios guardados, el alta más reciente primero (los sin fecha \
                   de alta al final); cada fila trae el médico tratante, la última \
                   versión y la última versión firmada. Filtros opcionales: `q` (texto \
                   libre), `service`, `from` y `to` (fecha de alta, AAAA-MM-DD), `limit` \
                   y `offset`. Cualquier rol. Error 400 si una fecha no es AAAA-MM-DD.",
    responses((status = 200, body = EpisodeList), (status = 400, body = ErrorBody)))]
async fn list_episodes(
    State(state): State<AppState>,
    _p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<EpisodeList>> {
    let query = episode_query(q.q, q.service, q.from, q.to, q.limit, q.offset)?;
    let rows = state.store.list_episodes(&query).await?;
    Ok(Json(EpisodeList {
        episodes: rows.into_iter().map(Into::into).collect(),
    }))
}

/// One episode as read, with its newest version.
#[utoipa::path(get, path = "/api/v1/episodes/{id}", tag = "episodios",
    summary = "Leer un episodio",
    description = "El episodio tal como se leyó (en el modelo propio del programa, con \
                   sus advertencias de lectura), su revisión de datos y su versión más \
                   reciente. Cualquier rol. Se registra en la bitácora (`view`). Error \
                   404 si el episodio no existe.",
    params(("id" = String, Path, description = "El número de episodio")),
    responses((status = 200, body = EpisodeDetail), (status = 404, body = ErrorBody)))]
async fn get_episode(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<EpisodeDetail>> {
    let stored = parsed_episode(&state, &id).await?;
    let latest = state.store.latest_version(&id).await?;
    audit(&state, Some(&p), "view", Some(&id), None, json!({})).await?;
    let m = &stored.meta;
    Ok(Json(EpisodeDetail {
        episode_id: m.episode_id.clone(),
        shape: m.source_kind.clone(),
        imported_at: m.imported_at,
        revision: m.revision,
        episode: stored.parsed.episode.clone(),
        latest_version: latest.as_ref().map(Version::of),
    }))
}

impl BodyShape for ValidateBody {
    const SHAPE: &'static str = "{text}";
}

/// Validates a text against the episode (live, while typing: not audited, lexical
/// evidence only).
#[utoipa::path(post, path = "/api/v1/episodes/{id}/validate", tag = "episodios",
    summary = "Validar un texto contra el episodio",
    description = "Valida un texto contra los datos del episodio mientras se escribe: \
                   responde los hallazgos (afirmaciones que los datos no respaldan, \
                   omisiones) y, por oración, la evidencia (solo léxica). No se registra \
                   en la bitácora. Cualquier rol. Errores: 400 si el cuerpo no es \
                   `{text}`, 404 si el episodio no existe.",
    params(("id" = String, Path, description = "El número de episodio")),
    request_body = ValidateBody,
    responses((status = 200, body = Validation), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn validate_text(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ValidateBody>,
) -> ApiResult<Json<Validation>> {
    let stored = parsed_episode(&state, &id).await?;
    let checked = stored.clone();
    let (report, evidence) = blocking(move || checked.parsed.check(&b.text)).await?;
    Ok(Json(Validation {
        ok: report.ok,
        findings: report.findings,
        evidence: stored.parsed.evidence_view(&evidence),
    }))
}
