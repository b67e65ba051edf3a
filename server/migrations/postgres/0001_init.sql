-- Parley relay schema, version 1 (PostgreSQL). Never edit after it lands: add a new file.
-- The relay stores only public keys, hashes of secrets, routing ids and ciphertext.

-- The one org this relay serves (at most one row).
CREATE TABLE org (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    genesis_hash BYTEA    NOT NULL,
    root_key     BYTEA    NOT NULL,
    created_at   BIGINT NOT NULL
);

-- SHA-256 of the one-time setup token (at most one row); deleted when the org is created.
CREATE TABLE setup_token (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    token_hash BYTEA    NOT NULL
);

-- The signed org log, as received (clients verify it themselves).
CREATE TABLE org_log (
    seq   BIGINT PRIMARY KEY,
    entry BYTEA    NOT NULL,
    hash  BYTEA    NOT NULL
);

-- Signing keys that an `AdminAdded` entry made admins.
CREATE TABLE admins (
    signing_key BYTEA PRIMARY KEY
);

CREATE TABLE users (
    user_id    TEXT    PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Devices; a revoked device keeps its row (revoked_at set) so that its number is never reused.
CREATE TABLE devices (
    pk              BIGSERIAL PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (user_id),
    device_id       BIGINT NOT NULL,
    identity        BYTEA    NOT NULL,
    signing_key     BYTEA    NOT NULL,
    secret_hash     BYTEA    NOT NULL,
    registration_id BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    UNIQUE (user_id, device_id)
);

-- Invite and link codes, by SHA-256 of the code; deleted when redeemed.
CREATE TABLE invites (
    code_hash  BYTEA    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    new_user   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by BIGINT NOT NULL
);

-- The current signed prekey and last-resort KEM prekey of each device.
CREATE TABLE signed_prekeys (
    device_pk       BIGINT PRIMARY KEY REFERENCES devices (pk) ON DELETE CASCADE,
    signed_prekey   BYTEA,
    last_resort_kem BYTEA
);

-- One-time prekeys; kind 1 = X25519, 2 = ML-KEM-1024. Each row is handed out once.
CREATE TABLE one_time_prekeys (
    id        BIGSERIAL PRIMARY KEY,
    device_pk BIGINT NOT NULL REFERENCES devices (pk) ON DELETE CASCADE,
    kind      BIGINT NOT NULL,
    prekey    BYTEA    NOT NULL
);
CREATE INDEX one_time_prekeys_by_device ON one_time_prekeys (device_pk, kind, id);

-- Queued envelopes, deleted when the recipient device acks them or when they expire.
CREATE TABLE envelopes (
    id            BIGSERIAL PRIMARY KEY,
    device_pk     BIGINT NOT NULL,
    source_user   TEXT    NOT NULL,
    source_device BIGINT NOT NULL,
    server_ts     BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    body          BYTEA    NOT NULL
);
CREATE INDEX envelopes_by_device ON envelopes (device_pk, id);
CREATE INDEX envelopes_by_expiry ON envelopes (expires_at);

-- Encrypted attachment blobs (the bytes are files named by id in the attachment folder).
CREATE TABLE attachments (
    id         TEXT    PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX attachments_by_expiry ON attachments (expires_at);
