-- Parley client store, version 1 (SQLite). Never edit after it lands: add a new file.
--
-- Every sensitive value lives in a `record` column: AES-256-GCM under a key derived from the
-- store key, with associated data binding it to its table, its row key and the plaintext
-- routing columns of its row (see client/src/store/mod.rs). The only plaintext columns are
-- random or keyed-hash row keys and the few routing values that queries need.

-- One row: the store's format, its random id (names the key file / keystore entry), and a
-- sealed constant that tells a wrong key from a damaged record.
CREATE TABLE meta (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    format    INTEGER NOT NULL,
    store_id  BLOB    NOT NULL,
    key_check BLOB    NOT NULL
);

-- One record per name: 'account', 'identity', 'prekeys'.
CREATE TABLE singletons (
    name   TEXT PRIMARY KEY,
    record BLOB NOT NULL
);

-- Session records per remote device; `lookup` = HMAC(index key, device address).
CREATE TABLE sessions (
    lookup BLOB PRIMARY KEY,
    record BLOB NOT NULL
);

-- Received sender-key records per (group, sender device); `lookup` is a keyed hash.
CREATE TABLE sender_keys (
    lookup BLOB PRIMARY KEY,
    record BLOB NOT NULL
);

-- This device's own sender key per group; `lookup` = keyed hash of the group id.
CREATE TABLE own_sender_keys (
    lookup BLOB PRIMARY KEY,
    record BLOB NOT NULL
);

-- Directory cache: a colleague and their devices; `lookup` = keyed hash of the user id.
CREATE TABLE contacts (
    lookup BLOB PRIMARY KEY,
    record BLOB NOT NULL
);

-- 1:1 and group conversations; `id` = keyed hash of the peer user id or of the group id.
CREATE TABLE conversations (
    id     BLOB PRIMARY KEY,
    record BLOB NOT NULL
);

-- Messages. `id` is random; `conversation`, `timestamp` (local send/receive time, ms or s as
-- the engine chooses) and `outgoing` are plaintext so a conversation can be paged in order.
CREATE TABLE messages (
    id           BLOB    PRIMARY KEY,
    conversation BLOB    NOT NULL,
    timestamp    INTEGER NOT NULL,
    outgoing     INTEGER NOT NULL CHECK (outgoing IN (0, 1)),
    record       BLOB    NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation, timestamp);

-- Pending sends; `next_attempt` is plaintext so due items can be selected.
CREATE TABLE outbox (
    id           BLOB    PRIMARY KEY,
    next_attempt INTEGER NOT NULL,
    record       BLOB    NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt);

-- Attachment metadata (key, digest, relay id, ...); `message` links it to its message.
CREATE TABLE attachments (
    id      BLOB PRIMARY KEY,
    message BLOB NOT NULL,
    record  BLOB NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message);
