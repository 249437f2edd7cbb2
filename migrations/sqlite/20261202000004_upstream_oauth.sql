-- Upstreams with their own OAuth (DESIGN.md §4: MCP-native discovery and registration).

-- What the last probe of a server found. One row per server, replaced by every probe.
CREATE TABLE server_probes (
    server_id    INTEGER PRIMARY KEY REFERENCES mcp_servers (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    probed_at    INTEGER NOT NULL,
    -- 'oauth' (discovered), 'open' (answered without authorization), 'failed'
    outcome      TEXT    NOT NULL,
    -- For 'oauth': the validated protected resource (RFC 9728 `resource`), the issuer, the
    -- authorization server's metadata (a validated subset, JSON), and the scopes to ask for.
    resource     TEXT,
    issuer       TEXT,
    metadata     TEXT,
    scopes       TEXT    NOT NULL DEFAULT '',
    -- For 'failed' (and warnings): one line for the Servers page.
    message      TEXT
);

-- Gatehouse's client registration at an upstream authorization server, shared by every user
-- of that issuer. Pre-configured clients live in the config file, not here.
CREATE TABLE upstream_registrations (
    id            INTEGER PRIMARY KEY,
    -- Always 0: registrations belong to no user; the column lets the cipher's binding and
    -- `rotate-key` treat this table like the others.
    user_id       INTEGER NOT NULL DEFAULT 0,
    issuer        TEXT    NOT NULL UNIQUE,
    -- 'cimd' | 'dcr'
    method        TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    -- A ciphertext (DCR with a confidential client), else NULL.
    client_secret TEXT,
    -- 'none' | 'client_secret_basic' | 'client_secret_post'
    auth_method   TEXT    NOT NULL,
    redirect_uri  TEXT    NOT NULL,
    registered_at INTEGER NOT NULL
);

-- Scopes an upstream asked for in a 403 insufficient_scope: the next Authenticate adds them.
ALTER TABLE connections ADD COLUMN step_up_scopes TEXT;

-- `gatehouse connect`: one-time links that run Authenticate for a user once signed in.
CREATE TABLE connect_links (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    server_id   INTEGER NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    -- Set when the flow the link started ends: 1 connected, 0 failed; `result` says what.
    succeeded   INTEGER,
    result      TEXT
);
ALTER TABLE oauth_states ADD COLUMN link_id INTEGER;
