//! The inner message: what the Double Ratchet or a sender key encrypts (docs/architecture.md §7).
//!
//! The relay never sees it. It is versioned JSON (`"v": 1`): readable in tests, compact enough
//! once encrypted, and forward compatible — a kind this build does not know decodes as
//! [`Body::Unknown`] so that an older client shows "unsupported message" instead of failing,
//! and unknown fields are ignored. Every length and count is checked ([`Content::validate`])
//! before the content is used; [`Content::from_bytes`] checks the size before parsing.

use serde::{Deserialize, Serialize};

use crate::b64::B64;
use crate::ids::UserId;

/// Current version of the content format.
pub const CONTENT_VERSION: u8 = 1;
/// Largest encoded content, in bytes (the crypto layer's plaintext limit).
pub const MAX_CONTENT_LEN: usize = parley_crypto::consts::MAX_PLAINTEXT_LEN;
/// Longest message text, in bytes.
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Longest short string (emoji, file name, content type, group name), in bytes.
pub const MAX_SHORT_LEN: usize = 256;
/// Most items in a list (receipt targets, mentions, group members).
pub const MAX_ITEMS: usize = 1_000;
/// Greatest task stamp and deadline (ms): 2^53 − 1, exact in every JSON reader, and far
/// enough that no honest clock reaches it (so a change cannot freeze a task at `u64::MAX`).
pub const MAX_TASK_TIME: u64 = (1 << 53) - 1;

/// A message id, chosen by its author: 16 random bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(#[serde(with = "crate::hex::serde_array")] pub [u8; 16]);

/// A group id: 32 random bytes chosen by its creator (the sender-key layer's group id,
/// `parley_crypto::sender_key::GroupId`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(#[serde(with = "crate::hex::serde_array")] pub [u8; 32]);

/// A task id, chosen by the task's creator: 16 random bytes. A task lives in one
/// conversation: the same id in another conversation is another task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(#[serde(with = "crate::hex::serde_array")] pub [u8; 16]);

/// Where a task stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Not started.
    #[default]
    Open,
    /// Someone is on it.
    InProgress,
    /// Finished.
    Done,
    /// Finished once, open again.
    Reopened,
}

impl TaskStatus {
    /// The word for it (the CLI's and the JSON's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Reopened => "reopened",
        }
    }

    /// The status from its word (`in-progress` as well as `in_progress`).
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "open" => Some(Self::Open),
            "in_progress" | "in-progress" | "progress" => Some(Self::InProgress),
            "done" => Some(Self::Done),
            "reopened" | "reopen" => Some(Self::Reopened),
            _ => None,
        }
    }

    /// Whether the task still needs doing.
    pub fn is_open(self) -> bool {
        self != Self::Done
    }
}

/// One change to a task (see [`Body::Task`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TaskChange {
    /// The task exists: open, with this title, assignee and optional deadline and description.
    Create {
        /// What is to be done.
        title: String,
        /// Who is to do it (a member of the conversation).
        assignee: UserId,
        /// When it is due (ms since the Unix epoch).
        #[serde(default)]
        deadline: Option<u64>,
        /// More words about it.
        #[serde(default)]
        description: Option<String>,
    },
    /// Its status changes.
    Status {
        /// The new status.
        status: TaskStatus,
    },
    /// Someone else is to do it.
    Assign {
        /// The new assignee.
        assignee: UserId,
    },
    /// Its deadline changes (`None`: no deadline).
    Deadline {
        /// The new deadline (ms since the Unix epoch).
        #[serde(default)]
        deadline: Option<u64>,
    },
    /// A comment on it.
    Comment {
        /// The comment.
        text: String,
    },
}

/// Points at a message: its author and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// Who wrote it.
    pub author: UserId,
    /// Its id.
    pub id: MessageId,
}

/// Where an encrypted file is and how to open it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentPointer {
    /// The relay's id of the encrypted blob.
    pub id: String,
    /// The 32-byte attachment key.
    pub key: B64,
    /// SHA-256 of the encrypted blob, checked before the file is used.
    pub digest: B64,
    /// Plaintext size in bytes.
    pub size: u64,
    /// MIME type.
    pub content_type: String,
    /// Original file name.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// Length of an attachment id: the relay names each blob by 16 random bytes in lowercase hex
/// (docs/architecture.md §3, attachments).
pub const ATTACHMENT_ID_LEN: usize = 32;

