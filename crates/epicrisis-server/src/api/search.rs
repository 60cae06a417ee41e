//! The archive of signed epicrisis: similar past cases by meaning (an embeddings model
//! ranks them), and the background indexing of newly signed ones.

use super::types::ArchiveSearch;
use super::{audit, rfc3339, warn};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use epicrisis_pipeline::grounded::evolution_paragraph;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(archive_search))
        .layer(super::body::limit(super::body::SMALL_BODY))
}

/// Embeds newly signed epicrisis into the archive in the background, when the server
/// has an embeddings model (a search indexes whatever is still missing anyway).
pub fn index_archive_later(state: &AppState) {
    use std::sync::atomic::Ordering::SeqCst;
    if state.embedder.is_none() {
        return;
    }
    if state.indexer.running.swap(true, SeqCst) {
        // A run is under way: it looks again before it stops.
        state.indexer.again.store(true, SeqCst);
        return;
    }
    let state = state.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let Some(embedder) = state.embedder.clone() else {
            return;
        };
        loop {
            state.indexer.again.store(false, SeqCst);
            if let Err(e) = handle.block_on(crate::archive::index_missing(
                &state.store,
                embedder.as_ref(),
            )) {
                warn("the archive could not be indexed", &e);
            }
            if state.indexer.again.load(SeqCst) {
                continue;
            }
            state.indexer.running.store(false, SeqCst);
            // A request between the check and the store above: run once more, unless
            // another caller has started a run meanwhile.
            if !state.indexer.again.load(SeqCst) || state.indexer.running.swap(true, SeqCst) {
                break;
            }
        }
    });
}

/// Most results one archive search returns.
pub const ARCHIVE_MAX_K: usize = 50;
/// Longest archive query, in characters.
pub const ARCHIVE_MAX_QUERY: usize = 2000;

/// One similar past case, as the API and the web page show it.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(description = "Un caso similar anterior, como lo muestran la API y la página web.")]
#[serde(rename_all = "camelCase")]
pub struct ArchiveResult {
    pub episode_id: String,
    pub version_id: i64,
    pub score: f32,
    pub signed_at: String,
    // The evolution paragraph, else the text's first 400 characters.
    /// El párrafo de evolución o, si no hay, los primeros 400 caracteres del texto.
    pub snippet: String,
}

/// The search's text and number of results, checked: an empty or too long text, or a `k`
/// outside 1..=50, is a 400 naming the parameter.
fn archive_query(q: Option<String>, k: Option<usize>) -> ApiResult<(String, usize)> {
    let q = q.unwrap_or_default().trim().to_string();
    if q.is_empty() {
        return Err(ApiError::bad_request(
            "falta el texto a buscar: use ?q=texto",
        ));
    }
    if q.chars().count() > ARCHIVE_MAX_QUERY {
        return Err(ApiError::bad_request(format!(
            "el texto a buscar (q) es demasiado largo: máximo {ARCHIVE_MAX_QUERY} caracteres"
        )));
    }
    let k = k.unwrap_or(5);
    if !(1..=ARCHIVE_MAX_K).contains(&k) {
        return Err(ApiError::bad_request(format!(
            "k debe estar entre 1 y {ARCHIVE_MAX_K}"
        )));
    }
    Ok((q, k))
}

