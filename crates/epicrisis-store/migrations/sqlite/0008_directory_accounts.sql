-- Accounts of the hospital's directory (LDAP / Active Directory). See src/directory.rs.
-- `users.disabled` keeps its type; from now on 1 means disabled by an administrator and 2
-- disabled by the directory (no mapped group any more, disabled or gone there), which a
-- later directory login may lift; both are "not 0" for every reader.

-- Where the account's password is checked: 'local' (an argon2id hash in password_hash,
-- every account made before this migration) or 'directory' (the directory checks it at
-- each login; password_hash then holds a value no password matches, and no password can
-- be set here).
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
-- The account's distinguished name in the directory at its last login (NULL for local
-- accounts), for the administrators.
ALTER TABLE users ADD COLUMN directory_dn TEXT;
