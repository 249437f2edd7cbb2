-- Upstream MCP sessions opened through the gateway (DESIGN.md §5): each `Mcp-Session-Id` an
-- upstream issues is bound to the (user, server) that opened it; only that principal may use
-- it. Stored as a SHA-256 hash: the id is a bearer-like value at the upstream.
CREATE TABLE gateway_sessions (
    session_hash TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    server_id    INTEGER NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL
);
CREATE INDEX gateway_sessions_created ON gateway_sessions (created_at);
