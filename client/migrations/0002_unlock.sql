-- Parley client store, version 2: the unlock record (docs/architecture.md §5.3), sealed under
-- a key derived from the local key alone: where the store's remote secret is kept, and a copy
-- of it while the org's policy allows opening offline. NULL for a store made without one.
ALTER TABLE meta ADD COLUMN unlock BLOB;
