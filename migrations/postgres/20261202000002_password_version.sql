-- The Postgres dialect of ../sqlite/20261202000002_password_version.sql: same tables, columns and order (a test compares them).
-- Bumped by every password change; a browser session remembers the version it signed in
-- with and ends when it differs (a password change signs everyone else out).
ALTER TABLE users ADD COLUMN password_version BIGINT NOT NULL DEFAULT 0;
