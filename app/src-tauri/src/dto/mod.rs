//! What crosses into the WebView: the types of the commands' arguments and results, of the
//! events and of errors. TypeScript declarations of every one of them are generated into
//! `app/src/bindings.ts` ([`bindings`]); `tests/bindings.rs` fails when that file is stale.
//!
//! Nothing here carries key material: ids, names, texts and statuses only. Times are
//! milliseconds since the Unix epoch (under 2^53, so exact as a JavaScript number).

use parley_client::ErrorInfo;
use parley_client::messaging::{ConversationSummary, Target, TimelineItem};
use parley_client::store::MessageStatus;
use parley_proto::UserId;
use parley_proto::content::{Body, GroupChange, GroupId, MessageId, MessageRef};
use parley_proto::org::{Profile, RevokeReason};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

mod admin;
mod settings;
mod tasks;

pub use admin::{AuditLine, OrgPolicy};
pub use settings::{DisappearingState, Notify, NotifyState, PresenceDto, PresenceKind, StatusDto};
pub use tasks::{
    ReminderDto, TaskChangeDto, TaskCommentDto, TaskDto, TaskEvent, TaskQuery, TaskStatusDto,
};

/// A command's error: a stable code and a sentence for people (the engine's taxonomy,
/// docs/architecture.md §8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommandError {
    /// Stable, snake case (`relay_unreachable`, `not_admin`, …).
    pub code: String,
    /// A sentence for people; never holds keys or message contents.
    pub message: String,
}

impl CommandError {
    /// An error of the app itself (not of the engine).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<ErrorInfo> for CommandError {
    fn from(e: ErrorInfo) -> Self {
        Self {
            code: e.code.to_owned(),
            message: e.message,
        }
    }
}

impl From<parley_client::Error> for CommandError {
    fn from(e: parley_client::Error) -> Self {
        e.info().into()
    }
}

impl From<parley_proto::ids::InvalidUserId> for CommandError {
    fn from(e: parley_proto::ids::InvalidUserId) -> Self {
        parley_client::Error::from(e).into()
    }
}

/// A conversation: with a user, or a group (by its id in hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Chat {
    /// A 1:1 conversation.
    User {
        /// The other person.
        user: String,
    },
    /// A group.
    Group {
        /// Its id, 64 lowercase hex digits.
        group: String,
    },
}

impl Chat {
    /// The engine's target; a malformed user or group id is a typed error.
    pub fn target(&self) -> Result<Target, CommandError> {
        match self {
            Self::User { user } => Ok(Target::User(UserId::new(user.clone())?)),
            Self::Group { group } => {
                let mut id = [0u8; 32];
                hex::decode_to_slice(group, &mut id)
                    .ok()
                    .filter(|()| group.bytes().all(|b| !b.is_ascii_uppercase()))
                    .ok_or_else(|| CommandError::new("invalid_group_id", "not a group id"))?;
                Ok(Target::Group(GroupId(id)))
            }
        }
    }

    /// The chat of an engine target.
    pub fn of(target: &Target) -> Self {
        match target {
            Target::User(user) => Self::User {
                user: user.to_string(),
            },
            Target::Group(group) => Self::Group {
                group: hex::encode(group.0),
            },
        }
    }
}

/// A message by its author and the author's id of it (32 hex digits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ItemRef {
    /// Its author.
    pub author: String,
    /// The author's id of it.
    pub id: String,
}

impl ItemRef {
    fn of(r: &MessageRef) -> Self {
        Self {
            author: r.author.to_string(),
            id: hex::encode(r.id.0),
        }
    }

    /// The engine's reference; malformed ids are a typed error.
    pub fn to_ref(&self) -> Result<MessageRef, CommandError> {
        Ok(MessageRef {
            author: UserId::new(self.author.clone())?,
            id: message_id(&self.id)?,
        })
    }
}

