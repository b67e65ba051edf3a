//! Request and response bodies of the relay's HTTP API (`/v1/…`).
//!
//! Authentication: every endpoint except org setup, org info, device registration and the
//! operational ones takes HTTP basic authentication with login `<user>.<device>` and the
//! device secret (base64) as password (see [`crate::ids::device_login`]). The relay keeps only
//! SHA-256 of the 32-byte secret.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::b64::B64;
use crate::ids::{DeviceId, UserId};

/// Length of a device secret and of an invite code, in bytes.
pub const SECRET_LEN: usize = 32;
/// Most one-time prekeys of each kind a device keeps on the relay.
pub const MAX_ONE_TIME_PREKEYS: usize = 100;
/// Longest one-time X25519 prekey record, in bytes.
pub const MAX_ONE_TIME_PREKEY_LEN: usize = 128;
/// Longest signed prekey record, in bytes.
pub const MAX_SIGNED_PREKEY_LEN: usize = 256;
/// Longest (signed) KEM prekey record, in bytes.
pub const MAX_KEM_PREKEY_LEN: usize = 2048;
/// Most envelopes in one send request (`POST /v1/messages`); a larger group's message goes in
/// several requests.
pub const MAX_ENVELOPES_PER_SEND: usize = 1_000;

/// The secrets a new device authenticates with; its identity is in its `DeviceAdded` entry.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// A random 32-byte secret the device authenticates with; the relay stores its hash.
    pub secret: B64,
    /// Random id the device picks at registration; senders echo it so that the relay can tell
    /// them when a device was re-registered (410).
    pub registration_id: u32,
    /// SHA-256 of the device's 32-byte unlock token ([`UnlockRequest`]), which the device
    /// derives from its local key.
    pub unlock_hash: B64,
    /// The device's 32-byte remote secret, half of its store key: the relay hands it out
    /// (`POST /v1/devices/unlock`) until the device is revoked, then deletes it.
    pub remote_secret: B64,
}

impl core::fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NewDevice")
            .field("registration_id", &self.registration_id)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/org`: creates the org, once, with the setup token printed at the relay's first
/// start, and registers the first admin's device.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// The one-time setup token.
    pub setup_token: String,
    /// The first entries of the log, all signed by the org root key: `OrgCreated`,
    /// `UserAdded` and `AdminAdded` for the first admin, and `DeviceAdded` for its device.
    pub entries: Vec<B64>,
    /// The first device's secrets.
    pub device: NewDevice,
}

impl core::fmt::Debug for CreateOrgRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CreateOrgRequest")
            .field("entries", &self.entries.len())
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/org?since=N`: the org log from entry `N` on (from 0 without `since`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrgLog {
    /// SHA-256 of the genesis entry: the org's identity.
    pub genesis_hash: B64,
    /// How many entries the relay's log has (a client that has more was shown a rollback).
    pub len: u64,
    /// The entries from `since` on, in order (at most [`MAX_LOG_PAGE`]).
    pub entries: Vec<B64>,
}

/// Most entries `GET /v1/org` returns at once; a client asks again from where it got to.
pub const MAX_LOG_PAGE: usize = 1_000;

/// `POST /v1/org/log`: appends a signed entry (an admin statement, a link key, a device's own
/// revocation). The relay checks it against its log before appending.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// The encoded entry; its `seq` must be the relay's log length.
    pub entry: B64,
}

/// An entry appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Appended {
    /// Its position.
    pub seq: u64,
}

/// `POST /v1/devices`: registers a device with its `DeviceAdded` entry, signed by the invite or
/// link key issued for its user (or by an admin).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The encoded `DeviceAdded` entry.
    pub entry: B64,
    /// The device's secrets.
    pub device: NewDevice,
}

/// `POST /v1/devices/unlock`: a device asks for its remote secret to open its store. Needs no
/// credentials (they are inside the store it cannot open yet): the token is the proof.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// The 32-byte unlock token, whose SHA-256 the device registered.
    pub token: B64,
}

impl core::fmt::Debug for UnlockRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UnlockRequest").finish_non_exhaustive()
    }
}

/// The remote secret of a device that is not revoked.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct Unlocked {
    /// The 32-byte remote secret.
    pub remote_secret: B64,
}

impl core::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Unlocked").finish_non_exhaustive()
    }
}

/// A device the relay now knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// The user.
    pub user: UserId,
    /// The device number assigned.
    pub device: DeviceId,
}

/// One device of a user.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceInfo {
    /// Device number.
    pub device: DeviceId,
    /// Public identity (129 bytes).
    pub identity: B64,
    /// Registration id.
    pub registration_id: u32,
    /// When it registered, seconds since the Unix epoch.
    pub created_at: u64,
}

/// `GET /v1/users/{user}/devices`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceList {
    /// The user.
    pub user: UserId,
    /// Active devices, by number.
    pub devices: Vec<DeviceInfo>,
}

