//! The drafting worker: takes jobs from the store ([`epicrisis_store::jobs`]), drafts them
//! with the engine it loaded once, and saves each draft as a version. It drafts
//! [`WorkerSettings::drafts`] jobs at a time (`EPICRISIS_PARALLEL`), each on a thread of
//! its own that claims, drafts and saves like a worker of its own; the local model decodes
//! their tokens together (`epicrisis_llm::llama`'s scheduler).
//! It runs inside `epicrisis serve` (unless `--no-worker`) and alone as
//! `epicrisis worker`; any number of them share one database.
//!
//! While a job runs, a second thread (the heartbeat) renews the job's lease, writes the
//! stage and the words under way for pages served by other processes, and cancels the
//! draft when somebody asked or when the job is no longer this worker's. Database
//! writes never sit in the decoding loop: the engine's progress only goes into memory.
//!
//! An idle worker starts as soon as a job is queued: by its own server directly, by other
//! processes through PostgreSQL's `LISTEN`/`NOTIFY`; it also looks every second (SQLite,
//! a lost listening connection, a dead worker's lease running out).
//!
//! Stopping: no new job is taken, the running one may finish (and be saved) within the
//! grace period; after it, the draft is stopped and the job handed back to the queue
//! for the next worker or the next start. A worker that dies holds its job until the
//! lease runs out; a server restarted on the same machine takes its dead predecessor's
//! jobs back at once.

use crate::api::{provenance_json, warn};
use crate::jobs::JobOptions;
use crate::metrics::{JobOutcome, Metrics};
use epicrisis_domain::Episode;
use epicrisis_embed::Embedder;
use epicrisis_llm::{CancelToken, GenerationError};
use epicrisis_pipeline::engine::{Engine, Guidance, Outcome};
use epicrisis_pipeline::grounded::{KnownPassage, KnownVectors, evolution_paragraph};
use epicrisis_pipeline::{Progress, Stage, TextFormat};
use epicrisis_store::{ClaimedJob, Completed, JobEnd, NewVersion, Store, VersionKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// How a worker takes and holds jobs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long a job stays this worker's without a word from it; a worker that dies
    /// loses its job to another after this.
    pub lease: Duration,
    /// How often an idle worker looks for work queued by other processes (work queued
    /// by its own server wakes it at once).
    pub idle_poll: Duration,
    /// How often the heartbeat writes progress and looks for a cancellation.
    pub heartbeat: Duration,
    /// Jobs drafted at a time (`EPICRISIS_PARALLEL`; at least 1).
    pub drafts: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
            heartbeat: Duration::from_millis(300),
            drafts: 1,
        }
    }
}

/// Wakes the idle drafting threads of this process when its server queues a job.
///
/// A counter of notices: a thread notes it before looking for a job and, finding none,
/// waits until it moves, so a job queued in between is never slept through, and every
/// waiting thread wakes (each tries to claim; the store gives a job to one).
#[derive(Default)]
pub struct Wake {
    notices: Mutex<u64>,
    cv: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        if let Ok(mut n) = self.notices.lock() {
            *n = n.wrapping_add(1);
        }
        self.cv.notify_all();
    }

    /// The notices so far (before looking for a job).
    fn seen(&self) -> u64 {
        self.notices.lock().map(|n| *n).unwrap_or(0)
    }

    /// Waits for a notice after `seen`, or for `timeout`.
    fn wait(&self, seen: u64, timeout: Duration) {
        let Ok(n) = self.notices.lock() else { return };
        let _ = self.cv.wait_timeout_while(n, timeout, |n| *n == seen);
    }
}

/// What the worker shares with whoever stops it.
#[derive(Default)]
struct Control {
    stopping: AtomicBool,
    /// Set when the grace period ran out: the drafts under way are stopped and their
    /// jobs handed back.
    hand_back: AtomicBool,
    /// The drafts under way, by job id.
    current: Mutex<std::collections::HashMap<String, CancelToken>>,
}