/// Parses a message id (32 lowercase hex digits).
pub fn message_id(id: &str) -> Result<MessageId, CommandError> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(id, &mut out)
        .ok()
        .filter(|()| id.bytes().all(|b| !b.is_ascii_uppercase()))
        .ok_or_else(|| CommandError::new("invalid_message_id", "not a message id"))?;
    Ok(MessageId(out))
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Outgoing, waiting in the outbox.
    Sending,
    /// Outgoing, accepted by the relay.
    Sent,
    /// Outgoing, delivered to a device of the recipient.
    Delivered,
    /// Outgoing, read.
    Read,
    /// Outgoing, given up on.
    Failed,
    /// Incoming, not read yet.
    Received,
    /// Incoming, read.
    Seen,
}

impl Status {
    fn of(s: MessageStatus) -> Self {
        match s {
            MessageStatus::Sending => Self::Sending,
            MessageStatus::Sent => Self::Sent,
            MessageStatus::Delivered => Self::Delivered,
            MessageStatus::Read => Self::Read,
            MessageStatus::Failed => Self::Failed,
            MessageStatus::Seen => Self::Seen,
            _ => Self::Received,
        }
    }
}

/// What a row of a conversation says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemBody {
    /// A text message.
    Text {
        /// The text (its latest edit).
        text: String,
        /// The message it answers.
        reply_to: Option<ItemRef>,
    },
    /// A file.
    File {
        /// Its name as the sender gave it.
        name: String,
        /// Its size in bytes.
        #[ts(type = "number")]
        size: u64,
        /// Its MIME type as the sender gave it.
        mime: String,
        /// Caption.
        caption: Option<String>,
        /// The message it answers.
        reply_to: Option<ItemRef>,
    },
    /// A message its author deleted.
    Deleted,
    /// A reaction to another row (the UI folds it onto its target).
    Reaction {
        /// The message reacted to.
        target: ItemRef,
        /// The emoji.
        emoji: String,
        /// True when the reaction was taken back.
        remove: bool,
    },
    /// A group change.
    Group {
        /// What changed.
        change: GroupEvent,
    },
    /// The conversation's disappearing-message timer was set (0: turned off).
    Timer {
        /// Seconds.
        #[ts(type = "number")]
        secs: u64,
    },
    /// A change to a task of the conversation.
    Task {
        /// The task's id, 32 hex digits.
        task: String,
        /// Its title (filled in from the task where the row does not carry it).
        title: Option<String>,
        /// What changed.
        change: TaskEvent,
    },
}

/// A group change, for the UI to put in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GroupEvent {
    /// Created with these members.
    Created {
        /// Its name.
        name: String,
        /// Members.
        members: Vec<String>,
    },
    /// Members added.
    Added {
        /// Who.
        members: Vec<String>,
    },
    /// Members removed (or left).
    Removed {
        /// Who.
        members: Vec<String>,
    },
    /// Renamed.
    Renamed {
        /// The new name.
        name: String,
    },
    /// Members made admins.
    Promoted {
        /// Who.
        members: Vec<String>,
    },
    /// Admin rights taken from members.
    Demoted {
        /// Who.
        members: Vec<String>,
    },
    /// Made an announcement channel (only admins post), or an ordinary group again.
    Announcement {
        /// Whether only admins post.
        on: bool,
    },
}

/// One row of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Item {
    /// Its author.
    pub author: String,
    /// True when this user wrote it.
    pub outgoing: bool,
    /// The author's id of it (32 hex digits).
    pub id: String,
    /// The author's send time, ms.
    #[ts(type = "number")]
    pub sent_at: u64,
    /// Its place in the conversation (local ms); the cursor for older pages.
    #[ts(type = "number")]
    pub stamp: u64,
    /// Delivery state.
    pub status: Status,
    /// Whether its author edited it.
    pub edited: bool,
    /// What it says.
    pub body: ItemBody,
}

