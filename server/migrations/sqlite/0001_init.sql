-- Parley relay schema, version 1 (SQLite). Never edit after it lands: add a new file.
-- The relay stores only public keys, hashes of secrets, routing ids and ciphertext.

-- The one org this relay serves (at most one row).
CREATE TABLE org (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    genesis_hash BLOB    NOT NULL,
    root_key     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- SHA-256 of the one-time setup token (at most one row); deleted when the org is created.
CREATE TABLE setup_token (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    token_hash BLOB    NOT NULL
);

-- The signed org log, as received (clients verify it themselves).
CREATE TABLE org_log (
    seq   INTEGER PRIMARY KEY,
    entry BLOB    NOT NULL,
    hash  BLOB    NOT NULL
);

-- Signing keys that an `AdminAdded` entry made admins.
CREATE TABLE admins (
    signing_key BLOB PRIMARY KEY
);

CREATE TABLE users (
    user_id    TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
);

-- Devices; a revoked device keeps its row (revoked_at set) so that its number is never reused.
CREATE TABLE devices (
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL REFERENCES users (user_id),
    device_id       INTEGER NOT NULL,
    identity        BLOB    NOT NULL,
    signing_key     BLOB    NOT NULL,
    secret_hash     BLOB    NOT NULL,
    registration_id INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    UNIQUE (user_id, device_id)
);

-- Invite and link codes, by SHA-256 of the code; deleted when redeemed.
CREATE TABLE invites (
    code_hash  BLOB    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    new_user   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_by INTEGER NOT NULL
);

-- The current signed prekey and last-resort KEM prekey of each device.
CREATE TABLE signed_prekeys (
    device_pk       INTEGER PRIMARY KEY REFERENCES devices (pk) ON DELETE CASCADE,
    signed_prekey   BLOB,
    last_resort_kem BLOB
);

-- One-time prekeys; kind 1 = X25519, 2 = ML-KEM-1024. Each row is handed out once.
CREATE TABLE one_time_prekeys (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    device_pk INTEGER NOT NULL REFERENCES devices (pk) ON DELETE CASCADE,
    kind      INTEGER NOT NULL,
    prekey    BLOB    NOT NULL
);
CREATE INDEX one_time_prekeys_by_device ON one_time_prekeys (device_pk, kind, id);

-- Queued envelopes, deleted when the recipient device acks them or when they expire.
CREATE TABLE envelopes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    device_pk     INTEGER NOT NULL,
    source_user   TEXT    NOT NULL,
    source_device INTEGER NOT NULL,
    server_ts     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    body          BLOB    NOT NULL
);
CREATE INDEX envelopes_by_device ON envelopes (device_pk, id);
CREATE INDEX envelopes_by_expiry ON envelopes (expires_at);

-- Encrypted attachment blobs (the bytes are files named by id in the attachment folder).
CREATE TABLE attachments (
    id         TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX attachments_by_expiry ON attachments (expires_at);
