//! What an org log entry says: the entry kinds of docs/architecture.md §2 and their encoding.
//!
//! Each body is `kind (1) || fields`; strings are `u32` length + UTF-8. A kind this version
//! does not know is [`OrgError::UnknownKind`]: a client must not skip an entry it cannot
//! judge, so it stops and says that Parley needs an update.

use parley_crypto::DecodeError;
use parley_crypto::codec::{Reader, Writer};
use parley_crypto::identity::PublicIdentity;
use parley_crypto::keys::SigningPublicKey;

use super::OrgError;
use crate::ids::{DeviceId, MAX_USER_ID_LEN, UserId};

/// Longest org name, in bytes.
pub const MAX_ORG_NAME_LEN: usize = 128;
/// Longest directory field (name, email, title, department, phone), in bytes.
pub const MAX_PROFILE_FIELD_LEN: usize = 256;

/// A colleague's directory entry, as an admin signed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Display name.
    pub display_name: String,
    /// Email address.
    pub email: String,
    /// Job title.
    pub title: String,
    /// Department.
    pub department: String,
    /// Phone number or extension.
    pub phone: String,
}

impl Profile {
    fn write(&self, out: &mut Vec<u8>) {
        for field in [
            &self.display_name,
            &self.email,
            &self.title,
            &self.department,
            &self.phone,
        ] {
            out.put_bytes(field.as_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            display_name: read_string(r, MAX_PROFILE_FIELD_LEN)?,
            email: read_string(r, MAX_PROFILE_FIELD_LEN)?,
            title: read_string(r, MAX_PROFILE_FIELD_LEN)?,
            department: read_string(r, MAX_PROFILE_FIELD_LEN)?,
            phone: read_string(r, MAX_PROFILE_FIELD_LEN)?,
        })
    }
}

/// Why a device was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RevokeReason {
    /// Lost or stolen.
    Lost,
    /// Signed out (by an administrator, or by its user from another device).
    Logout,
    /// Replaced by another device.
    Replaced,
    /// Its user was dismissed.
    Dismissed,
    /// It wiped itself on an admin's order (its receipt is in the log).
    Wiped,
}

impl RevokeReason {
    fn code(self) -> u8 {
        match self {
            Self::Lost => 1,
            Self::Logout => 2,
            Self::Replaced => 3,
            Self::Dismissed => 4,
            Self::Wiped => 5,
        }
    }

    pub(crate) fn from_code(code: u8) -> Result<Self, DecodeError> {
        Ok(match code {
            1 => Self::Lost,
            2 => Self::Logout,
            3 => Self::Replaced,
            4 => Self::Dismissed,
            5 => Self::Wiped,
            _ => return Err(DecodeError::InvalidValue),
        })
    }

    pub(crate) fn to_code(self) -> u8 {
        self.code()
    }

    /// The word for it, as the CLI prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lost => "lost",
            Self::Logout => "logout",
            Self::Replaced => "replaced",
            Self::Dismissed => "dismissed",
            Self::Wiped => "wiped",
        }
    }
}

/// The org's policy (docs/architecture.md §5): zero means "off" for the durations. Until an
/// admin sets one, everything is off but presence, which is shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A device that has not reached the relay for this long locks itself (seconds).
    pub offline_lock_secs: u64,
    /// ... and after this long wipes itself (seconds).
    pub offline_wipe_secs: u64,
    /// The store key needs the per-device remote secret the relay holds.
    pub remote_secret: bool,
    /// Longest disappearing-message timer a conversation may use (seconds).
    pub max_disappearing_secs: u64,
    /// Presence, last seen and typing indicators are shared.
    pub presence: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            offline_lock_secs: 0,
            offline_wipe_secs: 0,
            remote_secret: false,
            max_disappearing_secs: 0,
            presence: true,
        }
    }
}

impl Policy {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.put_u64(self.offline_lock_secs);
        out.put_u64(self.offline_wipe_secs);
        out.put_u8(u8::from(self.remote_secret));
        out.put_u64(self.max_disappearing_secs);
        out.put_u8(u8::from(self.presence));
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            offline_lock_secs: r.u64()?,
            offline_wipe_secs: r.u64()?,
            remote_secret: r.bool()?,
            max_disappearing_secs: r.u64()?,
            presence: r.bool()?,
        })
    }
}

