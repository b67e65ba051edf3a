//! The delivery WebSocket (`GET /v1/ws`), see [`parley_proto::ws`].
//!
//! The socket task pushes the device's queued envelopes oldest first, at most [`WINDOW`]
//! unacknowledged at a time, and reads the queue again whenever the hub wakes it (a new
//! envelope on this node, a `NOTIFY` from another node) or acks free half the window. An
//! envelope is deleted only when the device acks it; anything unacked is pushed again on the
//! next connection.
//!
//! This node's writer hands each committed envelope to the socket's mailbox (see
//! [`crate::hub::Mailbox`]); a socket that has read its whole queue pushes from the mailbox
//! without reading the database. Otherwise (window full, mailbox overflowed, new socket) it
//! reads only envelopes with ids above the last one it pushed: the writer commits one
//! transaction at a time, so ids commit in order on one node. After a wake from another node (whose envelope may commit late, below ids already
//! pushed) or a lost `LISTEN` connection it reads the whole queue again, skipping what is in
//! flight, so such an envelope is never skipped. Acks are written by the group-commit writer
//! while the socket goes on pushing; an id leaves the window only once its deletion has
//! committed.
//!
//! A device has one socket per node: a new one closes the older, which still writes the acks
//! it has received (including frames already on the wire, read without waiting), and the new
//! one reads the queue only after that (at most [`HANDOVER_WAIT`]), so a device that acks,
//! drops its connection and reconnects is not sent what it acked. (Across nodes, the older
//! socket is not waited for; the client ignores what it has already received.)
//!
//! Sends over the socket ([`parley_proto::ws::ClientFrame::Send`]) go through the checks of
//! `POST /v1/messages` ([`messages::accept_multi`]) and are queued for the group commit one
//! after another as their frames arrive, so they commit in that order; the socket goes on
//! reading, pushing and acking while they wait for their commit (at most
//! [`MAX_PENDING_SENDS`], then it stops reading). Each costs a token of the device's rate
//! limit, as an HTTP request does. A send queued before the socket closes is still committed
//! and, if the peer is still there, answered before the close.
//!
//! What waits in the socket for a commit (sends, acks) holds nothing shared with other
//! requests, no database connection and no place in the writer's queue: the socket polls those
//! waits only between frames, so anything they held would be kept from everyone while it
//! waited on something else (with a few sockets at once, every read of the relay stopped).
//! Connections and queue places are taken inline, by the frame's own handling.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use parley_proto::api::{MultiSendRequest, RecipientEnvelopes, SendResponse};
use parley_proto::ws::{Envelope, ServerFrame};
use parley_proto::{B64, DeviceId, ErrorBody, UserId};

use crate::auth::AuthDevice;
use crate::db::{Db, on_db};
use crate::error::{ApiError, ApiResult};
use crate::routes::messages;
use crate::writer::WriteOp;
use crate::{AppState, metrics};

/// Most envelopes pushed and not yet acknowledged.
pub const WINDOW: usize = 256;
/// A socket that is behind its queue reads it again only once no more than this many
/// envelopes are unacknowledged: a device that is busy acking gets its queue in reads of at
/// least half a window, rather than a read for every few ids an ack frees (which, with many
/// such sockets, would keep the database busy with tiny reads).
const REFILL_AT: usize = WINDOW / 2;
/// Most ids in one ack frame.
pub const MAX_ACK_IDS: usize = 1_024;
/// Largest frame a device may send, unless the request body limit is larger (a send frame
/// carries what `POST /v1/messages` does).
const MAX_CLIENT_FRAME: usize = 64 * 1024;
/// Most sends of one socket waiting for their commit; beyond this it stops reading.
pub const MAX_PENDING_SENDS: usize = 64;
/// Acked ids a socket collects while its previous ack write waits for its commit; beyond
/// this it stops reading until that commit (backpressure).
const MAX_ACK_BACKLOG: usize = WINDOW + MAX_ACK_IDS;
/// Read buffer of a socket (tungstenite's default, 128 KiB, would be most of an idle
/// socket's memory; client frames are small acks).
const READ_BUFFER: usize = 4 * 1024;
/// Frames are written to the socket once this much is buffered, or at each flush.
const WRITE_BUFFER: usize = 32 * 1024;
/// Longest a new socket waits for an older socket of the same device to write its acks (a
/// group commit takes milliseconds; an older socket stuck writing to a dead peer is not
/// waited for longer than this).
const HANDOVER_WAIT: Duration = Duration::from_secs(1);
/// Longest a closing socket tries to send its close frame.
const GOODBYE_WAIT: Duration = Duration::from_secs(5);

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/ws", get(upgrade))
}

