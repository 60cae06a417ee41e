//! The generation queue: one worker thread drafts one episode at a time with the shared
//! engine; a bounded number of jobs wait. Each job keeps the text written so far and
//! broadcasts its progress, so a browser that connects late (or reconnects) sees all of
//! it. A finished job's draft is saved as a new version in the same step that marks it
//! done; a job cut by a crash saves nothing, so the last saved version stays as it was.

use epicrisis_domain::Episode;
use epicrisis_llm::CancelToken;
use epicrisis_pipeline::engine::{Engine, Guidance, Outcome};
use epicrisis_pipeline::{Layout, TextFormat};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// What a job reports while it runs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    Queued { position: usize },
    Started,
    Token { text: String },
    Done { version_id: Option<i64> },
    Failed { message: String },
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    pub fn finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

/// What a job leaves behind when it finishes.
#[derive(Debug, Clone)]
pub struct Finished {
    pub outcome: Outcome,
    pub version_id: Option<i64>,
}

#[derive(Debug)]
pub struct JobState {
    pub status: Status,
    pub text: String,
    pub message: Option<String>,
    pub result: Option<Finished>,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
}

/// What the draft needs besides the episode (the words a regeneration avoids, style
/// examples from the archive, the passage vectors of an earlier draft); runs on the
/// worker thread, just before the draft, so that a slow look-up never holds a request.
pub type GuidanceFn = Box<dyn FnOnce() -> Guidance + Send>;

/// Saves a finished draft (returns the new version's id); runs on the worker thread.
pub type SaveFn = Box<dyn FnOnce(&Outcome) -> Result<Option<i64>, String> + Send>;

pub struct Job {
    pub id: String,
    /// The stored episode's id (absent for a predecessor request with inline data).
    pub episode_id: Option<String>,
    pub user_id: i64,
    pub created: Instant,
    pub cancel: CancelToken,
    pub state: Mutex<JobState>,
    pub events: broadcast::Sender<JobEvent>,
}

/// A job waiting for the worker, with what only the worker needs.
struct Pending {
    job: Arc<Job>,
    episode: Episode,
    layout: Layout,
    /// See [`GuidanceFn`] and [`Engine::redraft_cancellable`].
    guidance: GuidanceFn,
    save: SaveFn,
}

impl Job {
    pub fn status(&self) -> Status {
        self.state
            .lock()
            .map(|s| s.status)
            .unwrap_or(Status::Failed)
    }

