//! Batches: drafts of many episodes at once — a day's discharges, queued so that the
//! drafts are ready when the physicians' shift starts. A batch's jobs wait behind the
//! drafts a person asks for and do not count against the queue's capacity. Running a
//! batch again is cheap: an episode that is signed, or that already has a draft of its
//! current data, is not drafted again (resumable). Each episode's state is read from its
//! job and versions; the report (JSON or CSV) gives state, errors and seconds.

use crate::AppState;
use crate::api::audit;
use crate::api::body::{BodyShape, JsonBody};
use crate::auth::Principal;
use crate::drafting::queue_draft_for;
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use epicrisis_store::{BatchRow, JobState, Role, VersionStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashSet;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_batch, list_batches))
        .routes(routes!(get_batch))
        .routes(routes!(batch_report))
        .layer(crate::api::body::limit(crate::api::body::LIST_BODY))
}

/// Where an episode of a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(description = "Dónde está un episodio de un lote.")]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Waiting for a worker.
    Pending,
    Drafting,
    /// A draft is ready for review (`errors` says how many findings to fix).
    Ready,
    Failed,
    Cancelled,
    /// Signed already: nothing to draft.
    Signed,
}

impl ItemState {
    pub fn label_es(self) -> &'static str {
        match self {
            ItemState::Pending => "pendiente",
            ItemState::Drafting => "en redacción",
            ItemState::Ready => "borrador listo",
            ItemState::Failed => "falló",
            ItemState::Cancelled => "cancelado",
            ItemState::Signed => "firmada",
        }
    }

    fn finished(self) -> bool {
        !matches!(self, ItemState::Pending | ItemState::Drafting)
    }
}

/// One episode of a batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(description = "Un episodio de un lote.")]
#[serde(rename_all = "camelCase")]
pub struct BatchItemView {
    pub episode_id: String,
    pub state: ItemState,
    // The state in Spanish.
    /// El estado, en español.
    pub label: String,
    // Errors the check found in the draft (ready drafts).
    /// Errores que la verificación encontró en el borrador (borradores listos).
    pub errors: Option<usize>,
    // Seconds the draft took (drafted by this batch).
    /// Segundos que tardó el borrador (redactado por este lote).
    pub seconds: Option<f64>,
    pub job_id: Option<String>,
    // The episode's newest version.
    /// La versión más reciente del episodio.
    pub version_id: Option<i64>,
    // Why it failed.
    /// Por qué falló.
    pub message: Option<String>,
}

/// How many episodes are in each state.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[schema(description = "Cuántos episodios hay en cada estado.")]
pub struct BatchCounts {
    pub pending: usize,
    pub drafting: usize,
    pub ready: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub signed: usize,
}

/// A batch and where each of its episodes is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(description = "Un lote y el estado de cada uno de sus episodios.")]
#[serde(rename_all = "camelCase")]
pub struct BatchView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    // No episode is pending or being drafted.
    /// Ningún episodio está pendiente ni en redacción.
    pub finished: bool,
    pub counts: BatchCounts,
    pub items: Vec<BatchItemView>,
    // Episodes asked for that could not be added, with the reason.
    /// Episodios pedidos que no se pudieron agregar, con el motivo.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refused>,
}

/// An episode a batch could not take.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(description = "Un episodio que un lote no pudo tomar.")]
#[serde(rename_all = "camelCase")]
pub struct Refused {
    pub episode_id: String,
    pub reason: String,
}

/// The body of `POST /api/v1/batches`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "Cuerpo de `POST /api/v1/batches`.")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewBatch {
    // What the batch is, e.g. «Altas del 2025-03-01» (default: the date and time).
    /// Qué es el lote, p. ej. «Altas del 2025-03-01» (predeterminado: la fecha y hora).
    pub name: Option<String>,
    // Stored episodes, in the order they should be drafted.
    /// Episodios guardados, en el orden en que deben redactarse.
    pub episodes: Vec<String>,
}

