//! The `conversations` table.

use error::StoreResult;
use records::{Conversation, ConversationId};

use super::super::*;

impl StoreTx<'_> {
    /// A conversation.
    pub async fn conversation(&mut self, id: &ConversationId) -> StoreResult<Option<Conversation>> {
        if let Some((last, conversation)) = &self.conversation
            && last == id
        {
            return Ok(conversation.clone());
        }
        let conversation = self
            .get_record(T_CONVERSATIONS, "id", &id.0)
            .await?
            .map(|b| Conversation::decode(*id, &b).map_err(malformed(T_CONVERSATIONS)))
            .transpose()?;
        self.conversation = Some((*id, conversation.clone()));
        Ok(conversation)
    }

    /// Stores (or replaces) a conversation.
    pub async fn set_conversation(&mut self, conversation: &Conversation) -> StoreResult<()> {
        self.conversation = None;
        self.put_record(
            T_CONVERSATIONS,
            "id",
            &conversation.id.0,
            &conversation.encode(),
        )
        .await?;
        self.conversation = Some((conversation.id, Some(conversation.clone())));
        Ok(())
    }

    /// Deletes a conversation with its messages and their attachments; true if it existed.
    pub async fn delete_conversation(&mut self, id: &ConversationId) -> StoreResult<bool> {
        self.conversation = None;
        sqlx::query(
            "DELETE FROM attachments WHERE message IN \
             (SELECT id FROM messages WHERE conversation = ?)",
        )
        .bind(&id.0[..])
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("DELETE FROM messages WHERE conversation = ?")
            .bind(&id.0[..])
            .execute(&mut *self.tx)
            .await?;
        self.delete_record(T_CONVERSATIONS, "id", &id.0).await
    }

    /// Every conversation (in no meaningful order).
    pub async fn conversations(&mut self) -> StoreResult<Vec<Conversation>> {
        self.all_records(T_CONVERSATIONS, "id")
            .await?
            .into_iter()
            .map(|(id, b)| {
                let id = ConversationId(array(T_CONVERSATIONS, &id)?);
                Conversation::decode(id, &b).map_err(malformed(T_CONVERSATIONS))
            })
            .collect()
    }
}
