-- Parley client store, version 4: disappearing messages (docs/architecture.md §7). A row's
-- `expires_at` (ms since the Unix epoch; NULL: never) is plaintext so expired rows can be
-- found and deleted; it is bound into the row's associated data.
ALTER TABLE messages ADD COLUMN expires_at INTEGER;
CREATE INDEX messages_by_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