/// Whether `id` is an attachment id as the relay makes them: exactly [`ATTACHMENT_ID_LEN`]
/// lowercase hex digits. The id of a received [`AttachmentPointer`] is chosen by its sender
/// and goes into a URL path, so a client checks it with this before making any request.
pub fn is_attachment_id(id: &str) -> bool {
    id.len() == ATTACHMENT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Receipt kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// The message reached the device.
    Delivered,
    /// The user saw it.
    Read,
}

/// A change to a group, signed by the member who makes it (see [`crate::group`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum GroupChange {
    /// The group exists, with these members (the creator included, its first admin).
    Create {
        /// Display name.
        name: String,
        /// Members.
        members: Vec<UserId>,
    },
    /// Members were added.
    Add {
        /// New members.
        members: Vec<UserId>,
    },
    /// Members were removed: everyone rotates their sender key before the next message.
    Remove {
        /// Removed members.
        members: Vec<UserId>,
    },
    /// The group was renamed.
    Rename {
        /// New name.
        name: String,
    },
    /// Members became admins of the group.
    Promote {
        /// The new admins.
        members: Vec<UserId>,
    },
    /// Admins became plain members.
    Demote {
        /// The former admins.
        members: Vec<UserId>,
    },
    /// The group becomes an announcement channel (`on`: only its admins post; members read
    /// and react), or an ordinary group again.
    Announce {
        /// Whether only admins post.
        on: bool,
    },
}

/// Group changes, as a group message carries them: one new change for the members, or the
/// whole chain for a newcomer (see [`crate::group`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupUpdate {
    /// The changes, oldest first.
    pub changes: Vec<crate::group::SignedGroupChange>,
}

impl GroupUpdate {
    /// The newest change.
    pub fn last(&self) -> Option<&GroupChange> {
        self.changes.last().map(|c| &c.change)
    }
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// A text message.
    Text {
        /// The text.
        text: String,
        /// The message it answers.
        #[serde(default)]
        reply_to: Option<MessageRef>,
        /// Users mentioned (`@name`), carried as ids so that no receiver parses text.
        #[serde(default)]
        mentions: Vec<UserId>,
        /// `@all` in a group: everyone is mentioned. Honoured only from an org admin or an
        /// admin of the group; from anyone else receivers drop it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        mention_all: bool,
    },
    /// A file, with an optional caption.
    File {
        /// Where it is.
        attachment: AttachmentPointer,
        /// Caption.
        #[serde(default)]
        caption: Option<String>,
        /// The message it answers.
        #[serde(default)]
        reply_to: Option<MessageRef>,
    },
    /// Replaces the text of one's own earlier message. Of several edits the one with the
    /// highest `revision` wins, whatever order they arrive in (equal revisions: the greater
    /// text); an edit that arrives before its message is applied when the message does.
    Edit {
        /// The message.
        target: MessageRef,
        /// New text.
        text: String,
        /// Greater than every earlier edit's: the editor's last revision of the message plus
        /// one, or its clock in milliseconds if that is more.
        #[serde(default)]
        revision: u64,
    },
    /// Deletes one's own earlier message for everyone.
    Delete {
        /// The message.
        target: MessageRef,
    },
    /// Adds or removes a reaction.
    Reaction {
        /// The message.
        target: MessageRef,
        /// The emoji.
        emoji: String,
        /// True to remove it.
        #[serde(default)]
        remove: bool,
    },
    /// Delivery or read receipts.
    Receipt {
        /// Which.
        receipt: ReceiptKind,
        /// For these messages.
        targets: Vec<MessageId>,
    },
    /// The author started or stopped typing.
    Typing {
        /// True when typing started.
        started: bool,
    },
    /// Group changes.
    Group(GroupUpdate),
    /// A sender-key distribution message for `group` (sent pairwise, never to the group).
    SenderKey {
        /// The group.
        group: GroupId,
        /// parley-crypto's distribution message.
        distribution: B64,
    },
    /// The author is online, away or offline (sent only while the org's policy shares
    /// presence, to the people the author has conversations with; never queued).
    Presence {
        /// Online, away or offline.
        state: PresenceState,
        /// When the author was last active (ms since the Unix epoch); `None` when the author
        /// hides it.
        #[serde(default)]
        last_seen: Option<u64>,
    },
    /// The author's status text ("On holiday until the 20th"), sent to the people the author
    /// has conversations with and to the author's other devices. Of several, the one with the
    /// highest `revision` wins; an empty text clears it.
    Status {
        /// The text; empty: none.
        text: String,
        /// When it clears itself (ms since the Unix epoch).
        #[serde(default)]
        until: Option<u64>,
        /// The setter's clock in ms, or one more than its last revision if that is more.
        revision: u64,
    },
    /// Sets the conversation's disappearing-message timer (in a group, an admin of the group
    /// or an org admin only). Messages sent after it disappear `secs` after they were sent;
    /// 0 turns it off. The org's policy caps it.
    Timer {
        /// Seconds; 0: off.
        secs: u64,
    },
    /// This user's notification settings for the conversation, synced to the user's other
    /// devices (sent to them only; any other author is refused). Of several, the one with the
    /// highest `revision` wins.
    Settings {
        /// When to notify.
        notify: NotifyLevel,
        /// Silent until this time (ms since the Unix epoch); 0: not muted.
        #[serde(default)]
        muted_until: u64,
        /// The setter's clock in ms, or one more than the last revision it knew if that is more.
        revision: u64,
    },
    /// A change to a task of the conversation. Every device ends with the same task whatever
    /// the order the changes arrive in: each field keeps the change with the greatest
    /// (`stamp`, author, message id), and comments are ordered by the same key.
    Task {
        /// Which task.
        task: TaskId,
        /// The author's clock in ms, or one more than the greatest stamp the author had seen
        /// on the task if that is more (so a change made after another wins over it).
        stamp: u64,
        /// What changes.
        change: TaskChange,
    },
    /// A kind this build does not know (from a newer client).
    #[serde(other)]
    Unknown,
}

