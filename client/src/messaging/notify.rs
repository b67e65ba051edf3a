//! Mentions and notification settings (docs/architecture.md §7).
//!
//! **Mentions** travel as user ids in the message ([`Body::Text`]'s `mentions`, and
//! `mention_all` for `@all`), picked by the sender from `@user` words of what it typed
//! ([`Messenger::text_body`]); no receiver parses text. `@all` counts only in a group and
//! only from an org admin or an admin of the group: from anyone else every receiver drops it
//! before storing, so it notifies nobody.
//!
//! **Settings** are per conversation and per user: notify on every message, on mentions
//! only, or never, and silent until a time. A change is stored here and sent, end-to-end
//! encrypted like any message, to this user's other devices only ([`Body::Settings`]); the
//! highest revision wins on every device whatever order the changes arrive in.
//!
//! **Whether to notify** is decided by the engine when a message is received
//! ([`Received::notify`]): a new text or file from someone else, in a conversation whose
//! settings let it through at that moment.

use parley_proto::UserId;
use parley_proto::content::{Body, Content, MessageId as ContentId, MessageRef, NotifyLevel};

use crate::error::{Error, Result};
use crate::store::{ConversationId, NotifySettings, OutboxItem, StoreTx};

use super::*;

impl Messenger {
    /// This user's notification settings for `to` (the defaults for a conversation not yet
    /// stored).
    pub async fn notify_settings(&self, to: &Target) -> Result<NotifySettings> {
        let mut tx = self.store.begin().await?;
        let id = self.conversation_id(to);
        let settings = tx.conversation(&id).await?.map(|c| c.notify);
        tx.commit().await?;
        Ok(settings.unwrap_or_default())
    }

    /// Sets when `to` notifies (`muted_until`: silent until then, ms since the Unix epoch;
    /// 0 for not muted), here and on this user's other devices. Returns the settings stored.
    pub async fn set_notify(
        &self,
        to: &Target,
        notify: NotifyLevel,
        muted_until: u64,
    ) -> Result<NotifySettings> {
        let mut tx = self.store.begin().await?;
        let conversation = match to {
            Target::User(user) => direct_conversation(&mut tx, &self.store, user.as_str()).await?,
            Target::Group(_) => {
                let id = self.conversation_id(to);
                if tx.conversation(&id).await?.is_none() {
                    return Err(Error::NoSuchGroup);
                }
                id
            }
        };
        let last = tx
            .conversation(&conversation)
            .await?
            .map_or(0, |c| c.notify.revision);
        let settings = NotifySettings {
            notify,
            muted_until,
            revision: now_ms().max(last.saturating_add(1)),
        };
        apply_settings(&mut tx, &conversation, settings).await?;
        let mut content = Content::new(
            ContentId(rand16()),
            now_ms(),
            Body::Settings {
                notify,
                muted_until,
                revision: settings.revision,
            },
        );
        match to {
            Target::User(user) => content.sync_to = Some(user.clone()),
            Target::Group(group) => content.group = Some(*group),
        }
        let item = OutboxItem::new(
            conversation,
            None,
            vec![self.account.user.clone()],
            content.to_bytes(),
            now_ms(),
        );
        tx.put_outbox(&item).await?;
        tx.commit().await?;
        // Stored here already; the other devices get it now or with a later flush.
        if let Err(e) = self.flush_outbox_for(&[item.id]).await {
            tracing::debug!(code = e.code(), "settings queued for the other devices");
        }
        Ok(settings)
    }

    /// The body of a text message to `to`: every `@user` word naming a member of the
    /// conversation becomes a mention, and `@all` in a group a mention of everyone if this
    /// user may make one (an org admin or an admin of the group; otherwise it stays text).
    pub async fn text_body(
        &self,
        to: &Target,
        text: &str,
        reply_to: Option<MessageRef>,
    ) -> Result<Body> {
        let words = mention_words(text);
        let (mentions, mention_all) = if words.is_empty() {
            (Vec::new(), false)
        } else {
            let mut tx = self.store.begin().await?;
            let members = match to {
                Target::User(user) => vec![user.to_string(), self.account.user.clone()],
                Target::Group(_) => group_members(&mut tx, &self.conversation_id(to)).await?,
            };
            let all = match to {
                Target::Group(group) if words.iter().any(|w| w == "all") => {
                    let me = UserId::new(self.account.user.clone())?;
                    self.is_admin_of_group_or_org(&mut tx, group, &me).await?
                }
                _ => false,
            };
            tx.commit().await?;
            let mut mentions: Vec<UserId> = Vec::new();
            for w in &words {
                if members.iter().any(|m| m == w)
                    && let Ok(user) = UserId::new(w.clone())
                    && !mentions.contains(&user)
                {
                    mentions.push(user);
                }
            }
            (mentions, all)
        };
        Ok(Body::Text {
            text: text.to_owned(),
            reply_to,
            mentions,
            mention_all,
        })
    }

