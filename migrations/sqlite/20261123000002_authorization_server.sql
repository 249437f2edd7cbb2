-- Authorization server: registered clients, pending authorization requests, grants and the
-- tokens issued from them. Every secret is stored as its SHA-256 hash.

CREATE TABLE oauth_clients (
    client_id           TEXT    PRIMARY KEY,
    secret_hash         TEXT,
    auth_method         TEXT    NOT NULL,
    client_name         TEXT,
    client_uri          TEXT,
    -- JSON array of registered redirect URIs.
    redirect_uris       TEXT    NOT NULL,
    application_type    TEXT    NOT NULL,
    -- 'dcr' (RFC 7591) or 'cimd' (client ID metadata document).
    kind                TEXT    NOT NULL DEFAULT 'dcr',
    created_at          INTEGER NOT NULL,
    disabled            INTEGER NOT NULL DEFAULT 0
);

-- A validated /authorize request waiting for sign-in and consent; its handle is the only
-- thing carried in URLs and forms.
CREATE TABLE authorization_requests (
    handle_hash     TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    redirect_uri    TEXT    NOT NULL,
    state           TEXT,
    code_challenge  TEXT    NOT NULL,
    scope           TEXT    NOT NULL,
    -- JSON array of requested server slugs; empty: the consent page asks.
    resources       TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE TABLE grants (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scope           TEXT    NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX grants_user ON grants (user_id);

-- The servers a grant covers. Deleting a server removes it from every grant.
CREATE TABLE grant_servers (
    grant_id    INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    server_id   INTEGER NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    PRIMARY KEY (grant_id, server_id)
);

CREATE TABLE authorization_codes (
    code_hash       TEXT    PRIMARY KEY,
    grant_id        INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    code_challenge  TEXT    NOT NULL,
    resources       TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);

-- Every token descends from one code through one family; revoking the family revokes all.
CREATE TABLE token_families (
    id                  INTEGER PRIMARY KEY,
    grant_id            INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    code_hash           TEXT    NOT NULL,
    resources           TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked_at          INTEGER
);
CREATE INDEX token_families_code ON token_families (code_hash);
CREATE INDEX token_families_grant ON token_families (grant_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT    PRIMARY KEY,
    family_id   INTEGER NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    parent_hash TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_hash);

CREATE TABLE access_tokens (
    token_hash  TEXT    PRIMARY KEY,
    family_id   INTEGER NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    -- JSON array of the server slugs this token may use.
    resources   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
