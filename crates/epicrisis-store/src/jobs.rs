//! Draft jobs: a request for a draft is a row (`migrations/*/0006_draft_jobs.sql`), so
//! that it survives a restart and any number of workers, on any number of machines, can
//! share one database.
//!
//! The life of a job:
//! - [`Store::enqueue_job`] inserts it `queued` — unless the episode already has a job
//!   queued or running (that one is returned; a partial unique index keeps it so under
//!   concurrent requests), or the queue is full.
//! - [`Store::claim_job`] hands the oldest queued job to a worker (those people asked
//!   for before a batch's), `running`, with a lease
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that workers never wait on each other;
//!   SQLite's write lock does the same for the single-machine default). A running job
//!   whose lease ran out — its worker died — is claimed again, up to [`MAX_ATTEMPTS`]
//!   times; after that it fails, so that an episode that kills workers cannot kill them
//!   all in turn.
//! - While it drafts, the worker renews its lease and writes the stage and the words of
//!   the answer under way ([`Store::job_progress`]), which tells it in return whether
//!   somebody asked to cancel.
//! - [`Store::complete_job`] saves the draft as a version and marks the job done in one
//!   transaction. The version carries the job's id under a unique index: a job's draft
//!   is saved exactly once, even when a worker thought dead finishes after another took
//!   the job over. [`Store::end_job`] ends it otherwise (failed, cancelled, or handed back
//!   to the queue by a worker that stops).
//!
//! Times come from the database's clock, not the worker's: leases compare times written
//! by different machines.
//!
//! On PostgreSQL a queued (or handed-back) job is announced with `NOTIFY`, so that idle
//! workers of other processes start at once ([`Store::job_listener`]); on SQLite, and
//! whenever the listening connection is down, workers poll.

use crate::{Backend, NewVersion, Result, Store, StoreError, is_unique_violation, versions};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

/// How many times a job is claimed before it fails (each claim after the first follows
/// a worker that died with the job).
pub const MAX_ATTEMPTS: i64 = 3;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<JobState> {
        Ok(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            other => return Err(StoreError::Db(format!("unknown job state {other:?}"))),
        })
    }

    pub fn finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A request for a draft.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The stored episode; `None` with `inline_json` for a request that sent the episode.
    pub episode_id: Option<String>,
    /// The revision of the episode's data the request saw.
    pub episode_revision: Option<i64>,
    /// The episode itself (JSON), for a request without a stored episode.
    pub inline_json: Option<String>,
    /// What the worker needs besides the episode (layout, words to avoid), JSON.
    pub options_json: String,
    pub requested_by: i64,
    /// A batch's jobs wait behind those a person asked for, and do not count against
    /// the queue's capacity.
    pub batch: bool,
}

/// A job as stored (without the inline episode, which only the worker reads).
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: String,
    /// The order of arrival.
    pub seq: i64,
    pub episode_id: Option<String>,
    pub episode_revision: Option<i64>,
    pub options_json: String,
    pub requested_by: i64,
    /// Part of a batch (taken after the jobs people asked for).
    pub batch: bool,
    pub state: JobState,
    pub attempts: i64,
    /// The worker holding it while it runs.
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub cancel_requested: bool,
    pub stage_json: Option<String>,
    /// While running: the words of the answer under way.
    pub partial_text: String,
    /// Why it failed or was cancelled.
    pub message: Option<String>,
    pub version_id: Option<i64>,
    /// An inline request's draft (JSON), once done.
    pub result_json: Option<String>,
    /// The engine of the worker that drafted it.
    pub engine: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The database's clock when the row was read (for elapsed times).
    pub now: i64,
}

/// A job a worker claimed, with the inline episode when there is one.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job: JobRow,
    pub inline_json: Option<String>,
}

/// What [`Store::enqueue_job`] did.
#[derive(Debug, Clone)]
pub enum Enqueued {
    New(JobRow),
    /// The episode's job already queued or running.
    Existing(JobRow),
    /// `capacity` jobs are waiting already.
    Full {
        waiting: usize,
    },
}

