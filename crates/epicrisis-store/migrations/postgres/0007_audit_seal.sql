-- The signed record and its trail are append-only (issue 17, item 5).
--
-- 1. `audit.key_id`: the id of the key whose HMAC-SHA256 chains the row (see
--    src/audit/chain.rs). NULL for rows written before this migration or without a key:
--    those keep the plain SHA-256 chain. Once a keyed row exists, every later row must be
--    keyed, so a rewrite without the key cannot pass as "older rows".
-- 2. Triggers that refuse UPDATE, DELETE and TRUNCATE on audit rows, versions and
--    episode revisions. The program never changes or deletes them; the owner of the tables
--    can still drop the triggers, which is what the HMAC key and the anchor file outside
--    the database are for. A later migration that must rewrite one of these tables drops
--    the trigger first and creates it again.
ALTER TABLE audit ADD COLUMN key_id TEXT;

CREATE OR REPLACE FUNCTION epicrisis_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: these rows are append-only in epicrisis (save a new version, or import the episode again)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_is_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION epicrisis_append_only();
CREATE TRIGGER audit_is_not_truncated BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION epicrisis_append_only();
CREATE TRIGGER versions_are_append_only BEFORE UPDATE OR DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION epicrisis_append_only();
CREATE TRIGGER versions_are_not_truncated BEFORE TRUNCATE ON versions
    FOR EACH STATEMENT EXECUTE FUNCTION epicrisis_append_only();
CREATE TRIGGER revisions_are_append_only BEFORE UPDATE OR DELETE ON episode_revisions
    FOR EACH ROW EXECUTE FUNCTION epicrisis_append_only();
CREATE TRIGGER revisions_are_not_truncated BEFORE TRUNCATE ON episode_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION epicrisis_append_only();
