-- Parley relay schema, version 4 (SQLite): each device's remote secret, half of its store
-- key (docs/architecture.md §5.3). The relay hands it to whoever shows the token whose
-- SHA-256 is `unlock_hash`, until the device is revoked; revocation clears both columns.
-- Devices registered before this version have neither and need none.
ALTER TABLE devices ADD COLUMN unlock_hash BLOB;
ALTER TABLE devices ADD COLUMN remote_secret BLOB;
CREATE UNIQUE INDEX devices_by_unlock_hash ON devices (unlock_hash);