/// What a worker learns when it reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Somebody asked to cancel the job.
    pub cancel_requested: bool,
    /// The job is still this worker's (false: its lease ran out and another took it, or
    /// it ended): the worker should stop.
    pub owned: bool,
}

/// How a job ends without a saved draft.
#[derive(Debug, Clone)]
pub enum JobEnd {
    Failed(String),
    Cancelled,
    /// An inline request's draft (JSON): done without a version.
    InlineDone(String),
    /// Back to the queue (a worker that stops hands its job on; not an attempt).
    Released,
}

/// What [`Store::complete_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// Saved as this version (or found saved already by an earlier finish of the job).
    Saved(i64),
    /// Cancelled while it was drafted: nothing saved.
    Cancelled,
}

const COLUMNS: &str = "id, seq, episode_id, episode_revision, options_json, requested_by, priority, state, \
     attempts, lease_owner, lease_until, cancel_requested, stage_json, partial_text, message, \
     version_id, result_json, engine, created_at, started_at, finished_at";

/// The PostgreSQL channel new jobs are announced on.
const CHANNEL: &str = "epicrisis_jobs";

/// A PostgreSQL connection that hears of new jobs.
pub struct JobListener(sqlx::postgres::PgListener);

impl JobListener {
    /// Waits for the next announcement. An error means the connection was lost and could
    /// not be made again: make a new listener later.
    pub async fn next(&mut self) -> Result<()> {
        self.0.recv().await?;
        Ok(())
    }
}

/// The database's clock in Unix milliseconds, as SQL.
fn now_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

fn job_row(r: &AnyRow) -> Result<JobRow> {
    Ok(JobRow {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        episode_id: r.try_get("episode_id")?,
        episode_revision: r.try_get("episode_revision")?,
        options_json: r.try_get("options_json")?,
        requested_by: r.try_get("requested_by")?,
        batch: r.try_get::<i64, _>("priority")? > 0,
        state: JobState::parse(&r.try_get::<String, _>("state")?)?,
        attempts: r.try_get("attempts")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until: r.try_get("lease_until")?,
        cancel_requested: r.try_get::<i64, _>("cancel_requested")? != 0,
        stage_json: r.try_get("stage_json")?,
        partial_text: r.try_get("partial_text")?,
        message: r.try_get("message")?,
        version_id: r.try_get("version_id")?,
        result_json: r.try_get("result_json")?,
        engine: r.try_get("engine")?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        now: r.try_get("now")?,
    })
}

/// A new job's id: 16 hex digits of randomness.
fn new_job_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| StoreError::Db(format!("no randomness for a job id: {e}")))?;
    Ok(hex::encode(bytes))
}

impl Store {
    fn select_jobs(&self, rest: &str) -> String {
        format!(
            "SELECT {COLUMNS}, {now} AS now FROM draft_jobs {rest}",
            now = now_sql(self.backend)
        )
    }

