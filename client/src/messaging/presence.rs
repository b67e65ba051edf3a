//! Presence, last seen and typing, under the org's policy (docs/architecture.md §7).
//!
//! While the policy shares presence (`PolicySet`'s `presence`, on until an admin turns it
//! off), a device tells the people its user has conversations with (1:1 peers and members
//! of the groups people made, not of the directory's groups) whether the user is online, away or offline, and when the user was last active
//! unless the user hides it. It is an end-to-end encrypted message like any other, sent now
//! or never (not queued, not stored as a row); the relay sees envelopes, as for a message, and
//! keeps nothing about presence. Receivers keep each colleague's latest state.
//!
//! With the policy off nothing about presence leaves the device (no presence and no typing
//! messages are sent), and what arrives is ignored.

use parley_proto::UserId;
use parley_proto::content::{Body, Content, MessageId as ContentId, PresenceState};

use crate::error::Result;
use crate::store::{Presence, StoreTx};

use super::*;

impl Messenger {
    /// Whether the org's policy shares presence and typing.
    pub async fn presence_shared(&self) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let shared = self.policy(&mut tx).await?.presence;
        tx.commit().await?;
        Ok(shared)
    }

    /// Tells the people this user has conversations with that it is `state` (with its last
    /// activity, now, unless it hides it). Returns how many users were told: 0 when the
    /// policy does not share presence, and then nothing is sent. A user that cannot be
    /// reached now is skipped (presence is never queued).
    pub async fn set_presence(&self, state: PresenceState) -> Result<usize> {
        let mut tx = self.store.begin().await?;
        let shared = self.policy(&mut tx).await?.presence;
        let hide = tx.hide_last_seen().await?;
        let audience = if shared {
            self.audience(&mut tx).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        if !shared {
            tracing::debug!("presence is off by policy: nothing sent");
            return Ok(0);
        }
        let content = Content::new(
            ContentId(rand16()),
            now_ms(),
            Body::Presence {
                state,
                last_seen: (!hide).then(now_ms),
            },
        );
        let mut told = 0;
        for user in &audience {
            match self.send_content(user, &content).await {
                Ok(_) => told += 1,
                Err(e) => tracing::debug!(code = e.code(), "presence not sent to a colleague"),
            }
        }
        Ok(told)
    }

    /// Colleagues' presence as they last shared it (none while the policy is off).
    pub async fn presence(&self) -> Result<Vec<Presence>> {
        let mut tx = self.store.begin().await?;
        let shared = self.policy(&mut tx).await?.presence;
        let list = if shared {
            tx.presence().await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok(list)
    }

    /// Whether this user hides when it was last active.
    pub async fn hide_last_seen(&self) -> Result<bool> {
        let mut tx = self.store.begin().await?;
        let hide = tx.hide_last_seen().await?;
        tx.commit().await?;
        Ok(hide)
    }

    /// Sets whether this user hides when it was last active (from the next presence sent).
    pub async fn set_hide_last_seen(&self, hide: bool) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.set_hide_last_seen(hide).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Everyone this user has a conversation with (1:1 peers, members of groups people
    /// made), but itself. The directory's groups (departments, the company channel) do not
    /// count: they would make it everyone in the org.
    pub(super) async fn audience(&self, tx: &mut StoreTx<'_>) -> Result<Vec<UserId>> {
        let directory: std::collections::BTreeSet<[u8; 32]> =
            parley_proto::org::directory_groups(&*self.stored_log(tx).await?)
                .into_iter()
                .map(|g| g.id.0)
                .collect();
        let mut users = std::collections::BTreeSet::new();
        for c in tx.conversations().await? {
            match c.kind {
                ConversationKind::Direct { peer } => {
                    users.insert(peer);
                }
                ConversationKind::Group { group, members } if !directory.contains(&group.0) => {
                    users.extend(members);
                }
                ConversationKind::Group { .. } => {}
            }
        }
        users.remove(&self.account.user);
        Ok(users
            .into_iter()
            .filter_map(|u| UserId::new(u).ok())
            .collect())
    }

    /// Keeps `author`'s presence from `content` (a later one replaces an earlier one).
    /// Returns false when the policy does not share presence (it is then ignored).
    pub(crate) async fn apply_presence(
        &self,
        tx: &mut StoreTx<'_>,
        author: &UserId,
        content: &Content,
        state: PresenceState,
        last_seen: Option<u64>,
    ) -> Result<bool> {
        if !self.policy(tx).await?.presence {
            return Ok(false);
        }
        let mut list = tx.presence().await?;
        let new = Presence {
            user: author.to_string(),
            state,
            // Never later than when it was said.
            last_seen: last_seen.map(|t| t.min(content.sent_at)),
            // A clock set ahead must not make one state outlast every later one.
            at: content.sent_at.min(now_ms().saturating_add(CLOCK_SLACK_MS)),
        };
        match list.iter_mut().find(|p| p.user == new.user) {
            Some(p) if p.at >= new.at => return Ok(true),
            Some(p) => *p = new,
            None => list.push(new),
        }
        tx.set_presence(&list).await?;
        Ok(true)
    }
}
