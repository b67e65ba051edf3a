//! Conversations as an application lists and shows them (docs/architecture.md §7): the
//! conversation list with unread counts and last messages, a page of one conversation's
//! stored rows with their structured content, and marking a conversation read.
//!
//! Rows come back as the author wrote them ([`Body`]), with the edits applied; a deleted
//! message is its tombstone ([`Body::Delete`]) and a reaction its own row
//! ([`Body::Reaction`]), which the application folds onto its target (a reaction is always
//! newer than what it reacts to, so paging from the newest end sees it first).

use parley_proto::UserId;
use parley_proto::content::{Body, Content, GroupId, MessageId as ContentId};

use crate::error::Result;
use crate::store::{ConversationKind, Message, MessageStatus};

use super::*;

/// How many of a conversation's latest rows are looked at to count its unread messages: the
/// count is "at least this many" beyond it.
pub const UNREAD_SCAN: u32 = 100;

/// A conversation's row as an application shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineItem {
    /// Its author.
    pub author: UserId,
    /// True when this user wrote it (on any of their devices).
    pub outgoing: bool,
    /// The author's id of it (for replies, edits, reactions).
    pub id: ContentId,
    /// The author's send time, ms.
    pub sent_at: u64,
    /// Where it is in the conversation: the local time it was stored; pass it as `before` to
    /// [`Messenger::timeline`] for the page before it.
    pub stamp: u64,
    /// Delivery state.
    pub status: MessageStatus,
    /// The latest edit's revision, if its author edited it.
    pub edited: Option<u64>,
    /// What it says (the latest edit of a text; [`Body::Delete`] for a deleted message).
    pub body: Body,
}

/// A conversation as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationSummary {
    /// With whom.
    pub target: Target,
    /// A group's name; empty for a 1:1 conversation (the application shows the peer's name).
    pub title: String,
    /// A group's members (this user included); the peer for a 1:1 conversation.
    pub members: Vec<UserId>,
    /// The latest message or file, if any (reactions and receipts are not "last messages").
    pub last: Option<TimelineItem>,
    /// When anything last happened in it (local ms): orders the list.
    pub active_at: u64,
    /// Messages and files from others not yet read here, counted among the latest
    /// [`UNREAD_SCAN`] rows.
    pub unread: u32,
    /// This user's notification settings for it.
    pub notify: crate::store::NotifySettings,
    /// Its disappearing-message timer.
    pub disappearing: super::Disappearing,
    /// This user may only read and react: the company channel, for anyone but an org admin.
    pub read_only: bool,
}

impl Messenger {
    /// Every conversation of this account, the most recently active first.
    pub async fn conversations(&self) -> Result<Vec<ConversationSummary>> {
        self.sweep_if_due().await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let facts = self.log_facts(&mut tx).await?;
        let max_secs = facts.policy.max_disappearing_secs;
        let company = parley_proto::org::company_group(&self.account.org_genesis_hash);
        let mut out = Vec::new();
        for conversation in tx.conversations().await? {
            let (target, members) = match &conversation.kind {
                ConversationKind::Direct { peer } => {
                    let Ok(peer) = UserId::new(peer) else {
                        continue;
                    };
                    (Target::User(peer.clone()), vec![peer])
                }
                ConversationKind::Group { group, members } => (
                    Target::Group(GroupId(group.0)),
                    members.iter().filter_map(|m| UserId::new(m).ok()).collect(),
                ),
            };
            let mut rows = tx.messages(&conversation.id, None, UNREAD_SCAN).await?;
            super::disappearing::drop_expired(&mut rows, now);
            let items: Vec<TimelineItem> = rows.into_iter().filter_map(item).collect();
            let unread = items.iter().filter(|i| is_unread(i)).count();
            let read_only = match &conversation.kind {
                _ if target == Target::Group(company) => !facts.poster,
                ConversationKind::Group { group, .. } if conversation.announcement => {
                    let me = UserId::new(self.account.user.clone())?;
                    !parley_proto::group::resolve(&GroupId(group.0), &tx.group_log(group).await?)
                        .is_some_and(|s| s.may_post(&me))
                }
                _ => false,
            };
            out.push(ConversationSummary {
                target,
                title: conversation.title,
                members,
                active_at: items.last().map_or(conversation.created_at, |i| {
                    i.stamp.max(conversation.created_at)
                }),
                last: items.into_iter().rev().find(|i| is_message(&i.body)),
                unread: u32::try_from(unread).unwrap_or(u32::MAX),
                notify: conversation.notify,
                disappearing: super::Disappearing {
                    secs: conversation.timer.secs,
                    max_secs,
                },
                read_only,
            });
        }
        tx.commit().await?;
        out.sort_by_key(|c| std::cmp::Reverse(c.active_at));
        Ok(out)
    }

    /// Up to `limit` rows of the conversation with `with` stored before `before` (the latest
    /// if `None`), oldest first. An unknown conversation has no rows.
    pub async fn timeline(
        &self,
        with: &Target,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<TimelineItem>> {
        self.sweep_if_due().await?;
        let id = self.conversation_id(with);
        let mut tx = self.store.begin().await?;
        let mut rows = tx.messages(&id, before, limit).await?;
        tx.commit().await?;
        super::disappearing::drop_expired(&mut rows, now_ms());
        Ok(rows.into_iter().filter_map(item).collect())
    }

    /// Marks every unread message of the conversation with `with` read here (among its
    /// latest [`UNREAD_SCAN`] rows) and tells their authors with a read receipt. Returns how
    /// many were marked. The receipts go through the outbox: when the relay cannot be reached
    /// now they are queued, and this still succeeds.
    pub async fn read_conversation(&self, with: &Target) -> Result<usize> {
        let id = self.conversation_id(with);
        let mut tx = self.store.begin().await?;
        let mut read = Vec::new();
        for row in tx.messages(&id, None, UNREAD_SCAN).await? {
            let row_id = row.id;
            if let Some(i) = item(row)
                && is_unread(&i)
            {
                tx.set_message_status(&row_id, MessageStatus::Seen).await?;
                read.push(i.id);
            }
        }
        tx.commit().await?;
        if !read.is_empty() {
            match self.mark_read(with, read.clone()).await {
                Err(e) if !e.is_temporary() => return Err(e),
                _ => {}
            }
        }
        Ok(read.len())
    }

    pub(crate) fn conversation_id(&self, with: &Target) -> crate::store::ConversationId {
        match with {
            Target::User(peer) => self.store.direct_conversation_id(peer.as_str()),
            Target::Group(group) => self.store.group_conversation_id(&crypto_group(group)),
        }
    }
}

/// A stored row as a [`TimelineItem`]; `None` for a row whose content does not decode (from
/// an older build) or whose author id is not valid.
fn item(m: Message) -> Option<TimelineItem> {
    let content = Content::from_bytes(&m.body).ok()?;
    Some(TimelineItem {
        author: UserId::new(m.sender.user()).ok()?,
        outgoing: m.outgoing,
        id: content.id,
        sent_at: content.sent_at,
        stamp: m.timestamp,
        status: m.status,
        edited: content.edited,
        body: content.body,
    })
}

/// A message or a file: what a conversation list shows as its last message and counts as
/// unread.
fn is_message(body: &Body) -> bool {
    matches!(body, Body::Text { .. } | Body::File { .. })
}

fn is_unread(item: &TimelineItem) -> bool {
    !item.outgoing && item.status == MessageStatus::Received && is_message(&item.body)
}