    /// Queues a draft; see [`Enqueued`]. `capacity`: how many jobs may wait.
    pub async fn enqueue_job(&self, job: &NewJob, capacity: usize) -> Result<Enqueued> {
        if let Some(id) = &job.episode_id
            && let Some(active) = self.active_job(id).await?
        {
            return Ok(Enqueued::Existing(active));
        }
        if !job.batch {
            let waiting = self.waiting_asked_for().await?;
            if waiting >= capacity {
                return Ok(Enqueued::Full { waiting });
            }
        }
        let id = new_job_id()?;
        // PostgreSQL numbers arrivals with an identity column; SQLite under its write lock.
        let (seq_column, seq_value) = match self.backend {
            Backend::Sqlite => (
                ", seq",
                ", (SELECT COALESCE(MAX(seq), 0) + 1 FROM draft_jobs)",
            ),
            Backend::Postgres => ("", ""),
        };
        let result = sqlx::query(&format!(
            "INSERT INTO draft_jobs (id, episode_id, episode_revision, inline_json, \
             options_json, requested_by, priority, state, created_at{seq_column}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', {now}{seq_value})",
            now = now_sql(self.backend)
        ))
        .bind(&id)
        .bind(&job.episode_id)
        .bind(job.episode_revision)
        .bind(&job.inline_json)
        .bind(&job.options_json)
        .bind(job.requested_by)
        .bind(i64::from(job.batch))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => {}
            // Another request queued one for the same episode in between.
            Err(e) if is_unique_violation(&e) => {
                if let Some(id) = &job.episode_id
                    && let Some(active) = self.active_job(id).await?
                {
                    return Ok(Enqueued::Existing(active));
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        }
        self.announce_job().await?;
        let row = self.job(&id).await?;
        row.map(Enqueued::New)
            .ok_or_else(|| StoreError::Db(format!("job {id} vanished after queueing")))
    }

    /// Tells listening workers that a job is waiting (PostgreSQL; nothing on SQLite).
    async fn announce_job(&self) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// A connection that hears of each job queued from now on (`None` on SQLite, where
    /// workers poll).
    pub async fn job_listener(&self) -> Result<Option<JobListener>> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(JobListener(listener)))
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query(&self.select_jobs("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_row).transpose()
    }

    /// These jobs, by id (the ones pruned are missing): one query per 500 ids.
    pub async fn jobs(&self, ids: &[String]) -> Result<std::collections::HashMap<String, JobRow>> {
        let rows = self
            .rows_in(ids, |list| {
                self.select_jobs(&format!("WHERE id IN ({list})"))
            })
            .await?;
        rows.iter()
            .map(|r| job_row(r).map(|j| (j.id.clone(), j)))
            .collect()
    }

    /// The episode's job queued or running, if any.
    pub async fn active_job(&self, episode_id: &str) -> Result<Option<JobRow>> {
        let row = sqlx::query(
            &self.select_jobs("WHERE episode_id = $1 AND state IN ('queued', 'running')"),
        )
        .bind(episode_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_row).transpose()
    }

    /// The running jobs, then the queued ones in the order they will be taken.
    pub async fn active_jobs(&self) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(&self.select_jobs(
            "WHERE state IN ('queued', 'running') \
             ORDER BY CASE state WHEN 'running' THEN 0 ELSE 1 END, priority, seq",
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    /// (waiting, running).
    pub async fn job_counts(&self) -> Result<(usize, usize)> {
        let r = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS waiting, \
             COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS running \
             FROM draft_jobs WHERE state IN ('queued', 'running')",
        )
        .fetch_one(&self.pool)
        .await?;
        let count = |name: &str| -> Result<usize> {
            Ok(usize::try_from(r.try_get::<i64, _>(name)?).unwrap_or(0))
        };
        Ok((count("waiting")?, count("running")?))
    }

    /// Queued jobs that people asked for (what the capacity bounds).
    async fn waiting_asked_for(&self) -> Result<usize> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM draft_jobs WHERE state = 'queued' AND priority = 0",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(usize::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// How many drafts come before a queued job: the running ones and the queued ones
    /// taken before it. `None` when the job is not queued.
    pub async fn jobs_ahead(&self, job: &JobRow) -> Result<Option<usize>> {
        if job.state != JobState::Queued {
            return Ok(None);
        }
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM draft_jobs WHERE state = 'running' \
             OR (state = 'queued' AND (priority < $1 OR (priority = $1 AND seq < $2)))",
        )
        .bind(i64::from(job.batch))
        .bind(job.seq)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(
            usize::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
        ))
    }

