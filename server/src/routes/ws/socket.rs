//! One delivery socket ([`Socket`]): its state between frames and the steps of its loop. The
//! rules it follows (window, mailbox, acks, sends, handover, close) are in the doc of
//! [`crate::routes::ws`].

use std::collections::BTreeSet;
use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{Message, WebSocket};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, SplitSink, SplitStream};
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use parley_proto::api::{MultiSendRequest, RecipientEnvelopes, SendResponse};
use parley_proto::ws::{Envelope, ServerFrame};
use parley_proto::{B64, DeviceId, UserId};
use tokio_util::sync::DropGuard;

use super::frame::{Incoming, answer, parse_frame, push_frame, text};
use super::{
    GOODBYE_WAIT, HANDOVER_WAIT, MAX_ACK_BACKLOG, MAX_PENDING_SENDS, PING_EVERY, REFILL_AT, WINDOW,
};
use crate::auth::AuthDevice;
use crate::db::{Db, on_db};
use crate::error::{ApiError, ApiResult};
use crate::hub::Connection;
use crate::routes::messages;
use crate::writer::WriteOp;
use crate::{AppState, metrics};

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

/// The wait for an ack write's commit; it yields the ids written.
type AckCommit = BoxFuture<'static, anyhow::Result<Vec<i64>>>;
/// The wait for a send's commit; it yields the send's request number and answer.
type SendCommit = BoxFuture<'static, (u64, ApiResult<SendResponse>)>;

/// What a socket waits for between two turns.
enum Event {
    /// The relay closes the socket (replaced, revoked, shutting down).
    Close,
    /// Envelopes may be waiting, in the mailbox or in the queue.
    Wake,
    /// Time to ping the device.
    Ping,
    /// The ack write committed (the ids it wrote), or failed.
    AcksCommitted(anyhow::Result<Vec<i64>>),
    /// A send committed, or failed: its request number and answer.
    SendCommitted(u64, ApiResult<SendResponse>),
    /// What the device sent (`None`: the stream ended).
    Frame(Option<Result<Message, axum::Error>>),
}

/// One delivery socket: the device's connection and where its delivery stands. Each
/// [`turn`](Self::turn) writes the acks received, pushes what is waiting, then waits for one
/// [`Event`] and handles it; once a turn ends the socket, [`drain`](Self::drain) writes what
/// the device was told and closes it.
pub(super) struct Socket {
    state: AppState,
    dev: AuthDevice,
    /// This socket's signals in the hub (wake, mailbox, close).
    conn: Arc<Connection>,
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
    /// Pushed and not yet acknowledged (an id leaves only once its ack has committed).
    inflight: BTreeSet<i64>,
    /// The highest id pushed: a read after a local wake starts after it.
    cursor: i64,
    /// Read the whole queue (skipping what is in flight) rather than after `cursor`.
    rescan: bool,
    /// The last read was complete and every envelope committed since on this node is in the
    /// mailbox: push from the mailbox instead of reading.
    caught_up: bool,
    /// `QueueEmpty` has been sent (once per socket).
    announced_empty: bool,
    /// The org log length last announced (`LogAdvanced`; once at the start, then on growth).
    announced_log: u64,
    /// The ack write waiting for its commit (at most one), and the ids acked meanwhile,
    /// written together as the next one: however many ack frames a device sends, a socket
    /// costs the writer one operation per commit.
    acks: FuturesUnordered<AckCommit>,
    next_acks: Vec<i64>,
    /// Sends queued for the group commit.
    sends: FuturesUnordered<SendCommit>,
    /// Set when the relay closes the socket (replaced, revoked, shutting down): the reason.
    closing: Option<&'static str>,
    ping: tokio::time::Interval,
    /// Marks the end (see [`Connection::finished`]) even if the socket's task is dropped
    /// midway.
    _finished: DropGuard,
    _gauge: ConnectionGauge,
}

