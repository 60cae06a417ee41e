-- Sentence embeddings (SQLite). Run whole by sqlx's migrator (src/migrate.rs).
-- A vector is its floats as little-endian IEEE 754 binary32, back to back (BLOB).
-- Vectors of different models never meet: every key and every search includes the model.

-- One row per episode and model: the set of passage vectors cut from the episode's
-- evolution notes, and the SHA-256 of the episode JSON they were cut from. When the
-- episode is imported again with other content the hashes differ and the set is stale.
CREATE TABLE passage_sets (
    episode_id     TEXT NOT NULL REFERENCES episodes (episode_id),
    model          TEXT NOT NULL,
    episode_sha256 TEXT NOT NULL,
    passages       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (episode_id, model)
);

-- The passages of a set, by ordinal (0, 1, 2…). Char offsets are [start, end) in the note.
CREATE TABLE passage_vectors (
    episode_id TEXT NOT NULL,
    model      TEXT NOT NULL,
    ordinal    BIGINT NOT NULL,
    note_index BIGINT NOT NULL,
    day        BIGINT,
    char_start BIGINT NOT NULL,
    char_end   BIGINT NOT NULL,
    vector     BLOB NOT NULL,
    PRIMARY KEY (episode_id, model, ordinal),
    FOREIGN KEY (episode_id, model) REFERENCES passage_sets (episode_id, model)
);

-- The archive: per episode and model, the vector of its newest signed version's text.
CREATE TABLE archive_vectors (
    episode_id TEXT NOT NULL REFERENCES episodes (episode_id),
    model      TEXT NOT NULL,
    version_id BIGINT NOT NULL REFERENCES versions (id),
    dim        BIGINT NOT NULL,
    vector     BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (episode_id, model)
);
CREATE INDEX archive_vectors_model ON archive_vectors (model, episode_id);
