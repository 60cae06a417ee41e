//! Drafting over HTTP: queueing a draft of a stored episode (one job per episode at a
//! time: asking again returns the job under way), following it (a JSON snapshot and
//! Server-Sent Events with its stage, its place in the queue and an estimate), and
//! cancelling it. Jobs live in the store ([`crate::jobs`]); a worker of this process or
//! of another takes them ([`crate::worker`]).

use crate::AppState;
use crate::api::{audit, parsed_episode};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::jobs::{FOLLOW_EVERY, JobEvent, JobOptions, JobView, events_between, job_view};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use epicrisis_store::{Enqueued, JobRow, NewJob, Role, VersionStatus};
use futures_util::Stream;
use serde::Serialize;
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_draft))
        .routes(routes!(get_job, cancel_job))
        .routes(routes!(cancel_job_post))
        .routes(routes!(job_events))
        .layer(crate::api::body::limit(crate::api::body::SMALL_BODY))
}

/// A job the queue accepted: a new one, or the one already queued or under way for the
/// same episode (`fresh` false).
pub struct Accepted {
    pub job: JobRow,
    pub fresh: bool,
}

/// Queues a job, or says the queue is full (429 with a Retry-After of a typical draft).
pub(crate) async fn enqueue(state: &AppState, job: &NewJob) -> ApiResult<Accepted> {
    let capacity = state.settings.queue_capacity;
    match state.store.enqueue_job(job, capacity).await? {
        Enqueued::New(job) => {
            state.wake.notify();
            Ok(Accepted { job, fresh: true })
        }
        Enqueued::Existing(job) => Ok(Accepted { job, fresh: false }),
        Enqueued::Full { waiting } => {
            let typical = state.typical.get(&state.store).await?.unwrap_or(10.0);
            let retry_after_s = (typical.ceil() as u64).clamp(1, 600);
            Err(ApiError::busy(
                format!(
                    "la cola de generación está llena ({waiting} en espera); intente de nuevo en {retry_after_s} s"
                ),
                retry_after_s,
            ))
        }
    }
}

/// Queues a draft of a stored episode; the result becomes a new version. `avoid`: the
/// words an earlier draft was faulted for (a regeneration), empty for a first draft.
/// While the episode has a draft queued or under way, that job is returned (`fresh`
/// false) and nothing new is queued: a second click or a reloaded page cannot pile up
/// identical drafts.
pub async fn queue_draft(
    state: &AppState,
    p: &Principal,
    episode_id: &str,
    avoid: Vec<String>,
) -> ApiResult<Accepted> {
    queue_draft_for(state, p, episode_id, avoid, false).await
}

/// [`queue_draft`]; `batch`: part of a batch (not bound by the queue's capacity, taken
/// after the drafts people ask for).
pub(crate) async fn queue_draft_for(
    state: &AppState,
    p: &Principal,
    episode_id: &str,
    avoid: Vec<String>,
    batch: bool,
) -> ApiResult<Accepted> {
    p.require(&[Role::Medico], "generar borradores")?;
    if let Some(job) = state.store.active_job(episode_id).await? {
        return Ok(Accepted { job, fresh: false });
    }
    let stored = parsed_episode(state, episode_id).await?;
    let parent = state.store.latest_version(episode_id).await?;
    if let Some(v) = &parent
        && v.status == VersionStatus::Signed
    {
        return Err(ApiError::conflict(format!(
            "la versión {} está firmada; para cambiarla use una enmienda",
            v.number
        )));
    }
    let regenerate = !avoid.is_empty();
    let options = JobOptions {
        layout: state.settings.layout,
        avoid,
    };
    let accepted = enqueue(
        state,
        &NewJob {
            episode_id: Some(episode_id.to_string()),
            // The data the engine reads: the version records it, whatever is imported
            // meanwhile.
            episode_revision: Some(stored.meta.revision),
            inline_json: None,
            options_json: serde_json::to_string(&options).map_err(ApiError::internal)?,
            requested_by: p.user.id,
            batch,
        },
    )
    .await?;
    if !accepted.fresh {
        return Ok(accepted);
    }
    audit(
        state,
        Some(p),
        "generate",
        Some(episode_id),
        None,
        json!({"engine": state.engine.name(), "job": accepted.job.id, "regenerate": regenerate,
               "batch": batch}),
    )
    .await?;
    Ok(accepted)
}