/// Whether someone is there (docs/architecture.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// Using Parley now.
    Online,
    /// Connected, but not using it.
    Away,
    /// Gone.
    Offline,
}

impl PresenceState {
    /// The word for it (the CLI's and the JSON's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }

    /// The state from its word.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "online" => Some(Self::Online),
            "away" => Some(Self::Away),
            "offline" => Some(Self::Offline),
            _ => None,
        }
    }
}

/// When a conversation notifies (docs/architecture.md §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every new message or file from someone else.
    #[default]
    All,
    /// Only messages that mention this user (or `@all`).
    Mentions,
    /// Never.
    None,
}

impl NotifyLevel {
    /// The word for it (the CLI's and the JSON's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::None => "none",
        }
    }
}

/// A decrypted message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// Format version.
    pub v: u8,
    /// Author's message id.
    pub id: MessageId,
    /// Author's clock, milliseconds since the Unix epoch.
    pub sent_at: u64,
    /// The group conversation this belongs to; `None` for a 1:1 conversation.
    #[serde(default)]
    pub group: Option<GroupId>,
    /// For copies sent to one's own other devices: the user the message was sent to in a 1:1
    /// conversation (so every device of the author shows it in the right place).
    #[serde(default)]
    pub sync_to: Option<UserId>,
    /// Hash of the newest org-log entry the author had seen (fork detection, docs/architecture.md §2).
    #[serde(default)]
    pub org_head: Option<B64>,
    /// How many entries the author's log had (`org_head` is the hash of the last one).
    #[serde(default)]
    pub org_len: Option<u64>,
    /// A disappearing message: it is deleted from every store this many seconds after it was
    /// sent (the earlier of the author's clock and the receiver's), and the relay is asked
    /// to drop its envelopes as soon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The revision of the last edit applied to a stored message (its text is the edit's).
    /// Kept only in the local store: a receiver clears what the wire says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<u64>,
    /// What it says.
    pub body: Body,
}

/// Why content was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// Larger than [`MAX_CONTENT_LEN`].
    #[error("content too large")]
    TooLarge,
    /// Not content of any version.
    #[error("malformed content")]
    Malformed,
    /// A version this build does not know.
    #[error("content version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A field is over its limit.
    #[error("content field over its limit: {0}")]
    OverLimit(&'static str),
}

impl Content {
    /// Content of the current version.
    pub fn new(id: MessageId, sent_at: u64, body: Body) -> Self {
        Self {
            v: CONTENT_VERSION,
            id,
            sent_at,
            group: None,
            sync_to: None,
            org_head: None,
            org_len: None,
            expires_in: None,
            edited: None,
            body,
        }
    }

