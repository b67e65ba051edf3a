-- Parley relay schema, version 3 (PostgreSQL): each attachment records the device that
-- uploaded it (its `devices.pk`), so that the bytes a device keeps stored can be capped
-- (`attachment_quota_bytes`). Attachments uploaded before this version have no owner and
-- count for no one; they expire with the attachment TTL.
ALTER TABLE attachments ADD COLUMN device_pk BIGINT;
CREATE INDEX attachments_by_device ON attachments (device_pk, expires_at);