/// A started worker.
pub struct WorkerHandle {
    control: Arc<Control>,
    wake: Arc<Wake>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Hears of jobs queued by other processes (PostgreSQL).
    listener: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Takes no new job; lets the running ones finish for up to `grace`, then stops them
    /// and hands their jobs back to the queue. Returns once the worker has stopped.
    pub fn shutdown(self, grace: Duration) {
        self.control.stopping.store(true, Ordering::SeqCst);
        self.wake.notify();
        let t = Instant::now();
        while !self.threads.iter().all(|t| t.is_finished()) {
            if t.elapsed() > grace
                && !self.control.hand_back.swap(true, Ordering::SeqCst)
                && let Ok(current) = self.control.current.lock()
            {
                current.values().for_each(CancelToken::cancel);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for t in self.threads {
            let _ = t.join();
        }
        self.listener.abort();
    }
}

/// Everything a worker needs.
pub struct Worker {
    pub store: Store,
    pub engine: Engine,
    /// The embeddings model of the engine's retrieval and of the archive's style examples.
    pub embedder: Option<Arc<dyn Embedder>>,
    pub settings: WorkerSettings,
    /// Names this worker in the store's leases: `host:pid:random`.
    pub id: String,
    pub runtime: Handle,
    /// Where its drafts are counted ([`Worker::with_metrics`]; its own otherwise).
    pub metrics: Arc<Metrics>,
}

impl Worker {
    /// A worker named after this machine and process.
    pub fn new(
        store: Store,
        engine: Engine,
        embedder: Option<Arc<dyn Embedder>>,
        settings: WorkerSettings,
        runtime: Handle,
    ) -> Worker {
        let suffix = crate::auth::random_token()
            .map(|t| t[..8].to_string())
            .unwrap_or_default();
        Worker {
            id: format!("{}:{}:{suffix}", host_name(), std::process::id()),
            store,
            engine,
            embedder,
            settings,
            runtime,
            metrics: Arc::default(),
        }
    }

    /// Counts this worker's drafts in `metrics` (its server's, or its metrics address's).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Worker {
        self.metrics = metrics;
        self
    }

    /// Starts the worker's drafting threads; `wake` is how its own server wakes them.
    pub fn start(self, wake: Arc<Wake>) -> std::io::Result<WorkerHandle> {
        let control = Arc::new(Control::default());
        // The engine's labels for the metrics (a local model's name waits for its
        // checksum): worked out aside, not in the first draft's way.
        let (metrics, engine) = (self.metrics.clone(), self.engine.clone());
        let _ = std::thread::Builder::new()
            .name("engine-labels".into())
            .spawn(move || {
                let _ = metrics.engine_labels(&engine);
            });
        let listener = self.runtime.spawn(listen(self.store.clone(), wake.clone()));
        let drafts = self.settings.drafts.max(1);
        let worker = Arc::new(self);
        let mut threads = Vec::with_capacity(drafts);
        for n in 0..drafts {
            let (c, w, me) = (control.clone(), wake.clone(), worker.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("drafting-worker-{n}"))
                .spawn(move || me.run(&c, &w, n == 0));
            match spawned {
                Ok(t) => threads.push(t),
                // Fewer threads than asked still drafts; none is an error.
                Err(e) if threads.is_empty() => {
                    listener.abort();
                    return Err(e);
                }
                Err(e) => {
                    warn("a drafting thread could not be started", &e);
                    break;
                }
            }
        }
        Ok(WorkerHandle {
            control,
            wake,
            threads,
            listener,
        })
    }

    /// One drafting thread's loop; the `first` also takes back dead jobs and prunes.
    fn run(&self, control: &Control, wake: &Wake, first: bool) {
        if first {
            self.take_back_dead_local_jobs();
        }
        let mut last_prune = None::<Instant>;
        while !control.stopping.load(Ordering::SeqCst) {
            if first && last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(Instant::now());
                if let Err(e) = self.runtime.block_on(self.store.prune_jobs(30)) {
                    warn("old draft jobs could not be pruned", &e);
                }
            }
            let lease = self.settings.lease.as_millis() as i64;
            let seen = wake.seen();
            match self.runtime.block_on(self.store.claim_job(&self.id, lease)) {
                Ok(Some(job)) => self.draft(job, control),
                Ok(None) => wake.wait(seen, self.settings.idle_poll),
                Err(e) => {
                    warn("no draft job could be taken from the database", &e);
                    wake.wait(seen, self.settings.idle_poll * 5);
                }
            }
        }
    }

