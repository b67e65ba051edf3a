//! The delivery WebSocket (`GET /v1/ws`), see [`parley_proto::ws`].
//!
//! The socket task pushes the device's queued envelopes oldest first, at most [`WINDOW`]
//! unacknowledged at a time, and reads the queue again whenever the hub wakes it (a new
//! envelope on this node, a `NOTIFY` from another node) or an ack frees room. An envelope is
//! deleted only when the device acks it; anything unacked is pushed again on the next
//! connection.
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
use parley_proto::ws::{ClientFrame, Envelope, ServerFrame};
use parley_proto::{B64, DeviceId, ErrorBody, UserId};

use crate::auth::AuthDevice;
use crate::db::{Db, on_db};
use crate::error::ApiError;
use crate::writer::WriteOp;
use crate::{AppState, metrics};

/// Most envelopes pushed and not yet acknowledged.
pub const WINDOW: usize = 256;
/// Most ids in one ack frame.
pub const MAX_ACK_IDS: usize = 1_024;
/// Largest frame a device may send.
const MAX_CLIENT_FRAME: usize = 64 * 1024;
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
    Ok(ws
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
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
    let mut announced_empty = false;
    // Set when the relay closes the socket (replaced, revoked, shutting down): the reason.
    let mut closing: Option<&'static str> = None;
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    'outer: loop {
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
                let Some(msg) = text(&ServerFrame::Envelope(env)) else {
                    continue;
                };
                if sink.feed(msg).await.is_err() {
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
        } else if inflight.len() < WINDOW {
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
                let Some(msg) = text(&ServerFrame::Envelope(env)) else {
                    continue;
                };
                // Queue the frame; one flush below writes them all.
                if sink.feed(msg).await.is_err() {
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
            // No room: these are read from the database later.
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
                        Message::Text(t) => next_acks.extend(parse_ack(t.as_str()).unwrap_or_default()),
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
                    if !next_acks.is_empty() {
                        acks.push(write_acks(&state, dev.pk, &inflight, std::mem::take(&mut next_acks)));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "storing acks failed");
                    break;
                }
            },
            // Stop reading while too many acks wait (backpressure).
            msg = stream.next(), if next_acks.len() < MAX_ACK_BACKLOG => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Some(ids) = parse_ack(t.as_str()) else {
                        let reason = "malformed frame".to_owned();
                        if let Some(msg) = text(&ServerFrame::Closing { reason }) {
                            let _ = sink.send(msg).await;
                        }
                        break;
                    };
                    // The ack commits in a group commit while this socket goes on pushing;
                    // the ids leave `inflight` when it has committed.
                    if acks.is_empty() {
                        acks.push(write_acks(&state, dev.pk, &inflight, ids));
                    } else {
                        next_acks.extend(ids);
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    // Acks already received are written even though the socket closed.
    if !next_acks.is_empty() {
        acks.push(write_acks(&state, dev.pk, &inflight, next_acks));
    }
    while let Some(done) = acks.next().await {
        if let Ok(ids) = done {
            metrics::ACKS.fetch_add(ids.len() as u64, Ordering::Relaxed);
        }
    }
    state.hub.unregister(dev.pk, &conn);
    conn.finished.cancel();
    // Only now tell the device the socket is closed (its own close is answered here too):
    // what it acked before is written. Bounded, in case the peer is gone.
    let _ = tokio::time::timeout(GOODBYE_WAIT, async {
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

/// Writes acked ids (through the group-commit writer); yields them once committed. Ids this
/// socket pushed are known to be the device's; others are deleted only where they are.
fn write_acks(
    state: &AppState,
    device_pk: i64,
    inflight: &BTreeSet<i64>,
    ids: Vec<i64>,
) -> impl Future<Output = anyhow::Result<Vec<i64>>> + use<> {
    let (pushed, other) = ids.iter().partition(|id| inflight.contains(id));
    let op = WriteOp::Ack {
        device_pk,
        pushed,
        other,
    };
    let writer = state.writer.clone();
    async move { writer.write(op).await.map(|()| ids) }
}

/// The ids of an ack frame, or `None` for anything else.
fn parse_ack(text: &str) -> Option<Vec<i64>> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(ClientFrame::Ack { ids }) if ids.len() <= MAX_ACK_IDS => Some(ids),
        _ => None,
    }
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