impl Item {
    /// The row of a timeline item; `None` for rows the UI does not show (an edit waiting
    /// for its message, content from a newer build).
    pub fn of(item: TimelineItem) -> Option<Self> {
        let users = |v: &[UserId]| v.iter().map(UserId::to_string).collect::<Vec<_>>();
        let body = match item.body {
            Body::Text { text, reply_to, .. } => ItemBody::Text {
                text,
                reply_to: reply_to.as_ref().map(ItemRef::of),
            },
            Body::File {
                attachment,
                caption,
                reply_to,
            } => ItemBody::File {
                name: attachment.file_name.unwrap_or_default(),
                size: attachment.size,
                mime: attachment.content_type,
                caption,
                reply_to: reply_to.as_ref().map(ItemRef::of),
            },
            Body::Delete { .. } => ItemBody::Deleted,
            Body::Reaction {
                target,
                emoji,
                remove,
            } => ItemBody::Reaction {
                target: ItemRef::of(&target),
                emoji,
                remove,
            },
            Body::Group(update) => ItemBody::Group {
                change: match update.last()? {
                    GroupChange::Create { name, members } => GroupEvent::Created {
                        name: name.clone(),
                        members: users(members),
                    },
                    GroupChange::Add { members } => GroupEvent::Added {
                        members: users(members),
                    },
                    GroupChange::Remove { members } => GroupEvent::Removed {
                        members: users(members),
                    },
                    GroupChange::Rename { name } => GroupEvent::Renamed { name: name.clone() },
                    GroupChange::Promote { members } => GroupEvent::Promoted {
                        members: users(members),
                    },
                    GroupChange::Demote { members } => GroupEvent::Demoted {
                        members: users(members),
                    },
                    GroupChange::Announce { on } => GroupEvent::Announcement { on: *on },
                },
            },
            Body::Timer { secs } => ItemBody::Timer { secs },
            Body::Task { task, change, .. } => {
                let (change, title) = TaskEvent::of(&change);
                ItemBody::Task {
                    task: hex::encode(task.0),
                    title,
                    change,
                }
            }
            _ => return None,
        };
        Some(Self {
            author: item.author.to_string(),
            outgoing: item.outgoing,
            id: hex::encode(item.id.0),
            sent_at: item.sent_at,
            stamp: item.stamp,
            status: Status::of(item.status),
            edited: item.edited.is_some(),
            body,
        })
    }
}

/// A conversation as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChatSummary {
    /// Which.
    pub chat: Chat,
    /// A group's name, or the peer's display name.
    pub title: String,
    /// Members (the peer for a 1:1 conversation).
    pub members: Vec<String>,
    /// The latest message or file.
    pub last: Option<Item>,
    /// When anything last happened in it (local ms).
    #[ts(type = "number")]
    pub active_at: u64,
    /// Messages from others not read yet.
    pub unread: u32,
    /// When it notifies.
    pub notify: NotifyState,
    /// Its disappearing-message timer.
    pub disappearing: DisappearingState,
    /// This user only reads and reacts here (the company channel, for all but org admins).
    pub read_only: bool,
}

impl ChatSummary {
    /// The summary of a conversation; `name` gives a user's display name.
    pub fn of(c: ConversationSummary, name: impl Fn(&UserId) -> String) -> Self {
        let title = match &c.target {
            Target::User(peer) => name(peer),
            Target::Group(_) => c.title,
        };
        Self {
            chat: Chat::of(&c.target),
            title,
            members: c.members.iter().map(UserId::to_string).collect(),
            last: c.last.and_then(Item::of),
            active_at: c.active_at,
            unread: c.unread,
            notify: c.notify.into(),
            disappearing: DisappearingState {
                secs: c.disappearing.secs,
                max_secs: c.disappearing.max_secs,
            },
            read_only: c.read_only,
        }
    }
}

/// A group as its members see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct GroupDetails {
    /// Which.
    pub chat: Chat,
    /// Its name.
    pub name: String,
    /// Its members (user ids, sorted).
    pub members: Vec<String>,
    /// Its admins, who may change it (anyone may leave).
    pub admins: Vec<String>,
    /// An announcement channel: only its admins post.
    pub announcement: bool,
}

impl GroupDetails {
    /// From the engine's view of a group.
    pub fn of(g: parley_client::groups::GroupInfo) -> Self {
        Self {
            chat: Chat::Group {
                group: hex::encode(g.id.0),
            },
            name: g.name,
            members: g.members,
            admins: g.admins,
            announcement: g.announcement,
        }
    }
}

