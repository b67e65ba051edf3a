//! The effects of content on the store: a new row, an edit, a deletion, a receipt, a group
//! change, a sender key.

use parley_crypto::DeviceAddress;
use parley_proto::UserId;
use parley_proto::content::{Body, Content, ReceiptKind};

use crate::error::{Rejection, Result};
use crate::store::{ConversationId, Message, MessageStatus, StoreTx};

use super::*;

impl Messenger {
    /// Stores what `content` from `author` does to `conversation` (a new row, an edit, a
    /// deletion, a receipt, a group change, a sender key). `None` when it has nothing to
    /// report to the application.
    pub(super) async fn apply(
        &self,
        tx: &mut StoreTx<'_>,
        from: &DeviceAddress,
        content: &Content,
        conversation: ConversationId,
    ) -> Result<Option<()>> {
        let author = &UserId::new(from.user())?;
        let own = author.as_str() == self.account.user;
        let now = now_ms();
        let expires_at = self.expiry(tx, &conversation, content, now).await?;
        if expires_at.is_some_and(|at| at <= now) {
            // Its time was up before it arrived (a device that was offline): never shown.
            return Ok(None);
        }
        match &content.body {
            Body::SenderKey {
                group,
                distribution,
            } => {
                self.accept_distribution(tx, group, from, &distribution.0)
                    .await?;
                return Ok(None);
            }
            // Typing and presence count only while the policy shares them.
            Body::Typing { .. } => {
                return Ok(self.policy(tx).await?.presence.then_some(()));
            }
            Body::Presence { state, last_seen } => {
                if own {
                    return Ok(None); // never sent to one's own devices
                }
                let kept = self
                    .apply_presence(tx, author, content, *state, *last_seen)
                    .await?;
                return Ok(kept.then_some(()));
            }
            Body::Status {
                text,
                until,
                revision,
            } => {
                self.apply_status(tx, author, text, *until, *revision)
                    .await?;
                return Ok(Some(()));
            }
            Body::Timer { secs } => {
                self.apply_timer(tx, &conversation, author, content, *secs)
                    .await?;
            }
            Body::Settings {
                notify,
                muted_until,
                revision,
            } => {
                // Only this user's own devices set its settings.
                if !own {
                    return Err(Rejection::NotTheAuthor.into());
                }
                let settings = crate::store::NotifySettings {
                    notify: *notify,
                    muted_until: *muted_until,
                    revision: *revision,
                };
                super::notify::apply_settings(tx, &conversation, settings).await?;
                return Ok(Some(()));
            }
            Body::Receipt { receipt, targets } => {
                let status = match receipt {
                    ReceiptKind::Delivered => MessageStatus::Delivered,
                    ReceiptKind::Read => MessageStatus::Read,
                };
                for t in targets {
                    // Receipts for this user's messages (from others), or this user's own
                    // receipts for others' messages synced from another device: ignored.
                    let row = self.store.message_row_id(&self.account.user, &t.0);
                    if let Some(m) = tx.message(&row).await? {
                        if m.conversation != conversation {
                            return Err(Rejection::WrongConversation.into());
                        }
                        if m.outgoing && !own && rank(m.status) < rank(status) {
                            tx.set_message_status(&row, status).await?;
                        }
                    }
                }
                return Ok(Some(()));
            }
            Body::Edit {
                target,
                text,
                revision,
            } => {
                if target.author != *author {
                    return Err(Rejection::NotTheAuthor.into());
                }
                let row = self.store.message_row_id(author.as_str(), &target.id.0);
                match tx.message(&row).await? {
                    Some(m) if m.conversation != conversation => {
                        return Err(Rejection::WrongConversation.into());
                    }
                    Some(mut m) => {
                        if let Ok(mut old) = Content::from_bytes(&m.body)
                            && apply_edit(&mut old, text, *revision)
                        {
                            m.body = old.to_bytes();
                            tx.put_message(&m).await?;
                        }
                    }
                    // Before its message: kept in the message's row until the message comes
                    // (`receive_content` merges them), the latest edit only.
                    None => {
                        let mut m = self.row(row, conversation, from, content, MessageStatus::Seen);
                        m.expires_at = expires_at;
                        tx.put_message(&m).await?;
                    }
                }
                return Ok(Some(()));
            }
            Body::Delete { target } => {
                if target.author != *author {
                    return Err(Rejection::NotTheAuthor.into());
                }
                // The row is replaced by a tombstone (the delete itself, shown as nothing), so a
                // copy of the message that arrives later — reordered by the relay, or resent by
                // the author's outbox — is taken for a repeat and ignored.
                let row = self.store.message_row_id(author.as_str(), &target.id.0);
                if let Some(m) = tx.message(&row).await?
                    && m.conversation != conversation
                {
                    return Err(Rejection::WrongConversation.into());
                }
                tx.delete_message(&row).await?;
                tx.put_message(&self.row(row, conversation, from, content, MessageStatus::Seen))
                    .await?;
                return Ok(Some(()));
            }
            Body::Reaction { target, .. } => {
                let row = self
                    .store
                    .message_row_id(target.author.as_str(), &target.id.0);
                if let Some(m) = tx.message(&row).await?
                    && m.conversation != conversation
                {
                    return Err(Rejection::WrongConversation.into());
                }
            }
            Body::Task {
                task,
                stamp,
                change,
            } => {
                self.apply_task(
                    tx,
                    &conversation,
                    author,
                    content,
                    task,
                    *stamp,
                    change,
                    expires_at,
                )
                .await?;
            }
            Body::Group(update) => {
                let group = content.group.ok_or(Rejection::NotAGroup)?;
                self.apply_group_change(tx, &group, author, update).await?;
            }
            Body::Text { .. } | Body::File { .. } | Body::Unknown => {}
        }
        if stored_as_row(&content.body) {
            let status = if own && from.device() == self.account.device {
                MessageStatus::Sending
            } else if own {
                MessageStatus::Sent
            } else {
                MessageStatus::Received
            };
            let id = self.store.message_row_id(author.as_str(), &content.id.0);
            let mut m = self.row(id, conversation, from, content, status);
            m.expires_at = expires_at;
            tx.put_message(&m).await?;
        }
        Ok(Some(()))
    }

