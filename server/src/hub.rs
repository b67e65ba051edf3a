//! Which devices have a delivery socket open on this node, and waking them.
//!
//! A socket registers its device here. [`Hub::deliver`] hands it envelopes this node's writer
//! has just committed (its [`Mailbox`]) and wakes it; [`Hub::wake`] and [`Hub::wake_remote`]
//! only tell it that new envelopes may be queued (the socket then reads its queue from the
//! database, so such a wake carries no data and any number of wakes coalesce into one).
//! [`Hub::close_device`] closes a device's socket at once (revocation). With PostgreSQL,
//! [`listen`] turns `NOTIFY`s from other relay nodes into local wakes and device-cache
//! invalidations.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use parley_proto::UserId;
use parley_proto::ids::parse_device_login;
use parley_proto::ws::Envelope;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::directory::DEVICES_CHANNEL;
use crate::orglog::{LOG_CHANNEL, REVOKED_CHANNEL, revoked_here};

/// PostgreSQL channel on which relay nodes announce new envelopes (payload: device row ids).
pub const WAKE_CHANNEL: &str = "parley_wake";
/// Most envelopes waiting in a socket's mailbox; beyond this the socket reads the database.
pub const MAILBOX: usize = 512;

/// Envelopes this node's writer hands to a socket after their commit, so that a socket that
/// has caught up with its queue pushes them without reading them back.
#[derive(Debug, Default)]
pub struct Mailbox {
    /// In commit (= id) order.
    pub envelopes: Vec<Envelope>,
    /// Envelopes were dropped because the mailbox was full.
    pub overflow: bool,
}

/// One open socket's signals.
#[derive(Debug, Default)]
pub struct Connection {
    id: u64,
    /// Notified when envelopes may be waiting.
    pub wake: Notify,
    /// Set (before `wake`) when envelopes may have been committed with ids below those
    /// already pushed: by another relay node, or while wakes may have been missed. The
    /// socket then reads its queue from the start instead of after the last pushed id.
    pub rescan: AtomicBool,
    /// Envelopes handed over by this node's writer.
    pub mailbox: Mutex<Mailbox>,
    /// Cancelled when the socket must close; the reason is in `reason`.
    pub close: CancellationToken,
    /// Why it was closed.
    pub reason: Mutex<Option<&'static str>>,
    /// Cancelled when the socket has ended and the acks it received have been written (or
    /// their write failed): a newer socket of the same device waits for it before reading
    /// the queue, so that it does not push again what the older one was told was received.
    pub finished: CancellationToken,
}

impl Connection {
    fn close_with(&self, reason: &'static str) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert(reason);
        }
        self.close.cancel();
    }

    /// Takes what is in the mailbox.
    pub fn take_mail(&self) -> Mailbox {
        self.mailbox
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or(Mailbox {
                envelopes: Vec::new(),
                overflow: true,
            })
    }

    /// Takes the `rescan` flag.
    pub fn take_rescan(&self) -> bool {
        self.rescan.swap(false, Ordering::AcqRel)
    }

    /// Why the socket was closed.
    pub fn close_reason(&self) -> &'static str {
        self.reason.lock().ok().and_then(|r| *r).unwrap_or("closed")
    }
}

/// The registry of open sockets on this node.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Mutex<HashMap<i64, Arc<Connection>>>>,
    next_id: Arc<AtomicU64>,
    node: u64,
    /// The org log's length as this node last heard it (sockets announce it).
    log_len: Arc<AtomicU64>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            next_id: Arc::default(),
            node: crate::random_bytes::<8>().map_or(0, u64::from_le_bytes),
            log_len: Arc::default(),
        }
    }
}