impl BodyShape for NewBatch {
    const SHAPE: &'static str = "{name?, episodes: [id…]}";
}

/// The most episodes one batch takes.
pub const MAX_EPISODES: usize = 2000;

/// Makes a batch of stored episodes and queues the drafts it needs; see the module
/// documentation.
pub async fn start_batch(
    state: &AppState,
    p: &Principal,
    name: &str,
    episodes: &[String],
) -> ApiResult<BatchView> {
    p.require(&[Role::Medico], "generar borradores")?;
    if episodes.len() > MAX_EPISODES {
        return Err(ApiError::bad_request(format!(
            "un lote admite hasta {MAX_EPISODES} episodios; divídalo"
        )));
    }
    let batch = state.store.create_batch(name, p.user.id).await?;
    let mut refused = Vec::new();
    let mut seen = HashSet::new();
    for id in episodes.iter().filter(|id| seen.insert(id.as_str())) {
        match add_episode(state, p, &batch, id).await {
            Ok(()) => {}
            Err(e) => refused.push(Refused {
                episode_id: id.clone(),
                reason: e.message,
            }),
        }
    }
    audit(
        state,
        Some(p),
        "batch",
        None,
        None,
        json!({"batch": batch.id, "episodes": seen.len(), "refused": refused.len()}),
    )
    .await?;
    let mut view = batch_view(state, &batch).await?;
    view.refused = refused;
    Ok(view)
}

/// Adds one episode: without a job when it is signed or has a draft of its current
/// data, else with the job that drafts it (the one under way, if any).
async fn add_episode(state: &AppState, p: &Principal, batch: &BatchRow, id: &str) -> ApiResult<()> {
    let job = draft_if_needed(state, p, id).await?;
    state
        .store
        .put_batch_item(&batch.id, id, job.as_deref())
        .await?;
    Ok(())
}

/// Whether a stored episode needs a draft: it is not signed and has no draft of its
/// current data.
pub async fn needs_draft(state: &AppState, id: &str) -> ApiResult<bool> {
    // The revision number alone: the episode's data (and its source document) is read
    // once, by the draft job.
    let Some(revision) = state.store.current_revision(id).await? else {
        return Err(ApiError::not_found(format!("no existe el episodio {id}")));
    };
    let latest = state.store.latest_version(id).await?;
    Ok(!latest
        .as_ref()
        .is_some_and(|v| v.status == VersionStatus::Signed || v.episode_revision == revision))
}

