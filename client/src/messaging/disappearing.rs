//! Disappearing messages (docs/architecture.md §7).
//!
//! A conversation has a timer, set by a `Timer` message (in a group only by an admin of the
//! group or an org admin; the latest one sent wins on every device). The org's policy may set
//! a maximum (`max_disappearing_secs`) that no conversation exceeds: with it, every message
//! disappears by then even in a conversation without a timer.
//!
//! A message sent under a timer carries it (`Content::expires_in`), and its envelopes ask the
//! relay to drop them as soon (`ttl_secs`). Every device stores the row with its expiry: the
//! earlier of the author's send time and its own receipt time, plus the shortest of the
//! message's timer, the conversation's and the policy's, so neither a sender that leaves its
//! timer out nor a clock set ahead makes a message last longer. A message that arrives after
//! its time (a device that was offline) is never stored or shown. Expired rows, and the
//! encrypted copies of their files, are deleted by [`Messenger::sweep_expired`], which the
//! engine runs when it opens and at most once a second while it reads or receives; a read
//! leaves out rows whose time is up that no sweep has deleted yet.

use parley_proto::UserId;
use parley_proto::content::{Body, Content, MessageId as ContentId};
use parley_proto::org::Policy;

use crate::error::{Error, Rejection, Result};
use crate::store::{ConversationId, StoreTx, Timer};

use super::*;

/// How often [`Messenger::sweep_if_due`] sweeps at most (ms).
const SWEEP_EVERY_MS: u64 = 1_000;

/// What the engine often needs of the verified log (see [`Messenger::log_facts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogFacts {
    /// The org's policy.
    pub policy: Policy,
    /// This user is an org admin.
    pub admin: bool,
    /// This user may post in the company channel (an org admin or an appointed poster).
    pub poster: bool,
}

/// A conversation's disappearing-message timer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disappearing {
    /// The conversation's own timer in seconds (0: off).
    pub secs: u64,
    /// The org's maximum in seconds (0: none).
    pub max_secs: u64,
}

impl Disappearing {
    /// How long its messages last, in seconds (`None`: for ever).
    pub fn effective(self) -> Option<u64> {
        shortest([self.secs, self.max_secs])
    }
}

/// The shortest of the timers that are on (not 0).
fn shortest(timers: impl IntoIterator<Item = u64>) -> Option<u64> {
    timers.into_iter().filter(|&s| s > 0).min()
}

/// Whether rows of `body` disappear with their conversation's timer. Group changes, timer
/// changes and delete tombstones (which keep a deleted message from coming back) stay.
pub(crate) fn expires(body: &Body) -> bool {
    matches!(
        body,
        Body::Text { .. }
            | Body::File { .. }
            | Body::Reaction { .. }
            | Body::Edit { .. }
            | Body::Task { .. }
    )
}

impl Messenger {
    /// The disappearing-message timer of `to`.
    pub async fn disappearing(&self, to: &Target) -> Result<Disappearing> {
        let mut tx = self.store.begin().await?;
        let timer = self.timer_of(&mut tx, &self.conversation_id(to)).await?;
        tx.commit().await?;
        Ok(timer)
    }

    /// Sets the disappearing-message timer of `to` to `secs` (0: off) for every member: a
    /// `Timer` message. In a group only an admin of the group or an org admin may; a timer
    /// over the policy's maximum is [`Error::OverPolicy`].
    pub async fn set_disappearing(&self, to: &Target, secs: u64) -> Result<ContentId> {
        let mut tx = self.store.begin().await?;
        let max_secs = self.policy(&mut tx).await?.max_disappearing_secs;
        let allowed = match to {
            Target::Group(group) => {
                let me = UserId::new(self.account.user.clone())?;
                self.is_admin_of_group_or_org(&mut tx, group, &me).await?
            }
            Target::User(_) => true,
        };
        tx.commit().await?;
        if max_secs > 0 && secs > max_secs {
            return Err(Error::OverPolicy { max_secs });
        }
        if !allowed {
            return Err(Error::NotGroupAdmin);
        }
        self.send_body(to, Body::Timer { secs }).await
    }

    /// Deletes every message whose time is up, with the encrypted copies of their files;
    /// returns the conversations that lost messages.
    pub async fn sweep_expired(&self) -> Result<Vec<Target>> {
        let now = now_ms();
        self.last_sweep
            .store(now, std::sync::atomic::Ordering::Relaxed);
        let mut tx = self.store.begin().await?;
        let gone = tx.take_expired(now).await?;
        let tasks = tx.delete_expired_tasks(now).await?;
        let mut targets = Vec::new();
        let mut files = Vec::new();
        for m in &gone {
            if let Ok(Content {
                body: Body::File { attachment, .. },
                ..
            }) = Content::from_bytes(&m.body)
                && parley_proto::content::is_attachment_id(&attachment.id)
            {
                files.push(attachment.id);
            }
            if let Some(c) = tx.conversation(&m.conversation).await?
                && let Some(target) = target_of(&c)
                && !targets.contains(&target)
            {
                targets.push(target);
            }
        }
        tx.commit().await?;
        let dir = self.store.home().join(crate::files::FILES_DIR);
        for id in files {
            // Kept only if it was downloaded; nothing else names it.
            let _ = tokio::fs::remove_file(dir.join(id)).await;
        }
        if !gone.is_empty() || tasks > 0 {
            tracing::debug!(messages = gone.len(), tasks, "expired messages deleted");
        }
        Ok(targets)
    }

