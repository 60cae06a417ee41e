//! Drafting over HTTP: queueing a draft of a stored episode (one job per episode at a
//! time: asking again returns the job under way), following it (a JSON snapshot and
//! Server-Sent Events with its stage, its place in the queue and an estimate), and
//! cancelling it. The queue itself is [`crate::jobs`].

use crate::AppState;
use crate::api::{audit, parsed_episode, provenance_json, warn};
use crate::auth::Principal;
use crate::cache::StoredEpisode;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Accepted, GuidanceFn, Job, JobEvent, Refused, SaveFn, Status};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use epicrisis_pipeline::engine::{Engine, Guidance, Outcome};
use epicrisis_pipeline::grounded::{KnownPassage, KnownVectors, evolution_paragraph};
use epicrisis_store::{NewVersion, Role, VersionKind, VersionStatus};
use futures_util::Stream;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/episodes/{id}/drafts", post(start_draft))
        .route("/api/v1/jobs/{id}", get(get_job).delete(cancel_job))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/api/v1/jobs/{id}/events", get(job_events))
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
pub(crate) fn job_json(state: &AppState, job: &Job) -> Value {
    let position = state.queue.position(job);
    let typical = state.queue.typical_seconds();
    let st = job.state.lock();
    let Ok(s) = &st else {
        return json!({"jobId": job.id, "status": Status::Failed});
    };
    let since = s.started.unwrap_or(job.created);
    json!({
        "jobId": job.id, "episodeId": job.episode_id, "status": s.status, "position": position,
        // Drafts before this one (the one under way included).
        "ahead": position.map(|p| p.saturating_sub(1)),
        "stage": s.stage, "stageLabel": s.stage.map(|x| x.describe_es()),
        "elapsedS": since.elapsed().as_secs(),
        "typicalS": typical.map(|t| t.round() as u64),
        "text": s.text, "message": s.message,
        "versionId": s.result.as_ref().and_then(|r| r.version_id),
        "eventsUrl": format!("/api/v1/jobs/{}/events", job.id),
    })
}

async fn start_draft(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let a = queue_draft(&state, &p, &id, Vec::new()).await?;
    // 202 for a new job; 200 for the one already under way for this episode.
    let status = if a.fresh {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut body = job_json(&state, &a.job);
    body["existing"] = json!(!a.fresh);
    Ok((status, Json(body)).into_response())
}

fn find_job(state: &AppState, id: &str) -> ApiResult<Arc<Job>> {
    state.queue.job(id).ok_or_else(|| {
        ApiError::not_found("ese trabajo de generación no existe (o terminó hace más de una hora)")
    })
}

async fn get_job(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let job = find_job(&state, &id)?;
    Ok(Json(job_json(&state, &job)))
}

async fn cancel_job(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let job = find_job(&state, &id)?;
    if job.user_id != p.user.id && p.user.role != Role::Admin {
        return Err(ApiError::forbidden(
            "solo quien inició la generación puede cancelarla",
        ));
    }
    let cancelled = state.queue.cancel(&job);
    audit(
        &state,
        Some(&p),
        "cancel",
        job.episode_id.as_deref(),
        None,
        json!({"job": job.id}),
    )
    .await?;
    Ok(Json(
        json!({"cancelled": cancelled, "job": job_json(&state, &job)}),
    ))
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
