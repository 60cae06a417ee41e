-- API tokens expire. See src/tokens.rs.

-- When the token stops working (Unix milliseconds). New tokens get one from the caller
-- (90 days by default); tokens made before this migration, which had none, get 90 days
-- from the migration, so an integration is not cut off the day the program is updated.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
UPDATE api_tokens SET expires_at = CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) + 7776000000 WHERE expires_at IS NULL