/// This device's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Me {
    /// User id.
    pub user: String,
    /// Display name from the directory.
    pub display_name: String,
    /// This device's number.
    pub device: u32,
    /// The org's name.
    pub org_name: String,
    /// The relay's address.
    pub relay: String,
    /// Whether this user is an admin in the verified org log.
    pub admin: bool,
}

/// Why this device can no longer be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum GoneReason {
    /// An administrator wiped it; nothing of the account is left.
    Wiped,
    /// An administrator (or the user from another device) signed it out.
    SignedOut,
    /// Reported lost.
    Lost,
    /// Replaced by another device.
    Replaced,
    /// Its user was dismissed.
    Dismissed,
    /// Offline longer than the org allows: it wiped itself.
    OfflineWiped,
}

impl GoneReason {
    /// Whether the engine's error means this device is gone, and why.
    pub fn of(e: &parley_client::Error) -> Option<Self> {
        use parley_client::Error as E;
        Some(match e {
            E::Wiped { .. } => Self::Wiped,
            E::OfflineWiped => Self::OfflineWiped,
            E::RemoteSecretGone => Self::SignedOut,
            E::DeviceRevoked(reason) => match reason {
                RevokeReason::Lost => Self::Lost,
                RevokeReason::Replaced => Self::Replaced,
                RevokeReason::Dismissed => Self::Dismissed,
                RevokeReason::Wiped => Self::Wiped,
                _ => Self::SignedOut,
            },
            _ => return None,
        })
    }
}

/// Where the app stands when its window opens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AppState {
    /// No account on this computer: join or create an org.
    Welcome {
        /// The invite or link code the app was opened with (a `parley-invite:` link), to
        /// preview and join.
        invite: Option<String>,
    },
    /// The account is open.
    Ready {
        /// Whose.
        me: Me,
    },
    /// The account cannot be opened now (the relay is needed and cannot be reached, the
    /// device is locked by the offline policy); retrying may help.
    Locked {
        /// Why.
        error: CommandError,
    },
    /// This device was revoked or wiped; nothing readable is left on it.
    Gone {
        /// Why.
        reason: GoneReason,
    },
}

/// An invite as the first-run screen shows it before joining.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InvitePreview {
    /// The org's name, from its verified log.
    pub org_name: String,
    /// The relay's address.
    pub relay: String,
    /// Whether the relay's TLS key is pinned.
    pub pinned: bool,
    /// The user id it enrols.
    pub user: String,
    /// Their display name as an admin entered it.
    pub display_name: String,
    /// False for a link code (a further device of an existing user).
    pub new_user: bool,
}

impl From<parley_client::enrol::InvitePreview> for InvitePreview {
    fn from(p: parley_client::enrol::InvitePreview) -> Self {
        Self {
            org_name: p.org_name,
            relay: p.relay,
            pinned: p.pinned,
            user: p.user.to_string(),
            display_name: p.profile.display_name,
            new_user: p.new_user,
        }
    }
}

/// A colleague in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Person {
    /// User id.
    pub user: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Job title.
    pub title: String,
    /// Department.
    pub department: String,
    /// Phone or extension.
    pub phone: String,
    /// Whether an admin.
    pub admin: bool,
    /// Whether dismissed.
    pub dismissed: bool,
    /// Whether appointed to post in the company channel (admins post anyway).
    pub poster: bool,
    /// Every device the log ever added for them.
    pub devices: Vec<Device>,
}

impl Person {
    /// A directory entry from the verified log.
    pub fn of(user: &UserId, record: &parley_proto::org::UserRecord) -> Self {
        let Profile {
            display_name,
            email,
            title,
            department,
            phone,
        } = record.profile.clone();
        Self {
            user: user.to_string(),
            display_name,
            email,
            title,
            department,
            phone,
            admin: record.admin,
            dismissed: record.dismissed,
            poster: false,
            devices: record
                .devices
                .iter()
                .map(|(id, d)| Device {
                    device: *id,
                    added_at: d.added_at.saturating_mul(1000),
                    revoked: d.revoked.map(|r| r.reason.as_str().to_owned()),
                })
                .collect(),
        }
    }
}

