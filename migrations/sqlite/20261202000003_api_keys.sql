-- API keys (DESIGN.md §5, §6): `gh_sk_` + 256 random bits, stored only as SHA-256 with a
-- display prefix. A key covers all its owner's servers unless `limited`, then only those in
-- api_key_servers (a deleted server drops out: a limited key never widens).
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    key_hash     TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    limited      INTEGER NOT NULL DEFAULT 0 CHECK (limited IN (0, 1)),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
-- Names are unique among a user's live keys (`gatehouse key revoke <user> <name>`).
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (user_id, name) WHERE revoked_at IS NULL;

CREATE TABLE api_key_servers (
    key_id    INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    server_id INTEGER NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, server_id)
);

-- A disabled account signs nobody in and its tokens and keys stop at once.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
