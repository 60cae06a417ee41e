//! Drafting over HTTP: queueing a draft of a stored episode (one job per episode at a
//! time: asking again returns the job under way), following it (a JSON snapshot and
//! Server-Sent Events with its stage, its place in the queue and an estimate), and
//! cancelling it. The queue itself is [`crate::jobs`].

use crate::AppState;
use crate::api::{audit, parsed_episode, provenance_json, warn};
use crate::auth::Principal;
use crate::cache::StoredEpisode;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::jobs::{Accepted, GuidanceFn, Job, JobEvent, Refused, SaveFn, Status};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use epicrisis_pipeline::engine::{Engine, Guidance, Outcome};
use epicrisis_pipeline::grounded::{KnownPassage, KnownVectors, evolution_paragraph};
use epicrisis_store::{NewVersion, Role, VersionKind, VersionStatus};
use futures_util::Stream;
use serde::Serialize;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
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
}

pub(crate) fn busy(r: Refused) -> ApiError {
    match r {
        Refused::Full {
            retry_after_s,
            capacity,
        } => ApiError::busy(
            format!(
                "la cola de generación está llena ({capacity} en espera); intente de nuevo en {retry_after_s} s"
            ),
            retry_after_s,
        ),
        Refused::Stopping => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "el servidor se está deteniendo; intente en un momento",
        ),
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
    p.require(&[Role::Medico], "generar borradores")?;
    if let Some(job) = state.queue.active_for(episode_id) {
        return Ok(Accepted { job, fresh: false });
    }
    let stored = parsed_episode(state, episode_id).await?;
    let ep = stored.parsed.episode.clone();
    let parent = state.store.latest_version(episode_id).await?;
    if let Some(v) = &parent
        && v.status == VersionStatus::Signed
    {
        return Err(ApiError::conflict(format!(
            "la versión {} está firmada; para cambiarla use una enmienda",
            v.number
        )));
    }
    let store = state.store.clone();
    let handle = tokio::runtime::Handle::current();
    let eid = episode_id.to_string();
    let user_id = p.user.id;
    let engine_name = state.engine.name();
    let regenerate = !avoid.is_empty();
    // The data the engine reads: the version records it, whatever is imported meanwhile.
    let revision = stored.meta.revision;
    let save: SaveFn = Box::new(move |o: &Outcome| {
        let v = NewVersion {
            episode_id: eid,
            kind: VersionKind::Generated,
            text: o.text.clone(),
            report_json: serde_json::to_string(&o.report).map_err(|e| e.to_string())?,
            provenance_json: provenance_json(o),
            engine: Some(engine_name),
            author_id: Some(user_id),
            // The newest version when the draft is saved (others may have been saved
            // while this job waited): a generated draft follows whatever is latest.
            parent_id: None,
            episode_revision: Some(revision),
        };
        handle
            .block_on(async {
                let latest = store.latest_version(&v.episode_id).await?;
                let v = NewVersion {
                    parent_id: latest.map(|l| l.id),
                    ..v
                };
                store.add_version(&v).await
            })
            .map(|row| Some(row.id))
            .map_err(|e| e.to_string())
    });
    let save = keep_passage_vectors(state, &stored, save);
    let guidance = draft_guidance(state, &stored, avoid);
    let accepted = state
        .queue
        .submit(
            ep,
            Some(episode_id.to_string()),
            p.user.id,
            state.settings.layout,
            guidance,
            save,
        )
        .map_err(busy)?;
    if !accepted.fresh {
        return Ok(accepted);
    }
    let job = &accepted.job;
    audit(
        state,
        Some(p),
        "generate",
        Some(episode_id),
        None,
        json!({"engine": state.engine.name(), "job": job.id, "regenerate": regenerate}),
    )
    .await?;
    Ok(accepted)
}

/// The embeddings model a draft of this server uses for its notes: the server's, when
/// the engine is a model on this machine (the deterministic writer embeds nothing).
fn drafting_embedder(state: &AppState) -> Option<Arc<dyn epicrisis_embed::Embedder>> {
    match &state.engine {
        Engine::Model { .. } => state.embedder.clone(),
        Engine::Deterministic => None,
    }
}

