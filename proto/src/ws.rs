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

/// The [`ServerFrame::Closing`] reason when a newer socket of the same device took over: the
/// client tells it from a shutdown by this text, and does not reconnect.
pub const CLOSING_REPLACED: &str = "replaced by a newer connection";

/// Relay → device.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// An envelope for this device.
    Envelope(Envelope),
    /// Every envelope queued when the socket opened has been pushed.
    QueueEmpty,
    /// The relay closes this socket (revoked credentials, shutdown, replaced by a newer socket
    /// ([`CLOSING_REPLACED`]), a frame it cannot read).
    Closing {
        /// Why.
        reason: String,
    },
    /// The org log grew to `len` entries: the device fetches and verifies what it has not
    /// seen (`GET /v1/org?since=…`). Sent to every open socket when an entry is appended, and
    /// once when a socket opens.
    LogAdvanced {
        /// The relay's log length.
        len: u64,
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

/// The fields of every [`ServerFrame`] at once, so that a frame is read in one pass: serde
/// reads an internally tagged enum through a buffered copy of the whole frame.
#[derive(Deserialize)]
struct FlatServerFrame {
    r#type: ServerFrameType,
    id: Option<i64>,
    source_user: Option<UserId>,
    source_device: Option<DeviceId>,
    server_timestamp: Option<u64>,
    body: Option<B64>,
    reason: Option<String>,
    len: Option<u64>,
    request: Option<u64>,
    sender_devices: Option<Vec<DeviceId>>,
    status: Option<u16>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ServerFrameType {
    Envelope,
    QueueEmpty,
    Closing,
    LogAdvanced,
    Sent,
    SendFailed,
}

impl ServerFrame {
    /// Reads a frame from its JSON: what `serde_json::from_str` accepts, in one pass (see
    /// the private `FlatServerFrame`); fields of other kinds of frame are ignored, as unknown fields
    /// are. A client reads every frame the relay sends it with this.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        use serde::de::Error as _;
        fn field<T>(v: Option<T>, name: &'static str) -> Result<T, serde_json::Error> {
            v.ok_or_else(|| serde_json::Error::missing_field(name))
        }
        let f: FlatServerFrame = serde_json::from_str(text)?;
        Ok(match f.r#type {
            ServerFrameType::Envelope => Self::Envelope(Envelope {
                id: field(f.id, "id")?,
                source_user: field(f.source_user, "source_user")?,
                source_device: field(f.source_device, "source_device")?,
                server_timestamp: field(f.server_timestamp, "server_timestamp")?,
                body: field(f.body, "body")?,
            }),
            ServerFrameType::QueueEmpty => Self::QueueEmpty,
            ServerFrameType::Closing => Self::Closing {
                reason: field(f.reason, "reason")?,
            },
            ServerFrameType::LogAdvanced => Self::LogAdvanced {
                len: field(f.len, "len")?,
            },
            ServerFrameType::Sent => Self::Sent {
                request: field(f.request, "request")?,
                server_timestamp: field(f.server_timestamp, "server_timestamp")?,
                sender_devices: field(f.sender_devices, "sender_devices")?,
            },
            ServerFrameType::SendFailed => Self::SendFailed {
                request: field(f.request, "request")?,
                status: field(f.status, "status")?,
                error: field(f.error, "error")?,
            },
        })
    }
}

/// Appends `bytes` as a JSON string of standard padded base64 (its characters never need
/// escaping).
fn push_b64(out: &mut String, bytes: &[u8]) {
    use base64::Engine as _;
    out.push('"');
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
    out.push('"');
}

/// Appends a user id as a JSON string: its characters (see [`UserId::new`]) never need
/// escaping.
fn push_user(out: &mut String, user: &UserId) {
    out.push('"');
    out.push_str(user.as_str());
    out.push('"');
}

