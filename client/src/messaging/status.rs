//! Status texts (docs/architecture.md §7): a line a user sets about themselves ("On holiday
//! until the 20th"), optionally clearing itself at a time.
//!
//! It travels like presence, end-to-end encrypted, to the people the user has conversations
//! with (1:1 peers and members of groups people made) and to the user's own other devices;
//! the relay stores envelopes as for any message and nothing about statuses. Receivers keep
//! each user's latest (the highest revision); only a user's own devices set that user's
//! status. Unlike presence it is the user's own words, so the org's presence switch does not
//! silence it. Whoever has no conversation with the user does not get it.

use parley_proto::UserId;
use parley_proto::content::{Body, Content, MAX_SHORT_LEN, MessageId as ContentId};

use crate::error::{Error, Result};
use crate::store::{Status, StoreTx};

use super::*;

impl Messenger {
    /// Sets this user's status text (empty clears it), until a time if given (ms), and tells
    /// the people this user has conversations with and its other devices. Returns how many
    /// users were told; one that cannot be reached now is skipped, and learns it from the
    /// next status set.
    pub async fn set_status(&self, text: &str, until: Option<u64>) -> Result<usize> {
        let text = text.trim();
        if text.len() > MAX_SHORT_LEN {
            return Err(Error::TooLarge);
        }
        let me = UserId::new(self.account.user.clone())?;
        let mut tx = self.store.begin().await?;
        let last = tx
            .statuses()
            .await?
            .iter()
            .find(|s| s.user == self.account.user)
            .map_or(0, |s| s.revision);
        let revision = now_ms().max(last.saturating_add(1));
        let until = until.filter(|_| !text.is_empty());
        keep_status(&mut tx, me.as_str(), text, until, revision).await?;
        let audience = self.audience(&mut tx).await?;
        tx.commit().await?;
        let content = Content::new(
            ContentId(rand16()),
            now_ms(),
            Body::Status {
                text: text.to_owned(),
                until,
                revision,
            },
        );
        if let Err(e) = self.send_content(&me, &content).await {
            tracing::debug!(
                code = e.code(),
                "status not sent to this user's other devices"
            );
        }
        let mut told = 0;
        for user in &audience {
            match self.send_content(user, &content).await {
                Ok(_) => told += 1,
                Err(e) => tracing::debug!(code = e.code(), "status not sent to a colleague"),
            }
        }
        Ok(told)
    }

    /// Status texts as their users last set them (this user's included), without cleared
    /// ones and ones whose time is up.
    pub async fn statuses(&self) -> Result<Vec<Status>> {
        let mut tx = self.store.begin().await?;
        let list = tx.statuses().await?;
        tx.commit().await?;
        let now = now_ms();
        Ok(list
            .into_iter()
            .filter(|s| !s.text.is_empty() && s.until.is_none_or(|u| u > now))
            .collect())
    }

    /// Keeps `author`'s status from a `Status` message (a higher revision replaces a lower).
    pub(crate) async fn apply_status(
        &self,
        tx: &mut StoreTx<'_>,
        author: &UserId,
        text: &str,
        until: Option<u64>,
        revision: u64,
    ) -> Result<()> {
        keep_status(tx, author.as_str(), text.trim(), until, revision).await
    }
}

/// Stores `user`'s status unless a later one is kept; an empty text clears it (the revision
/// is kept, so an older status arriving later does not come back).
async fn keep_status(
    tx: &mut StoreTx<'_>,
    user: &str,
    text: &str,
    until: Option<u64>,
    revision: u64,
) -> Result<()> {
    let mut list = tx.statuses().await?;
    let new = Status {
        user: user.to_owned(),
        text: text.to_owned(),
        until,
        revision,
    };
    match list.iter_mut().find(|s| s.user == user) {
        Some(s) if s.revision >= revision => return Ok(()),
        Some(s) => *s = new,
        None => list.push(new),
    }
    tx.set_statuses(&list).await?;
    Ok(())
}