    /// Drops an `@all` that its author may not make (or that is not in a group) from
    /// `content`, before it is stored.
    pub(crate) async fn check_mention_all(
        &self,
        tx: &mut StoreTx<'_>,
        author: &UserId,
        content: &mut Content,
    ) -> Result<()> {
        let group = content.group;
        if let Body::Text { mention_all, .. } = &mut content.body
            && *mention_all
        {
            let allowed = match &group {
                Some(group) => self.is_admin_of_group_or_org(tx, group, author).await?,
                None => false,
            };
            if !allowed {
                tracing::debug!("@all from someone who may not: dropped");
                *mention_all = false;
            }
        }
        Ok(())
    }
}

/// Stores `settings` for `conversation` if they are newer than the stored ones (a higher
/// revision; equal revisions: the greater settings, so every device picks the same).
pub(crate) async fn apply_settings(
    tx: &mut StoreTx<'_>,
    conversation: &ConversationId,
    settings: NotifySettings,
) -> Result<()> {
    let Some(mut c) = tx.conversation(conversation).await? else {
        return Ok(());
    };
    let key = |s: &NotifySettings| (s.revision, level_rank(s.notify), s.muted_until);
    if key(&settings) > key(&c.notify) {
        c.notify = settings;
        tx.set_conversation(&c).await?;
    }
    Ok(())
}

fn level_rank(level: NotifyLevel) -> u8 {
    match level {
        NotifyLevel::All => 0,
        NotifyLevel::Mentions => 1,
        NotifyLevel::None => 2,
    }
}

/// Whether `body` mentions `me` (by id, or `@all`); a task given to `me` counts as one.
pub fn mentions(body: &Body, me: &str) -> bool {
    use parley_proto::content::TaskChange;
    match body {
        Body::Text {
            mentions,
            mention_all,
            ..
        } => *mention_all || mentions.iter().any(|m| m.as_str() == me),
        Body::Task {
            change: TaskChange::Create { assignee, .. } | TaskChange::Assign { assignee },
            ..
        } => assignee.as_str() == me,
        _ => false,
    }
}

/// Whether a received `body` from someone else should notify under `settings` at `now` (ms):
/// a message, a file, a comment on a task, or a task given to `me`.
pub fn should_notify(settings: &NotifySettings, body: &Body, me: &str, now: u64) -> bool {
    use parley_proto::content::TaskChange;
    let worth = match body {
        Body::Text { .. }
        | Body::File { .. }
        | Body::Task {
            change: TaskChange::Comment { .. },
            ..
        } => true,
        Body::Task { .. } => mentions(body, me),
        _ => false,
    };
    if !worth || settings.muted_until > now {
        return false;
    }
    match settings.notify {
        NotifyLevel::All => true,
        NotifyLevel::Mentions => mentions(body, me),
        NotifyLevel::None => false,
    }
}

/// The `@word`s of `text` (what follows an `@` at the start or after a space, up to the
/// first character a user id cannot have), lowercase.
fn mention_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        if c == '@' && (prev.is_whitespace() || "([".contains(prev)) {
            let rest = text.get(i + 1..).unwrap_or_default();
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            let word = word.trim_end_matches(['.', '-', '_']).to_ascii_lowercase();
            if !word.is_empty() {
                words.push(word);
            }
        }
        prev = c;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(mentions: &[&str], all: bool) -> Body {
        Body::Text {
            text: String::new(),
            reply_to: None,
            mentions: mentions
                .iter()
                .filter_map(|m| UserId::new(*m).ok())
                .collect(),
            mention_all: all,
        }
    }

    #[test]
    fn mention_words_are_at_word_starts() {
        assert_eq!(
            mention_words("@bob see this, @Carol. mail x@example.com (@dave) @all"),
            ["bob", "carol", "dave", "all"]
        );
        assert!(mention_words("no mentions @ here").is_empty());
    }

    #[test]
    fn settings_decide_what_notifies() {
        let s = |notify, muted_until| NotifySettings {
            notify,
            muted_until,
            revision: 1,
        };
        let plain = text(&[], false);
        let to_me = text(&["alice"], false);
        let to_all = text(&[], true);
        let typing = Body::Typing { started: true };
        assert!(should_notify(&s(NotifyLevel::All, 0), &plain, "alice", 10));
        assert!(!should_notify(
            &s(NotifyLevel::All, 0),
            &typing,
            "alice",
            10
        ));
        assert!(!should_notify(
            &s(NotifyLevel::Mentions, 0),
            &plain,
            "alice",
            10
        ));
        assert!(should_notify(
            &s(NotifyLevel::Mentions, 0),
            &to_me,
            "alice",
            10
        ));
        assert!(should_notify(
            &s(NotifyLevel::Mentions, 0),
            &to_all,
            "alice",
            10
        ));
        assert!(!should_notify(
            &s(NotifyLevel::Mentions, 0),
            &to_me,
            "bob",
            10
        ));
        assert!(!should_notify(
            &s(NotifyLevel::None, 0),
            &to_me,
            "alice",
            10
        ));
        assert!(
            !should_notify(&s(NotifyLevel::All, 11), &to_me, "alice", 10),
            "muted"
        );
        assert!(
            should_notify(&s(NotifyLevel::All, 10), &plain, "alice", 10),
            "mute over"
        );
    }
}
