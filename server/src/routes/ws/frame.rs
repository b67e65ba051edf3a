//! The frames of the delivery socket: the device's, read in one pass ([`parse_frame`]), and
//! the relay's.

use axum::extract::ws::Message;
use parley_proto::api::{RecipientEnvelopes, SendResponse};
use parley_proto::ws::{Envelope, ServerFrame};

use super::MAX_ACK_IDS;
use crate::error::{ApiError, ApiResult};

/// A relay frame as a text message (`None` if it cannot be written, which is not expected).
pub(super) fn text(frame: &ServerFrame) -> Option<Message> {
    serde_json::to_string(frame)
        .ok()
        .map(|s| Message::Text(s.into()))
}

/// The frame pushing `env` ([`Envelope::frame_json`], what serde writes for
/// `ServerFrame::Envelope`, without its escaping pass over the body).
pub(super) fn push_frame(env: &Envelope) -> Message {
    Message::Text(env.frame_json().into())
}

/// A frame from the device.
pub(super) enum Incoming {
    /// Acked envelope ids.
    Ack(Vec<i64>),
    /// A send: its recipients, or why they cannot be read (answered with that error).
    Send {
        request: u64,
        recipients: ApiResult<Vec<RecipientEnvelopes>>,
    },
}

/// A [`parley_proto::ws::ClientFrame`] read in one pass: serde reads an internally tagged
/// enum through a buffered copy of the whole frame (a send frame carries every envelope of a
/// message), this flat form reads the same JSON without one.
#[derive(serde::Deserialize)]
struct FlatFrame {
    r#type: FrameType,
    ids: Option<Vec<i64>>,
    request: Option<u64>,
    recipients: Option<Vec<RecipientEnvelopes>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum FrameType {
    Ack,
    Send,
}

/// Reads a text frame; `None` for anything that is neither an ack nor a numbered send.
pub(super) fn parse_frame(text: &str) -> Option<Incoming> {
    match serde_json::from_str::<FlatFrame>(text) {
        Ok(FlatFrame {
            r#type: FrameType::Ack,
            ids: Some(ids),
            ..
        }) => (ids.len() <= MAX_ACK_IDS).then_some(Incoming::Ack(ids)),
        Ok(FlatFrame {
            r#type: FrameType::Send,
            request: Some(request),
            recipients,
            ..
        }) => Some(Incoming::Send {
            request,
            recipients: recipients.ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    parley_proto::ErrorCode::MalformedJson,
                    "missing field `recipients`",
                )
            }),
        }),
        Ok(_) => None,
        Err(e) => {
            // A send whose number can be read is answered with the error, as its HTTP
            // request would be (bad base64, a wrong field…).
            #[derive(serde::Deserialize)]
            struct Numbered {
                r#type: String,
                request: u64,
            }
            let n: Numbered = serde_json::from_str(text).ok()?;
            (n.r#type == "send").then(|| Incoming::Send {
                request: n.request,
                recipients: Err(ApiError::from_json(&e)),
            })
        }
    }
}

/// The frame answering a send.
pub(super) fn answer(request: u64, result: ApiResult<SendResponse>) -> Option<Message> {
    text(&match result {
        Ok(r) => ServerFrame::Sent {
            request,
            server_timestamp: r.server_timestamp,
            sender_devices: r.sender_devices,
        },
        Err(e) => {
            let (status, error) = e.answer();
            ServerFrame::SendFailed {
                request,
                status: status.as_u16(),
                error,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use parley_proto::api::OutgoingEnvelope;
    use parley_proto::ws::ClientFrame;
    use parley_proto::{B64, UserId};

    use super::*;

    /// The flat reading accepts what [`ClientFrame`] writes, and refuses what it refuses.
    #[test]
    fn flat_frames_read_the_client_frames() {
        let ack = serde_json::to_string(&ClientFrame::Ack { ids: vec![3, 1] }).unwrap_or_default();
        assert!(matches!(parse_frame(&ack), Some(Incoming::Ack(ids)) if ids == vec![3, 1]));
        let send = ClientFrame::Send {
            request: 7,
            recipients: vec![RecipientEnvelopes {
                user: UserId::new("bob".to_owned()).unwrap_or_else(|_| unreachable!()),
                messages: vec![OutgoingEnvelope {
                    device: 2,
                    registration_id: 9,
                    body: B64(vec![1, 2, 3]),
                }],
            }],
        };
        let text = serde_json::to_string(&send).unwrap_or_default();
        let Some(Incoming::Send {
            request,
            recipients: Ok(recipients),
        }) = parse_frame(&text)
        else {
            unreachable!("{text}")
        };
        assert_eq!(request, 7);
        assert_eq!(recipients.len(), 1);
        assert_eq!(recipients.first().map(|r| r.messages.len()), Some(1));
        let too_many = serde_json::to_string(&ClientFrame::Ack {
            ids: vec![1; MAX_ACK_IDS + 1],
        })
        .unwrap_or_default();
        for bad in [
            "",
            "{}",
            "[]",
            r#"{"type":"nonsense"}"#,
            r#"{"type":"ack"}"#,
            r#"{"type":"ack","ids":[1],"ids":[2]}"#,
            r#"{"type":"send","recipients":[]}"#,
            too_many.as_str(),
        ] {
            assert!(parse_frame(bad).is_none(), "{bad}");
        }
        for (bad, code) in [
            (
                r#"{"type":"send","request":5}"#,
                parley_proto::ErrorCode::MalformedJson,
            ),
            (
                r#"{"type":"send","request":5,"recipients":[{"user":"bob","messages":[{"device":1,"registration_id":1,"body":"!"}]}]}"#,
                parley_proto::ErrorCode::BadBase64,
            ),
            (
                r#"{"type":"send","request":5,"recipients":{}}"#,
                parley_proto::ErrorCode::MalformedJson,
            ),
        ] {
            match parse_frame(bad) {
                Some(Incoming::Send {
                    request: 5,
                    recipients: Err(error),
                }) => {
                    assert_eq!(error.answer().1.code, code, "{bad}");
                }
                _ => unreachable!("{bad}"),
            }
        }
    }
}
