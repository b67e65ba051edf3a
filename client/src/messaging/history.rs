//! A conversation's history as readable lines.

use parley_proto::UserId;
use parley_proto::content::{
    AttachmentPointer, Body, Content, GroupChange, MessageId as ContentId, TaskChange,
};

use crate::error::Result;
use crate::store::MessageStatus;

use super::*;

/// One line of a conversation's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its author.
    pub author: String,
    /// True when this user wrote it.
    pub outgoing: bool,
    /// The author's id of it (for replies, edits, reactions).
    pub id: ContentId,
    /// The author's send time, ms.
    pub sent_at: u64,
    /// Readable text: the message, `[file …]`, a reaction or a group change.
    pub text: String,
    /// Delivery state.
    pub status: MessageStatus,
    /// Whether its author edited it (`text` is the latest edit).
    pub edited: bool,
}

impl Messenger {
    /// The latest `limit` entries of the conversation with `with`, oldest first.
    pub async fn history(&self, with: &Target, limit: u32) -> Result<Vec<HistoryEntry>> {
        self.sweep_if_due().await?;
        let id = self.conversation_id(with);
        let mut tx = self.store.begin().await?;
        let mut messages = tx.messages(&id, None, limit).await?;
        tx.commit().await?;
        super::disappearing::drop_expired(&mut messages, now_ms());
        messages.sort_by_key(|m| m.timestamp);
        Ok(messages
            .into_iter()
            .filter_map(|m| {
                let content = Content::from_bytes(&m.body).ok()?;
                Some(HistoryEntry {
                    author: m.sender.user().to_owned(),
                    outgoing: m.outgoing,
                    id: content.id,
                    sent_at: content.sent_at,
                    text: describe(&content.body)?,
                    status: m.status,
                    edited: content.edited.is_some(),
                })
            })
            .collect())
    }
}

impl Messenger {
    /// The file of the message `id` written by `author`, as its message (in the encrypted
    /// store) describes it: where it is, its key and digest, its name.
    pub async fn file_of(&self, author: &UserId, id: &ContentId) -> Result<AttachmentPointer> {
        let row = self.store.message_row_id(author.as_str(), &id.0);
        let mut tx = self.store.begin().await?;
        let message = tx.message(&row).await?;
        tx.commit().await?;
        match message.and_then(|m| Content::from_bytes(&m.body).ok()) {
            Some(Content {
                body: Body::File { attachment, .. },
                ..
            }) => Ok(attachment),
            _ => Err(crate::Error::NoSuchFile),
        }
    }

    /// Keeps a received file in the account's encrypted file folder ([`crate::files::fetch`]),
    /// downloading it if it is not there yet; returns where.
    pub async fn keep_file(
        &self,
        file: &AttachmentPointer,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<std::path::PathBuf> {
        let dir = self.store.home().join(crate::files::FILES_DIR);
        crate::files::fetch(&self.relay, file, &dir, progress).await
    }

    /// Saves the file of the message `id` by `author` into `dest` (decrypted, under its own
    /// name, never replacing a file), from the encrypted copy kept here or else the relay.
    pub async fn save_file(
        &self,
        author: &UserId,
        id: &ContentId,
        dest: &std::path::Path,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<std::path::PathBuf> {
        let file = self.file_of(author, id).await?;
        let kept = self.keep_file(&file, progress).await?;
        crate::files::save(&file, &kept, dest).await
    }
}

impl Messenger {
    /// The plaintext of a received file (its pointer from [`Messenger::file_of`]) in memory,
    /// for an image preview: from the encrypted copy kept here, or else the relay. A file
    /// announced as larger than `max` bytes is [`crate::Error::TooLarge`], before anything
    /// is downloaded.
    pub async fn open_file(
        &self,
        file: &AttachmentPointer,
        max: u64,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        if file.size > max {
            return Err(crate::Error::TooLarge);
        }
        let kept = self.keep_file(file, |_, _| {}).await?;
        crate::files::open_in_memory(file, &kept, max).await
    }
}

/// A readable line for a stored row.
pub fn describe(body: &Body) -> Option<String> {
    let list = |users: &[UserId]| {
        users
            .iter()
            .map(UserId::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(match body {
        Body::Text { text, .. } => text.clone(),
        Body::File {
            attachment,
            caption,
            ..
        } => {
            let name = attachment.file_name.clone().unwrap_or_default();
            let mut line = format!("[file {name} ({} bytes)]", attachment.size);
            if let Some(c) = caption {
                line.push(' ');
                line.push_str(c);
            }
            line
        }
        Body::Reaction {
            target,
            emoji,
            remove,
        } => {
            let verb = if *remove { "took back" } else { "reacted" };
            format!("[{verb} {emoji} to a message of {}]", target.author)
        }
        Body::Group(update) => match update.last()? {
            GroupChange::Create { name, members } => {
                format!("[created the group \"{name}\" with {}]", list(members))
            }
            GroupChange::Add { members } => format!("[added {}]", list(members)),
            GroupChange::Remove { members } => format!("[removed {}]", list(members)),
            GroupChange::Rename { name } => format!("[renamed the group \"{name}\"]"),
            GroupChange::Promote { members } => format!("[made {} admin]", list(members)),
            GroupChange::Announce { on: true } => {
                "[made the group an announcement channel: only admins post]".to_owned()
            }
            GroupChange::Announce { on: false } => "[let every member post again]".to_owned(),
            GroupChange::Demote { members } => {
                format!("[took admin rights from {}]", list(members))
            }
        },
        Body::Presence { state, .. } => format!("[{}]", state.as_str()),
        Body::Status { text, .. } if text.is_empty() => "[cleared their status]".to_owned(),
        Body::Status { text, .. } => format!("[status: {text}]"),
        Body::Task { task, change, .. } => {
            let id = short_task_id(task);
            match change {
                TaskChange::Create {
                    title, assignee, ..
                } => format!("[new task {id} \"{title}\" for {assignee}]"),
                TaskChange::Status { status } => {
                    format!("[task {id}: {}]", status.as_str().replace('_', " "))
                }
                TaskChange::Assign { assignee } => format!("[task {id}: assigned to {assignee}]"),
                TaskChange::Deadline { deadline: None } => format!("[task {id}: no deadline]"),
                TaskChange::Deadline { deadline: Some(_) } => {
                    format!("[task {id}: deadline moved]")
                }
                TaskChange::Comment { text } => format!("[task {id}: {text}]"),
            }
        }
        Body::Timer { secs: 0 } => "[turned disappearing messages off]".to_owned(),
        Body::Timer { secs } => format!("[set messages to disappear after {}]", duration(*secs)),
        Body::Settings {
            notify,
            muted_until,
            ..
        } => match muted_until {
            0 => format!("[notifications: {}]", notify.as_str()),
            until => format!("[notifications: {}, muted until {until}]", notify.as_str()),
        },
        _ => return None,
    })
}

/// The first 8 hex digits of a task id: how the CLI names a task.
pub fn short_task_id(task: &parley_proto::content::TaskId) -> String {
    let mut id = parley_proto::hex::encode(task.0);
    id.truncate(8);
    id
}

/// A timer in words: "90 seconds", "5 minutes", "1 hour", "7 days".
pub fn duration(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