/// `PUT /v1/keys`: uploads prekeys. Absent fields leave what is stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreKeyUpload {
    /// The signed X25519 prekey record (replaces the stored one).
    #[serde(default)]
    pub signed_prekey: Option<B64>,
    /// The signed last-resort ML-KEM-1024 prekey record (replaces the stored one).
    #[serde(default)]
    pub last_resort_kem: Option<B64>,
    /// One-time X25519 prekey records to add.
    #[serde(default)]
    pub one_time: Vec<B64>,
    /// Signed one-time ML-KEM-1024 prekey records to add.
    #[serde(default)]
    pub one_time_kem: Vec<B64>,
    /// Delete every stored one-time prekey of both kinds before adding these.
    #[serde(default)]
    pub replace_one_time: bool,
}

/// `GET /v1/keys/count`: how many one-time prekeys the relay still holds for this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PreKeyCount {
    /// One-time X25519 prekeys left.
    pub one_time: u32,
    /// One-time KEM prekeys left.
    pub one_time_kem: u32,
}

/// The prekeys of one device, claimed for a new session. One-time keys handed out here are
/// deleted from the relay; each goes to one claimer only.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceBundle {
    /// Device number.
    pub device: DeviceId,
    /// Registration id (echo it when sending).
    pub registration_id: u32,
    /// Public identity.
    pub identity: B64,
    /// Signed prekey record.
    pub signed_prekey: B64,
    /// Last-resort KEM prekey record.
    pub last_resort_kem: B64,
    /// A one-time X25519 prekey record, if any was left.
    pub one_time: Option<B64>,
    /// A one-time KEM prekey record, if any was left (else use the last-resort one).
    pub one_time_kem: Option<B64>,
}

/// `GET /v1/keys/{user}/{device}` (`*` for every device).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PreKeyBundles {
    /// The user.
    pub user: UserId,
    /// One bundle per device that has uploaded its prekeys.
    pub devices: Vec<DeviceBundle>,
}

/// One envelope of a send request.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutgoingEnvelope {
    /// Recipient device.
    pub device: DeviceId,
    /// The recipient device's registration id, as the sender knows it.
    pub registration_id: u32,
    /// The encrypted message (opaque to the relay).
    pub body: B64,
}

/// `PUT /v1/messages/{user}`: one envelope for each of the user's devices (leaving out the
/// sending device itself when sending to one's own user).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The envelopes.
    pub messages: Vec<OutgoingEnvelope>,
    /// Delete them from the queues after this many seconds if not fetched by then (a
    /// disappearing message); the relay's own message TTL applies when it is shorter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// One recipient user's envelopes in a [`MultiSendRequest`].
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientEnvelopes {
    /// The recipient user.
    pub user: UserId,
    /// One envelope for each of the user's devices (leaving out the sending device itself).
    pub messages: Vec<OutgoingEnvelope>,
}

/// `POST /v1/messages`: envelopes for several users in one request (a group message), stored
/// all together or not at all. The checks are those of `PUT /v1/messages/{user}` for each
/// user; a failed check answers 409 or 410 naming every user it concerns, with
/// [`UserMismatch`] or [`UserStale`] entries. A user the relay does not know has no devices,
/// so each of its envelopes is `extra`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MultiSendRequest {
    /// At most [`MAX_ENVELOPES_PER_SEND`] envelopes in all, each user once.
    pub recipients: Vec<RecipientEnvelopes>,
    /// As [`SendRequest::ttl_secs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// A user's devices the request missed or named in excess (409 of `POST /v1/messages`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserMismatch {
    /// The recipient user.
    pub user: UserId,
    /// Which devices.
    #[serde(flatten)]
    pub devices: MismatchedDevices,
}

/// A user's re-registered devices (410 of `POST /v1/messages`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserStale {
    /// The recipient user.
    pub user: UserId,
    /// Devices whose registration id changed.
    pub stale: Vec<DeviceId>,
}

/// The answer to a successful send.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SendResponse {
    /// Relay time at which they were stored, milliseconds since the Unix epoch.
    pub server_timestamp: u64,
    /// The sending user's active devices, so that a client learns of a newly linked device of
    /// its own without asking (it sends copies of its messages there).
    #[serde(default)]
    pub sender_devices: Vec<DeviceId>,
}

/// Body detail of a 409: which devices the request missed or named in excess.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MismatchedDevices {
    /// Active devices with no envelope in the request.
    pub missing: Vec<DeviceId>,
    /// Devices in the request that are not active devices of the user.
    pub extra: Vec<DeviceId>,
}

/// `POST /v1/attachments` answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentCreated {
    /// Unguessable id (128 random bits, hex) for downloading.
    pub id: String,
    /// Stored size in bytes.
    pub size: u64,
}

/// `GET /healthz` answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// "ok".
    pub status: String,
    /// Whether the org has been created.
    pub org: bool,
}