    fn set(&self, f: impl FnOnce(&mut JobState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }

    fn emit(&self, ev: JobEvent) {
        // No receivers is fine: nobody is watching right now.
        let _ = self.events.send(ev);
    }
}

struct Inner {
    waiting: VecDeque<Pending>,
    running: Option<Arc<Job>>,
    jobs: HashMap<String, Arc<Job>>,
    stopping: bool,
    /// Seconds of the last jobs, for the Retry-After estimate.
    recent_seconds: VecDeque<f64>,
}

/// The queue and its worker.
pub struct Queue {
    inner: Mutex<Inner>,
    wake: Condvar,
    capacity: usize,
}

/// Why a job was not accepted.
#[derive(Debug)]
pub enum Refused {
    Full { retry_after_s: u64, capacity: usize },
    Stopping,
}

impl Queue {
    /// A queue holding up to `capacity` waiting jobs, and its worker thread.
    pub fn start(
        capacity: usize,
        engine: Engine,
    ) -> std::io::Result<(Arc<Queue>, std::thread::JoinHandle<()>)> {
        let q = Arc::new(Queue {
            inner: Mutex::new(Inner {
                waiting: VecDeque::new(),
                running: None,
                jobs: HashMap::new(),
                stopping: false,
                recent_seconds: VecDeque::new(),
            }),
            wake: Condvar::new(),
            capacity: capacity.max(1),
        });
        let worker = q.clone();
        let handle = std::thread::Builder::new()
            .name("generation".into())
            .spawn(move || worker.work(engine))?;
        Ok((q, handle))
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues a job. `save` stores the draft when it is done.
    pub fn submit(
        &self,
        episode: Episode,
        episode_id: Option<String>,
        user_id: i64,
        layout: Layout,
        guidance: GuidanceFn,
        save: SaveFn,
    ) -> Result<Arc<Job>, Refused> {
        let mut inner = self.inner.lock().map_err(|_| Refused::Stopping)?;
        if inner.stopping {
            return Err(Refused::Stopping);
        }
        if inner.waiting.len() >= self.capacity {
            let avg = if inner.recent_seconds.is_empty() {
                10.0
            } else {
                inner.recent_seconds.iter().sum::<f64>() / inner.recent_seconds.len() as f64
            };
            return Err(Refused::Full {
                retry_after_s: (avg.ceil() as u64).clamp(1, 600),
                capacity: self.capacity,
            });
        }
        // Forget finished jobs after an hour.
        let old: Vec<String> = inner
            .jobs
            .iter()
            .filter(|(_, j)| {
                j.status().finished() && j.created.elapsed() > Duration::from_secs(3600)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            inner.jobs.remove(&k);
        }
        let id = crate::auth::random_token()
            .map(|t| t[..16].to_string())
            .map_err(|_| Refused::Stopping)?;
        let (tx, _) = broadcast::channel(1024);
        let job = Arc::new(Job {
            id: id.clone(),
            episode_id,
            user_id,
            created: Instant::now(),
            cancel: CancelToken::new(),
            state: Mutex::new(JobState {
                status: Status::Queued,
                text: String::new(),
                message: None,
                result: None,
                started: None,
                finished: None,
            }),
            events: tx,
        });
        inner.waiting.push_back(Pending {
            job: job.clone(),
            episode,
            layout,
            guidance,
            save,
        });
        inner.jobs.insert(id, job.clone());
        let position = inner.waiting.len() + usize::from(inner.running.is_some());
        job.emit(JobEvent::Queued { position });
        drop(inner);
        self.wake.notify_all();
        Ok(job)
    }

    pub fn job(&self, id: &str) -> Option<Arc<Job>> {
        self.inner.lock().ok()?.jobs.get(id).cloned()
    }

    /// 0 while running, 1.. while waiting (1 = next), `None` when finished.
    pub fn position(&self, job: &Job) -> Option<usize> {
        let inner = self.inner.lock().ok()?;
        if inner.running.as_ref().is_some_and(|r| r.id == job.id) {
            return Some(0);
        }
        inner
            .waiting
            .iter()
            .position(|p| p.job.id == job.id)
            .map(|i| i + 1 + usize::from(inner.running.is_some()))
    }

    /// (waiting, running).
    pub fn load(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.waiting.len(), usize::from(i.running.is_some())))
            .unwrap_or((0, 0))
    }

    /// Cancels a waiting or running job; false when it had already finished.
    pub fn cancel(&self, job: &Job) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        if let Some(i) = inner.waiting.iter().position(|p| p.job.id == job.id) {
            inner.waiting.remove(i);
            drop(inner);
            job.set(|s| {
                s.status = Status::Cancelled;
                s.finished = Some(Instant::now());
            });
            job.emit(JobEvent::Cancelled);
            return true;
        }
        if job.status() == Status::Running {
            job.cancel.cancel();
            return true;
        }
        false
    }