/// Searches the archive of signed epicrisis for `q` (validated here: empty, too long or
/// a `k` outside 1..=50 is a 400 naming the parameter; no embeddings model is a 503
/// naming `EMBEDDINGS_MODEL`). Audited as `search` with the number of results — never
/// the query's words, which may name a patient.
pub async fn search_archive(
    state: &AppState,
    p: &Principal,
    q: Option<String>,
    k: Option<usize>,
    exclude: Option<String>,
) -> ApiResult<ArchiveAnswer> {
    let (q, k) = archive_query(q, k)?;
    let Some(embedder) = state.embedder.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "la búsqueda de casos similares necesita un modelo de embeddings: configure EMBEDDINGS_MODEL (por ejemplo models/embeddings/multilingual-e5-small) y reinicie el servidor",
        ));
    };
    // Signed epicrisis the background indexing has not reached yet: not searched now
    // (a first run over thousands takes minutes), but said, and indexing nudged.
    let pending = state.store.archive_missing(embedder.name()).await?.len();
    if pending > 0 {
        index_archive_later(state);
    }
    let store = state.store.clone();
    let handle = tokio::runtime::Handle::current();
    let matches = tokio::task::spawn_blocking(move || {
        handle.block_on(crate::archive::search_indexed(
            &store,
            embedder.as_ref(),
            &q,
            k,
            exclude.as_deref(),
        ))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        crate::archive::ArchiveError::Store(e) => ApiError::from(e),
        crate::archive::ArchiveError::Embed(e) => {
            ApiError::internal(format!("el modelo de embeddings falló: {e}"))
        }
    })?;
    let results: Vec<ArchiveResult> = matches
        .into_iter()
        .map(|m| ArchiveResult {
            snippet: evolution_paragraph(&m.text)
                .unwrap_or_else(|| m.text.split_whitespace().collect::<Vec<_>>().join(" "))
                .chars()
                .take(400)
                .collect(),
            episode_id: m.episode_id,
            version_id: m.version_id,
            score: m.score,
            signed_at: rfc3339(m.signed_at),
        })
        .collect();
    audit(
        state,
        Some(p),
        "search",
        None,
        None,
        json!({"k": k, "results": results.len()}),
    )
    .await?;
    Ok(ArchiveAnswer { results, pending })
}

/// An archive search's answer.
#[derive(Default)]
pub struct ArchiveAnswer {
    pub results: Vec<ArchiveResult>,
    /// Signed epicrisis not yet indexed (so not searched): being embedded in the
    /// background.
    pub pending: usize,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ArchiveQuery {
    // The text to search for (a diagnosis, a course, a treatment).
    /// El texto a buscar (un diagnóstico, una evolución, un tratamiento).
    q: Option<String>,
    // How many results, 1 to 50 (5 by default).
    /// Cuántos resultados, de 1 a 50 (predeterminado: 5).
    k: Option<usize>,
    // An episode to leave out (the one being written).
    /// Un episodio que se deja fuera (el que se está escribiendo).
    exclude: Option<String>,
}

/// Signed epicrisis similar in meaning to `q`, best first. Audited with the number of
/// results, never the query's words.
#[utoipa::path(get, path = "/api/v1/archive/search", tag = "archivo", params(ArchiveQuery),
    summary = "Buscar casos similares entre las epicrisis firmadas",
    description = "Epicrisis firmadas de significado parecido a `q`, la más parecida \
                   primero (las ordena un modelo de embeddings). Las firmadas que aún no \
                   se indexan no entran en esta búsqueda: `pending` dice cuántas son, y \
                   se indexan en segundo plano. Cualquier rol. Se registra en la \
                   bitácora (`search`) con el número de resultados, nunca con las \
                   palabras buscadas. Errores: 400 si falta `q`, si supera 2000 \
                   caracteres o si `k` está fuera de 1 a 50; 503 si el servidor no tiene \
                   modelo de embeddings (`EMBEDDINGS_MODEL`).",
    responses((status = 200, body = ArchiveSearch), (status = 400, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn archive_search(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<ArchiveQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ArchiveSearch>> {
    let Query(q) = q.map_err(|e| {
        ApiError::bad_request(format!(
            "parámetros no válidos ({e}): use ?q=texto&k=1..{ARCHIVE_MAX_K}&exclude=episodio"
        ))
    })?;
    let model = state.embedder.as_ref().map(|e| e.name().to_string());
    let answer = search_archive(&state, &p, q.q, q.k, q.exclude).await?;
    Ok(Json(ArchiveSearch {
        model,
        results: answer.results,
        pending: answer.pending,
    }))
}
