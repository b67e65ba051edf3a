//! Conversations: 1:1 or group, with members and title.

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::consts::MAX_USER_ID_LEN;
use parley_crypto::error::DecodeError;
use parley_crypto::sender_key::GroupId;
use parley_proto::content::NotifyLevel;
use std::fmt;
use zeroize::Zeroizing;

use super::*;

/// Whom a conversation is with.
#[derive(Clone, PartialEq, Eq)]
pub enum ConversationKind {
    /// A 1:1 conversation.
    Direct {
        /// The other person's user id.
        peer: String,
    },
    /// A group.
    Group {
        /// The group id (its sender keys are kept under it).
        group: GroupId,
        /// Member user ids.
        members: Vec<String>,
    },
}

/// This user's notification settings for a conversation (synced to the user's other devices).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifySettings {
    /// When to notify.
    pub notify: parley_proto::content::NotifyLevel,
    /// Silent until this time (ms since the Unix epoch); 0: not muted.
    pub muted_until: u64,
    /// The revision of the last change applied (the latest wins on every device).
    pub revision: u64,
}

/// A 1:1 or group conversation.
#[derive(Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its id (a row key).
    pub id: ConversationId,
    /// Whom it is with.
    pub kind: ConversationKind,
    /// Title shown in the list (a group's name; empty for 1:1).
    pub title: String,
    /// When it was created.
    pub created_at: u64,
    /// Timestamp of the last message the user has seen.
    pub last_read: u64,
    /// This user's notification settings for it.
    pub notify: NotifySettings,
    /// Its disappearing-message timer.
    pub timer: Timer,
    /// A group that is an announcement channel: only its admins post.
    pub announcement: bool,
}

/// A conversation's disappearing-message timer, as the latest `Timer` message set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timer {
    /// Seconds; 0: off.
    pub secs: u64,
    /// When the message that set it was sent (ms; the latest wins, then the longer timer).
    pub set_at: u64,
}

impl fmt::Debug for Conversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ConversationKind::Direct { .. } => "direct",
            ConversationKind::Group { .. } => "group",
        };
        f.debug_struct("Conversation")
            .field("id", &self.id)
            .field("kind", &kind)
            .field("created_at", &self.created_at)
            .field("last_read", &self.last_read)
            .finish_non_exhaustive()
    }
}

impl Conversation {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(RECORD_FORMAT);
        match &self.kind {
            ConversationKind::Direct { peer } => {
                out.put_u8(0);
                out.put_bytes(peer.as_bytes());
            }
            ConversationKind::Group { group, members } => {
                out.put_u8(1);
                out.put_raw(&group.0);
                out.put_len(members.len());
                for m in members {
                    out.put_bytes(m.as_bytes());
                }
            }
        }
        out.put_bytes(self.title.as_bytes());
        out.put_u64(self.created_at);
        out.put_u64(self.last_read);
        // Added after the first stores were written: a record that ends before them has the
        // defaults.
        out.put_u8(match self.notify.notify {
            NotifyLevel::All => 0,
            NotifyLevel::Mentions => 1,
            NotifyLevel::None => 2,
        });
        out.put_u64(self.notify.muted_until);
        out.put_u64(self.notify.revision);
        out.put_u64(self.timer.secs);
        out.put_u64(self.timer.set_at);
        out.put_u8(u8::from(self.announcement));
        out
    }

    pub(crate) fn decode(id: ConversationId, bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let kind = match r.u8()? {
            0 => ConversationKind::Direct {
                peer: text(&mut r, MAX_USER_ID_LEN)?,
            },
            1 => {
                let group = GroupId(r.array::<32>()?);
                let n = r.count(MAX_ITEMS, 4)?;
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    members.push(text(&mut r, MAX_USER_ID_LEN)?);
                }
                ConversationKind::Group { group, members }
            }
            _ => return Err(DecodeError::InvalidValue),
        };
        let title = text(&mut r, MAX_TEXT)?;
        let created_at = r.u64()?;
        let last_read = r.u64()?;
        let notify = if r.remaining() == 0 {
            NotifySettings::default()
        } else {
            NotifySettings {
                notify: match r.u8()? {
                    0 => NotifyLevel::All,
                    1 => NotifyLevel::Mentions,
                    2 => NotifyLevel::None,
                    _ => return Err(DecodeError::InvalidValue),
                },
                muted_until: r.u64()?,
                revision: r.u64()?,
            }
        };
        let timer = if r.remaining() == 0 {
            Timer::default()
        } else {
            Timer {
                secs: r.u64()?,
                set_at: r.u64()?,
            }
        };
        let announcement = r.remaining() > 0 && r.bool()?;
        r.finish()?;
        Ok(Self {
            id,
            kind,
            title,
            created_at,
            last_read,
            notify,
            timer,
            announcement,
        })
    }
}
