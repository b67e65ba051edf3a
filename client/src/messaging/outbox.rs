//! The outbox: every message is stored with an item that is retried with backoff until the
//! relay has it; a failed recipient's progress is saved with the item.

use parley_proto::UserId;
use parley_proto::content::Content;

use crate::error::{Error, Result};
use crate::store::{ContactDevice, MessageStatus, OutboxId, OutboxItem};

use super::pairwise::Prepared;
use super::*;

/// A time after every item's next attempt (the store keeps times as `i64`).
pub(super) const EVERY_ITEM: u64 = 1 << 62;

/// How many due items one flush reads.
pub(super) const FLUSH_BATCH: u32 = 100;

/// The longest wait between two attempts at an outbox item (the 8th and later retries).
pub const MAX_BACKOFF_MS: u64 = 256_000;
/// Attempts at an outbox item before its message is marked failed.
pub const MAX_ATTEMPTS: u32 = 20;

impl Messenger {
    /// Sends every due outbox item (with `now`, every item: the user asked for a retry);
    /// returns how many were sent. A failed item is kept with a later next attempt
    /// (backoff doubling from 2 s to [`MAX_BACKOFF_MS`], 256 s) and the others are still tried; the first
    /// error is returned. After [`MAX_ATTEMPTS`] (at once for an item that cannot be decoded)
    /// its message is marked failed and the item dropped.
    pub async fn flush_outbox(&self, now: bool) -> Result<usize> {
        let (sent, failures) = self.flush(now).await?;
        match failures.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(sent),
        }
    }

    /// [`Messenger::flush_outbox`], returning how many items were sent and which failed why.
    pub(super) async fn flush(&self, now: bool) -> Result<(usize, Vec<(OutboxId, Error)>)> {
        let mut tx = self.store.begin().await?;
        let due = tx
            .due_outbox(if now { EVERY_ITEM } else { now_ms() }, FLUSH_BATCH)
            .await?;
        tx.commit().await?;
        self.flush_due(due, None).await
    }

    /// Sends the `due` items read from the outbox; `prepared` is the first attempt of one of
    /// them, already encrypted.
    pub(super) async fn flush_due(
        &self,
        mut due: Vec<OutboxItem>,
        mut prepared: Option<Prepared>,
    ) -> Result<(usize, Vec<(OutboxId, Error)>)> {
        let mut sent = 0;
        // Oldest message first: after an outage the older items were retried more often, so
        // their next attempts are the latest, and the order of next attempts is not the
        // order in which the user wrote.
        due.sort_by_key(|item| item.created_at);
        let mut failures = Vec::new();
        for mut item in due {
            let result = match Content::from_bytes(&item.payload) {
                Ok(content) => match content.group {
                    Some(group) if under_sender_key(&content.body) => {
                        self.send_group_item(&mut item, &content, &group).await
                    }
                    _ => {
                        let ready = prepared.take_if(|p| p.item == item.id);
                        self.send_pairwise_item(&mut item, &content, ready).await
                    }
                },
                Err(_) => {
                    // Never sendable: fail it now rather than block the queue.
                    item.attempts = MAX_ATTEMPTS;
                    Err(Error::Store(crate::store::StoreError::Malformed {
                        table: "outbox",
                    }))
                }
            };
            let mut tx = self.store.begin().await?;
            if let Err(e) = result {
                item.attempts = item.attempts.saturating_add(1);
                if item.attempts >= MAX_ATTEMPTS {
                    tracing::warn!(
                        code = e.code(),
                        "outbox item given up after {MAX_ATTEMPTS} attempts"
                    );
                    tx.remove_outbox(&item.id).await?;
                    if let Some(m) = &item.message {
                        tx.set_message_status(m, MessageStatus::Failed).await?;
                    }
                } else {
                    let backoff = (1000u64 << item.attempts.min(8)).min(MAX_BACKOFF_MS);
                    item.next_attempt = now_ms().saturating_add(backoff);
                    tracing::debug!(
                        code = e.code(),
                        attempts = item.attempts,
                        retry_in_ms = backoff,
                        "outbox item not sent"
                    );
                    tx.put_outbox(&item).await?;
                }
                tx.commit().await?;
                // The other items are tried all the same.
                failures.push((item.id, e));
                continue;
            }
            tracing::debug!(attempts = item.attempts, "outbox item sent");
            tx.remove_outbox(&item.id).await?;
            if let Some(m) = &item.message {
                let status = tx.message(m).await?.map(|m| m.status);
                if status == Some(MessageStatus::Sending) {
                    tx.set_message_status(m, MessageStatus::Sent).await?;
                }
            }
            tx.commit().await?;
            sent += 1;
        }
        Ok((sent, failures))
    }

    /// Sends `content` pairwise to each remaining recipient of `item` (to one of them
    /// `prepared`, if it is still the first attempt for them).
    pub(super) async fn send_pairwise_item(
        &self,
        item: &mut OutboxItem,
        content: &Content,
        mut prepared: Option<Prepared>,
    ) -> Result<()> {
        let target = item.recipients.first().cloned().unwrap_or_default();
        // This user's other devices, as the relay's last answer left them.
        let mut own: Option<Vec<ContactDevice>> = None;
        while let Some(user) = item.recipients.first().cloned() {
            if user == self.account.user && own.as_ref().is_some_and(Vec::is_empty) {
                item.recipients.remove(0); // no other device to copy to
                continue;
            }
            let mut copy = content.clone();
            if content.group.is_none() && user == self.account.user && target != user {
                copy.sync_to = Some(UserId::new(target.clone())?);
            }
            let user = UserId::new(user)?;
            let ready = prepared.take_if(|p| p.user == user);
            own = self.send_pairwise(&user, &copy, ready).await?.1;
            // Progress is kept in memory and saved with the item if a later recipient fails
            // (a crash resends to everyone; receivers ignore repeats).
            item.recipients.remove(0);
        }
        Ok(())
    }
}