    /// A server restarted on this machine takes back at once the jobs its earlier
    /// process held (that process is gone), instead of waiting for their leases.
    fn take_back_dead_local_jobs(&self) {
        let Ok(owners) = self.runtime.block_on(self.store.job_owners()) else {
            return;
        };
        let host = host_name();
        let dead: Vec<String> = owners
            .into_iter()
            .filter(|o| {
                let mut parts = o.split(':');
                parts.next() == Some(host.as_str())
                    && parts
                        .next()
                        .and_then(|p| p.parse::<u32>().ok())
                        .is_some_and(|pid| !process_alive(pid))
            })
            .collect();
        if let Err(e) = self.runtime.block_on(self.store.release_jobs_of(&dead)) {
            warn("the jobs of a stopped worker could not be taken back", &e);
        }
    }

    /// Drafts one claimed job and ends it, with its log lines (in a `job` span: the job
    /// id, never the episode's) and its metrics.
    fn draft(&self, claimed: ClaimedJob, control: &Control) {
        let span = tracing::info_span!("job", job_id = %claimed.job.id);
        let _in = span.enter();
        let t = Instant::now();
        self.metrics.job_started();
        let attempt = claimed.job.attempts;
        tracing::info!(target: "epicrisis::jobs", attempt, "borrador iniciado (intento {attempt})");
        let (outcome, draft) = self.draft_claimed(&claimed, control, &span);
        let labels = self.metrics.engine_labels(&self.engine);
        self.metrics
            .job_ended(labels, outcome, t.elapsed(), draft.as_ref());
        let seconds = (t.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        let errors = (outcome == JobOutcome::Done)
            .then(|| draft.as_ref().map(|d| d.report.error_count()))
            .flatten();
        tracing::info!(target: "epicrisis::jobs", engine = %labels.engine, model = %labels.model,
            outcome = outcome.as_str(), duration_s = seconds, validation_errors = errors,
            "borrador {}: {}, {seconds:.1} s", outcome.as_str(), engine_and_model(labels));
    }

    /// Drafts one claimed job and ends it: saved, failed, cancelled or handed back;
    /// the draft when one was written.
    fn draft_claimed(
        &self,
        claimed: &ClaimedJob,
        control: &Control,
        span: &tracing::Span,
    ) -> (JobOutcome, Option<Outcome>) {
        let job = &claimed.job;
        let cancel = CancelToken::new();
        if let Ok(mut current) = control.current.lock() {
            current.insert(job.id.clone(), cancel.clone());
        }
        let progress = Arc::new(Shared::default());
        let beat = Heartbeat {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            job_id: job.id.clone(),
            worker: self.id.clone(),
            lease_ms: self.settings.lease.as_millis() as i64,
            every: self.settings.heartbeat,
            progress: progress.clone(),
            cancel: cancel.clone(),
            span: span.clone(),
        };
        let beat = std::thread::Builder::new()
            .name("drafting-heartbeat".into())
            .spawn(move || beat.run());
        let result = self.write(claimed, &cancel, &progress);
        progress.done.store(true, Ordering::SeqCst);
        if let Ok(b) = beat {
            let _ = b.join();
        }
        if let Ok(mut current) = control.current.lock() {
            current.remove(&job.id);
        }
        let (end, counted) = match result {
            Ok((outcome, sha256)) if !cancel.is_cancelled() => {
                let saved = self.save(claimed, &outcome, sha256.as_deref());
                return (saved, Some(outcome));
            }
            Ok(_) | Err(Failure::Cancelled) if control.hand_back.load(Ordering::SeqCst) => {
                (JobEnd::Released, JobOutcome::Released)
            }
            Ok(_) | Err(Failure::Cancelled) => (JobEnd::Cancelled, JobOutcome::Cancelled),
            Err(Failure::Message(m)) => (JobEnd::Failed(m), JobOutcome::Failed),
        };
        self.end(&job.id, &end);
        (counted, None)
    }

    fn end(&self, job_id: &str, end: &JobEnd) {
        if let Err(e) = self
            .runtime
            .block_on(self.store.end_job(job_id, &self.id, end))
        {
            warn("a draft job could not be ended in the database", &e);
        }
    }

    /// Reads the job's episode and options, and runs the engine; returns the draft and
    /// the SHA-256 of the data revision it was written from (a stored episode's).
    fn write(
        &self,
        claimed: &ClaimedJob,
        cancel: &CancelToken,
        progress: &Shared,
    ) -> Result<(Outcome, Option<String>), Failure> {
        let (episode, options, sha256) = self.inputs(claimed)?;
        // A panic inside a backend must not take the worker down.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let guidance = self.guidance(claimed, &episode, options.avoid.clone());
            self.engine.redraft_cancellable(
                &episode,
                options.layout,
                TextFormat::Plain,
                &guidance,
                cancel,
                |p| progress.report(p),
            )
        }));
        match result {
            Ok(Ok(outcome)) => Ok((outcome, sha256)),
            Ok(Err(GenerationError::Cancelled)) => Err(Failure::Cancelled),
            Ok(Err(e)) => Err(Failure::Message(format!("el modelo falló: {e}"))),
            Err(_) => Err(Failure::Message(
                "error interno del motor de redacción; el servidor sigue funcionando. Intente de nuevo o avise a informática.".into(),
            )),
        }
    }

    /// The episode (the revision the request saw, or the request's own), the options, and
    /// the revision's SHA-256 (`None` for a request's own episode).
    fn inputs(
        &self,
        claimed: &ClaimedJob,
    ) -> Result<(Episode, JobOptions, Option<String>), Failure> {
        let job = &claimed.job;
        let options: JobOptions = serde_json::from_str(&job.options_json)
            .map_err(|e| Failure::Message(format!("opciones del trabajo ilegibles: {e}")))?;
        let (json, sha256) = match (&job.episode_id, job.episode_revision, &claimed.inline_json) {
            (Some(id), Some(rev), _) => self
                .runtime
                .block_on(self.store.episode_revision(id, rev))
                .map_err(|e| Failure::Message(format!("no se pudo leer el episodio: {e}")))?
                .map(|r| (r.episode_json, Some(r.sha256)))
                .ok_or_else(|| {
                    Failure::Message(format!("falta la revisión {rev} de los datos del episodio"))
                })?,
            (_, _, Some(json)) => (json.clone(), None),
            _ => return Err(Failure::Message("el trabajo no tiene episodio".into())),
        };
        let episode = serde_json::from_str(&json)
            .map_err(|e| Failure::Message(format!("episodio guardado ilegible: {e}")))?;
        Ok((episode, options, sha256))
    }

    /// Saves a finished draft: a version for a stored episode (then its passage
    /// vectors, for the next draft), the draft itself for an inline request.
    fn save(&self, claimed: &ClaimedJob, outcome: &Outcome, sha256: Option<&str>) -> JobOutcome {
        let job = &claimed.job;
        let engine = self.engine.name();
        let (Some(episode_id), Some(revision)) = (&job.episode_id, job.episode_revision) else {
            let result = InlineResult {
                text: outcome.text.clone(),
                report: outcome.report.clone(),
                engine: engine.to_string(),
            };
            let (end, counted) = match serde_json::to_string(&result) {
                Ok(json) => (JobEnd::InlineDone(json), JobOutcome::Done),
                Err(e) => (
                    JobEnd::Failed(format!("no se pudo guardar el borrador: {e}")),
                    JobOutcome::Failed,
                ),
            };
            self.end(&job.id, &end);
            return counted;
        };
        let report_json = match serde_json::to_string(&outcome.report) {
            Ok(r) => r,
            Err(e) => {
                self.end(
                    &job.id,
                    &JobEnd::Failed(format!("no se pudo guardar el borrador: {e}")),
                );
                return JobOutcome::Failed;
            }
        };
        let v = NewVersion {
            episode_id: episode_id.clone(),
            kind: VersionKind::Generated,
            text: outcome.text.clone(),
            report_json,
            provenance_json: provenance_json(outcome),
            engine: Some(engine.to_string()),
            author_id: Some(job.requested_by),
            parent_id: None,
            episode_revision: Some(revision),
        };
        match self
            .runtime
            .block_on(self.store.complete_job(&job.id, &engine, &v))
        {
            Ok(Completed::Saved(_)) => {
                if let Some(sha) = sha256 {
                    self.keep_passage_vectors(episode_id, sha, outcome);
                }
                JobOutcome::Done
            }
            Ok(Completed::Cancelled) => JobOutcome::Cancelled,
            Err(e) => {
                self.end(
                    &job.id,
                    &JobEnd::Failed(format!("no se pudo guardar el borrador: {e}")),
                );
                JobOutcome::Failed
            }
        }
    }

    /// The embeddings model drafts use: the server's, when the engine is a model on
    /// this machine (the deterministic writer embeds nothing).
    fn drafting_embedder(&self) -> Option<&Arc<dyn Embedder>> {
        match &self.engine {
            Engine::Model { .. } => self.embedder.as_ref(),
            Engine::Deterministic => None,
        }
    }

    /// What a draft is told besides the episode: `avoid` (a regeneration's words), the
    /// passage vectors an earlier draft kept in the store, and — for a model on this
    /// machine only — the evolution paragraphs of the two most similar signed epicrisis
    /// of other episodes as style examples. Never sent to an external provider: other
    /// patients' text would leave the machine.
    fn guidance(&self, claimed: &ClaimedJob, episode: &Episode, avoid: Vec<String>) -> Guidance {
        let (Some(embedder), Some(id)) = (self.drafting_embedder(), &claimed.job.episode_id) else {
            return Guidance {
                avoid,
                ..Guidance::default()
            };
        };
        let model = embedder.name().to_string();
        let known_vectors = match self
            .runtime
            .block_on(self.store.passage_vectors(id, &model))
        {
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
        Guidance {
            avoid,
            style_examples: self.style_examples(embedder.as_ref(), id, episode),
            known_vectors,
        }
    }

    fn style_examples(&self, embedder: &dyn Embedder, id: &str, episode: &Episode) -> Vec<String> {
        let query = crate::archive::episode_query(episode);
        if self.engine.is_external() || query.trim().is_empty() {
            return Vec::new();
        }
        let search = crate::archive::search_indexed(&self.store, embedder, &query, 4, Some(id));
        match self.runtime.block_on(search) {
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
    }

    /// Keeps the passage vectors a draft made (not reused) for the next draft of the
    /// episode, tied to the data revision they were cut from (a re-import in between
    /// makes the store refuse them). A failure costs only the reuse.
    fn keep_passage_vectors(&self, episode_id: &str, sha256: &str, o: &Outcome) {
        if self.drafting_embedder().is_none() {
            return;
        }
        let Some(notes) = o.notes.as_deref() else {
            return;
        };
        let (Some((vectors, _)), Some(model)) = (&notes.vectors, &notes.model) else {
            return;
        };
        if notes.reused {
            return;
        }
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
        let kept = self.runtime.block_on(
            self.store
                .put_passage_vectors(episode_id, model, sha256, &rows),
        );
        if let Err(e) = kept {
            warn(
                "passage vectors were not kept; the next draft embeds the notes again",
                &e,
            );
        }
    }
}

/// Wakes the worker whenever another process queues a job (PostgreSQL's `LISTEN`); a
/// lost connection is made again after a few seconds, and meanwhile the worker polls.
/// Returns at once on SQLite.
async fn listen(store: Store, wake: Arc<Wake>) {
    loop {
        match store.job_listener().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                while listener.next().await.is_ok() {
                    wake.notify();
                }
            }
            Err(e) => warn("the database's job announcements could not be heard", &e),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// An inline request's draft, kept in its job until the request reads it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct InlineResult {
    pub text: String,
    pub report: epicrisis_validate::Report,
    pub engine: String,
}

enum Failure {
    Cancelled,
    Message(String),
}

/// The progress of the draft under way, as the engine reports it and the heartbeat
/// writes it.
#[derive(Default)]
struct Shared {
    state: Mutex<ProgressState>,
    done: AtomicBool,
}

#[derive(Default)]
struct ProgressState {
    stage: Option<Stage>,
    text: String,
    /// Something changed since the heartbeat last wrote.
    dirty: bool,
}

impl Shared {
    fn report(&self, p: Progress) {
        let Ok(mut s) = self.state.lock() else { return };
        match (p.stage(), p.text()) {
            (Some(stage), _) => {
                s.stage = Some(stage);
                // A new answer: the words of the last one are not the draft.
                if matches!(stage, Stage::Writing(_)) {
                    s.text.clear();
                }
            }
            (None, Some(t)) => s.text.push_str(t),
            (None, None) => return,
        }
        s.dirty = true;
    }

    /// What changed since the last call: (stage JSON, text).
    fn take(&self) -> Option<(Option<String>, String)> {
        let mut s = self.state.lock().ok()?;
        if !s.dirty {
            return None;
        }
        s.dirty = false;
        let stage = s.stage.and_then(|st| serde_json::to_string(&st).ok());
        Some((stage, s.text.clone()))
    }
}

struct Heartbeat {
    store: Store,
    runtime: Handle,
    job_id: String,
    worker: String,
    lease_ms: i64,
    every: Duration,
    progress: Arc<Shared>,
    cancel: CancelToken,
    /// The job's span, for its warnings.
    span: tracing::Span,
}

impl Heartbeat {
    fn run(self) {
        let _in = self.span.enter();
        while !self.progress.done.load(Ordering::SeqCst) {
            std::thread::sleep(self.every);
            let changed = self.progress.take();
            let (stage, text) = match &changed {
                Some((stage, text)) => (stage.as_deref(), Some(text.as_str())),
                None => (None, None),
            };
            let beat = self.runtime.block_on(self.store.job_progress(
                &self.job_id,
                &self.worker,
                self.lease_ms,
                stage,
                text,
            ));
            match beat {
                Ok(b) if b.cancel_requested || !b.owned => self.cancel.cancel(),
                Ok(_) => {}
                Err(e) => warn("a draft job's progress could not be written", &e),
            }
        }
    }
}

/// `llama.cpp model.gguf`, or the engine alone (`deterministic`).
fn engine_and_model(l: &crate::metrics::EngineLabels) -> String {
    match l.model.is_empty() {
        true => l.engine.clone(),
        false => format!("{} {}", l.engine, l.model),
    }
}

/// This machine's name, for worker ids (`HOSTNAME`, else /etc/hostname).
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().replace(':', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process of this machine is alive (Linux: its /proc entry). Elsewhere it
/// counts as alive, and its jobs wait for their leases.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        std::path::Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_taken_once_and_a_new_answer_clears_the_words() {
        let s = Shared::default();
        assert!(s.take().is_none());
        s.report(Progress::Checking);
        s.report(Progress::Text("Paciente "));
        s.report(Progress::Text("evoluciona"));
        let (stage, text) = s.take().unwrap();
        assert!(stage.unwrap().contains("checking"));
        assert_eq!(text, "Paciente evoluciona");
        assert!(s.take().is_none(), "nothing new");
        s.report(Progress::Writing(epicrisis_pipeline::progress::Writing {
            step: 1,
            steps: 1,
            round: 2,
            rounds: 3,
        }));
        assert_eq!(s.take().unwrap().1, "");
    }

    #[test]
    fn this_process_is_alive_and_an_unused_pid_is_not() {
        assert!(process_alive(std::process::id()));
        if cfg!(target_os = "linux") {
            assert!(!process_alive(u32::MAX - 7));
        }
    }
}
