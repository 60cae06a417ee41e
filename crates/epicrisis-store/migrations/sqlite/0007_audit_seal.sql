-- The signed record and its trail are append-only (issue 17, item 5).
--
-- 1. `audit.key_id`: the id of the key whose HMAC-SHA256 chains the row (see
--    src/audit/chain.rs). NULL for rows written before this migration or without a key:
--    those keep the plain SHA-256 chain. Once a keyed row exists, every later row must be
--    keyed, so a rewrite without the key cannot pass as "older rows".
-- 2. Triggers that refuse UPDATE and DELETE on audit rows, versions and episode
--    revisions. The program never changes or deletes them; whoever can write the file can
--    still drop the triggers, which is what the HMAC key and the anchor file outside the
--    database are for. A later migration that must rebuild one of these tables drops the
--    trigger first and creates it again.
ALTER TABLE audit ADD COLUMN key_id TEXT;

CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows cannot be changed: the audit trail is append-only');
END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows cannot be deleted: the audit trail is append-only');
END;
CREATE TRIGGER versions_are_append_only_update BEFORE UPDATE ON versions
BEGIN
    SELECT RAISE(ABORT, 'versions cannot be changed: save a new version or an amendment');
END;
CREATE TRIGGER versions_are_append_only_delete BEFORE DELETE ON versions
BEGIN
    SELECT RAISE(ABORT, 'versions cannot be deleted: save a new version or an amendment');
END;
CREATE TRIGGER revisions_are_append_only_update BEFORE UPDATE ON episode_revisions
BEGIN
    SELECT RAISE(ABORT, 'episode revisions cannot be changed: import the episode again');
END;
CREATE TRIGGER revisions_are_append_only_delete BEFORE DELETE ON episode_revisions
BEGIN
    SELECT RAISE(ABORT, 'episode revisions cannot be deleted: import the episode again');
END;