    /// The stored row of `content` from `from`, stamped now.
    pub(super) fn row(
        &self,
        id: crate::store::MessageId,
        conversation: ConversationId,
        from: &DeviceAddress,
        content: &Content,
        status: MessageStatus,
    ) -> Message {
        Message {
            id,
            conversation,
            outgoing: from.user() == self.account.user,
            timestamp: self.stamp(),
            sender: from.clone(),
            sent_at: content.sent_at,
            body: content.to_bytes(),
            status,
            expires_at: None,
        }
    }
}

/// Applies an edit to a stored message's content if it is later than the last one applied
/// (a higher revision, or the same with a greater text, so every device picks the same).
/// Returns whether it changed anything.
pub(crate) fn apply_edit(message: &mut Content, text: &str, revision: u64) -> bool {
    let Body::Text { text: current, .. } = &mut message.body else {
        return false;
    };
    let newer = match message.edited {
        None => true,
        Some(r) => (revision, text) > (r, current.as_str()),
    };
    if newer {
        text.clone_into(current);
        message.edited = Some(revision);
    }
    newer
}

/// Whether a body is kept as a row of its conversation.
pub(crate) fn stored_as_row(body: &Body) -> bool {
    matches!(
        body,
        Body::Text { .. }
            | Body::File { .. }
            | Body::Reaction { .. }
            | Body::Group(_)
            | Body::Timer { .. }
            | Body::Task { .. }
    )
}

/// Orders outgoing statuses so that a late "delivered" never overwrites "read".
pub(super) fn rank(status: MessageStatus) -> u8 {
    match status {
        MessageStatus::Delivered => 2,
        MessageStatus::Read => 3,
        _ => 1,
    }
}
