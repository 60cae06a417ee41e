//! Draft jobs as the API sees them. A job is a row of the store
//! ([`epicrisis_store::jobs`]): queued here, drafted by whichever worker
//! ([`crate::worker`]) takes it — in this process or another machine's — and followed
//! by reading the row, so that any server behind a load balancer answers for any job.
//! An episode has at most one job queued or running; asking again returns it.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::worker::InlineResult;
use axum::http::StatusCode;
use epicrisis_pipeline::{Layout, Stage};
use epicrisis_store::{JobRow, JobState};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

pub use epicrisis_store::JobState as Status;

/// What a worker needs besides the episode, kept with the job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobOptions {
    pub layout: Layout,
    /// The words an earlier draft was faulted for (a regeneration).
    #[serde(default)]
    pub avoid: Vec<String>,
}

/// What a job reports while it runs (the events of its stream).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    Queued {
        position: usize,
    },
    Started,
    /// A new stage: `label` is the stage in Spanish, for the page. A new writing stage
    /// starts a new answer: the words before it were an answer the check rejected.
    Stage {
        stage: Stage,
        label: String,
    },
    /// Words of the answer under way (not the draft: the check may reject it).
    Token {
        text: String,
    },
    Done {
        version_id: Option<i64>,
    },
    Failed {
        message: String,
    },
    Cancelled,
}

impl JobEvent {
    pub fn name(&self) -> &'static str {
        match self {
            JobEvent::Queued { .. } => "queued",
            JobEvent::Started => "started",
            JobEvent::Stage { .. } => "stage",
            JobEvent::Token { .. } => "token",
            JobEvent::Done { .. } => "done",
            JobEvent::Failed { .. } => "failed",
            JobEvent::Cancelled => "cancelled",
        }
    }

    pub fn ends(&self) -> bool {
        matches!(
            self,
            JobEvent::Done { .. } | JobEvent::Failed { .. } | JobEvent::Cancelled
        )
    }
}

/// A job as the API and the page see it: status, stage (in words too), place in the
/// queue, seconds so far and what a draft typically takes here, and the words of the
/// answer under way (once done, the draft).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(
    description = "Un trabajo de redacción como lo ven la API y la página: estado, etapa \
                   (también en palabras), lugar en la cola, segundos transcurridos y lo \
                   que suele tardar un borrador aquí, y las palabras de la respuesta en \
                   curso (al terminar, el borrador)."
)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub job_id: String,
    pub episode_id: Option<String>,
    // `queued`, `running`, `done`, `failed` or `cancelled`.
    /// `queued`, `running`, `done`, `failed` o `cancelled`.
    #[schema(value_type = String)]
    pub status: Status,
    // 0 while running, n when n−1 drafts are before it.
    /// 0 mientras se redacta; n cuando hay n−1 borradores antes.
    pub position: Option<usize>,
    // Drafts before this one (those under way included).
    /// Borradores antes de este (incluidos los que están en curso).
    pub ahead: Option<usize>,
    // `{stage: "reading"|"writing"|"checking", …}` (writing: part and attempt).
    /// `{stage: "reading"|"writing"|"checking", …}` (al escribir: parte e intento).
    #[schema(value_type = Option<Object>)]
    pub stage: Option<Stage>,
    // The stage in Spanish words.
    /// La etapa, en palabras en español.
    pub stage_label: Option<String>,
    pub elapsed_s: u64,
    // The mean duration of the last drafts here.
    /// La duración media de los últimos borradores en este servidor.
    pub typical_s: Option<u64>,
    // While running: the words of the answer under way; once done, the draft.
    /// Mientras se redacta: las palabras de la respuesta en curso; al terminar, el
    /// borrador.
    pub text: String,
    // Why it failed.
    /// Por qué falló.
    pub message: Option<String>,
    // The version saved, once done.
    /// La versión guardada, al terminar.
    pub version_id: Option<i64>,
    // The engine that drafted it, once done.
    /// El motor que lo redactó, al terminar.
    pub engine: Option<String>,
    // How many times a worker took it (more than 1: a worker died with it).
    /// Cuántas veces lo tomó un proceso (más de 1: un proceso cayó con él).
    pub attempts: i64,
    // Server-Sent Events of this job.
    /// Los Server-Sent Events de este trabajo.
    pub events_url: String,
    // On `POST …/drafts`: the job is the one already under way for this episode.
    /// En `POST …/drafts`: si el trabajo es el que ya estaba en curso para este episodio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<bool>,
}

