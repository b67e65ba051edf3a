//! Frames of the delivery WebSocket (`GET /v1/ws`, authenticated like every device request).
//!
//! The relay pushes every envelope queued for the device as a [`ServerFrame::Envelope`] text
//! frame, oldest first, and keeps each until the device answers with a [`ClientFrame::Ack`]
//! naming it (after the device has stored what it decrypted). Unacknowledged envelopes are
//! pushed again on the next connection, so a device must treat a repeated id as already seen.
//! The relay pushes at most a window of envelopes ahead of the acks (256), so a device acks
//! what it has stored without waiting for more to arrive.
//!
//! A device may also send over the socket ([`ClientFrame::Send`], the body of
//! `POST /v1/messages` with a request number of its choosing) instead of making an HTTP request
//! per message, as Signal's clients send over their authenticated WebSocket. The relay checks
//! and stores it exactly as that endpoint does and answers with [`ServerFrame::Sent`] or
//! [`ServerFrame::SendFailed`] naming the request number. Sends on one socket are checked and
//! stored in the order they arrive; several may be in flight. A refused send is answered at
//! once, a stored one when its transaction has committed, so answers may overtake one another.
//! When the relay closes the socket (`closing`), it has first answered every send it took: a
//! send it did not answer was not stored. When the connection breaks, a send may have been
//! stored without its answer arriving, as with an HTTP request.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ErrorBody;
use crate::api::RecipientEnvelopes;
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
    /// The relay closes this socket (revoked credentials, shutdown, replaced by a newer socket,
    /// a frame it cannot read).
    Closing {
        /// Why.
        reason: String,
    },
    /// A [`ClientFrame::Send`] was stored (the answer `POST /v1/messages` gives with 200).
    Sent {
        /// The request number of the send.
        request: u64,
        /// Relay time at which the envelopes were stored, milliseconds since the Unix epoch.
        server_timestamp: u64,
        /// The sending user's active devices (see [`crate::api::SendResponse`]).
        sender_devices: Vec<DeviceId>,
    },
    /// A [`ClientFrame::Send`] was refused and nothing of it stored: the status and body
    /// `POST /v1/messages` would have answered (409 and 410 name the users and devices).
    SendFailed {
        /// The request number of the send.
        request: u64,
        /// The HTTP status of the same failure.
        status: u16,
        /// Why.
        error: ErrorBody,
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
    /// Envelopes to store, as the body of `POST /v1/messages` (a message to one user names one
    /// recipient). Answered by [`ServerFrame::Sent`] or [`ServerFrame::SendFailed`].
    Send {
        /// Chosen by the device to match the answer (the relay does not interpret it).
        request: u64,
        /// One entry per recipient user, each with one envelope per device.
        recipients: Vec<RecipientEnvelopes>,
    },
}
