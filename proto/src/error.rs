//! The error body every failed request returns.

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable machine-readable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not the JSON this endpoint expects.
    MalformedJson,
    /// A binary field is not valid base64.
    BadBase64,
    /// A field is well-formed JSON but its value is invalid (bad key, bad id, bad record).
    InvalidInput,
    /// A record or path names a version this relay does not speak.
    UnsupportedVersion,
    /// The body, an envelope, an attachment or a list is over its size limit.
    TooLarge,
    /// Missing or wrong device credentials.
    Unauthorized,
    /// Authenticated, but not allowed (not an admin, not your device, revoked).
    Forbidden,
    /// No such user, device, invite or attachment.
    NotFound,
    /// The org already exists, or the id is taken.
    Conflict,
    /// The org has not been set up yet.
    NoOrg,
    /// The invite code is unknown, used or expired.
    InviteInvalid,
    /// The user already has the maximum number of devices.
    TooManyDevices,
    /// An org log entry does not extend the relay's log (another entry came first): fetch
    /// the log and sign again.
    LogConflict,
    /// An org log entry is signed by a key without authority for it, or breaks a rule of
    /// the log (see the message).
    OrgRefused,
    /// The envelopes do not cover exactly the recipient's devices (see `mismatched`).
    MismatchedDevices,
    /// Some envelopes were for re-registered devices (see `stale`).
    StaleDevices,
    /// The recipient device's queue is full.
    QueueFull,
    /// Too many requests: wait `retry_after_secs`.
    RateLimited,
    /// The relay is shutting down or overloaded; retry.
    Unavailable,
    /// A bug or a failure of the relay's storage; nothing more is said.
    Internal,
}

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation (never contains keys, tokens or message bytes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// For `mismatched_devices`: the device ids missing from the request and the extra ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatched: Option<crate::api::MismatchedDevices>,
    /// For `stale_devices`: the device ids whose registration id changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<Vec<crate::ids::DeviceId>>,
    /// For `mismatched_devices` of `POST /v1/messages`: each user whose devices do not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatched_users: Option<Vec<crate::api::UserMismatch>>,
    /// For `stale_devices` of `POST /v1/messages`: each user with re-registered devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_users: Option<Vec<crate::api::UserStale>>,
    /// For `rate_limited`: seconds to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ErrorBody {
    /// A body with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            mismatched: None,
            stale: None,
            mismatched_users: None,
            stale_users: None,
            retry_after_secs: None,
        }
    }
}
