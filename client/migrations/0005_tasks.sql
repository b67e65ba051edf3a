-- Parley client store, version 5: tasks in conversations (docs/architecture.md §7), one
-- sealed record per task. `lookup` = keyed hash of (conversation, task id); `expires_at`
-- (ms since the Unix epoch; NULL: never) is plaintext so that a task of a conversation with
-- disappearing messages can be deleted when its time is up, and is bound into the record's
-- associated data.
CREATE TABLE tasks (
    lookup BLOB PRIMARY KEY,
    expires_at INTEGER,
    record BLOB NOT NULL
);
CREATE INDEX tasks_by_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;
