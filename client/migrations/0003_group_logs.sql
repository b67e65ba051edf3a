-- Parley client store, version 3: each group's signed changes (docs/architecture.md §3.4),
-- every one this device received, from which the group's state is resolved. `lookup` = keyed
-- hash of the group id.
CREATE TABLE group_logs (
    lookup BLOB PRIMARY KEY,
    record BLOB NOT NULL
);
