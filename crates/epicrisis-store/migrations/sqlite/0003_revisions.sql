-- The immutable signed record (SQLite). See src/revisions.rs.

-- Every distinct content an episode was imported with, numbered 1, 2, 3… per episode.
-- Only ever inserted: a re-import with identical JSON adds nothing, one with other JSON
-- adds the next revision. sha256 is the SHA-256 (hex) of episode_json.
-- Databases migrated from version 2 get revision 1 made from each episode's JSON at the
-- time of the migration (filled in by the program, which computes the SHA-256).
CREATE TABLE episode_revisions (
    episode_id   TEXT NOT NULL REFERENCES episodes (episode_id),
    revision     BIGINT NOT NULL,
    episode_json TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    source_kind  TEXT NOT NULL,
    imported_at  BIGINT NOT NULL,
    PRIMARY KEY (episode_id, revision)
);

-- The episode row points to its latest revision (its episode_json is that revision's).
ALTER TABLE episodes ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;

-- The revision of the episode data a version was written from (existing versions: 1,
-- the episode's JSON at the time of the migration, the best that is known of them).
ALTER TABLE versions ADD COLUMN episode_revision BIGINT NOT NULL DEFAULT 1;

-- How content_hash was computed: 1 = SHA-256 of the text alone (versions saved before
-- this migration), 2 = the canonical record (text, data snapshot, metadata).
ALTER TABLE versions ADD COLUMN hash_scheme BIGINT NOT NULL DEFAULT 1;