/// Queues a draft of a stored episode, behind the drafts people ask for and outside the
/// queue's capacity, unless it is signed or already has a draft of its current data (or
/// one under way: that job is returned). What batches and the episodes that arrive from
/// the hospital's systems (`epicrisis pull`, HL7 discharges) use; `None`: nothing to do.
pub async fn draft_if_needed(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<Option<String>> {
    if !needs_draft(state, id).await? {
        return Ok(None);
    }
    Ok(Some(
        queue_draft_for(state, p, id, Vec::new(), true)
            .await?
            .job
            .id,
    ))
}

/// Where each episode of a batch is.
pub async fn batch_view(state: &AppState, batch: &BatchRow) -> ApiResult<BatchView> {
    let mut counts = BatchCounts::default();
    let mut items = Vec::new();
    // Three queries for the whole batch, whatever its size (it is polled while it runs).
    let rows = state.store.batch_items(&batch.id).await?;
    let episodes: Vec<String> = rows.iter().map(|i| i.episode_id.clone()).collect();
    let job_ids: Vec<String> = rows.iter().filter_map(|i| i.job_id.clone()).collect();
    let mut latest = state.store.latest_versions(&episodes).await?;
    let mut jobs = state.store.jobs(&job_ids).await?;
    for item in rows {
        let job = item.job_id.as_ref().and_then(|id| jobs.remove(id));
        let view = item_view(&item.episode_id, job, latest.remove(&item.episode_id));
        *match view.state {
            ItemState::Pending => &mut counts.pending,
            ItemState::Drafting => &mut counts.drafting,
            ItemState::Ready => &mut counts.ready,
            ItemState::Failed => &mut counts.failed,
            ItemState::Cancelled => &mut counts.cancelled,
            ItemState::Signed => &mut counts.signed,
        } += 1;
        items.push(view);
    }
    Ok(BatchView {
        id: batch.id.clone(),
        name: batch.name.clone(),
        created_at: batch.created_at,
        finished: items.iter().all(|i| i.state.finished()),
        counts,
        items,
        refused: Vec::new(),
    })
}

/// An episode's state from its job (if the batch queued one and it is not pruned) and
/// its newest version.
fn item_view(
    episode_id: &str,
    job: Option<epicrisis_store::JobRow>,
    latest: Option<epicrisis_store::VersionRow>,
) -> BatchItemView {
    let signed = latest
        .as_ref()
        .is_some_and(|v| v.status == VersionStatus::Signed);
    let item_state = match (signed, job.as_ref().map(|j| j.state)) {
        (true, _) => ItemState::Signed,
        (false, Some(JobState::Queued)) => ItemState::Pending,
        (false, Some(JobState::Running)) => ItemState::Drafting,
        (false, Some(JobState::Failed)) => ItemState::Failed,
        (false, Some(JobState::Cancelled)) => ItemState::Cancelled,
        (false, Some(JobState::Done)) => ItemState::Ready,
        (false, None) if latest.is_some() => ItemState::Ready,
        // The job was pruned and nothing was saved.
        (false, None) => ItemState::Failed,
    };
    let errors = (item_state == ItemState::Ready)
        .then(|| {
            latest
                .as_ref()
                .map(|v| crate::api::report_of(v).error_count())
        })
        .flatten();
    let seconds = job.as_ref().and_then(|j| {
        let (start, end) = (j.started_at?, j.finished_at?);
        Some((end - start).max(0) as f64 / 1e3)
    });
    BatchItemView {
        episode_id: episode_id.to_string(),
        state: item_state,
        label: item_state.label_es().to_string(),
        errors,
        seconds,
        job_id: job.as_ref().map(|j| j.id.clone()),
        version_id: latest.map(|v| v.id),
        message: job.and_then(|j| j.message),
    }
}

/// The report as CSV: one line per episode (episode, state, errors, seconds, message).
pub fn report_csv(view: &BatchView) -> String {
    let mut out = String::from("episodio,estado,errores,segundos,mensaje\n");
    for i in &view.items {
        let fields = [
            i.episode_id.clone(),
            i.label.clone(),
            i.errors.map(|e| e.to_string()).unwrap_or_default(),
            i.seconds.map(|s| format!("{s:.1}")).unwrap_or_default(),
            i.message.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180); a
/// leading `=`, `+`, `-` or `@` is prefixed with `'` so that a spreadsheet does not run it.
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@']) {
        format!("'{f}")
    } else {
        f.to_string()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

async fn find_batch(state: &AppState, id: &str) -> ApiResult<BatchRow> {
    state
        .store
        .batch(id)
        .await?
        .ok_or_else(|| ApiError::not_found("ese lote no existe"))
}

/// Drafts many stored episodes: 201 with the batch and each episode's state. Signed
/// episodes and those with a draft of their current data are listed, not drafted again.
#[utoipa::path(post, path = "/api/v1/batches", tag = "redacción", request_body = NewBatch,
    summary = "Crear un lote de borradores",
    description = "Pide borradores de muchos episodios guardados a la vez (hasta 2000): \
                   responde 201 con el lote y el estado de cada episodio. Los episodios \
                   firmados y los que ya tienen un borrador de sus datos actuales se \
                   listan, pero no se redactan de nuevo; los que no se pueden agregar \
                   quedan en `refused`, con el motivo. Los trabajos de un lote esperan \
                   detrás de los borradores que pide una persona y no cuentan para la \
                   capacidad de la cola. Solo médicos (y admin). Se registra en la \
                   bitácora (`batch`). Errores: 400 si hay más de 2000 episodios o el \
                   cuerpo no es válido, 403 si el rol no lo permite.",
    responses((status = 201, body = BatchView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn create_batch(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewBatch>,
) -> ApiResult<(StatusCode, Json<BatchView>)> {
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.chars().take(200).collect())
        .unwrap_or_else(|| format!("Lote del {}", crate::api::rfc3339(crate::now_ms())));
    let view = start_batch(&state, &p, &name, &body.episodes).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One batch in the list.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Un lote de la lista.")]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// The latest batches, newest first.
#[utoipa::path(get, path = "/api/v1/batches", tag = "redacción",
    summary = "Listar lotes",
    description = "Los últimos lotes (hasta 100), el más reciente primero. Cualquier \
                   rol.",
    responses((status = 200, body = Vec<BatchSummary>)))]
async fn list_batches(
    State(state): State<AppState>,
    _p: Principal,
) -> ApiResult<Json<Vec<BatchSummary>>> {
    let rows = state.store.batches(100).await?;
    Ok(Json(
        rows.into_iter()
            .map(|b| BatchSummary {
                id: b.id,
                name: b.name,
                created_at: b.created_at,
            })
            .collect(),
    ))
}

/// A batch and where each of its episodes is.
#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "redacción",
    summary = "Leer un lote",
    description = "Un lote y el estado de cada uno de sus episodios, con los totales por \
                   estado. Cualquier rol. Error 404 si el lote no existe.",
    params(("id" = String, Path, description = "El id del lote")),
    responses((status = 200, body = BatchView), (status = 404, body = ErrorBody)))]
async fn get_batch(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<BatchView>> {
    let batch = find_batch(&state, &id).await?;
    Ok(Json(batch_view(&state, &batch).await?))
}

#[derive(Debug, Deserialize)]
struct ReportParams {
    format: Option<String>,
}

/// A batch's report: `?format=csv` (one line per episode: state, errors, seconds) or
/// JSON (the batch, as `GET /api/v1/batches/{id}`).
#[utoipa::path(get, path = "/api/v1/batches/{id}/report", tag = "redacción",
    summary = "Informe de un lote",
    description = "El informe de un lote: con `?format=csv`, un archivo CSV con una \
                   línea por episodio (estado, errores, segundos); si no, JSON (el lote, \
                   como en `GET /api/v1/batches/{id}`). Cualquier rol. Errores: 400 si \
                   el formato no es csv ni json, 404 si el lote no existe.",
    params(("id" = String, Path, description = "El id del lote"),
           ("format" = Option<String>, Query, description = "csv o json (predeterminado)")),
    responses((status = 200, body = BatchView, description = "JSON, o CSV con ?format=csv"),
              (status = 404, body = ErrorBody)))]
async fn batch_report(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ReportParams>,
) -> ApiResult<Response> {
    let batch = find_batch(&state, &id).await?;
    let view = batch_view(&state, &batch).await?;
    match q.format.as_deref() {
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"lote-{}.csv\"", batch.id),
                ),
            ],
            report_csv(&view),
        )
            .into_response()),
        None | Some("json") => Ok(Json(view).into_response()),
        Some(other) => Err(ApiError::bad_request(format!(
            "formato {other:?} desconocido: use csv o json"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("lote-1"), "lote-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("dijo \"no\""), "\"dijo \"\"no\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        let view = BatchView {
            id: "b".into(),
            name: "n".into(),
            created_at: 0,
            finished: true,
            counts: BatchCounts::default(),
            items: vec![BatchItemView {
                episode_id: "e1".into(),
                state: ItemState::Ready,
                label: ItemState::Ready.label_es().into(),
                errors: Some(2),
                seconds: Some(8.26),
                job_id: None,
                version_id: Some(1),
                message: None,
            }],
            refused: Vec::new(),
        };
        assert_eq!(
            report_csv(&view),
            "episodio,estado,errores,segundos,mensaje\ne1,borrador listo,2,8.3,\n"
        );
    }
}