/// The answer to a cancellation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "La respuesta a una cancelación.")]
pub struct Cancelled {
    // Whether this request stopped it (false: it had already finished).
    /// Si esta solicitud lo detuvo (falso: ya había terminado).
    pub cancelled: bool,
    pub job: JobView,
}

/// Queues a draft of a stored episode: 202 with the new job, or 200 with the job
/// already under way for it (`existing`). The result becomes a new version.
#[utoipa::path(post, path = "/api/v1/episodes/{id}/drafts", tag = "redacción",
    summary = "Pedir un borrador de un episodio",
    description = "Pone en cola un borrador de un episodio guardado: responde 202 con el \
                   trabajo nuevo, o 200 con el trabajo que ya está en curso para ese \
                   episodio (`existing`). El resultado se guarda como una versión nueva; \
                   el avance se sigue en `GET /api/v1/jobs/{id}` o en sus eventos. Solo \
                   médicos (y admin). Se registra en la bitácora (`generate`) cuando se \
                   crea un trabajo. Errores: 403 si el rol no lo permite, 404 si el \
                   episodio no existe, 409 si la última versión está firmada (use una \
                   enmienda), 429 si la cola está llena (con `Retry-After`).",
    params(("id" = String, Path, description = "El número de episodio")),
    responses((status = 202, body = JobView), (status = 200, body = JobView),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn start_draft(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let a = queue_draft(&state, &p, &id, Vec::new()).await?;
    // 202 for a new job; 200 for the one already under way for this episode.
    let status = if a.fresh {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut body = job_view(&state, &a.job).await?;
    body.existing = Some(!a.fresh);
    Ok((status, Json(body)))
}

async fn find_job(state: &AppState, id: &str) -> ApiResult<JobRow> {
    state.store.job(id).await?.ok_or_else(|| {
        ApiError::not_found("ese trabajo de generación no existe (o terminó hace más de 30 días)")
    })
}

/// A job's state.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "redacción",
    summary = "Estado de un trabajo de redacción",
    description = "El estado de un trabajo: etapa, lugar en la cola, segundos \
                   transcurridos y lo que suele tardar un borrador aquí, y las palabras \
                   de la respuesta en curso (al terminar, el borrador y la versión \
                   guardada). Lo responde cualquier servidor que comparta la base de \
                   datos. Cualquier rol. Error 404 si el trabajo no existe o terminó \
                   hace más de 30 días.",
    params(("id" = String, Path, description = "El id del trabajo")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let job = find_job(&state, &id).await?;
    Ok(Json(job_view(&state, &job).await?))
}

/// Cancels a job (whoever started it, or an admin).
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "redacción",
    summary = "Cancelar un trabajo de redacción",
    description = "Cancela un trabajo: si está en cola termina de inmediato; si está en \
                   curso, en cuanto su proceso se entera (en una fracción de segundo), \
                   donde sea que corra. `cancelled` es falso si ya había terminado. Solo \
                   quien lo inició o un administrador. Se registra en la bitácora \
                   (`cancel`). Errores: 403 para los demás, 404 si el trabajo no existe.",
    params(("id" = String, Path, description = "El id del trabajo")),
    responses((status = 200, body = Cancelled), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn cancel_job(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Cancelled>> {
    cancel(&state, &p, &id).await.map(Json)
}

/// Cancels a job, for clients that cannot send DELETE.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "redacción",
    summary = "Cancelar un trabajo de redacción (con POST)",
    description = "Igual que `DELETE /api/v1/jobs/{id}`, para clientes que no pueden \
                   enviar DELETE. Solo quien inició el trabajo o un administrador. Se \
                   registra en la bitácora (`cancel`). Errores: 403 para los demás, 404 \
                   si el trabajo no existe.",
    params(("id" = String, Path, description = "El id del trabajo")),
    responses((status = 200, body = Cancelled), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn cancel_job_post(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Cancelled>> {
    cancel(&state, &p, &id).await.map(Json)
}

/// Asks to cancel a job: a queued one ends at once, a running one as soon as its worker
/// hears of it (within a fraction of a second), wherever that worker runs.
async fn cancel(state: &AppState, p: &Principal, id: &str) -> ApiResult<Cancelled> {
    let job = find_job(state, id).await?;
    if job.requested_by != p.user.id && p.user.role != Role::Admin {
        return Err(ApiError::forbidden(
            "solo quien inició la generación puede cancelarla",
        ));
    }
    let cancelled = !job.state.finished();
    state.store.cancel_job(id).await?;
    audit(
        state,
        Some(p),
        "cancel",
        job.episode_id.as_deref(),
        None,
        json!({"job": job.id}),
    )
    .await?;
    let job = find_job(state, id).await?;
    Ok(Cancelled {
        cancelled,
        job: job_view(state, &job).await?,
    })
}

fn sse_event(ev: &JobEvent) -> Event {
    Event::default()
        .event(ev.name())
        .json_data(ev)
        .unwrap_or_else(|_| Event::default().event(ev.name()))
}

fn snapshot_event(view: &JobView) -> Event {
    Event::default()
        .event("snapshot")
        .json_data(view)
        .unwrap_or_else(|_| Event::default().event("snapshot"))
}

/// Server-Sent Events of a job: a `snapshot` ([`JobView`]), then `queued` (position),
/// `started`, `stage` (a new stage; a writing stage starts a new answer), `token` (words
/// of the answer under way), and one of `done`, `failed`, `cancelled`. The stream reads
/// the job's row a few times a second, so it follows a job drafted by any worker.
/// A client that goes away only drops its stream; the job goes on and is saved.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "redacción",
    summary = "Seguir un trabajo en vivo (Server-Sent Events)",
    description = "Los eventos de un trabajo (Server-Sent Events): primero `snapshot` \
                   (un `JobView`), luego `queued` (lugar en la cola), `started`, `stage` \
                   (una etapa nueva; una etapa de escritura empieza una respuesta \
                   nueva), `token` (palabras de la respuesta en curso) y, al final, uno \
                   de `done`, `failed` o `cancelled`. El flujo lee la fila del trabajo \
                   varias veces por segundo, así que sigue un trabajo redactado en \
                   cualquier servidor. Un cliente que se va solo corta su flujo: el \
                   trabajo sigue y se guarda. Cualquier rol. Error 404 si el trabajo no \
                   existe.",
    params(("id" = String, Path, description = "El id del trabajo")),
    responses((status = 200, description = "Server-Sent Events: `snapshot`, `queued`, `started`, `stage`, `token`, `done`, `failed`, `cancelled`",
               content_type = "text/event-stream"),
              (status = 404, body = ErrorBody)))]
async fn job_events(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let job = find_job(&state, &id).await?;
    let first = job_view(&state, &job).await?;
    let finished = first.status.finished();
    let stream = futures_util::stream::unfold(
        Follow {
            pending: vec![snapshot_event(&first)],
            last: first,
            finished,
            state,
            id,
        },
        |mut f| async move {
            loop {
                if !f.pending.is_empty() {
                    let ev = f.pending.remove(0);
                    return Some((Ok(ev), f));
                }
                if f.finished {
                    return None;
                }
                tokio::time::sleep(FOLLOW_EVERY).await;
                // Gone (pruned) or the database is away: the stream ends; the page asks
                // again.
                let row = f.state.store.job(&f.id).await.ok()??;
                let now = job_view(&f.state, &row).await.ok()?;
                let events = events_between(&f.last, &now);
                f.finished = now.status.finished();
                f.pending = events.iter().map(sse_event).collect();
                if f.finished && !events.iter().any(JobEvent::ends) {
                    f.pending.push(snapshot_event(&now));
                }
                f.last = now;
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What a job's event stream keeps between reads of the row.
struct Follow {
    pending: Vec<Event>,
    last: JobView,
    finished: bool,
    state: AppState,
    id: String,
}
