//! The delivery WebSocket (`GET /v1/ws`), see [`parley_proto::ws`].
//!
//! The socket task pushes the device's queued envelopes oldest first, at most [`WINDOW`]
//! unacknowledged at a time, and reads the queue again whenever the hub wakes it (a new
//! envelope on this node, a `NOTIFY` from another node) or an ack frees room. An envelope is
//! deleted only when the device acks it; anything unacked is pushed again on the next
//! connection. Reading the queue afresh each time (rather than keeping a cursor) means an
//! envelope that commits late on another node is never skipped.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
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
/// Most ids deleted in one commit when several ack frames are waiting.
const MAX_ACK_BATCH: usize = 4_096;
/// Largest frame a device may send.
const MAX_CLIENT_FRAME: usize = 64 * 1024;

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
    let conn = state.hub.register(dev.pk);
    let (mut sink, mut stream) = socket.split();
    let mut inflight: BTreeSet<i64> = BTreeSet::new();
    let mut announced_empty = false;
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    'outer: loop {
        if inflight.len() < WINDOW {
            let limit = inflight.len() + WINDOW;
            let pending = match fetch(&state.db, dev.pk, limit).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "reading a queue failed");
                    break;
                }
            };
            let complete = pending.len() < limit;
            for env in pending {
                if inflight.len() >= WINDOW {
                    break;
                }
                if inflight.contains(&env.id) {
                    continue;
                }
                let id = env.id;
                let Some(msg) = text(&ServerFrame::Envelope(env)) else {
                    continue;
                };
                if sink.send(msg).await.is_err() {
                    break 'outer;
                }
                inflight.insert(id);
                metrics::DELIVERIES.fetch_add(1, Ordering::Relaxed);
            }
            if complete && !announced_empty && inflight.len() < WINDOW {
                announced_empty = true;
                if let Some(msg) = text(&ServerFrame::QueueEmpty)
                    && sink.send(msg).await.is_err()
                {
                    break;
                }
            }
        }
        tokio::select! {
            () = conn.close.cancelled() => {
                let reason = conn.close_reason().to_owned();
                if let Some(msg) = text(&ServerFrame::Closing { reason }) {
                    let _ = sink.send(msg).await;
                }
                let _ = sink.close().await;
                break;
            }
            () = conn.wake.notified() => {}
            _ = ping.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Some(mut ids) = parse_ack(t.as_str()) else {
                        let reason = "malformed frame".to_owned();
                        if let Some(msg) = text(&ServerFrame::Closing { reason }) {
                            let _ = sink.send(msg).await;
                        }
                        break;
                    };
                    // Take every ack already received too, so that one commit covers them.
                    let mut closed = false;
                    while ids.len() < MAX_ACK_BATCH {
                        match stream.next().now_or_never() {
                            Some(Some(Ok(Message::Text(t)))) => match parse_ack(t.as_str()) {
                                Some(more) => ids.extend(more),
                                None => {
                                    closed = true;
                                    break;
                                }
                            },
                            Some(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                                closed = true;
                                break;
                            }
                            Some(Some(Ok(_))) => {}
                            None => break,
                        }
                    }
                    let n = ids.len() as u64;
                    if let Err(e) = state.writer.write(WriteOp::Ack { device_pk: dev.pk, ids: ids.clone() }).await {
                        tracing::warn!(error = %e, "storing acks failed");
                        break;
                    }
                    metrics::ACKS.fetch_add(n, Ordering::Relaxed);
                    for id in ids {
                        inflight.remove(&id);
                    }
                    if closed {
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    state.hub.unregister(dev.pk, &conn);
}

/// The ids of an ack frame, or `None` for anything else.
fn parse_ack(text: &str) -> Option<Vec<i64>> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(ClientFrame::Ack { ids }) if ids.len() <= MAX_ACK_IDS => Some(ids),
        _ => None,
    }
}

/// The oldest `limit` envelopes queued for a device.
async fn fetch(db: &Db, device_pk: i64, limit: usize) -> Result<Vec<Envelope>, sqlx::Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String, i64, i64, Vec<u8>)> = on_db!(db, read, pool => {
        sqlx::query_as(
            "SELECT id, source_user, source_device, server_ts, body FROM envelopes
             WHERE device_pk = $1 ORDER BY id LIMIT $2",
        )
        .bind(device_pk).bind(limit).fetch_all(pool).await?
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
