-- Draft jobs: a request for a draft is a row, so that it survives a restart and any
-- worker of any machine can take it. See src/jobs.rs.
--
-- state: queued, running, done, failed or cancelled. A worker claims a queued job (or a
-- running one whose lease ran out: its worker died) and holds a lease it renews while it
-- drafts. episode_id is NULL for a predecessor request that sent the episode inline
-- (inline_json, cleared once the job ends). options_json: the layout and the words to
-- avoid. stage_json and partial_text: the stage and the words of the answer under way,
-- for pages served by other processes. result_json: the draft of an inline request.
-- seq: the order of arrival (the insert writes the next number under the database's
-- write lock).
CREATE TABLE draft_jobs (
    id               TEXT PRIMARY KEY,
    -- The order of arrival (jobs are taken oldest first).
    seq              BIGINT NOT NULL,
    episode_id       TEXT REFERENCES episodes (episode_id),
    episode_revision BIGINT,
    inline_json      TEXT,
    options_json     TEXT NOT NULL,
    requested_by     BIGINT NOT NULL,
    -- 0: asked for by a person (taken first); 1: part of a batch.
    priority         BIGINT NOT NULL DEFAULT 0,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      BIGINT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    stage_json       TEXT,
    partial_text     TEXT NOT NULL DEFAULT '',
    message          TEXT,
    version_id       BIGINT,
    result_json      TEXT,
    engine           TEXT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);

-- At most one job queued or running per episode.
CREATE UNIQUE INDEX draft_jobs_one_active ON draft_jobs (episode_id)
    WHERE state IN ('queued', 'running');
CREATE INDEX draft_jobs_by_state ON draft_jobs (state, priority, seq);
-- The typical duration reads the last finished drafts.
CREATE INDEX draft_jobs_finished ON draft_jobs (state, finished_at);

-- The job that wrote a version: a job's draft is saved exactly once, however many
-- workers finish it (a worker thought dead may finish after another took the job over).
ALTER TABLE versions ADD COLUMN job_id TEXT;
CREATE UNIQUE INDEX versions_job ON versions (job_id);

-- Batches: a day's discharges drafted together. An item names an episode and the job that
-- drafts it (none when the episode was already signed, or already had a draft of its
-- current data when the batch was made).
CREATE TABLE draft_batches (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE draft_batch_items (
    batch_id   TEXT NOT NULL REFERENCES draft_batches (id),
    position   BIGINT NOT NULL,
    episode_id TEXT NOT NULL REFERENCES episodes (episode_id),
    job_id     TEXT,
    PRIMARY KEY (batch_id, episode_id)
)