/// The view of a job row (a few small queries: its place in the queue, the typical
/// duration, and once done its draft).
pub async fn job_view(state: &AppState, job: &JobRow) -> ApiResult<JobView> {
    let ahead = state.store.jobs_ahead(job).await?;
    let position = match job.state {
        JobState::Running => Some(0),
        _ => ahead.map(|a| a + 1),
    };
    let typical = state.typical.get(&state.store).await?;
    let stage: Option<Stage> = job
        .stage_json
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    let text = match (job.state, job.version_id, &job.result_json) {
        (JobState::Done, Some(v), _) => state
            .store
            .version(v)
            .await?
            .map(|v| v.text)
            .unwrap_or_default(),
        (JobState::Done, None, Some(r)) => serde_json::from_str::<InlineResult>(r)
            .map(|r| r.text)
            .unwrap_or_default(),
        _ => job.partial_text.clone(),
    };
    let start = job.started_at.unwrap_or(job.created_at);
    let end = job.finished_at.unwrap_or(job.now);
    Ok(JobView {
        job_id: job.id.clone(),
        episode_id: job.episode_id.clone(),
        status: job.state,
        position,
        ahead: match job.state {
            JobState::Running => Some(0),
            _ => ahead,
        },
        stage,
        stage_label: stage.map(|s| s.describe_es()),
        elapsed_s: u64::try_from((end - start).max(0) / 1000).unwrap_or(0),
        typical_s: typical.map(|t| t.round() as u64),
        text,
        message: job.message.clone(),
        version_id: job.version_id,
        engine: job.engine.clone(),
        attempts: job.attempts,
        events_url: format!("/api/v1/jobs/{}/events", job.id),
        existing: None,
    })
}

/// The typical duration of a draft (the store's median of recent jobs), kept for
/// [`TypicalSeconds::FRESH`]: every follower of every job reads it four times a second,
/// and it moves only when jobs finish.
#[derive(Default)]
pub struct TypicalSeconds(std::sync::Mutex<Option<(std::time::Instant, Option<f64>)>>);

impl TypicalSeconds {
    pub const FRESH: Duration = Duration::from_secs(30);

    pub async fn get(&self, store: &epicrisis_store::Store) -> ApiResult<Option<f64>> {
        if let Ok(kept) = self.0.lock()
            && let Some((at, value)) = *kept
            && at.elapsed() < Self::FRESH
        {
            return Ok(value);
        }
        let value = store.typical_job_seconds().await?;
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some((std::time::Instant::now(), value));
        }
        Ok(value)
    }
}

/// How often a follower reads a running job's row.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// How long a synchronous route waits for its draft before answering 504 (the job goes
/// on, and its own route follows it).
pub const SYNC_WAIT: Duration = Duration::from_secs(15 * 60);

/// How long a synchronous route's job may stay queued while no draft runs anywhere
/// before the route says that no worker is drafting (idle workers look every second);
/// the default of [`crate::Settings::no_worker_after`].
pub const NO_WORKER_AFTER: Duration = Duration::from_secs(30);

