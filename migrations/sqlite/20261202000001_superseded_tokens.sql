-- A retry inside the refresh grace window supersedes the pair it replaces (DESIGN.md §3):
-- exactly one chain lives, and a superseded refresh token presented later is reuse.
ALTER TABLE refresh_tokens ADD COLUMN superseded_at INTEGER;
ALTER TABLE access_tokens ADD COLUMN superseded_at INTEGER;
-- The refresh token issued together with an access token (NULL for older rows).
ALTER TABLE access_tokens ADD COLUMN refresh_hash TEXT;
CREATE INDEX access_tokens_refresh ON access_tokens (refresh_hash);