/// What a draft of a stored episode is told besides the episode: `avoid` (a
/// regeneration's words), the passage vectors an earlier draft kept in the store, and —
/// for a model on this machine only — the evolution paragraphs of the two most similar
/// signed epicrisis of other episodes as style examples. Never sent to an external
/// provider: other patients' text would leave the machine. Runs on the worker thread.
fn draft_guidance(state: &AppState, stored: &StoredEpisode, avoid: Vec<String>) -> GuidanceFn {
    let Some(embedder) = drafting_embedder(state) else {
        return Box::new(move || Guidance {
            avoid,
            ..Guidance::default()
        });
    };
    let external = state.engine.is_external();
    let store = state.store.clone();
    let handle = tokio::runtime::Handle::current();
    let id = stored.meta.episode_id.clone();
    let query = crate::archive::episode_query(&stored.parsed.episode);
    Box::new(move || {
        let model = embedder.name().to_string();
        let known_vectors = match handle.block_on(store.passage_vectors(&id, &model)) {
            Ok(rows) => rows.map(|rows| {
                Arc::new(KnownVectors {
                    model: model.clone(),
                    passages: rows
                        .into_iter()
                        .map(|r| KnownPassage {
                            note: r.note_index as usize,
                            start: r.char_start as usize,
                            end: r.char_end as usize,
                            vector: r.vector,
                        })
                        .collect(),
                })
            }),
            Err(e) => {
                warn(
                    "stored passage vectors could not be read; the notes are embedded again",
                    &e,
                );
                None
            }
        };
        let style_examples = if external || query.trim().is_empty() {
            Vec::new()
        } else {
            match handle.block_on(crate::archive::search_indexed(
                &store,
                embedder.as_ref(),
                &query,
                4,
                Some(&id),
            )) {
                Ok(hits) => hits
                    .iter()
                    .filter_map(|h| evolution_paragraph(&h.text))
                    .take(2)
                    .collect(),
                Err(e) => {
                    warn("the archive could not be searched for style examples", &e);
                    Vec::new()
                }
            }
        };
        Guidance {
            avoid,
            style_examples,
            known_vectors,
        }
    })
}

/// Wraps `save` so that passage vectors a draft made (not reused) are kept in the store
/// for the next draft of the episode, tied to the episode JSON they were cut from (a
/// re-import in between makes the store refuse them). A failure costs only the reuse.
fn keep_passage_vectors(state: &AppState, stored: &StoredEpisode, save: SaveFn) -> SaveFn {
    if drafting_embedder(state).is_none() {
        return save;
    }
    let store = state.store.clone();
    let handle = tokio::runtime::Handle::current();
    let id = stored.meta.episode_id.clone();
    let sha = stored.meta.content_sha256.clone();
    Box::new(move |o: &Outcome| {
        let saved = save(o)?;
        if let Some(notes) = o.notes.as_deref()
            && !notes.reused
            && let (Some((vectors, _)), Some(model)) = (&notes.vectors, &notes.model)
        {
            let rows: Vec<epicrisis_store::PassageVector> = notes
                .passages
                .iter()
                .zip(vectors)
                .map(|(p, v)| epicrisis_store::PassageVector {
                    note_index: p.note as u32,
                    day: p.day,
                    char_start: p.start as u32,
                    char_end: p.end as u32,
                    vector: v.clone(),
                })
                .collect();
            if let Err(e) = handle.block_on(store.put_passage_vectors(&id, model, &sha, &rows)) {
                warn(
                    "passage vectors were not kept; the next draft embeds the notes again",
                    &e,
                );
            }
        }
        Ok(saved)
    })
}

/// Waits for a job to finish.
pub(crate) async fn wait(job: &Job) {
    let mut rx = job.events.subscribe();
    loop {
        if job.status().finished() {
            return;
        }
        match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return,
            _ => continue,
        }
    }
}

/// A job as the API and the page see it: status, stage (in words too), place in the
/// queue, seconds so far and what a draft typically takes here, and the words of the
/// answer under way (once done, the draft).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub job_id: String,
    pub episode_id: Option<String>,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    #[schema(value_type = String)]
    pub status: Status,
    /// 1 while running, n when n−1 drafts are before it.
    pub position: Option<usize>,
    /// Drafts before this one (the one under way included).
    pub ahead: Option<usize>,
    /// `{stage: "reading"|"writing"|"checking", …}` (writing: part and attempt).
    #[schema(value_type = Option<Object>)]
    pub stage: Option<epicrisis_pipeline::Stage>,
    /// The stage in Spanish words.
    pub stage_label: Option<String>,
    pub elapsed_s: u64,
    /// The mean duration of the last drafts here.
    pub typical_s: Option<u64>,
    /// While running: the words of the answer under way; once done, the draft.
    pub text: String,
    /// Why it failed.
    pub message: Option<String>,
    /// The version saved, once done.
    pub version_id: Option<i64>,
    /// Server-Sent Events of this job.
    pub events_url: String,
    /// On `POST …/drafts`: the job is the one already under way for this episode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<bool>,
}

