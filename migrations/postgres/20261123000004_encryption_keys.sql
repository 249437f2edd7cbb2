-- The Postgres dialect of ../sqlite/20261123000004_encryption_keys.sql: same tables, columns and order (a test compares them).
-- One key-check value per encryption key id: a configured key that does not open its check
-- value is the wrong key, and start-up stops with a clear message.
CREATE TABLE encryption_keys (
    key_id      TEXT    PRIMARY KEY,
    check_value TEXT    NOT NULL,
    created_at  BIGINT NOT NULL
);
