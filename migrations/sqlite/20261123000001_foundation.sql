-- Foundation: accounts, invites, the servers registry and the audit log.
-- Timestamps are Unix seconds. Sessions live in the `sessions` table owned by the
-- tower-sessions SQLite store (created by its own migration at start-up).

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,
    -- NULL until the user sets a password through an invite link.
    password_hash       TEXT,
    is_admin            INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER
);

CREATE TABLE invites (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX invites_user ON invites (user_id);

CREATE TABLE mcp_servers (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    -- Stored as given for now; the vault moves it into the encrypted store.
    url         TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, slug)
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    -- The account the event is about (NULL for e.g. a failed sign-in of an unknown name).
    user_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- Who did it: a username, or "cli" for operator commands.
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '',
    ip          TEXT
);
CREATE INDEX audit_events_user_at ON audit_events (user_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
