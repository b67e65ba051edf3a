//! Frames of the delivery WebSocket (`GET /v1/ws`, authenticated like every device request).
//!
//! The relay pushes every envelope queued for the device as a [`ServerFrame::Envelope`] text
//! frame, oldest first, and keeps each until the device answers with a [`ClientFrame::Ack`]
//! naming it (after the device has stored what it decrypted). Unacknowledged envelopes are
//! pushed again on the next connection, so a device must treat a repeated id as already seen.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::b64::B64;
use crate::ids::{DeviceId, UserId};

/// Relay → device.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// An envelope for this device.
    Envelope(Envelope),
    /// Every envelope queued when the socket opened has been pushed.
    QueueEmpty,
    /// The relay closes this socket (revoked credentials, shutdown, replaced by a newer socket).
    Closing {
        /// Why.
        reason: String,
    },
}

/// A queued envelope as delivered.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Envelope {
    /// Relay-assigned id, increasing per recipient device in the order they were stored.
    pub id: i64,
    /// Sending user.
    pub source_user: UserId,
    /// Sending device.
    pub source_device: DeviceId,
    /// When the relay stored it, milliseconds since the Unix epoch.
    pub server_timestamp: u64,
    /// The encrypted message.
    pub body: B64,
}

/// Device → relay.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The device has safely stored these envelopes: delete them.
    Ack {
        /// Envelope ids.
        ids: Vec<i64>,
    },
}