impl Hub {
    /// A random id of this relay node (tags its `NOTIFY`s, so that it ignores its own).
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Registers a socket for `device_pk`. An older socket of the same device is closed and
    /// returned (see [`Connection::finished`]).
    pub fn register(&self, device_pk: i64) -> (Arc<Connection>, Option<Arc<Connection>>) {
        let conn = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            ..Connection::default()
        });
        let old = self
            .inner
            .lock()
            .ok()
            .and_then(|mut m| m.insert(device_pk, conn.clone()));
        if let Some(old) = &old {
            old.close_with(parley_proto::ws::CLOSING_REPLACED);
        }
        (conn, old)
    }

    /// Removes the socket, unless a newer one replaced it.
    pub fn unregister(&self, device_pk: i64, conn: &Connection) {
        if let Ok(mut m) = self.inner.lock()
            && m.get(&device_pk).is_some_and(|c| c.id == conn.id)
        {
            m.remove(&device_pk);
        }
    }

    /// Wakes the device's socket on this node, if it has one, after this node's writer
    /// committed envelopes for it. This node commits its envelopes in id order, so the
    /// socket reads only after the last id it pushed.
    pub fn wake(&self, device_pk: i64) {
        self.wake_with(device_pk, false);
    }

    /// Hands envelopes just committed by this node's writer to the device's socket (and
    /// wakes it), if it has one on this node.
    pub fn deliver(&self, device_pk: i64, envelopes: Vec<Envelope>) {
        let conn = self
            .inner
            .lock()
            .ok()
            .and_then(|m| m.get(&device_pk).cloned());
        if let Some(conn) = conn {
            if let Ok(mut m) = conn.mailbox.lock() {
                if m.overflow || m.envelopes.len() + envelopes.len() > MAILBOX {
                    m.overflow = true;
                    m.envelopes.clear();
                } else {
                    m.envelopes.extend(envelopes);
                }
            }
            conn.wake.notify_one();
        }
    }

    /// Wakes the device's socket for envelopes committed by another node, whose ids may be
    /// below those already pushed: the socket reads its whole queue again.
    pub fn wake_remote(&self, device_pk: i64) {
        self.wake_with(device_pk, true);
    }

    fn wake_with(&self, device_pk: i64, rescan: bool) {
        let conn = self
            .inner
            .lock()
            .ok()
            .and_then(|m| m.get(&device_pk).cloned());
        if let Some(conn) = conn {
            if rescan {
                conn.rescan.store(true, Ordering::Release);
            }
            conn.wake.notify_one();
        }
    }

    /// Wakes every socket (after a lost `LISTEN` connection, when wakes may have been missed).
    pub fn wake_all(&self) {
        let conns: Vec<_> = self
            .inner
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for conn in conns {
            conn.rescan.store(true, Ordering::Release);
            conn.wake.notify_one();
        }
    }

    /// Closes the device's socket on this node.
    pub fn close_device(&self, device_pk: i64, reason: &'static str) {
        let conn = self
            .inner
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&device_pk));
        if let Some(conn) = conn {
            conn.close_with(reason);
        }
    }

    /// The org log grew to `len` entries: wakes every socket, which announces it to its device
    /// ([`parley_proto::ws::ServerFrame::LogAdvanced`]).
    pub fn log_advanced(&self, len: u64) {
        if self.log_len.fetch_max(len, Ordering::AcqRel) >= len {
            return;
        }
        let conns: Vec<_> = self
            .inner
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for conn in conns {
            conn.wake.notify_one();
        }
    }

    /// The org log's length as this node knows it.
    pub fn log_len(&self) -> u64 {
        self.log_len.load(Ordering::Acquire)
    }

    /// Closes every socket (shutdown).
    pub fn close_all(&self, reason: &'static str) {
        let conns: Vec<_> = self
            .inner
            .lock()
            .map(|mut m| m.drain().map(|(_, c)| c).collect())
            .unwrap_or_default();
        for conn in conns {
            conn.close_with(reason);
        }
    }

    /// Open sockets on this node.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when no socket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Listens on PostgreSQL until shutdown for other nodes' wakes ([`WAKE_CHANNEL`]), device
/// changes ([`DEVICES_CHANNEL`]), revocations ([`REVOKED_CHANNEL`]) and log growth
/// ([`LOG_CHANNEL`]). The device cache is used only while listening; after a lost
/// connection every socket reads its queue again and every cached credential is dropped.
pub async fn listen(pool: sqlx::PgPool, state: AppState) {
    let (hub, directory, stop) = (&state.hub, &state.directory, &state.shutdown);
    loop {
        directory.set_enabled(false);
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                }
            }
        };
        let channels = [WAKE_CHANNEL, DEVICES_CHANNEL, REVOKED_CHANNEL, LOG_CHANNEL];
        if let Err(e) = listener.listen_all(channels).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
            }
        }
        // Anything sent while we were not listening is found by a fresh read of each queue,
        // of each user's devices and of each device's credentials.
        directory.set_enabled(true);
        state.auth_cache.clear();
        hub.wake_all();
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                n = listener.try_recv() => n,
            };
            let n = match next {
                Ok(Some(n)) => n,
                // The connection dropped (notifications sent meanwhile are lost): connect
                // again from scratch, with the device cache off until listening again.
                Ok(None) => {
                    tracing::warn!("LISTEN connection lost; reconnecting");
                    hub.wake_all();
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                    hub.wake_all();
                    break;
                }
            };
            match n.channel() {
                DEVICES_CHANNEL => match UserId::new(n.payload()) {
                    Ok(user) => directory.devices_changed(&user),
                    Err(_) => directory.clear(),
                },
                REVOKED_CHANNEL => {
                    let parsed = n.payload().split_once(' ').and_then(|(pk, login)| {
                        Some((pk.parse::<i64>().ok()?, parse_device_login(login)?))
                    });
                    match parsed {
                        Some((pk, (user, device))) => revoked_here(&state, pk, &user, device),
                        None => state.auth_cache.clear(),
                    }
                }
                LOG_CHANNEL => {
                    if let Ok(len) = n.payload().parse::<u64>() {
                        hub.log_advanced(len);
                    }
                }
                _ => {
                    let (node, pks) = parse_payload(n.payload());
                    // This node's writer has already woken its sockets.
                    if node != Some(hub.node()) {
                        for pk in pks {
                            hub.wake_remote(pk);
                        }
                    }
                }
            }
        }
    }
}

/// Splits a wake payload `<node>:<pk>,<pk>,…` (the node part may be absent).
pub fn parse_payload(payload: &str) -> (Option<u64>, impl Iterator<Item = i64> + '_) {
    let (node, pks) = match payload.split_once(':') {
        Some((node, pks)) => (u64::from_str_radix(node, 16).ok(), pks),
        None => (None, payload),
    };
    (node, pks.split(',').filter_map(|s| s.parse::<i64>().ok()))
}