/// What an org entry says. Who may sign each kind is [`super::OrgState::apply`]'s business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgBody {
    /// Entry 0: the org exists and this is its root key (signed by the root key).
    OrgCreated {
        /// The org root key (Ed25519); the relay never holds its private half.
        root_key: SigningPublicKey,
        /// Display name.
        name: String,
    },
    /// The user's devices may sign admin statements (root key only).
    AdminAdded {
        /// The user.
        user: UserId,
    },
    /// The user is no longer an admin (root key only).
    AdminRemoved {
        /// The user.
        user: UserId,
    },
    /// A colleague joins the directory (admin).
    UserAdded {
        /// The new user's id (never reused).
        user: UserId,
        /// Their directory entry.
        profile: Profile,
    },
    /// A colleague's directory entry changes (admin).
    UserUpdated {
        /// The user.
        user: UserId,
        /// The new entry (replaces the old one).
        profile: Profile,
    },
    /// A one-time key may add one device of `user` until `expires_at` (an invite, signed by an
    /// admin; or a link code, signed by one of `user`'s devices). The key's private half is
    /// the code that travels out of band; the relay sees only the public half.
    InviteIssued {
        /// Whose device the key may add.
        user: UserId,
        /// The one-time Ed25519 key that will sign the `DeviceAdded`.
        key: SigningPublicKey,
        /// Seconds since the Unix epoch.
        expires_at: u64,
    },
    /// A device joins (signed by an admin, or by an unused invite key for this user).
    DeviceAdded {
        /// The user.
        user: UserId,
        /// Its number: one more than the highest the user ever had.
        device: DeviceId,
        /// Its public identity (Ed25519 signing key and signed X25519 key).
        identity: PublicIdentity,
    },
    /// A device is revoked (admin, or another device of the same user).
    DeviceRevoked {
        /// The user.
        user: UserId,
        /// The device.
        device: DeviceId,
        /// Why.
        reason: RevokeReason,
    },
    /// A user is dismissed: every device revoked, admin rights and invites gone (admin).
    UserDismissed {
        /// The user.
        user: UserId,
    },
    /// A device must wipe itself (admin).
    WipeOrdered {
        /// The user.
        user: UserId,
        /// The device.
        device: DeviceId,
    },
    /// The device's receipt for a wipe order, signed by the device itself just before it
    /// destroyed its store key and files: the order is done and the device revoked. A revoked
    /// device may still sign it (it can read the log without credentials).
    WipeDone {
        /// The user.
        user: UserId,
        /// The device.
        device: DeviceId,
        /// The `WipeOrdered` entry it obeys.
        order: u64,
    },
    /// The user may (or may no longer) post in the company channel beside the admins: an
    /// appointed poster (admin).
    PosterSet {
        /// The user.
        user: UserId,
        /// Whether they may post.
        poster: bool,
    },
    /// The org's policy (admin); replaces the previous one.
    PolicySet {
        /// The policy.
        policy: Policy,
    },
}

mod kind {
    pub const ORG_CREATED: u8 = 1;
    pub const ADMIN_ADDED: u8 = 2;
    pub const ADMIN_REMOVED: u8 = 3;
    pub const USER_ADDED: u8 = 4;
    pub const USER_UPDATED: u8 = 5;
    pub const INVITE_ISSUED: u8 = 6;
    pub const DEVICE_ADDED: u8 = 7;
    pub const DEVICE_REVOKED: u8 = 8;
    pub const USER_DISMISSED: u8 = 9;
    pub const WIPE_ORDERED: u8 = 10;
    pub const POLICY_SET: u8 = 11;
    pub const WIPE_DONE: u8 = 12;
    pub const POSTER_SET: u8 = 13;
}