    /// Stops taking jobs, cancels the waiting ones and lets the running one finish (and
    /// be saved) for up to `grace`; after that it is cancelled (nothing half-written is
    /// saved). Returns once the worker is idle.
    pub fn shutdown(&self, grace: Duration) {
        let waiting: Vec<Pending> = match self.inner.lock() {
            Ok(mut inner) => {
                inner.stopping = true;
                inner.waiting.drain(..).collect()
            }
            Err(_) => return,
        };
        for Pending { job, .. } in waiting {
            job.set(|s| {
                s.status = Status::Cancelled;
                s.message = Some("el servidor se detuvo / the server stopped".into());
            });
            job.emit(JobEvent::Cancelled);
        }
        self.wake.notify_all();
        let t = Instant::now();
        loop {
            let running = self.inner.lock().ok().and_then(|i| i.running.clone());
            let Some(job) = running else { return };
            if t.elapsed() > grace {
                job.cancel.cancel();
            }
            std::thread::sleep(Duration::from_millis(50));
            if t.elapsed() > grace + Duration::from_secs(30) {
                return;
            }
        }
    }

    fn work(&self, engine: Engine) {
        loop {
            let pending = {
                let Ok(mut inner) = self.inner.lock() else {
                    return;
                };
                loop {
                    if let Some(p) = inner.waiting.pop_front() {
                        inner.running = Some(p.job.clone());
                        break p;
                    }
                    if inner.stopping {
                        return;
                    }
                    inner = match self.wake.wait(inner) {
                        Ok(i) => i,
                        Err(_) => return,
                    };
                }
            };
            // Everyone behind moved up one place.
            if let Ok(inner) = self.inner.lock() {
                for (i, p) in inner.waiting.iter().enumerate() {
                    p.job.emit(JobEvent::Queued { position: i + 2 });
                }
            }
            let t = Instant::now();
            self.run(&engine, pending);
            if let Ok(mut inner) = self.inner.lock() {
                inner.running = None;
                inner.recent_seconds.push_back(t.elapsed().as_secs_f64());
                if inner.recent_seconds.len() > 20 {
                    inner.recent_seconds.pop_front();
                }
            }
        }
    }

    fn run(&self, engine: &Engine, pending: Pending) {
        let Pending {
            job,
            episode,
            layout,
            guidance,
            save,
        } = pending;
        let job = &job;
        job.set(|s| {
            s.status = Status::Running;
            s.started = Some(Instant::now());
        });
        job.emit(JobEvent::Started);
        // A panic inside a backend must not take the server (or the queue) down.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let guidance = guidance();
            engine.redraft_cancellable(
                &episode,
                layout,
                TextFormat::Plain,
                &guidance,
                &job.cancel,
                |t| {
                    job.set(|s| s.text.push_str(t));
                    job.emit(JobEvent::Token {
                        text: t.to_string(),
                    });
                },
            )
        }));
        match result {
            Ok(Ok(outcome)) => {
                if job.cancel.is_cancelled() {
                    self.cancelled(job);
                    return;
                }
                match save(&outcome) {
                    Ok(version_id) => {
                        job.set(|s| {
                            s.status = Status::Done;
                            s.text = outcome.text.clone();
                            s.result = Some(Finished {
                                outcome,
                                version_id,
                            });
                            s.finished = Some(Instant::now());
                        });
                        job.emit(JobEvent::Done { version_id });
                    }
                    Err(e) => self.failed(job, format!("no se pudo guardar el borrador / the draft could not be saved: {e}")),
                }
            }
            Ok(Err(epicrisis_llm::GenerationError::Cancelled)) => self.cancelled(job),
            Ok(Err(e)) => self.failed(job, format!("el modelo falló / the model failed: {e}")),
            Err(_) => self.failed(job, "error interno del motor de redacción (panic); el servidor sigue funcionando / internal error in the drafting engine".into()),
        }
    }

    fn cancelled(&self, job: &Job) {
        job.set(|s| {
            s.status = Status::Cancelled;
            s.finished = Some(Instant::now());
        });
        job.emit(JobEvent::Cancelled);
    }

    fn failed(&self, job: &Job, message: String) {
        job.set(|s| {
            s.status = Status::Failed;
            s.message = Some(message.clone());
            s.finished = Some(Instant::now());
        });
        job.emit(JobEvent::Failed { message });
    }
}
