//! The admin console's types: the verified audit log and the org's policy.

use parley_proto::UserId;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One entry of the verified org log, for the admin console (the UI puts it in words).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AuditLine {
    /// Its position.
    #[ts(type = "number")]
    pub seq: u64,
    /// When it was signed, ms.
    #[ts(type = "number")]
    pub at: u64,
    /// Its kind (`org-created`, `device-revoked`, `wipe-ordered`, `wipe-done`, …).
    pub kind: String,
    /// The user it is about.
    pub user: Option<String>,
    /// The device it is about.
    pub device: Option<u32>,
    /// A name it carries (the org's, or a user's display name), or a revocation's reason.
    pub detail: Option<String>,
    /// Who signed it: `root`, `invite_key`, or `user.device`.
    pub signer: String,
}

impl AuditLine {
    /// An entry of the verified log.
    pub fn of(e: &parley_client::admin::AuditEntry) -> Self {
        use parley_client::admin::Signer;
        use parley_proto::org::OrgBody as B;
        let (device, detail) = match &e.body {
            B::OrgCreated { name, .. } => (None, Some(name.clone())),
            B::UserAdded { profile, .. } | B::UserUpdated { profile, .. } => {
                (None, Some(profile.display_name.clone()))
            }
            B::DeviceAdded { device, .. }
            | B::WipeOrdered { device, .. }
            | B::WipeDone { device, .. } => (Some(*device), None),
            B::DeviceRevoked { device, reason, .. } => {
                (Some(*device), Some(reason.as_str().to_owned()))
            }
            _ => (None, None),
        };
        Self {
            seq: e.seq,
            at: e.timestamp.saturating_mul(1000),
            kind: e.body.kind_name().to_owned(),
            user: e.body.user().map(UserId::to_string),
            device,
            detail,
            signer: match &e.signer {
                Signer::Root => "root".to_owned(),
                Signer::InviteKey => "invite_key".to_owned(),
                Signer::Device { user, device } => format!("{user}.{device}"),
            },
        }
    }
}

/// The org's policy, for the admin console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OrgPolicy {
    /// Lock after this long offline (seconds; 0: never).
    #[ts(type = "number")]
    pub offline_lock_secs: u64,
    /// Wipe after this long offline (seconds; 0: never).
    #[ts(type = "number")]
    pub offline_wipe_secs: u64,
    /// The store needs the relay's per-device secret to open.
    pub remote_secret: bool,
    /// Longest disappearing-message timer (seconds; 0: no limit).
    #[ts(type = "number")]
    pub max_disappearing_secs: u64,
    /// Presence and typing shared.
    pub presence: bool,
}
