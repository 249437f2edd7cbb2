-- The Postgres dialect of ../sqlite/20261202000005_activity_filters.sql: same tables, columns and order (a test compares them).
-- The Activity page's filters (issue: observability): what an event concerns besides its
-- account, whether it reports a failure, and a gateway call's duration.
ALTER TABLE audit_events ADD COLUMN server TEXT;
ALTER TABLE audit_events ADD COLUMN client TEXT;
-- 'ok' | 'error'
ALTER TABLE audit_events ADD COLUMN outcome TEXT NOT NULL DEFAULT 'ok';
ALTER TABLE audit_events ADD COLUMN duration_ms BIGINT;

-- Gateway calls recorded before: their server is the detail's first word, their client the actor.
UPDATE audit_events
   SET server = split_part(detail, ':', 1), client = actor
 WHERE kind = 'mcp.call' AND strpos(detail, ':') > 1;
UPDATE audit_events SET outcome = 'error'
 WHERE kind IN ('auth.sign_in_failed', 'consent.denied', 'token.code_replay',
                'token.reuse_detected', 'vault.refresh_failed');

-- Keyset paging, newest first, per account and over everyone.
CREATE INDEX audit_events_user_id ON audit_events (user_id, id);
CREATE INDEX audit_events_kind_id ON audit_events (kind, id);
