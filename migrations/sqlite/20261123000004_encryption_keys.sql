-- One key-check value per encryption key id: a configured key that does not open its check
-- value is the wrong key, and start-up stops with a clear message.
CREATE TABLE encryption_keys (
    key_id      TEXT    PRIMARY KEY,
    check_value TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
