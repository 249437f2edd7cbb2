-- A static upstream credential per server (e.g. a bearer token given to `gatehouse server add
-- --bearer-stdin`), stored only as a ciphertext like the URL beside it.
ALTER TABLE mcp_servers ADD COLUMN static_credential TEXT;
