-- Client ID Metadata Documents are cached in oauth_clients (kind = 'cimd') until this time.
ALTER TABLE oauth_clients ADD COLUMN cache_expires_at INTEGER;
