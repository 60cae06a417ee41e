-- The first schema (SQLite). Run whole by sqlx's migrator (src/migrate.rs).
-- Times are Unix milliseconds; booleans are 0/1 integers; JSON is text.

CREATE TABLE episodes (
    episode_id     TEXT PRIMARY KEY NOT NULL,
    service        TEXT,
    admission_date TEXT,
    discharge_date TEXT,
    episode_json   TEXT NOT NULL,
    source         TEXT NOT NULL,
    source_kind    TEXT NOT NULL,
    imported_at    BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX episodes_discharge_date ON episodes (discharge_date);
CREATE INDEX episodes_service ON episodes (service);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- Append-only: the code has no UPDATE or DELETE for this table.
CREATE TABLE versions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id      TEXT NOT NULL REFERENCES episodes (episode_id),
    number          BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    text            TEXT NOT NULL,
    report_json     TEXT NOT NULL,
    provenance_json TEXT NOT NULL,
    engine          TEXT,
    author_id       BIGINT REFERENCES users (id),
    parent_id       BIGINT REFERENCES versions (id),
    amends          BIGINT REFERENCES versions (id),
    content_hash    TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX versions_episode_number ON versions (episode_id, number);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Append-only, hash-chained. Ids are given by the store (the hash covers them).
CREATE TABLE audit (
    id         BIGINT PRIMARY KEY NOT NULL,
    at         BIGINT NOT NULL,
    user_id    BIGINT,
    username   TEXT,
    action     TEXT NOT NULL,
    episode_id TEXT,
    version_id BIGINT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_episode ON audit (episode_id, id);

-- One row: the last audit row's id and hash, updated with every append, so that a cut
-- end of the chain is found.
CREATE TABLE audit_head (
    one       BIGINT PRIMARY KEY NOT NULL CHECK (one = 1),
    last_id   BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (one, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