/// Opens the delivery socket.
#[utoipa::path(get, path = "/v1/ws", tag = "messages", security(("device" = [])),
    responses((status = 101, description = "WebSocket: server frames are ServerFrame, client frames ClientFrame"),
              (status = 401, body = ErrorBody)))]
pub async fn upgrade(
    State(state): State<AppState>,
    dev: AuthDevice,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|_| ApiError::invalid("this endpoint takes a WebSocket upgrade"))?;
    let max_frame = state.config.limits.max_body_bytes.max(MAX_CLIENT_FRAME);
    Ok(ws
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| run(state, dev, socket)))
}

struct ConnectionGauge;

impl ConnectionGauge {
    fn new() -> Self {
        metrics::CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        metrics::CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

fn text(frame: &ServerFrame) -> Option<Message> {
    serde_json::to_string(frame)
        .ok()
        .map(|s| Message::Text(s.into()))
}

/// The frame pushing `env` ([`Envelope::frame_json`], what serde writes for
/// `ServerFrame::Envelope`, without its escaping pass over the body).
fn push(env: &Envelope) -> Message {
    Message::Text(env.frame_json().into())
}

async fn run(state: AppState, dev: AuthDevice, socket: WebSocket) {
    let _gauge = ConnectionGauge::new();
    let (conn, older) = state.hub.register(dev.pk);
    // Marks the end even if this task is dropped midway.
    let _finished = conn.finished.clone().drop_guard();
    let (mut sink, mut stream) = socket.split();
    if let Some(older) = older {
        // An older socket of this device (on this node) writes the acks it received before
        // it ends; read the queue only after that, or they would be pushed again. Bounded, in
        // case that socket is stuck writing to a dead peer.
        let _ = tokio::time::timeout(HANDOVER_WAIT, older.finished.cancelled()).await;
    }
    // Pushed and not yet acknowledged (an id leaves only once its ack has committed).
    let mut inflight: BTreeSet<i64> = BTreeSet::new();
    // The highest id pushed: a read after a local wake starts after it.
    let mut cursor: i64 = 0;
    // Read the whole queue (skipping what is in flight) rather than after `cursor`.
    let mut rescan = false;
    // The last read was complete and every envelope committed since on this node is in the
    // mailbox: push from the mailbox instead of reading.
    let mut caught_up = false;
    // The ack write waiting for its commit (at most one; it yields the ids it deleted), and
    // the ids acked meanwhile, written together as the next one: however many ack frames a
    // device sends, a socket costs the writer one operation per commit.
    let mut acks = FuturesUnordered::new();
    let mut next_acks: Vec<i64> = Vec::new();
    // Sends queued for the group commit, each yielding its request number and answer.
    let mut sends = FuturesUnordered::new();
    let mut announced_empty = false;
    // Set when the relay closes the socket (replaced, revoked, shutting down): the reason.
    let mut closing: Option<&'static str> = None;
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    'outer: loop {
        // The acks received since the last write, once that write has committed.
        if acks.is_empty() && !next_acks.is_empty() {
            let ids = std::mem::take(&mut next_acks);
            match write_acks(&state, dev.pk, &inflight, ids).await {
                Ok(commit) => acks.push(commit),
                Err(e) => {
                    tracing::warn!(error = %e, "storing acks failed");
                    break;
                }
            }
        }
        rescan |= conn.take_rescan();
        let mail = conn.take_mail();
        if mail.overflow {
            caught_up = false;
        }
        if inflight.len() < WINDOW && caught_up && !rescan {
            // Everything committed before the last read was pushed, and everything committed
            // since is in the mailbox, in id order: push it without reading it back.
            let mut pushed = 0usize;
            for env in mail.envelopes {
                if env.id <= cursor {
                    continue;
                }
                if inflight.len() >= WINDOW {
                    // The rest is read from the database (after `cursor`) once acks free room.
                    caught_up = false;
                    break;
                }
                let id = env.id;
                if sink.feed(push(&env)).await.is_err() {
                    break 'outer;
                }
                inflight.insert(id);
                cursor = id;
                pushed += 1;
            }
            metrics::DELIVERIES.fetch_add(pushed as u64, Ordering::Relaxed);
            if pushed > 0 && sink.flush().await.is_err() {
                break;
            }
        } else if inflight.len() <= REFILL_AT {
            let room = WINDOW - inflight.len();
            let (after, limit) = if rescan {
                (0, inflight.len() + room)
            } else {
                (cursor, room)
            };
            let pending = match fetch(&state.db, dev.pk, after, limit).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "reading a queue failed");
                    break;
                }
            };
            let complete = pending.len() < limit;
            // A rescan cut short by its limit may have left older envelopes unread.
            rescan = rescan && !complete;
            // Whatever commits from now on arrives in the mailbox (taken above, before this
            // read, so nothing falls between the two).
            caught_up = complete;
            let mut pushed = 0usize;
            for env in pending {
                if inflight.len() >= WINDOW {
                    caught_up = false;
                    break;
                }
                if inflight.contains(&env.id) {
                    continue;
                }
                let id = env.id;
                // Queue the frame; one flush below writes them all.
                if sink.feed(push(&env)).await.is_err() {
                    break 'outer;
                }
                inflight.insert(id);
                cursor = cursor.max(id);
                pushed += 1;
            }
            metrics::DELIVERIES.fetch_add(pushed as u64, Ordering::Relaxed);
            if complete && !announced_empty && inflight.len() < WINDOW {
                announced_empty = true;
                if let Some(msg) = text(&ServerFrame::QueueEmpty)
                    && sink.feed(msg).await.is_err()
                {
                    break;
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        } else if !mail.envelopes.is_empty() {
            // No room (or too little to be worth a read): these are read from the database
            // later.
            caught_up = false;
        }
        tokio::select! {
            () = conn.close.cancelled() => {
                // Ack frames the device sent before it learns of the close (already received,
                // not yet read) are still written: drain what can be read without waiting
                // (as much as the backlog holds).
                while next_acks.len() < MAX_ACK_BACKLOG
                    && let Some(Some(Ok(msg))) = stream.next().now_or_never()
                {
                    match msg {
                        Message::Text(t) => {
                            // Sends not yet read are not answered: nothing of them is stored,
                            // and the device sends them again.
                            if let Some(Incoming::Ack(ids)) = parse_frame(t.as_str()) {
                                next_acks.extend(ids);
                            }
                        }
                        Message::Close(_) => break,
                        _ => {}
                    }
                }
                closing = Some(conn.close_reason());
                break;
            }
            () = conn.wake.notified() => {}
            _ = ping.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            Some(done) = acks.next(), if !acks.is_empty() => match done {
                Ok(ids) => {
                    let ids: Vec<i64> = ids;
                    metrics::ACKS.fetch_add(ids.len() as u64, Ordering::Relaxed);
                    for id in ids {
                        inflight.remove(&id);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "storing acks failed");
                    break;
                }
            },
            Some((request, result)) = sends.next(), if !sends.is_empty() => {
                // Answer every send whose commit is done, then write them all at once.
                let mut answered = vec![answer(request, result)];
                while let Some(Some((request, result))) = sends.next().now_or_never() {
                    answered.push(answer(request, result));
                }
                for msg in answered.into_iter().flatten() {
                    if sink.feed(msg).await.is_err() {
                        break 'outer;
                    }
                }
                if sink.flush().await.is_err() {
                    break;
                }
            }
            // Stop reading while too many acks or sends wait (backpressure).
            msg = stream.next(), if next_acks.len() < MAX_ACK_BACKLOG && sends.len() < MAX_PENDING_SENDS => match msg {
                Some(Ok(Message::Text(t))) => match parse_frame(t.as_str()) {
                    // Written at the top of the loop; the ids leave `inflight` when that write
                    // has committed, while this socket goes on pushing.
                    Some(Incoming::Ack(ids)) => next_acks.extend(ids),
                    Some(Incoming::Send { request, recipients }) => {
                        let queued = match recipients {
                            Ok(recipients) => queue_send(&state, &dev, recipients).await,
                            Err(e) => Err(e),
                        };
                        match queued {
                            Ok(committed) => sends.push(async move { (request, committed.await) }),
                            // Refused before it was queued: answered at once.
                            Err(e) => {
                                if let Some(msg) = answer(request, Err(e))
                                    && sink.send(msg).await.is_err()
                                {
                                    break;
                                }
                            }
                        }
                    }
                    None => {
                        let reason = "malformed frame".to_owned();
                        if let Some(msg) = text(&ServerFrame::Closing { reason }) {
                            let _ = sink.send(msg).await;
                        }
                        break;
                    }
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    // Acks already received are written even though the socket closed.
    if !next_acks.is_empty()
        && let Ok(commit) = write_acks(&state, dev.pk, &inflight, next_acks).await
    {
        acks.push(commit);
    }
    while let Some(done) = acks.next().await {
        if let Ok(ids) = done {
            metrics::ACKS.fetch_add(ids.len() as u64, Ordering::Relaxed);
        }
    }
    state.hub.unregister(dev.pk, &conn);
    conn.finished.cancel();
    // Queued sends commit whether or not anyone waits for them; answer them if the peer is
    // still there.
    let mut answered = Vec::new();
    while let Some((request, result)) = sends.next().await {
        answered.extend(answer(request, result));
    }
    // Only now tell the device the socket is closed (its own close is answered here too):
    // what it acked before is written. Bounded, in case the peer is gone.
    let _ = tokio::time::timeout(GOODBYE_WAIT, async {
        for msg in answered {
            let _ = sink.feed(msg).await;
        }
        if let Some(reason) = closing
            && let Some(msg) = text(&ServerFrame::Closing {
                reason: reason.to_owned(),
            })
        {
            let _ = sink.feed(msg).await;
        }
        let _ = sink.close().await;
    })
    .await;
}

/// Queues acked ids for the group-commit writer (waiting here for room in its queue) and
/// returns the wait for their commit, which yields them. Ids this socket pushed are known to
/// be the device's; others are deleted only where they are. The wait holds nothing the socket
/// shares with others: it sits in `acks`, polled only between frames.
async fn write_acks(
    state: &AppState,
    device_pk: i64,
    inflight: &BTreeSet<i64>,
    ids: Vec<i64>,
) -> anyhow::Result<impl Future<Output = anyhow::Result<Vec<i64>>> + use<>> {
    let (pushed, other) = ids.iter().partition(|id| inflight.contains(id));
    let op = WriteOp::Ack {
        device_pk,
        pushed,
        other,
    };
    let committed = state.writer.submit(op).await?;
    Ok(async move { committed.await.map(|()| ids) })
}

/// A frame from the device.
enum Incoming {
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
fn parse_frame(text: &str) -> Option<Incoming> {
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

/// Checks a send from the socket and queues it for the group commit (see
/// [`messages::submit`]); returns the wait for its answer. Costs a token of the rate limit.
async fn queue_send(
    state: &AppState,
    dev: &AuthDevice,
    recipients: Vec<RecipientEnvelopes>,
) -> ApiResult<impl Future<Output = ApiResult<SendResponse>> + use<>> {
    state
        .limiter
        .check(dev.pk, std::time::Instant::now())
        .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
    let accepted = messages::accept_multi(state, dev, MultiSendRequest { recipients }).await?;
    messages::submit(state, dev, accepted).await
}

/// The frame answering a send.
fn answer(request: u64, result: ApiResult<SendResponse>) -> Option<Message> {
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

/// The oldest `limit` envelopes queued for a device with an id above `after`.
async fn fetch(
    db: &Db,
    device_pk: i64,
    after: i64,
    limit: usize,
) -> Result<Vec<Envelope>, sqlx::Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String, i64, i64, Vec<u8>)> = on_db!(db, read, pool => {
        sqlx::query_as(
            "SELECT id, source_user, source_device, server_ts, body FROM envelopes
             WHERE device_pk = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(device_pk).bind(after).bind(limit).fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(id, source_user, source_device, server_ts, body)| {
            Some(Envelope {
                id,
                source_user: UserId::new(source_user).ok()?,
                source_device: DeviceId::try_from(source_device).ok()?,
                server_timestamp: u64::try_from(server_ts).ok()?,
                body: B64(body),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use parley_proto::api::OutgoingEnvelope;
    use parley_proto::ws::ClientFrame;

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