/// A device in the verified log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Device {
    /// Its number.
    pub device: u32,
    /// When it was added, ms.
    #[ts(type = "number")]
    pub added_at: u64,
    /// Why it was revoked (`lost`, `logout`, `replaced`, `dismissed`, `wiped`), if it was.
    pub revoked: Option<String>,
}

/// Progress of a file being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Progress {
    /// Bytes done.
    #[ts(type = "number")]
    pub done: u64,
    /// Bytes in all.
    #[ts(type = "number")]
    pub total: u64,
}

/// The connection to the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Connected and caught up.
    Online,
    /// Connecting, or waiting to reconnect.
    Connecting,
}

/// What the engine tells the UI, on the `parley://event` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UiEvent {
    /// A `parley-invite:` link was opened while the app runs.
    InviteLink {
        /// The invite or link code.
        invite: String,
    },
    /// Something in a conversation changed (a message, an edit, a reaction, a receipt…):
    /// reload it and the list.
    Changed {
        /// Which.
        chat: Chat,
        /// A new message or file from someone else, to notify about.
        notify: Option<Item>,
    },
    /// A task assigned to this user is near its deadline, or due.
    TaskReminder {
        /// The task.
        task: TaskDto,
        /// Which reminder.
        reminder: ReminderDto,
    },
    /// A user set (or cleared) their status text.
    Status {
        /// It.
        status: StatusDto,
    },
    /// A colleague shared their presence.
    Presence {
        /// Theirs.
        presence: PresenceDto,
    },
    /// Someone started or stopped typing.
    Typing {
        /// Where.
        chat: Chat,
        /// Who.
        user: String,
        /// Started or stopped.
        started: bool,
    },
    /// The verified org log changed someone's devices.
    DevicesChanged {
        /// Whose.
        user: String,
        /// Added.
        added: Vec<u32>,
        /// Revoked.
        revoked: Vec<u32>,
    },
    /// The relay showed an org log that does not verify or does not extend ours.
    TrustAlarm {
        /// What was seen.
        error: CommandError,
    },
    /// A message that could not be read was dropped.
    Dropped {
        /// From whom.
        from: String,
        /// Why.
        error: CommandError,
    },
    /// The connection changed.
    Connection {
        /// Now.
        state: Connection,
    },
    /// This device was revoked or wiped.
    Gone {
        /// Why.
        reason: GoneReason,
    },
}

/// The TypeScript declarations of every type here and in the submodules, as `app/src/bindings.ts` holds them.
pub fn bindings() -> String {
    let cfg = ts_rs::Config::default();
    let decls = [
        CommandError::decl(&cfg),
        Chat::decl(&cfg),
        ItemRef::decl(&cfg),
        Status::decl(&cfg),
        ItemBody::decl(&cfg),
        GroupEvent::decl(&cfg),
        Item::decl(&cfg),
        Notify::decl(&cfg),
        NotifyState::decl(&cfg),
        DisappearingState::decl(&cfg),
        PresenceKind::decl(&cfg),
        PresenceDto::decl(&cfg),
        StatusDto::decl(&cfg),
        ChatSummary::decl(&cfg),
        GroupDetails::decl(&cfg),
        Me::decl(&cfg),
        GoneReason::decl(&cfg),
        AppState::decl(&cfg),
        InvitePreview::decl(&cfg),
        Person::decl(&cfg),
        Device::decl(&cfg),
        Progress::decl(&cfg),
        Connection::decl(&cfg),
        UiEvent::decl(&cfg),
        AuditLine::decl(&cfg),
        OrgPolicy::decl(&cfg),
        TaskStatusDto::decl(&cfg),
        TaskCommentDto::decl(&cfg),
        TaskDto::decl(&cfg),
        TaskChangeDto::decl(&cfg),
        TaskEvent::decl(&cfg),
        TaskQuery::decl(&cfg),
        ReminderDto::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from app/src-tauri/src/dto.rs by `cargo test -p parley-app --test bindings`\n\
         // with PARLEY_BLESS=1. Do not edit.\n",
    );
    for d in decls {
        out.push_str("\nexport ");
        out.push_str(&d);
        out.push('\n');
    }
    out
}