impl OrgBody {
    /// The kind's name, as the audit log prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::OrgCreated { .. } => "org-created",
            Self::AdminAdded { .. } => "admin-added",
            Self::AdminRemoved { .. } => "admin-removed",
            Self::UserAdded { .. } => "user-added",
            Self::UserUpdated { .. } => "user-updated",
            Self::InviteIssued { .. } => "invite-issued",
            Self::DeviceAdded { .. } => "device-added",
            Self::DeviceRevoked { .. } => "device-revoked",
            Self::UserDismissed { .. } => "user-dismissed",
            Self::WipeOrdered { .. } => "wipe-ordered",
            Self::WipeDone { .. } => "wipe-done",
            Self::PolicySet { .. } => "policy-set",
            Self::PosterSet { .. } => "poster-set",
        }
    }

    /// The user the entry is about, if any.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Self::OrgCreated { .. } | Self::PolicySet { .. } => None,
            Self::AdminAdded { user }
            | Self::AdminRemoved { user }
            | Self::UserAdded { user, .. }
            | Self::UserUpdated { user, .. }
            | Self::InviteIssued { user, .. }
            | Self::DeviceAdded { user, .. }
            | Self::DeviceRevoked { user, .. }
            | Self::UserDismissed { user }
            | Self::WipeOrdered { user, .. }
            | Self::WipeDone { user, .. }
            | Self::PosterSet { user, .. } => Some(user),
        }
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::OrgCreated { root_key, name } => {
                out.put_u8(kind::ORG_CREATED);
                out.put_raw(root_key.as_bytes());
                out.put_bytes(name.as_bytes());
            }
            Self::AdminAdded { user } => {
                out.put_u8(kind::ADMIN_ADDED);
                put_user(out, user);
            }
            Self::AdminRemoved { user } => {
                out.put_u8(kind::ADMIN_REMOVED);
                put_user(out, user);
            }
            Self::UserAdded { user, profile } => {
                out.put_u8(kind::USER_ADDED);
                put_user(out, user);
                profile.write(out);
            }
            Self::UserUpdated { user, profile } => {
                out.put_u8(kind::USER_UPDATED);
                put_user(out, user);
                profile.write(out);
            }
            Self::InviteIssued {
                user,
                key,
                expires_at,
            } => {
                out.put_u8(kind::INVITE_ISSUED);
                put_user(out, user);
                out.put_raw(key.as_bytes());
                out.put_u64(*expires_at);
            }
            Self::DeviceAdded {
                user,
                device,
                identity,
            } => {
                out.put_u8(kind::DEVICE_ADDED);
                put_user(out, user);
                out.put_u32(*device);
                identity.write(out);
            }
            Self::DeviceRevoked {
                user,
                device,
                reason,
            } => {
                out.put_u8(kind::DEVICE_REVOKED);
                put_user(out, user);
                out.put_u32(*device);
                out.put_u8(reason.code());
            }
            Self::UserDismissed { user } => {
                out.put_u8(kind::USER_DISMISSED);
                put_user(out, user);
            }
            Self::PosterSet { user, poster } => {
                out.put_u8(kind::POSTER_SET);
                put_user(out, user);
                out.put_u8(u8::from(*poster));
            }
            Self::WipeOrdered { user, device } => {
                out.put_u8(kind::WIPE_ORDERED);
                put_user(out, user);
                out.put_u32(*device);
            }
            Self::WipeDone {
                user,
                device,
                order,
            } => {
                out.put_u8(kind::WIPE_DONE);
                put_user(out, user);
                out.put_u32(*device);
                out.put_u64(*order);
            }
            Self::PolicySet { policy } => {
                out.put_u8(kind::POLICY_SET);
                policy.write(out);
            }
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, OrgError> {
        Ok(match r.u8()? {
            kind::ORG_CREATED => Self::OrgCreated {
                root_key: SigningPublicKey::read(r)?,
                name: read_string(r, MAX_ORG_NAME_LEN)?,
            },
            kind::ADMIN_ADDED => Self::AdminAdded {
                user: read_user(r)?,
            },
            kind::ADMIN_REMOVED => Self::AdminRemoved {
                user: read_user(r)?,
            },
            kind::USER_ADDED => Self::UserAdded {
                user: read_user(r)?,
                profile: Profile::read(r)?,
            },
            kind::USER_UPDATED => Self::UserUpdated {
                user: read_user(r)?,
                profile: Profile::read(r)?,
            },
            kind::INVITE_ISSUED => Self::InviteIssued {
                user: read_user(r)?,
                key: SigningPublicKey::read(r)?,
                expires_at: r.u64()?,
            },
            kind::DEVICE_ADDED => Self::DeviceAdded {
                user: read_user(r)?,
                device: r.u32()?,
                identity: PublicIdentity::read(r).map_err(|_| OrgError::BadSignature)?,
            },
            kind::DEVICE_REVOKED => Self::DeviceRevoked {
                user: read_user(r)?,
                device: r.u32()?,
                reason: RevokeReason::from_code(r.u8()?)?,
            },
            kind::USER_DISMISSED => Self::UserDismissed {
                user: read_user(r)?,
            },
            kind::POSTER_SET => Self::PosterSet {
                user: read_user(r)?,
                poster: r.bool()?,
            },
            kind::WIPE_ORDERED => Self::WipeOrdered {
                user: read_user(r)?,
                device: r.u32()?,
            },
            kind::WIPE_DONE => Self::WipeDone {
                user: read_user(r)?,
                device: r.u32()?,
                order: r.u64()?,
            },
            kind::POLICY_SET => Self::PolicySet {
                policy: Policy::read(r)?,
            },
            other => return Err(OrgError::UnknownKind(other)),
        })
    }
}

fn put_user(out: &mut Vec<u8>, user: &UserId) {
    out.put_bytes(user.as_str().as_bytes());
}

pub(crate) fn read_string(r: &mut Reader<'_>, max: usize) -> Result<String, DecodeError> {
    let bytes = r.bytes(max)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidValue)
}

pub(crate) fn read_user(r: &mut Reader<'_>) -> Result<UserId, DecodeError> {
    UserId::new(read_string(r, MAX_USER_ID_LEN)?).map_err(|_| DecodeError::InvalidValue)
}