    /// [`Messenger::sweep_expired`], unless it ran in the last second (reads call this, and
    /// skip rows that expired since with [`drop_expired`], so that reading stays a read).
    pub(crate) async fn sweep_if_due(&self) -> Result<()> {
        let last = self.last_sweep.load(std::sync::atomic::Ordering::Relaxed);
        if now_ms().saturating_sub(last) >= SWEEP_EVERY_MS {
            self.sweep_expired().await?;
        }
        Ok(())
    }

    /// The org's policy from the stored log, read in `tx` (cached until the log changes).
    pub(crate) async fn policy(&self, tx: &mut StoreTx<'_>) -> Result<Policy> {
        Ok(self.log_facts(tx).await?.policy)
    }

    /// What the engine often needs of the stored log, read in `tx` (cached until the log
    /// changes).
    pub(crate) async fn log_facts(&self, tx: &mut StoreTx<'_>) -> Result<LogFacts> {
        if let Some(f) = self.log_facts.lock().ok().and_then(|f| *f) {
            return Ok(f);
        }
        let org = self.stored_log(tx).await?;
        let me = UserId::new(self.account.user.clone())?;
        let facts = LogFacts {
            policy: *org.policy(),
            admin: org.user(&me).is_some_and(|u| u.admin && !u.dismissed),
            poster: org.may_post_to_company(&me),
        };
        if let Ok(mut cached) = self.log_facts.lock() {
            *cached = Some(facts);
        }
        Ok(facts)
    }

    /// The timer of a stored conversation (off for one not stored).
    async fn timer_of(
        &self,
        tx: &mut StoreTx<'_>,
        conversation: &ConversationId,
    ) -> Result<Disappearing> {
        let secs = tx
            .conversation(conversation)
            .await?
            .map_or(0, |c| c.timer.secs);
        Ok(Disappearing {
            secs,
            max_secs: self.policy(tx).await?.max_disappearing_secs,
        })
    }

    /// The timer a message sent now in `conversation` carries.
    pub(crate) async fn timer_for_sending(
        &self,
        tx: &mut StoreTx<'_>,
        conversation: &ConversationId,
        body: &Body,
    ) -> Result<Option<u64>> {
        if !expires(body) {
            return Ok(None);
        }
        Ok(self.timer_of(tx, conversation).await?.effective())
    }

    /// When a row of `content` in `conversation` disappears (ms), if it does: see the module
    /// docs.
    pub(crate) async fn expiry(
        &self,
        tx: &mut StoreTx<'_>,
        conversation: &ConversationId,
        content: &Content,
        now: u64,
    ) -> Result<Option<u64>> {
        if !expires(&content.body) {
            return Ok(None);
        }
        let local = self.timer_of(tx, conversation).await?;
        let secs = shortest([content.expires_in.unwrap_or(0), local.secs, local.max_secs]);
        Ok(secs.map(|s| {
            content
                .sent_at
                .min(now)
                .saturating_add(s.saturating_mul(1000))
        }))
    }

    /// Applies a `Timer` message from `author` to `conversation`: in a group only from an
    /// admin of the group or an org admin; capped by the policy; the latest sent wins.
    pub(crate) async fn apply_timer(
        &self,
        tx: &mut StoreTx<'_>,
        conversation: &ConversationId,
        author: &UserId,
        content: &Content,
        secs: u64,
    ) -> Result<()> {
        if let Some(group) = &content.group
            && !self.is_admin_of_group_or_org(tx, group, author).await?
        {
            return Err(Rejection::NotGroupAdmin.into());
        }
        let max = self.policy(tx).await?.max_disappearing_secs;
        let secs = if max > 0 { secs.min(max) } else { secs };
        let Some(mut c) = tx.conversation(conversation).await? else {
            return Ok(());
        };
        let new = Timer {
            secs,
            // A clock set ahead must not make one timer outlast every later one.
            set_at: content
                .sent_at
                .min(now_ms().saturating_add(super::CLOCK_SLACK_MS)),
        };
        if (new.set_at, new.secs) > (c.timer.set_at, c.timer.secs) {
            c.timer = new;
            tx.set_conversation(&c).await?;
        }
        Ok(())
    }
}

/// Leaves out of `rows` those whose time was up at `now` (ms) but that no sweep has deleted
/// yet.
pub(crate) fn drop_expired(rows: &mut Vec<crate::store::Message>, now: u64) {
    rows.retain(|m| m.expires_at.is_none_or(|at| at > now));
}

/// The target of a stored conversation.
pub(crate) fn target_of(c: &crate::store::Conversation) -> Option<Target> {
    Some(match &c.kind {
        ConversationKind::Direct { peer } => Target::User(UserId::new(peer.clone()).ok()?),
        ConversationKind::Group { group, .. } => Target::Group(GroupId(group.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortest_timer_that_is_on_wins() {
        assert_eq!(shortest([0, 0, 0]), None);
        assert_eq!(shortest([0, 3600, 0]), Some(3600));
        assert_eq!(shortest([60, 3600, 86_400]), Some(60));
        let d = Disappearing {
            secs: 0,
            max_secs: 600,
        };
        assert_eq!(
            d.effective(),
            Some(600),
            "the policy's maximum applies to all"
        );
        let d = Disappearing {
            secs: 300,
            max_secs: 600,
        };
        assert_eq!(d.effective(), Some(300));
    }
}