/// Waits until a job ends; its last row (`None`: it vanished). For the synchronous
/// routes: gives up with 503 when the job waits queued and nothing is being drafted
/// anywhere (no worker runs), and with 504 after [`SYNC_WAIT`]; the job stays queued or
/// under way in both cases.
pub async fn wait(state: &AppState, id: &str) -> ApiResult<Option<JobRow>> {
    let t = std::time::Instant::now();
    let follow = format!("/api/v1/jobs/{id}");
    // Since when nothing has been seen running (a worker between two jobs is idle for a
    // moment: it takes a few looks to say none is there).
    let mut idle_since: Option<std::time::Instant> = None;
    loop {
        let j = match state.store.job(id).await? {
            Some(j) if j.state.finished() => return Ok(Some(j)),
            Some(j) => j,
            None => return Ok(None),
        };
        if t.elapsed() > SYNC_WAIT {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "el borrador sigue en curso tras {} minutos; el trabajo continúa: consúltelo en {follow}",
                    SYNC_WAIT.as_secs() / 60
                ),
            ));
        }
        if j.state == JobState::Queued && t.elapsed() > state.settings.no_worker_after {
            let running = state
                .store
                .active_jobs()
                .await?
                .iter()
                .any(|a| a.state == JobState::Running);
            idle_since = match (running, idle_since) {
                (true, _) => None,
                (false, None) => Some(std::time::Instant::now()),
                (false, since) => since,
            };
        }
        if idle_since.is_some_and(|s| s.elapsed() > Duration::from_secs(3)) {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "ningún proceso está redactando borradores: inicie `epicrisis worker` (o `epicrisis serve` sin --no-worker); el trabajo quedó en cola: {follow}"
                ),
            ));
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// The events between two views of a job (`before` `None`: the follower just started,
/// the snapshot said the rest).
pub fn events_between(before: &JobView, now: &JobView) -> Vec<JobEvent> {
    let mut out = Vec::new();
    if now.status == Status::Queued
        && now.position != before.position
        && let Some(p) = now.position
    {
        out.push(JobEvent::Queued { position: p });
    }
    if before.status == Status::Queued && now.status != Status::Queued {
        out.push(JobEvent::Started);
    }
    if now.stage != before.stage
        && let Some(stage) = now.stage
    {
        out.push(JobEvent::Stage {
            stage,
            label: stage.describe_es(),
        });
    }
    if now.status == Status::Running {
        // Words under way: what was added; a new answer (cleared words) starts over.
        let added = match now.text.strip_prefix(before.text.as_str()) {
            Some(rest) if before.status == Status::Running => rest,
            _ => now.text.as_str(),
        };
        if !added.is_empty() {
            out.push(JobEvent::Token {
                text: added.to_string(),
            });
        }
    }
    if now.status != before.status {
        match now.status {
            Status::Done => out.push(JobEvent::Done {
                version_id: now.version_id,
            }),
            Status::Failed => out.push(JobEvent::Failed {
                message: now.message.clone().unwrap_or_default(),
            }),
            Status::Cancelled => out.push(JobEvent::Cancelled),
            Status::Queued | Status::Running => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: Status, position: Option<usize>, text: &str) -> JobView {
        JobView {
            job_id: "j".into(),
            episode_id: Some("e".into()),
            status,
            position,
            ahead: None,
            stage: None,
            stage_label: None,
            elapsed_s: 0,
            typical_s: None,
            text: text.into(),
            message: None,
            version_id: None,
            engine: None,
            attempts: 0,
            events_url: String::new(),
            existing: None,
        }
    }

    fn names(events: &[JobEvent]) -> Vec<&'static str> {
        events.iter().map(JobEvent::name).collect()
    }

    #[test]
    fn a_followed_job_reports_its_place_start_words_and_end() {
        let q2 = view(Status::Queued, Some(2), "");
        let q1 = view(Status::Queued, Some(1), "");
        assert_eq!(names(&events_between(&q2, &q1)), ["queued"]);
        let mut run = view(Status::Running, Some(0), "Paciente");
        run.stage = Some(Stage::Checking);
        assert_eq!(
            names(&events_between(&q1, &run)),
            ["started", "stage", "token"]
        );
        let more = JobView {
            text: "Paciente evoluciona".into(),
            ..run.clone()
        };
        let ev = events_between(&run, &more);
        assert!(matches!(&ev[..], [JobEvent::Token { text }] if text == " evoluciona"));
        let mut done = view(Status::Done, None, "El borrador");
        done.version_id = Some(4);
        let ev = events_between(&more, &done);
        assert!(matches!(
            &ev[..],
            [JobEvent::Done {
                version_id: Some(4)
            }]
        ));
        assert!(ev[0].ends());
        assert!(events_between(&done, &done).is_empty());
    }
}