    /// The mean seconds of the last 20 finished drafts (`None` before the first).
    pub async fn typical_job_seconds(&self) -> Result<Option<f64>> {
        let rows = sqlx::query(
            "SELECT finished_at - started_at AS ms FROM draft_jobs \
             WHERE state = 'done' AND started_at IS NOT NULL AND finished_at IS NOT NULL \
             ORDER BY finished_at DESC LIMIT 20",
        )
        .fetch_all(&self.pool)
        .await?;
        let ms: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("ms"))
            .collect::<std::result::Result<_, _>>()?;
        Ok((!ms.is_empty()).then(|| ms.iter().sum::<i64>() as f64 / ms.len() as f64 / 1e3))
    }

    /// Hands the oldest queued job (or a running one whose lease ran out) to `worker`
    /// for `lease_ms`; `None` when there is nothing to do. Jobs whose workers died
    /// [`MAX_ATTEMPTS`] times fail first.
    pub async fn claim_job(&self, worker: &str, lease_ms: i64) -> Result<Option<ClaimedJob>> {
        let now = now_sql(self.backend);
        sqlx::query(&format!(
            "UPDATE draft_jobs SET state = 'failed', lease_owner = NULL, inline_json = NULL, \
             partial_text = '', finished_at = {now}, \
             message = 'el trabajo detuvo a su redactor {MAX_ATTEMPTS} veces; se abandonó' \
             WHERE state = 'running' AND lease_until < {now} AND attempts >= {MAX_ATTEMPTS}"
        ))
        .execute(&self.pool)
        .await?;
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE draft_jobs SET state = 'running', lease_owner = $1, \
             lease_until = {now} + $2, attempts = attempts + 1, \
             started_at = COALESCE(started_at, {now}), stage_json = NULL, partial_text = '' \
             WHERE id = (SELECT id FROM draft_jobs \
                 WHERE (state = 'queued' AND cancel_requested = 0) \
                    OR (state = 'running' AND lease_until < {now}) \
                 ORDER BY priority, seq LIMIT 1 {lock}) \
             RETURNING {COLUMNS}, inline_json, {now} AS now"
        );
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&sql)
            .bind(worker)
            .bind(lease_ms)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.map(|r| {
            Ok(ClaimedJob {
                job: job_row(&r)?,
                inline_json: r.try_get("inline_json")?,
            })
        })
        .transpose()
    }

    /// A worker's report on its job: renews the lease for `lease_ms`, and records the
    /// stage (JSON) and the words under way when given.
    pub async fn job_progress(
        &self,
        id: &str,
        worker: &str,
        lease_ms: i64,
        stage_json: Option<&str>,
        partial_text: Option<&str>,
    ) -> Result<Heartbeat> {
        let now = now_sql(self.backend);
        let row = sqlx::query(&format!(
            "UPDATE draft_jobs SET lease_until = {now} + $3, \
             stage_json = COALESCE($4, stage_json), partial_text = COALESCE($5, partial_text) \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running' \
             RETURNING cancel_requested"
        ))
        .bind(id)
        .bind(worker)
        .bind(lease_ms)
        .bind(stage_json)
        .bind(partial_text)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Heartbeat {
                cancel_requested: r.try_get::<i64, _>("cancel_requested")? != 0,
                owned: true,
            },
            None => Heartbeat {
                cancel_requested: false,
                owned: false,
            },
        })
    }

    /// Saves a job's draft as a version (`v.parent_id` is ignored: a generated draft
    /// follows whatever version is latest when it is saved) and marks the job done, in
    /// one transaction. Exactly once per job: a second call finds the first's version.
    /// A job cancelled meanwhile saves nothing and ends cancelled.
    pub async fn complete_job(&self, id: &str, engine: &str, v: &NewVersion) -> Result<Completed> {
        let mut tx = self.write_tx().await?;
        self.lock_episode(&mut tx, &v.episode_id).await?;
        let job = sqlx::query("SELECT cancel_requested, state FROM draft_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no job {id:?}")))?;
        let cancelled = job.try_get::<i64, _>("cancel_requested")? != 0
            || job.try_get::<String, _>("state")? == "cancelled";
        let saved = sqlx::query("SELECT id FROM versions WHERE job_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>("id"))
            .transpose()?;
        let now = now_sql(self.backend);
        let version = match saved {
            Some(version) => version,
            None if cancelled => {
                sqlx::query(&format!(
                    "UPDATE draft_jobs SET state = 'cancelled', lease_owner = NULL, \
                     inline_json = NULL, stage_json = NULL, partial_text = '', \
                     finished_at = {now} WHERE id = $1"
                ))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(Completed::Cancelled);
            }
            None => {
                let latest = versions::latest_in(&mut tx, &v.episode_id).await?;
                let v = NewVersion {
                    parent_id: latest.map(|l| l.id),
                    ..v.clone()
                };
                self.add_version_in(&mut tx, &v, Some(id)).await?.id
            }
        };
        sqlx::query(&format!(
            "UPDATE draft_jobs SET state = 'done', version_id = $2, engine = $3, \
             lease_owner = NULL, stage_json = NULL, partial_text = '', \
             finished_at = COALESCE(finished_at, {now}) WHERE id = $1"
        ))
        .bind(id)
        .bind(version)
        .bind(engine)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Completed::Saved(version))
    }

    /// Ends `worker`'s job without a saved draft; false when the job is no longer the
    /// worker's (another took it over, or it ended).
    pub async fn end_job(&self, id: &str, worker: &str, end: &JobEnd) -> Result<bool> {
        let now = now_sql(self.backend);
        let (state, message, result, finished) = match end {
            JobEnd::Failed(m) => ("failed", Some(m.as_str()), None, true),
            JobEnd::Cancelled => ("cancelled", None, None, true),
            JobEnd::InlineDone(r) => ("done", None, Some(r.as_str()), true),
            JobEnd::Released => ("queued", None, None, false),
        };
        let finished_at = if finished { now } else { "NULL" };
        // A job handed back was not an attempt of its own.
        let attempts = if finished { "attempts" } else { "attempts - 1" };
        let inline = if finished { "NULL" } else { "inline_json" };
        let done = sqlx::query(&format!(
            "UPDATE draft_jobs SET state = $3, message = $4, result_json = $5, \
             lease_owner = NULL, lease_until = NULL, stage_json = NULL, partial_text = '', \
             attempts = {attempts}, inline_json = {inline}, finished_at = {finished_at} \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'"
        ))
        .bind(id)
        .bind(worker)
        .bind(state)
        .bind(message)
        .bind(result)
        .execute(&self.pool)
        .await?;
        if !finished && done.rows_affected() > 0 {
            self.announce_job().await?;
        }
        Ok(done.rows_affected() > 0)
    }

    /// Asks to cancel a job: a queued one ends at once, a running one when its worker
    /// next reports. Returns the job's state after the request (`None`: no such job).
    pub async fn cancel_job(&self, id: &str) -> Result<Option<JobState>> {
        let now = now_sql(self.backend);
        sqlx::query(&format!(
            "UPDATE draft_jobs SET state = 'cancelled', inline_json = NULL, \
             finished_at = {now}, cancel_requested = 1 WHERE id = $1 AND state = 'queued'"
        ))
        .bind(id)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE draft_jobs SET cancel_requested = 1 WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(self.job(id).await?.map(|j| j.state))
    }

    /// Hands back to the queue the running jobs of `owners` (workers known to be dead:
    /// a restarted server's earlier process), without waiting for their leases.
    pub async fn release_jobs_of(&self, owners: &[String]) -> Result<u64> {
        let mut n = 0;
        for owner in owners {
            n += sqlx::query(
                "UPDATE draft_jobs SET state = 'queued', lease_owner = NULL, \
                 lease_until = NULL, stage_json = NULL, partial_text = '' \
                 WHERE lease_owner = $1 AND state = 'running'",
            )
            .bind(owner)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        if n > 0 {
            self.announce_job().await?;
        }
        Ok(n)
    }

    /// The owners of running jobs (to find those of dead workers).
    pub async fn job_owners(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT lease_owner FROM draft_jobs \
             WHERE state = 'running' AND lease_owner IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("lease_owner")?))
            .collect()
    }

    /// Forgets finished jobs older than `days` (their versions stay).
    pub async fn prune_jobs(&self, days: i64) -> Result<u64> {
        let now = now_sql(self.backend);
        Ok(sqlx::query(&format!(
            "DELETE FROM draft_jobs WHERE state IN ('done', 'failed', 'cancelled') \
             AND finished_at < {now} - $1"
        ))
        .bind(days * 86_400_000)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
