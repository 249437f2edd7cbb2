-- Bumped by every password change; a browser session remembers the version it signed in
-- with and ends when it differs (a password change signs everyone else out).
ALTER TABLE users ADD COLUMN password_version INTEGER NOT NULL DEFAULT 0;