    /// The encoding to encrypt.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes and validates decrypted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ContentError> {
        if bytes.len() > MAX_CONTENT_LEN {
            return Err(ContentError::TooLarge);
        }
        #[derive(Deserialize)]
        struct Version {
            v: u8,
        }
        let Version { v } = serde_json::from_slice(bytes).map_err(|_| ContentError::Malformed)?;
        if v != CONTENT_VERSION {
            return Err(ContentError::UnsupportedVersion(v));
        }
        let content: Self = serde_json::from_slice(bytes).map_err(|_| ContentError::Malformed)?;
        content.validate()?;
        Ok(content)
    }

    /// Checks every length and count.
    pub fn validate(&self) -> Result<(), ContentError> {
        let short = |s: &str, what| {
            if s.len() > MAX_SHORT_LEN {
                Err(ContentError::OverLimit(what))
            } else {
                Ok(())
            }
        };
        let text = |s: &str| {
            if s.len() > MAX_TEXT_LEN {
                Err(ContentError::OverLimit("text"))
            } else {
                Ok(())
            }
        };
        let items = |n: usize, what| {
            if n > MAX_ITEMS {
                Err(ContentError::OverLimit(what))
            } else {
                Ok(())
            }
        };
        if self
            .org_head
            .as_ref()
            .is_some_and(|h| h.as_bytes().len() != 32)
            || self.org_head.is_some() != self.org_len.is_some()
        {
            return Err(ContentError::OverLimit("org_head"));
        }
        match &self.body {
            Body::Text {
                text: t, mentions, ..
            } => {
                text(t)?;
                items(mentions.len(), "mentions")
            }
            Body::File {
                attachment,
                caption,
                ..
            } => {
                if attachment.key.as_bytes().len() != 32 || attachment.digest.as_bytes().len() != 32
                {
                    return Err(ContentError::OverLimit("attachment key or digest"));
                }
                short(&attachment.id, "attachment id")?;
                short(&attachment.content_type, "content type")?;
                if let Some(n) = &attachment.file_name {
                    short(n, "file name")?;
                }
                caption.as_deref().map_or(Ok(()), text)
            }
            Body::Edit { text: t, .. } => text(t),
            Body::Status { text: t, .. } => short(t, "status"),
            Body::Reaction { emoji, .. } => short(emoji, "emoji"),
            Body::Receipt { targets, .. } => items(targets.len(), "receipt targets"),
            Body::Group(update) => {
                if update.changes.is_empty() {
                    return Err(ContentError::OverLimit("group changes"));
                }
                if update.changes.len() > crate::group::MAX_GROUP_CHANGES {
                    return Err(ContentError::OverLimit("group changes"));
                }
                for c in &update.changes {
                    match &c.change {
                        GroupChange::Create { name, members } => {
                            short(name, "group name")?;
                            items(members.len(), "members")?;
                        }
                        GroupChange::Add { members }
                        | GroupChange::Remove { members }
                        | GroupChange::Promote { members }
                        | GroupChange::Demote { members } => items(members.len(), "members")?,
                        GroupChange::Rename { name } => short(name, "group name")?,
                        GroupChange::Announce { .. } => {}
                    }
                }
                Ok(())
            }
            Body::SenderKey { distribution, .. } => {
                if distribution.as_bytes().len() > 4096 {
                    Err(ContentError::OverLimit("distribution"))
                } else {
                    Ok(())
                }
            }
            Body::Task { stamp, .. } if *stamp > MAX_TASK_TIME => {
                Err(ContentError::OverLimit("task stamp"))
            }
            Body::Task {
                change:
                    TaskChange::Create {
                        deadline: Some(d), ..
                    }
                    | TaskChange::Deadline { deadline: Some(d) },
                ..
            } if *d > MAX_TASK_TIME => Err(ContentError::OverLimit("task deadline")),
            Body::Task { change, .. } => match change {
                TaskChange::Create {
                    title, description, ..
                } => {
                    if title.trim().is_empty() {
                        return Err(ContentError::OverLimit("task title"));
                    }
                    short(title, "task title")?;
                    description.as_deref().map_or(Ok(()), text)
                }
                TaskChange::Comment { text: t } if t.trim().is_empty() => {
                    Err(ContentError::OverLimit("comment"))
                }
                TaskChange::Comment { text: t } => text(t),
                TaskChange::Status { .. }
                | TaskChange::Assign { .. }
                | TaskChange::Deadline { .. } => Ok(()),
            },
            Body::Delete { .. }
            | Body::Typing { .. }
            | Body::Settings { .. }
            | Body::Timer { .. }
            | Body::Presence { .. }
            | Body::Unknown => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests;