impl Socket {
    /// Registers the socket in the hub and waits for an older socket of the device (on this
    /// node) to write its acks.
    pub(super) async fn open(state: AppState, dev: AuthDevice, ws: WebSocket) -> Self {
        let gauge = ConnectionGauge::new();
        let (conn, older) = state.hub.register(dev.pk);
        let finished = conn.finished.clone().drop_guard();
        let (sink, stream) = ws.split();
        if let Some(older) = older {
            // An older socket of this device (on this node) writes the acks it received
            // before it ends; read the queue only after that, or they would be pushed again.
            // Bounded, in case that socket is stuck writing to a dead peer.
            let _ = tokio::time::timeout(HANDOVER_WAIT, older.finished.cancelled()).await;
        }
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        Self {
            state,
            dev,
            conn,
            sink,
            stream,
            inflight: BTreeSet::new(),
            cursor: 0,
            rescan: false,
            caught_up: false,
            announced_empty: false,
            announced_log: 0,
            acks: FuturesUnordered::new(),
            next_acks: Vec::new(),
            sends: FuturesUnordered::new(),
            closing: None,
            ping,
            _finished: finished,
            _gauge: gauge,
        }
    }

    /// One turn of the socket's loop; `Break` ends it.
    pub(super) async fn turn(&mut self) -> ControlFlow<()> {
        self.write_acks().await?;
        self.announce_log().await?;
        self.deliver().await?;
        let event = self.next_event().await;
        self.handle(event).await
    }

    /// Queues the acks received since the last ack write, once that write has committed. The
    /// wait for room in the writer's queue is inline (see the module doc).
    async fn write_acks(&mut self) -> ControlFlow<()> {
        if !self.acks.is_empty() || self.next_acks.is_empty() {
            return Continue(());
        }
        let ids = std::mem::take(&mut self.next_acks);
        match queue_acks(&self.state, self.dev.pk, &self.inflight, ids).await {
            Ok(commit) => {
                self.acks.push(commit.boxed());
                Continue(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "storing acks failed");
                Break(())
            }
        }
    }

    /// Tells the device when the org log grew (and, once, its length when the socket opens).
    async fn announce_log(&mut self) -> ControlFlow<()> {
        let len = self.state.hub.log_len();
        if len <= self.announced_log {
            return Continue(());
        }
        self.announced_log = len;
        if let Some(msg) = text(&ServerFrame::LogAdvanced { len })
            && self.sink.send(msg).await.is_err()
        {
            return Break(());
        }
        Continue(())
    }

    /// Pushes what is waiting: the mailbox if the socket has caught up with its queue and
    /// has room, otherwise a read of the queue once at most [`REFILL_AT`] are in flight.
    async fn deliver(&mut self) -> ControlFlow<()> {
        self.rescan |= self.conn.take_rescan();
        let mail = self.conn.take_mail();
        if mail.overflow {
            self.caught_up = false;
        }
        if self.inflight.len() < WINDOW && self.caught_up && !self.rescan {
            self.push_mail(mail.envelopes).await
        } else if self.inflight.len() <= REFILL_AT {
            self.refill().await
        } else {
            if !mail.envelopes.is_empty() {
                // No room (or too little to be worth a read): these are read from the
                // database later.
                self.caught_up = false;
            }
            Continue(())
        }
    }

    /// Pushes envelopes from the mailbox. Everything committed before the last read was
    /// pushed, and everything committed since is in the mailbox, in id order: they are pushed
    /// without reading them back.
    async fn push_mail(&mut self, envelopes: Vec<Envelope>) -> ControlFlow<()> {
        let mut pushed = 0usize;
        for env in envelopes {
            if env.id <= self.cursor {
                continue;
            }
            if self.inflight.len() >= WINDOW {
                // The rest is read from the database (after `cursor`) once acks free room.
                self.caught_up = false;
                break;
            }
            self.push(&env).await?;
            pushed += 1;
        }
        metrics::DELIVERIES.fetch_add(pushed as u64, Ordering::Relaxed);
        if pushed > 0 && self.sink.flush().await.is_err() {
            return Break(());
        }
        Continue(())
    }

