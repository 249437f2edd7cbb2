-- The Postgres dialect of ../sqlite/20261123000003_client_metadata_documents.sql: same tables, columns and order (a test compares them).
-- Client ID Metadata Documents are cached in oauth_clients (kind = 'cimd') until this time.
ALTER TABLE oauth_clients ADD COLUMN cache_expires_at BIGINT;
