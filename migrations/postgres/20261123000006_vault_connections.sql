-- The Postgres dialect of ../sqlite/20261123000006_vault_connections.sql: same tables, columns and order (a test compares them).
-- The token vault (DESIGN.md §4, §7).

-- Which provider a server authenticates with, when the user overrides detection:
-- NULL = detected from the URL; otherwise a choice key (see `vault::choice`).
ALTER TABLE mcp_servers ADD COLUMN provider TEXT;

-- One upstream connection per server. The id is the server's id, so every ciphertext here is
-- bound (AAD) to that server row and its owner. Tokens are ciphertexts (`gh1.<key>.<b64>`).
CREATE TABLE connections (
    id              BIGINT PRIMARY KEY REFERENCES mcp_servers (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT    NOT NULL,
    -- The upstream account, e.g. an email address from the provider's userinfo.
    account         TEXT,
    scopes          TEXT    NOT NULL DEFAULT '',
    access_token    TEXT    NOT NULL,
    refresh_token   TEXT,
    -- NULL when the provider gave no expires_in: refresh on upstream 401 only.
    expires_at      BIGINT,
    -- 'connected' | 'needs_reauth'
    status          TEXT    NOT NULL,
    last_refresh_at BIGINT,
    last_error      TEXT,
    -- Single-flight refresh across processes: whoever holds an unexpired lease refreshes.
    lease_owner     TEXT,
    lease_until     BIGINT,
    connected_at    BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX connections_user ON connections (user_id);

-- Pending *Authenticate* flows: single use, 10 minutes, bound to the user and the session.
CREATE TABLE oauth_states (
    state_hash    TEXT    PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    server_id     BIGINT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    -- SHA-256 of the session's binding value, so another session cannot finish the flow.
    session_hash  TEXT    NOT NULL,
    provider      TEXT    NOT NULL,
    -- The PKCE verifier. Useless without the code, which only reaches our callback, and gone
    -- within 10 minutes; kept in clear so key rotation never has to chase it.
    pkce_verifier TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
