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
//! transaction at a time, so ids commit in order on one node. After a wake from another node
//! (whose envelope may commit late, below ids already pushed) or a lost `LISTEN` connection it
//! reads the whole queue again, skipping what is in flight, so such an envelope is never
//! skipped. Acks are written by the group-commit writer
//! while the socket goes on pushing; an id leaves the window only once its deletion has
//! committed.
//!
//! A device has one socket per node: a new one closes the older, which still writes the acks
//! it has received (including frames already on the wire, read without waiting), and the new
//! one reads the queue only after that (at most `HANDOVER_WAIT`), so a device that acks,
//! drops its connection and reconnects is not sent what it acked. (Across nodes, the older
//! socket is not waited for; the client ignores what it has already received.)
//!
//! Sends over the socket ([`parley_proto::ws::ClientFrame::Send`]) go through the checks of
//! `POST /v1/messages` (`routes::messages::accept_multi`) and are queued for the group
//! commit one after another as their frames arrive, so they commit in that order; the socket
//! goes on reading, pushing and acking while they wait for their commit (at most
//! [`MAX_PENDING_SENDS`], then it stops reading). Each costs a token of the device's rate
//! limit, as an HTTP request does. A send queued before the socket closes is still committed
//! and, if the peer is still there, answered before the close.
//!
//! What waits in the socket for a commit (sends, acks) holds nothing shared with other
//! requests, no database connection and no place in the writer's queue: the socket polls those
//! waits only between frames, so anything they held would be kept from everyone while it
//! waited on something else (with a few sockets at once, every read of the relay stopped).
//! Connections and queue places are taken inline, by the frame's own handling.
//!
//! In the code, `socket::Socket` holds one connection's state, and each of its turns writes
//! the acks received (once the previous ack write has committed), pushes what is waiting (from
//! the mailbox, or a read of the queue), then waits for one event (a close, a wake, a ping, a
//! commit, a frame) and handles it; at the end it drains what the device was told. `frame`
//! reads the device's frames and writes the relay's.

mod frame;
mod socket;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use parley_proto::ErrorBody;

use crate::AppState;
use crate::auth::AuthDevice;
use crate::error::ApiError;
use socket::Socket;

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
/// Interval of the pings that keep an idle socket open.
const PING_EVERY: Duration = Duration::from_secs(30);

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

/// Serves one socket: pushes, reads and answers until it closes, then writes what it was
/// told ([`Socket::drain`]).
async fn run(state: AppState, dev: AuthDevice, ws: WebSocket) {
    let mut socket = Socket::open(state, dev, ws).await;
    while socket.turn().await.is_continue() {}
    socket.drain().await;
}
