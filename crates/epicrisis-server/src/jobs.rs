//! The generation queue: one worker thread drafts one episode at a time with the shared
//! engine; a bounded number of jobs wait, at most one per episode (asking for a draft of
//! an episode that has one queued or under way gets that job back). Each job keeps its
//! stage and the words of the answer under way and broadcasts its progress, so a browser
//! that connects late (or reloads) sees where it is. A finished job's draft is saved as a new version in the same step that marks it
//! done; a job cut by a crash saves nothing, so the last saved version stays as it was.

use epicrisis_domain::Episode;
use epicrisis_llm::CancelToken;
use epicrisis_pipeline::engine::{Engine, Guidance, Outcome};
use epicrisis_pipeline::{Layout, Progress, Stage, TextFormat};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// What a job reports while it runs.
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
    /// While running: the stage it is in.
    pub stage: Option<Stage>,
    /// While running: the words of the answer under way; once done, the draft.
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

/// A job the queue accepted: a new one, or the one already queued or under way for the
/// same episode (`fresh` false).
pub struct Accepted {
    pub job: Arc<Job>,
    pub fresh: bool,
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

    /// Queues a job. `save` stores the draft when it is done. A stored episode has at most
    /// one job at a time: while one is queued or running, it is returned instead.
    pub fn submit(
        &self,
        episode: Episode,
        episode_id: Option<String>,
        user_id: i64,
        layout: Layout,
        guidance: GuidanceFn,
        save: SaveFn,
    ) -> Result<Accepted, Refused> {
        let mut inner = self.inner.lock().map_err(|_| Refused::Stopping)?;
        if inner.stopping {
            return Err(Refused::Stopping);
        }
        if let Some(id) = &episode_id
            && let Some(job) = active_in(&inner, id)
        {
            return Ok(Accepted { job, fresh: false });
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
                stage: None,
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
        Ok(Accepted { job, fresh: true })
    }

    pub fn job(&self, id: &str) -> Option<Arc<Job>> {
        self.inner.lock().ok()?.jobs.get(id).cloned()
    }

    /// The job under way and the waiting ones, in order.
    pub fn jobs_now(&self) -> Vec<Arc<Job>> {
        match self.inner.lock() {
            Ok(i) => in_order(&i).cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The job queued or under way for a stored episode, if any.
    pub fn active_for(&self, episode_id: &str) -> Option<Arc<Job>> {
        active_in(&*self.inner.lock().ok()?, episode_id)
    }

    /// How long a draft takes on this server: the mean of the last jobs, in seconds
    /// (`None` before the first one finishes).
    pub fn typical_seconds(&self) -> Option<f64> {
        let inner = self.inner.lock().ok()?;
        let n = inner.recent_seconds.len();
        (n > 0).then(|| inner.recent_seconds.iter().sum::<f64>() / n as f64)
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
                s.message = Some("el servidor se detuvo antes de redactarlo".into());
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
                |p| progress(job, p),
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
                            s.stage = None;
                            s.text = outcome.text.clone();
                            s.result = Some(Finished {
                                outcome,
                                version_id,
                            });
                            s.finished = Some(Instant::now());
                        });
                        job.emit(JobEvent::Done { version_id });
                    }
                    Err(e) => self.failed(job, format!("no se pudo guardar el borrador: {e}")),
                }
            }
            Ok(Err(epicrisis_llm::GenerationError::Cancelled)) => self.cancelled(job),
            Ok(Err(e)) => self.failed(job, format!("el modelo falló: {e}")),
            Err(_) => self.failed(job, "error interno del motor de redacción; el servidor sigue funcionando. Intente de nuevo o avise a informática.".into()),
        }
    }

    fn cancelled(&self, job: &Job) {
        job.set(|s| {
            s.stage = None;
            s.status = Status::Cancelled;
            s.finished = Some(Instant::now());
        });
        job.emit(JobEvent::Cancelled);
    }

    fn failed(&self, job: &Job, message: String) {
        job.set(|s| {
            s.status = Status::Failed;
            s.stage = None;
            s.message = Some(message.clone());
            s.finished = Some(Instant::now());
        });
        job.emit(JobEvent::Failed { message });
    }
}

/// The job queued or running for `episode_id`. A job that has just finished (cancelled,
/// failed or done) while the worker has not yet let it go is not one: a new request
/// must not be handed a finished job.
fn active_in(inner: &Inner, episode_id: &str) -> Option<Arc<Job>> {
    in_order(inner)
        .find(|j| j.episode_id.as_deref() == Some(episode_id) && !j.status().finished())
        .cloned()
}

