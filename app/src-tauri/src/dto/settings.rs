//! A conversation's settings and colleagues' presence, as they cross into the WebView
//! (notifications, the disappearing-message timer, presence).

use parley_proto::content::{NotifyLevel, PresenceState};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Online, away or offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PresenceKind {
    /// Using Parley now.
    Online,
    /// Connected, not using it.
    Away,
    /// Gone.
    Offline,
}

impl From<PresenceState> for PresenceKind {
    fn from(s: PresenceState) -> Self {
        match s {
            PresenceState::Online => Self::Online,
            PresenceState::Away => Self::Away,
            PresenceState::Offline => Self::Offline,
        }
    }
}

impl From<PresenceKind> for PresenceState {
    fn from(s: PresenceKind) -> Self {
        match s {
            PresenceKind::Online => Self::Online,
            PresenceKind::Away => Self::Away,
            PresenceKind::Offline => Self::Offline,
        }
    }
}

/// A colleague's presence as they last shared it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PresenceDto {
    /// Whose.
    pub user: String,
    /// Online, away or offline.
    pub state: PresenceKind,
    /// When they were last active (ms), unless they hide it.
    #[ts(type = "number | null")]
    pub last_seen: Option<u64>,
}

impl From<parley_client::store::Presence> for PresenceDto {
    fn from(p: parley_client::store::Presence) -> Self {
        Self {
            user: p.user,
            state: p.state.into(),
            last_seen: p.last_seen,
        }
    }
}

/// A user's status text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StatusDto {
    /// Whose.
    pub user: String,
    /// The text; empty when cleared.
    pub text: String,
    /// When it clears itself (ms).
    #[ts(type = "number | null")]
    pub until: Option<u64>,
}

impl From<parley_client::store::Status> for StatusDto {
    fn from(s: parley_client::store::Status) -> Self {
        Self {
            user: s.user,
            text: s.text,
            until: s.until,
        }
    }
}

/// A conversation's disappearing-message timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DisappearingState {
    /// The conversation's timer, seconds (0: off).
    #[ts(type = "number")]
    pub secs: u64,
    /// The org's maximum, seconds (0: none).
    #[ts(type = "number")]
    pub max_secs: u64,
}

/// When a conversation notifies (the engine's `NotifyLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    /// Every new message or file.
    All,
    /// Only messages that mention this user.
    Mentions,
    /// Never.
    None,
}

impl From<NotifyLevel> for Notify {
    fn from(l: NotifyLevel) -> Self {
        match l {
            NotifyLevel::All => Self::All,
            NotifyLevel::Mentions => Self::Mentions,
            NotifyLevel::None => Self::None,
        }
    }
}

impl From<Notify> for NotifyLevel {
    fn from(l: Notify) -> Self {
        match l {
            Notify::All => Self::All,
            Notify::Mentions => Self::Mentions,
            Notify::None => Self::None,
        }
    }
}

/// This user's notification settings for a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotifyState {
    /// When it notifies.
    pub level: Notify,
    /// Silent until then (ms since the Unix epoch); 0: not muted.
    #[ts(type = "number")]
    pub muted_until: u64,
}

impl From<parley_client::store::NotifySettings> for NotifyState {
    fn from(s: parley_client::store::NotifySettings) -> Self {
        Self {
            level: s.notify.into(),
            muted_until: s.muted_until,
        }
    }
}