    /// Reads the queue (after `cursor`, or all of it for a rescan) to fill the window and
    /// pushes what it read; the first time the queue is read to its end, says so.
    async fn refill(&mut self) -> ControlFlow<()> {
        let room = WINDOW - self.inflight.len();
        let (after, limit) = if self.rescan {
            (0, self.inflight.len() + room)
        } else {
            (self.cursor, room)
        };
        let pending = match fetch(&self.state.db, self.dev.pk, after, limit).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "reading a queue failed");
                return Break(());
            }
        };
        let complete = pending.len() < limit;
        // A rescan cut short by its limit may have left older envelopes unread.
        self.rescan = self.rescan && !complete;
        // Whatever commits from now on arrives in the mailbox (taken before this read, so
        // nothing falls between the two).
        self.caught_up = complete;
        let mut pushed = 0usize;
        for env in pending {
            if self.inflight.len() >= WINDOW {
                self.caught_up = false;
                break;
            }
            if self.inflight.contains(&env.id) {
                continue;
            }
            // Queue the frame; one flush below writes them all.
            self.push(&env).await?;
            pushed += 1;
        }
        metrics::DELIVERIES.fetch_add(pushed as u64, Ordering::Relaxed);
        if complete && !self.announced_empty && self.inflight.len() < WINDOW {
            self.announced_empty = true;
            if let Some(msg) = text(&ServerFrame::QueueEmpty)
                && self.sink.feed(msg).await.is_err()
            {
                return Break(());
            }
        }
        if self.sink.flush().await.is_err() {
            return Break(());
        }
        Continue(())
    }

    /// Queues the frame pushing `env` (without flushing) and puts it in flight.
    async fn push(&mut self, env: &Envelope) -> ControlFlow<()> {
        if self.sink.feed(push_frame(env)).await.is_err() {
            return Break(());
        }
        self.inflight.insert(env.id);
        self.cursor = self.cursor.max(env.id);
        Continue(())
    }

    /// Waits for what happens next. It stops reading the device's frames while too many
    /// acks or sends wait (backpressure).
    async fn next_event(&mut self) -> Event {
        let reading =
            self.next_acks.len() < MAX_ACK_BACKLOG && self.sends.len() < MAX_PENDING_SENDS;
        tokio::select! {
            () = self.conn.close.cancelled() => Event::Close,
            () = self.conn.wake.notified() => Event::Wake,
            _ = self.ping.tick() => Event::Ping,
            Some(done) = self.acks.next(), if !self.acks.is_empty() => Event::AcksCommitted(done),
            Some((request, result)) = self.sends.next(), if !self.sends.is_empty() => {
                Event::SendCommitted(request, result)
            }
            msg = self.stream.next(), if reading => Event::Frame(msg),
        }
    }

    async fn handle(&mut self, event: Event) -> ControlFlow<()> {
        match event {
            Event::Close => self.close(),
            Event::Wake => Continue(()),
            Event::Ping => {
                if self
                    .sink
                    .send(Message::Ping(Vec::new().into()))
                    .await
                    .is_err()
                {
                    return Break(());
                }
                Continue(())
            }
            Event::AcksCommitted(Ok(ids)) => {
                metrics::ACKS.fetch_add(ids.len() as u64, Ordering::Relaxed);
                for id in ids {
                    self.inflight.remove(&id);
                }
                Continue(())
            }
            Event::AcksCommitted(Err(e)) => {
                tracing::warn!(error = %e, "storing acks failed");
                Break(())
            }
            Event::SendCommitted(request, result) => self.answer_sends(request, result).await,
            Event::Frame(msg) => self.handle_frame(msg).await,
        }
    }

    /// The relay closes the socket. Ack frames the device sent before it learns of the close
    /// (already received, not yet read) are still written: reads what can be read without
    /// waiting (as much as the backlog holds).
    fn close(&mut self) -> ControlFlow<()> {
        while self.next_acks.len() < MAX_ACK_BACKLOG
            && let Some(Some(Ok(msg))) = self.stream.next().now_or_never()
        {
            match msg {
                Message::Text(t) => {
                    // Sends not yet read are not answered: nothing of them is stored, and the
                    // device sends them again.
                    if let Some(Incoming::Ack(ids)) = parse_frame(t.as_str()) {
                        self.next_acks.extend(ids);
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        self.closing = Some(self.conn.close_reason());
        Break(())
    }

    /// Answers every send whose commit is done, then writes them all at once.
    async fn answer_sends(
        &mut self,
        request: u64,
        result: ApiResult<SendResponse>,
    ) -> ControlFlow<()> {
        let mut answered = vec![answer(request, result)];
        while let Some(Some((request, result))) = self.sends.next().now_or_never() {
            answered.push(answer(request, result));
        }
        for msg in answered.into_iter().flatten() {
            if self.sink.feed(msg).await.is_err() {
                return Break(());
            }
        }
        if self.sink.flush().await.is_err() {
            return Break(());
        }
        Continue(())
    }

    /// Handles what the device sent.
    async fn handle_frame(&mut self, msg: Option<Result<Message, axum::Error>>) -> ControlFlow<()> {
        match msg {
            Some(Ok(Message::Text(t))) => match parse_frame(t.as_str()) {
                // Written at the start of a turn; the ids leave `inflight` when that write has
                // committed, while this socket goes on pushing.
                Some(Incoming::Ack(ids)) => {
                    self.next_acks.extend(ids);
                    Continue(())
                }
                Some(Incoming::Send {
                    request,
                    recipients,
                }) => self.send(request, recipients).await,
                None => {
                    let reason = "malformed frame".to_owned();
                    if let Some(msg) = text(&ServerFrame::Closing { reason }) {
                        let _ = self.sink.send(msg).await;
                    }
                    Break(())
                }
            },
            Some(Ok(Message::Close(_)) | Err(_)) | None => Break(()),
            Some(Ok(_)) => Continue(()),
        }
    }

    /// Checks a send and queues it for the group commit (waiting inline for room in the
    /// writer's queue); a send refused before it was queued is answered at once.
    async fn send(
        &mut self,
        request: u64,
        recipients: ApiResult<Vec<RecipientEnvelopes>>,
    ) -> ControlFlow<()> {
        let queued = match recipients {
            Ok(recipients) => queue_send(&self.state, &self.dev, recipients).await,
            Err(e) => Err(e),
        };
        match queued {
            Ok(committed) => self
                .sends
                .push(async move { (request, committed.await) }.boxed()),
            Err(e) => {
                if let Some(msg) = answer(request, Err(e))
                    && self.sink.send(msg).await.is_err()
                {
                    return Break(());
                }
            }
        }
        Continue(())
    }

    /// Ends the socket: writes the acks already received even though the socket closed, lets
    /// a newer socket of the device go on, answers the sends queued (they commit whether or
    /// not anyone waits for them) and only then tells the device the socket is closed.
    pub(super) async fn drain(mut self) {
        if !self.next_acks.is_empty() {
            let ids = std::mem::take(&mut self.next_acks);
            if let Ok(commit) = queue_acks(&self.state, self.dev.pk, &self.inflight, ids).await {
                self.acks.push(commit.boxed());
            }
        }
        while let Some(done) = self.acks.next().await {
            if let Ok(ids) = done {
                metrics::ACKS.fetch_add(ids.len() as u64, Ordering::Relaxed);
            }
        }
        self.state.hub.unregister(self.dev.pk, &self.conn);
        self.conn.finished.cancel();
        // Queued sends commit whether or not anyone waits for them; answer them if the peer
        // is still there.
        let mut answered = Vec::new();
        while let Some((request, result)) = self.sends.next().await {
            answered.extend(answer(request, result));
        }
        // Only now tell the device the socket is closed (its own close is answered here too):
        // what it acked before is written. Bounded, in case the peer is gone.
        let Self {
            mut sink, closing, ..
        } = self;
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
}

/// Queues acked ids for the group-commit writer (waiting here for room in its queue) and
/// returns the wait for their commit, which yields them. Ids this socket pushed are known to
/// be the device's; others are deleted only where they are. The wait holds nothing the socket
/// shares with others: it sits in `acks`, polled only between frames.
async fn queue_acks(
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
    let accepted = messages::accept_multi(
        state,
        dev,
        MultiSendRequest {
            recipients,
            ttl_secs: None,
        },
    )
    .await?;
    messages::submit(state, dev, accepted).await
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