/// The job under way, then the waiting ones.
fn in_order(inner: &Inner) -> impl Iterator<Item = &Arc<Job>> {
    inner
        .running
        .iter()
        .chain(inner.waiting.iter().map(|p| &p.job))
}

/// Keeps and broadcasts one report of a running draft.
fn progress(job: &Job, p: Progress) {
    match (p.stage(), p.text()) {
        (Some(stage), _) => {
            job.set(|s| {
                s.stage = Some(stage);
                // A new answer: the words of the last one are not the draft.
                if matches!(stage, Stage::Writing(_)) {
                    s.text.clear();
                }
            });
            job.emit(JobEvent::Stage {
                stage,
                label: stage.describe_es(),
            });
        }
        (None, Some(t)) => {
            job.set(|s| s.text.push_str(t));
            job.emit(JobEvent::Token {
                text: t.to_string(),
            });
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_domain::SourceShape;
    use std::sync::mpsc;

    /// A job whose save waits for `release`: it stays running until the test says so.
    fn held(q: &Queue, episode: &str, release: mpsc::Receiver<()>) -> Accepted {
        q.submit(
            Episode::empty(SourceShape::Compact),
            Some(episode.into()),
            1,
            Layout::Sections,
            Box::new(Guidance::default),
            Box::new(move |_| {
                let _ = release.recv();
                Ok(None)
            }),
        )
        .map_err(|_| "refused")
        .unwrap()
    }

    fn wait_until(job: &Job, what: impl Fn(&JobState) -> bool) {
        let t = Instant::now();
        while !job.state.lock().map(|s| what(&s)).unwrap_or(false) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the job never got there"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn an_episode_has_one_draft_job_at_a_time_and_reports_its_stage() {
        let (q, _worker) = Queue::start(4, Engine::Deterministic).unwrap();
        // Another episode's draft holds the worker, so that «a» waits and its events
        // can be followed from the start.
        let (go_z, hold_z) = mpsc::channel();
        let z = held(&q, "z", hold_z);
        let (go_a, hold_a) = mpsc::channel();
        let a = held(&q, "a", hold_a);
        assert!(a.fresh);
        let mut events = a.job.events.subscribe();
        assert_eq!(q.position(&a.job), Some(2));
        // Asking again while it waits returns the same job.
        let (_go, hold) = mpsc::channel();
        let again = held(&q, "a", hold);
        assert!(!again.fresh);
        assert_eq!(again.job.id, a.job.id);
        // Another episode gets its own job, queued behind.
        let (go_b, hold_b) = mpsc::channel();
        let b = held(&q, "b", hold_b);
        assert!(b.fresh);
        assert_eq!(q.position(&b.job), Some(3));
        assert_eq!(q.typical_seconds(), None, "no draft has finished yet");
        go_z.send(()).unwrap();
        wait_until(&z.job, |s| s.status == Status::Done);
        // Running (the writer's draft is checked before the save holds it).
        wait_until(&a.job, |s| s.status == Status::Running && s.stage.is_some());
        assert_eq!(a.job.state.lock().unwrap().stage, Some(Stage::Checking));
        assert!(q.typical_seconds().is_some());
        // Asking again while it runs returns the same job.
        let (_go, hold) = mpsc::channel();
        let again = held(&q, "a", hold);
        assert!(!again.fresh);
        assert_eq!(again.job.id, a.job.id);
        assert_eq!(
            q.active_for("a").map(|j| j.id.clone()),
            Some(a.job.id.clone())
        );
        // Done: its stage was broadcast, and the next request is a new job.
        go_a.send(()).unwrap();
        wait_until(&a.job, |s| s.status == Status::Done);
        assert!(a.job.state.lock().unwrap().stage.is_none());
        let mut saw_stage = false;
        while let Ok(ev) = events.try_recv() {
            saw_stage |= matches!(
                ev,
                JobEvent::Stage {
                    stage: Stage::Checking,
                    ..
                }
            );
        }
        assert!(saw_stage, "the stage was broadcast");
        go_b.send(()).unwrap();
        wait_until(&b.job, |s| s.status == Status::Done);
        let (go_c, hold_c) = mpsc::channel();
        let c = held(&q, "a", hold_c);
        assert!(c.fresh);
        assert_ne!(c.job.id, a.job.id);
        go_c.send(()).unwrap();
        q.shutdown(Duration::from_secs(5));
    }
}