impl Envelope {
    /// This envelope's [`ServerFrame::Envelope`] frame as JSON, byte for byte what serde
    /// writes, written directly: every field is a number, a user id or base64, none of which
    /// needs escaping, so serde's escaping pass over the body and its copy of the encoded body
    /// are skipped. The relay writes one for every envelope it pushes.
    pub fn frame_json(&self) -> String {
        use core::fmt::Write as _;
        let mut s = String::with_capacity(128 + self.body.0.len().div_ceil(3) * 4);
        s.push_str(r#"{"type":"envelope","id":"#);
        let _ = write!(s, "{}", self.id);
        s.push_str(r#","source_user":"#);
        push_user(&mut s, &self.source_user);
        let _ = write!(
            s,
            r#","source_device":{},"server_timestamp":{},"body":"#,
            self.source_device, self.server_timestamp
        );
        push_b64(&mut s, &self.body.0);
        s.push('}');
        s
    }
}

impl ClientFrame {
    /// A [`ClientFrame::Send`] frame as JSON, byte for byte what serde writes for it, written
    /// directly (see [`Envelope::frame_json`]), without first moving `recipients` into a frame.
    pub fn send_json(request: u64, recipients: &[RecipientEnvelopes]) -> String {
        use core::fmt::Write as _;
        let bodies: usize = recipients
            .iter()
            .flat_map(|r| &r.messages)
            .map(|m| 64 + m.body.0.len().div_ceil(3) * 4)
            .sum();
        let mut s = String::with_capacity(64 + 32 * recipients.len() + bodies);
        let _ = write!(s, r#"{{"type":"send","request":{request},"recipients":["#);
        for (i, r) in recipients.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(r#"{"user":"#);
            push_user(&mut s, &r.user);
            s.push_str(r#","messages":["#);
            for (j, m) in r.messages.iter().enumerate() {
                if j > 0 {
                    s.push(',');
                }
                let _ = write!(
                    s,
                    r#"{{"device":{},"registration_id":{},"body":"#,
                    m.device, m.registration_id
                );
                push_b64(&mut s, &m.body.0);
                s.push('}');
            }
            s.push_str("]}");
        }
        s.push_str("]}");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OutgoingEnvelope;

    fn user(s: &str) -> UserId {
        UserId::new(s).unwrap_or_else(|_| unreachable!("valid in the test"))
    }

    #[test]
    fn envelope_frames_are_what_serde_writes() {
        let ids = [0, 1, i64::MAX, -1].into_iter().cycle();
        let users = ["a", "bob.smith_2-x", "0z"].into_iter().cycle();
        let devices = [1, 10, u32::MAX].into_iter().cycle();
        let times = [0, 1_764_000_000_000, u64::MAX].into_iter().cycle();
        let lens = [0usize, 1, 2, 3, 4, 255, 256, 1000];
        for ((((len, id), u), source_device), server_timestamp) in
            lens.into_iter().zip(ids).zip(users).zip(devices).zip(times)
        {
            let env = Envelope {
                id,
                source_user: user(u),
                source_device,
                server_timestamp,
                body: B64((0..len).map(|b| (b * 7 + len) as u8).collect()),
            };
            let serde = serde_json::to_string(&ServerFrame::Envelope(env.clone()));
            assert_eq!(Some(env.frame_json()), serde.ok(), "body of {len} bytes");
        }
    }

    #[test]
    fn server_frames_read_in_one_pass_as_serde_reads_them() -> Result<(), serde_json::Error> {
        let frames = [
            ServerFrame::Envelope(Envelope {
                id: 42,
                source_user: user("alice"),
                source_device: 3,
                server_timestamp: 1_764_000_000_000,
                body: B64(vec![1, 2, 3, 250]),
            }),
            ServerFrame::QueueEmpty,
            ServerFrame::Closing {
                reason: "replaced \"by\" a newer socket".into(),
            },
            ServerFrame::LogAdvanced { len: 12 },
            ServerFrame::Sent {
                request: u64::MAX,
                server_timestamp: 7,
                sender_devices: vec![1, 2, 9],
            },
            ServerFrame::SendFailed {
                request: 5,
                status: 409,
                error: serde_json::from_str(
                    r#"{"code":"mismatched_devices","message":"x","mismatched":{"missing":[2],"extra":[]}}"#,
                )?,
            },
        ];
        for frame in frames {
            let json = serde_json::to_string(&frame)?;
            let read = ServerFrame::from_json(&json)?;
            assert_eq!(serde_json::to_string(&read)?, json);
        }
        // What serde refuses, this refuses too.
        for bad in [
            r#"{"type":"envelope","id":1,"source_user":"a","source_device":1,"server_timestamp":1}"#,
            r#"{"type":"envelope","id":1,"source_user":"A!","source_device":1,"server_timestamp":1,"body":""}"#,
            r#"{"type":"envelope","id":1,"source_user":"a","source_device":1,"server_timestamp":1,"body":"!!"}"#,
            r#"{"type":"sent","request":1,"server_timestamp":1}"#,
            r#"{"type":"sent","request":-1,"server_timestamp":1,"sender_devices":[]}"#,
            r#"{"type":"closing"}"#,
            r#"{"type":"log_advanced"}"#,
            r#"{"type":"pushed"}"#,
            r#"{"id":1}"#,
            r#"{"type":"queue_empty","type":"queue_empty"}"#,
            "[]",
            "",
        ] {
            assert!(
                serde_json::from_str::<ServerFrame>(bad).is_err(),
                "serde: {bad}"
            );
            assert!(ServerFrame::from_json(bad).is_err(), "one pass: {bad}");
        }
        Ok(())
    }

    #[test]
    fn send_frames_are_what_serde_writes() {
        let message = |device, len: usize| OutgoingEnvelope {
            device,
            registration_id: device.wrapping_mul(1_000) ^ 7,
            body: B64(vec![0xfb; len]),
        };
        let cases = [
            vec![],
            vec![RecipientEnvelopes {
                user: user("bob"),
                messages: vec![],
            }],
            vec![
                RecipientEnvelopes {
                    user: user("bob"),
                    messages: vec![message(1, 0), message(2, 5)],
                },
                RecipientEnvelopes {
                    user: user("carol.x-y_z"),
                    messages: vec![message(u32::MAX, 300)],
                },
            ],
        ];
        for (request, recipients) in [0, 1, u64::MAX].into_iter().zip(cases) {
            let serde = serde_json::to_string(&ClientFrame::Send {
                request,
                recipients: recipients.clone(),
            });
            assert_eq!(
                Some(ClientFrame::send_json(request, &recipients)),
                serde.ok()
            );
        }
    }
}
