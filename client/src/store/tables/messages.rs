//! The `messages` table: rows keyed by a keyed hash of (author, message id), paged by
//! conversation and local time.

use error::{StoreError, StoreResult};
use records::{ConversationId, Message, MessageId, MessageStatus};

use super::super::*;

impl StoreTx<'_> {
    /// Stores (or replaces) a message.
    pub async fn put_message(&mut self, message: &Message) -> StoreResult<()> {
        let routing = Message::routing(
            &message.conversation,
            message.timestamp,
            message.outgoing,
            message.expires_at,
        );
        let sealed = self
            .store
            .sealer
            .seal(T_MESSAGES, &message.id.0, &routing, &message.encode());
        sqlx::query(
            "INSERT INTO messages (id, conversation, timestamp, outgoing, expires_at, record) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET conversation = excluded.conversation, \
             timestamp = excluded.timestamp, outgoing = excluded.outgoing, \
             expires_at = excluded.expires_at, record = excluded.record",
        )
        .bind(&message.id.0[..])
        .bind(&message.conversation.0[..])
        .bind(to_i64(message.timestamp)?)
        .bind(i64::from(message.outgoing))
        .bind(message.expires_at.map(to_i64).transpose()?)
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    fn open_message(&self, row: MessageRow) -> StoreResult<Message> {
        let (id, conversation, timestamp, outgoing, expires_at, sealed) = row;
        let id = MessageId(array(T_MESSAGES, &id)?);
        let conversation = ConversationId(array(T_MESSAGES, &conversation)?);
        let timestamp = to_u64(timestamp)?;
        let outgoing = match outgoing {
            0 => false,
            1 => true,
            _ => return Err(StoreError::Malformed { table: T_MESSAGES }),
        };
        let expires_at = expires_at.map(to_u64).transpose()?;
        let routing = Message::routing(&conversation, timestamp, outgoing, expires_at);
        let plain = self
            .store
            .sealer
            .open(T_MESSAGES, &id.0, &routing, &sealed)?;
        Message::decode(id, conversation, timestamp, outgoing, expires_at, &plain)
            .map_err(malformed(T_MESSAGES))
    }

    /// A message.
    pub async fn message(&mut self, id: &MessageId) -> StoreResult<Option<Message>> {
        let row: Option<MessageRow> = sqlx::query_as(
            "SELECT id, conversation, timestamp, outgoing, expires_at, record FROM messages WHERE id = ?",
        )
        .bind(&id.0[..])
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| self.open_message(r)).transpose()
    }

    /// Up to `limit` messages of a conversation with a timestamp before `before` (all if
    /// `None`): the latest ones, returned oldest first.
    pub async fn messages(
        &mut self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let before = match before {
            Some(t) => to_i64(t)?,
            None => i64::MAX,
        };
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT id, conversation, timestamp, outgoing, expires_at, record FROM messages \
             WHERE conversation = ? AND timestamp < ? \
             ORDER BY timestamp DESC, id DESC LIMIT ?",
        )
        .bind(&conversation.0[..])
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        let mut out = rows
            .into_iter()
            .map(|r| self.open_message(r))
            .collect::<StoreResult<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    /// Changes the status of a message; false if there is no such message.
    pub async fn set_message_status(
        &mut self,
        id: &MessageId,
        status: MessageStatus,
    ) -> StoreResult<bool> {
        match self.message(id).await? {
            Some(mut m) => {
                m.status = status;
                self.put_message(&m).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Deletes every message that expired at `now` (ms) with its attachments' metadata, and
    /// returns them (their conversations and bodies say what else to delete).
    pub async fn take_expired(&mut self, now: u64) -> StoreResult<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT id, conversation, timestamp, outgoing, expires_at, record FROM messages \
             WHERE expires_at IS NOT NULL AND expires_at <= ?",
        )
        .bind(to_i64(now)?)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let m = self.open_message(row)?;
            self.delete_message(&m.id).await?;
            out.push(m);
        }
        Ok(out)
    }

    /// Deletes a message and its attachments' metadata; true if it existed.
    pub async fn delete_message(&mut self, id: &MessageId) -> StoreResult<bool> {
        sqlx::query("DELETE FROM attachments WHERE message = ?")
            .bind(&id.0[..])
            .execute(&mut *self.tx)
            .await?;
        self.delete_record(T_MESSAGES, "id", &id.0).await
    }
}

type MessageRow = (Vec<u8>, Vec<u8>, i64, i64, Option<i64>, Vec<u8>);
