//! Sending: the public calls that store a message with its outbox item and flush it
//! (see the ordering rules in [`super`]).

use parley_proto::UserId;
use parley_proto::content::{Body, Content, MessageId as ContentId, MessageRef, ReceiptKind};

use crate::error::{Error, Result};
use crate::store::{ContactDevice, OutboxId, OutboxItem, StoreTx};

use super::outbox::{EVERY_ITEM, FLUSH_BATCH};
use super::*;

impl Messenger {
    /// Sends a text to `to`. See [`Messenger::send_body`].
    pub async fn send_text(&self, to: &Target, text: &str) -> Result<ContentId> {
        let body = Body::Text {
            text: text.to_owned(),
            reply_to: None,
            mentions: vec![],
            mention_all: false,
        };
        self.send_body(to, body).await
    }

    /// Encrypts the file at `path` with a fresh key (streamed, constant memory), uploads the
    /// ciphertext, and sends the pointer (id, key, digest) to `to` like a text message.
    /// `progress` gets (bytes done, total) during encryption and upload.
    pub async fn send_file(
        &self,
        to: &Target,
        path: &std::path::Path,
        caption: Option<String>,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<ContentId> {
        let pointer = crate::files::upload(&self.relay, path, progress).await?;
        let body = Body::File {
            attachment: pointer,
            caption,
            reply_to: None,
        };
        self.send_body(to, body).await
    }

    /// Edits one of this user's earlier messages in `to`.
    pub async fn edit(&self, to: &Target, id: ContentId, text: &str) -> Result<ContentId> {
        let target = MessageRef {
            author: UserId::new(self.account.user.clone())?,
            id,
        };
        let text = text.to_owned();
        // Later than every edit this device knows of, and than its own clock.
        let row = self.store.message_row_id(&self.account.user, &id.0);
        let mut tx = self.store.begin().await?;
        let last = tx
            .message(&row)
            .await?
            .and_then(|m| Content::from_bytes(&m.body).ok())
            .and_then(|c| c.edited)
            .unwrap_or(0);
        tx.commit().await?;
        let revision = now_ms().max(last.saturating_add(1));
        self.send_body(
            to,
            Body::Edit {
                target,
                text,
                revision,
            },
        )
        .await
    }

    /// Deletes one of this user's earlier messages in `to`, for everyone.
    pub async fn delete(&self, to: &Target, id: ContentId) -> Result<ContentId> {
        let target = MessageRef {
            author: UserId::new(self.account.user.clone())?,
            id,
        };
        self.send_body(to, Body::Delete { target }).await
    }

    /// Reacts to (or, with `remove`, takes back a reaction to) a message in `to`.
    pub async fn react(
        &self,
        to: &Target,
        target: MessageRef,
        emoji: &str,
        remove: bool,
    ) -> Result<ContentId> {
        let emoji = emoji.to_owned();
        let body = Body::Reaction {
            target,
            emoji,
            remove,
        };
        self.send_body(to, body).await
    }

    /// Tells the authors of `messages` (received in `to`) that they were read.
    pub async fn mark_read(&self, to: &Target, messages: Vec<ContentId>) -> Result<()> {
        for chunk in messages.chunks(parley_proto::content::MAX_ITEMS) {
            let body = Body::Receipt {
                receipt: ReceiptKind::Read,
                targets: chunk.to_vec(),
            };
            self.send_body(to, body).await?;
        }
        Ok(())
    }

    /// Tells `to` whether this user is typing. Not queued: sent now or never; nothing is sent
    /// while the org's policy does not share presence and typing.
    pub async fn typing(&self, to: &UserId, started: bool) -> Result<()> {
        if !self.presence_shared().await? {
            return Ok(());
        }
        let content = Content::new(ContentId(rand16()), now_ms(), Body::Typing { started });
        self.send_content(to, &content).await.map(|_| ())
    }

    /// Stores `body` as a new outgoing message (applying its effect here first: an edit
    /// changes the stored text, a delete removes it, a group change changes the group) with
    /// its outbox item, then flushes the outbox. If the relay cannot take it now, the error is
    /// returned and the item stays queued: the next [`Messenger::flush_outbox`] retries it, and
    /// receivers ignore a repeat, so it is delivered exactly once.
    pub async fn send_body(&self, to: &Target, body: Body) -> Result<ContentId> {
        // One commit stores the message, its outbox item and, when the sessions exist, the
        // sessions advanced by its first attempt's envelopes; then the outbox is flushed
        // from the items read in the same transaction.
        let mut tx = self.store.begin().await?;
        // Another user's devices: where the first attempt goes.
        let mut recipient = None;
        if let Target::User(user) = to
            && user.as_str() != self.account.user
        {
            let cached = crate::directory::cached_devices(&mut tx, user).await?;
            recipient = cached.filter(|d| !d.is_empty()).map(|d| (user, d));
            if recipient.is_none() {
                // Not cached, or not lately, or without a device: the relay is asked, and
                // not while the store is held.
                tx.rollback().await?;
                recipient = self.devices_to_send_to(user).await?.map(|d| (user, d));
                tx = self.store.begin().await?;
            }
        }
        let (id, item) = self.queue(&mut tx, to, body, None).await?;
        let prepared = match recipient {
            Some((user, devices)) => {
                self.prepare(&mut tx, item.id, user, devices, &item.payload)
                    .await?
            }
            None => None,
        };
        let due = tx.due_outbox(EVERY_ITEM, FLUSH_BATCH).await?;
        tx.commit().await?;
        let (_, failures) = self.flush_due(due, prepared).await?;
        match failures.into_iter().find(|(failed, _)| *failed == item.id) {
            Some((_, e)) => Err(e),
            None => Ok(id),
        }
    }

    /// The devices of another `user`, for a message to them: [`Error::NoSuchUser`] only when
    /// the relay says the user has none; `None` when it cannot be asked now (the message is
    /// queued).
    async fn devices_to_send_to(&self, user: &UserId) -> Result<Option<Vec<ContactDevice>>> {
        match self.devices_of(user, false).await {
            Ok(d) if d.is_empty() => match self.devices_of(user, true).await {
                Ok(d) if d.is_empty() => Err(Error::NoSuchUser),
                Ok(d) => Ok(Some(d)),
                Err(_) => Ok(None),
            },
            Ok(d) => Ok(Some(d)),
            Err(_) => Ok(None),
        }
    }

    /// Flushes the outbox; an error is returned only if one of `items` failed (another
    /// item's failure does not fail this send).
    pub(crate) async fn flush_outbox_for(&self, items: &[OutboxId]) -> Result<()> {
        let (_, failures) = self.flush(true).await?;
        match failures.into_iter().find(|(id, _)| items.contains(id)) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// Queues `body` for `to` inside `tx`, after applying its effect here (storing its row,
    /// changing the group …). With `recipients`, it only goes to them and changes nothing here
    /// (how newcomers get the whole group). Returns the message id and the outbox item.
    pub(crate) async fn queue(
        &self,
        tx: &mut StoreTx<'_>,
        to: &Target,
        body: Body,
        recipients: Option<Vec<String>>,
    ) -> Result<(ContentId, OutboxItem)> {
        let id = ContentId(rand16());
        let mut content = Content::new(id, now_ms(), body);
        if let Target::Group(group) = to {
            content.group = Some(*group);
        }
        // The log head this device has verified, for receivers to compare (fork detection).
        if let Some(head) = tx.org_head().await? {
            content.org_len = Some(head.len);
            content.org_head = Some(parley_proto::B64(head.hash.to_vec()));
        }
        content.validate().map_err(|_| Error::TooLarge)?;
        let (conversation, members) = match to {
            Target::User(user) => {
                let mut members = vec![user.to_string()];
                if user.as_str() != self.account.user {
                    members.push(self.account.user.clone());
                }
                (
                    direct_conversation(tx, &self.store, user.as_str()).await?,
                    members,
                )
            }
            Target::Group(group) => {
                let conversation = self.store.group_conversation_id(&crypto_group(group));
                // Everything goes to the members before it: a removed member learns of its
                // removal; an added one gets the whole group separately (`add_members`).
                let (before, announcement) = group_record(tx, &conversation).await?;
                if !before.contains(&self.account.user) {
                    return Err(Error::NotAMember);
                }
                let me = UserId::new(self.account.user.clone())?;
                if !self
                    .may_post(tx, group, &me, &content.body, announcement)
                    .await?
                {
                    return Err(Error::NotAPoster);
                }
                (conversation, before)
            }
        };
        // A disappearing message carries its timer (receivers and the relay honour it).
        content.expires_in = self
            .timer_for_sending(tx, &conversation, &content.body)
            .await?;
        let (message, recipients) = match recipients {
            Some(only) => (None, only),
            None => {
                self.apply(tx, &self.me()?, &content, conversation).await?;
                let row = stored_as_row(&content.body)
                    .then(|| self.store.message_row_id(&self.account.user, &id.0));
                (row, members)
            }
        };
        let item = OutboxItem::new(
            conversation,
            message,
            recipients,
            content.to_bytes(),
            now_ms(),
        );
        tx.put_outbox(&item).await?;
        Ok((id, item))
    }
}