pub(crate) fn job_json(state: &AppState, job: &Job) -> JobView {
    let position = state.queue.position(job);
    let typical = state.queue.typical_seconds();
    let mut view = JobView {
        job_id: job.id.clone(),
        episode_id: job.episode_id.clone(),
        status: Status::Failed,
        position,
        ahead: position.map(|p| p.saturating_sub(1)),
        stage: None,
        stage_label: None,
        elapsed_s: 0,
        typical_s: typical.map(|t| t.round() as u64),
        text: String::new(),
        message: None,
        version_id: None,
        events_url: format!("/api/v1/jobs/{}/events", job.id),
        existing: None,
    };
    let st = job.state.lock();
    let Ok(s) = &st else {
        return view;
    };
    view.status = s.status;
    view.stage = s.stage;
    view.stage_label = s.stage.map(|x| x.describe_es());
    view.elapsed_s = s.started.unwrap_or(job.created).elapsed().as_secs();
    view.text = s.text.clone();
    view.message = s.message.clone();
    view.version_id = s.result.as_ref().and_then(|r| r.version_id);
    view
}

/// The answer to a cancellation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    /// Whether this request stopped it (false: it had already finished).
    pub cancelled: bool,
    pub job: JobView,
}

/// Queues a draft of a stored episode: 202 with the new job, or 200 with the job
/// already under way for it (`existing`). The result becomes a new version.
#[utoipa::path(post, path = "/api/v1/episodes/{id}/drafts", tag = "redacción",
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
    let mut body = job_json(&state, &a.job);
    body.existing = Some(!a.fresh);
    Ok((status, Json(body)))
}

fn find_job(state: &AppState, id: &str) -> ApiResult<Arc<Job>> {
    state.queue.job(id).ok_or_else(|| {
        ApiError::not_found("ese trabajo de generación no existe (o terminó hace más de una hora)")
    })
}

/// A job's state.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "redacción",
    params(("id" = String, Path, description = "El id del trabajo")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let job = find_job(&state, &id)?;
    Ok(Json(job_json(&state, &job)))
}

/// Cancels a job (whoever started it, or an admin).
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "redacción",
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

async fn cancel(state: &AppState, p: &Principal, id: &str) -> ApiResult<Cancelled> {
    let job = find_job(state, id)?;
    if job.user_id != p.user.id && p.user.role != Role::Admin {
        return Err(ApiError::forbidden(
            "solo quien inició la generación puede cancelarla",
        ));
    }
    let cancelled = state.queue.cancel(&job);
    audit(
        state,
        Some(p),
        "cancel",
        job.episode_id.as_deref(),
        None,
        json!({"job": job.id}),
    )
    .await?;
    Ok(Cancelled {
        cancelled,
        job: job_json(state, &job),
    })
}

fn sse_event(ev: &JobEvent) -> Event {
    let name = match ev {
        JobEvent::Queued { .. } => "queued",
        JobEvent::Started => "started",
        JobEvent::Stage { .. } => "stage",
        JobEvent::Token { .. } => "token",
        JobEvent::Done { .. } => "done",
        JobEvent::Failed { .. } => "failed",
        JobEvent::Cancelled => "cancelled",
    };
    Event::default()
        .event(name)
        .json_data(ev)
        .unwrap_or_else(|_| Event::default().event(name))
}

/// Server-Sent Events of a job: a `snapshot` ([`job_json`]), then `queued` (position),
/// `started`, `stage` (a new stage; a writing stage starts a new answer), `token` (words
/// of the answer under way), and one of `done`, `failed`, `cancelled`.
/// A client that goes away only drops its stream; the job goes on and is saved.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "redacción",
    params(("id" = String, Path, description = "El id del trabajo")),
    responses((status = 200, description = "Server-Sent Events: snapshot, queued, started, stage, token, done, failed, cancelled",
               content_type = "text/event-stream"),
              (status = 404, body = ErrorBody)))]
async fn job_events(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let job = find_job(&state, &id)?;
    let rx = job.events.subscribe();
    let snapshot = Event::default()
        .event("snapshot")
        .json_data(job_json(&state, &job))
        .map_err(ApiError::internal)?;
    let finished = job.status().finished();
    let stream = futures_util::stream::unfold(
        (Some(snapshot), rx, finished, job, state),
        |(first, mut rx, finished, job, state)| async move {
            if let Some(ev) = first {
                return Some((Ok(ev), (None, rx, finished, job, state)));
            }
            if finished {
                return None;
            }
            loop {
                match tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
                    Ok(Ok(ev)) => {
                        let end = matches!(
                            ev,
                            JobEvent::Done { .. } | JobEvent::Failed { .. } | JobEvent::Cancelled
                        );
                        return Some((Ok(sse_event(&ev)), (None, rx, end, job, state)));
                    }
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                        // Too slow a reader: send the whole state again.
                        let snap = Event::default()
                            .event("snapshot")
                            .json_data(job_json(&state, &job))
                            .unwrap_or_default();
                        let end = job.status().finished();
                        return Some((Ok(snap), (None, rx, end, job, state)));
                    }
                    Ok(Err(_)) => return None,
                    Err(_) => {
                        if job.status().finished() {
                            let snap = Event::default()
                                .event("snapshot")
                                .json_data(job_json(&state, &job))
                                .unwrap_or_default();
                            return Some((Ok(snap), (None, rx, true, job, state)));
                        }
                        continue;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
