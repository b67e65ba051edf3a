//! The `attachments` table: a received or sent file's metadata, by message.

use error::StoreResult;
use records::{Attachment, AttachmentId, MessageId};

use super::super::*;

impl StoreTx<'_> {
    /// Stores (or replaces) an attachment's metadata.
    pub async fn put_attachment(&mut self, attachment: &Attachment) -> StoreResult<()> {
        let sealed = self.store.sealer.seal(
            T_ATTACHMENTS,
            &attachment.id.0,
            &attachment.message.0,
            &attachment.encode(),
        );
        sqlx::query(
            "INSERT INTO attachments (id, message, record) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET message = excluded.message, \
             record = excluded.record",
        )
        .bind(&attachment.id.0[..])
        .bind(&attachment.message.0[..])
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    fn open_attachment(&self, row: (Vec<u8>, Vec<u8>, Vec<u8>)) -> StoreResult<Attachment> {
        let (id, message, sealed) = row;
        let id = AttachmentId(array(T_ATTACHMENTS, &id)?);
        let message = MessageId(array(T_ATTACHMENTS, &message)?);
        let plain = self
            .store
            .sealer
            .open(T_ATTACHMENTS, &id.0, &message.0, &sealed)?;
        Attachment::decode(id, message, &plain).map_err(malformed(T_ATTACHMENTS))
    }

    /// An attachment's metadata.
    pub async fn attachment(&mut self, id: &AttachmentId) -> StoreResult<Option<Attachment>> {
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT id, message, record FROM attachments WHERE id = ?")
                .bind(&id.0[..])
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(|r| self.open_attachment(r)).transpose()
    }

    /// The attachments of a message.
    pub async fn attachments_of(&mut self, message: &MessageId) -> StoreResult<Vec<Attachment>> {
        let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT id, message, record FROM attachments WHERE message = ? ORDER BY id",
        )
        .bind(&message.0[..])
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(|r| self.open_attachment(r)).collect()
    }

    /// Deletes an attachment's metadata; true if it existed.
    pub async fn delete_attachment(&mut self, id: &AttachmentId) -> StoreResult<bool> {
        self.delete_record(T_ATTACHMENTS, "id", &id.0).await
    }
}
