//! Group commit for the message path.
//!
//! Every envelope insert and every ack goes through one task that takes whatever requests
//! are waiting (up to [`MAX_BATCH_ROWS`]) and writes them in one transaction with multi-row
//! statements, then answers each request. The whole transaction goes to the database as one
//! request (see `write_batch`): on SQLite each request is a hand-off to the connection's
//! thread, on PostgreSQL a round trip, and on a busy machine each costs a thread wake-up of up
//! to a few milliseconds, during which the writer, committing one batch at a time, waits. A
//! send request is answered only after its transaction committed, so an acknowledged envelope
//! survives a crash.
//!
//! The task keeps its database connection from one commit to the next while requests keep
//! coming (at most `HOLD`, then other writers get their turn): sqlx tests a connection
//! returned to its pool with a round trip to the database (on SQLite a hand-off to the
//! connection's thread) in a task of its own, and the writer waited for that, about a
//! millisecond on a busy relay, before every commit.
//!
//! After the commit the task updates the cached queue lengths ([`crate::directory`]) and hands
//! the new envelopes (with the ids the database gave them) to the recipients' sockets on this
//! node, which push them without reading them back. On PostgreSQL the transaction also sends a
//! `NOTIFY` (delivered on commit) that wakes the sockets held by other relay nodes.
//!
//! How a batch is written is the databases' own: `writer/sqlite.rs` sends a script (small
//! ones padded so that the connection keeps them prepared), `writer/postgres.rs` one
//! statement of fixed text over arrays; both tag what they return with the numbers `tag`
//! names, and `written` reads them back for both.

mod postgres;
mod sqlite;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use parley_proto::ws::Envelope;
use parley_proto::{B64, DeviceId, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::db::{Db, NewEnvelope};
use crate::directory::Directory;
use crate::hub::Hub;
use crate::metrics;

/// Most rows (inserted plus deleted) written in one transaction.
pub const MAX_BATCH_ROWS: usize = 4_000;
/// A group commit taking longer is logged.
const SLOW_COMMIT: std::time::Duration = std::time::Duration::from_millis(100);
/// Queue of waiting requests.
const QUEUE: usize = 4_096;
/// Longest the writer keeps its connection while requests keep coming. On SQLite it is the
/// only write connection, which other writes (enrolment, prekeys) wait for meanwhile.
const HOLD: std::time::Duration = std::time::Duration::from_millis(20);

/// One write request.
#[derive(Debug)]
pub enum WriteOp {
    /// Store envelopes.
    Insert(Vec<NewEnvelope>),
    /// Delete acked envelopes of one device.
    Ack {
        /// The device whose queue it is (a device can only delete its own envelopes).
        device_pk: i64,
        /// Ids the device's socket pushed, hence known to be the device's: deleted by id alone
        /// (one `id IN (…)` for the whole batch, rather than a term per device).
        pushed: Vec<i64>,
        /// Other ids the device named: deleted only where they are the device's.
        other: Vec<i64>,
    },
}

impl WriteOp {
    fn rows(&self) -> usize {
        match self {
            Self::Insert(v) => v.len(),
            Self::Ack { pushed, other, .. } => pushed.len() + other.len(),
        }
    }
}

type Reply = oneshot::Sender<Result<(), String>>;

/// Handle to the writer task.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<(WriteOp, Reply)>,
}

impl Writer {
    /// Starts the writer task. It ends when every `Writer` handle is dropped or `stop` is
    /// cancelled, after writing what was queued.
    ///
    /// On PostgreSQL, each time the acks it committed have deleted `vacuum_rows` envelopes
    /// (unless 0) it starts a `VACUUM` of the queue table, on the shared pool, one at a time.
    pub fn start(
        db: Db,
        hub: Hub,
        directory: Arc<Directory>,
        vacuum_rows: u64,
        stop: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let vacuum = Vacuum {
            every: vacuum_rows,
            deleted: 0,
            running: Arc::default(),
        };
        let task = tokio::spawn(run(db, hub, directory, vacuum, rx, stop));
        (Self { tx }, task)
    }

    /// Writes `op` and waits for its commit.
    pub async fn write(&self, op: WriteOp) -> anyhow::Result<()> {
        self.submit(op).await?.await
    }

    /// Queues `op` (waiting only for room in the queue) and returns the wait for its commit.
    /// Operations commit in the order they were queued: in the same transaction, or in an
    /// earlier one.
    pub async fn submit(
        &self,
        op: WriteOp,
    ) -> anyhow::Result<impl Future<Output = anyhow::Result<()>> + use<>> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((op, reply))
            .await
            .map_err(|_| anyhow::anyhow!("writer stopped"))?;
        Ok(async move {
            done.await
                .map_err(|_| anyhow::anyhow!("writer stopped"))?
                .map_err(|e| anyhow::anyhow!(e))
        })
    }
}

async fn run(
    shared: Db,
    hub: Hub,
    directory: Arc<Directory>,
    mut vacuum: Vacuum,
    mut rx: mpsc::Receiver<(WriteOp, Reply)>,
    stop: CancellationToken,
) {
    let db = own_connection(shared.clone());
    let mut batch: Vec<(WriteOp, Reply)> = Vec::new();
    // The connection kept since the given time.
    let mut held: Option<(Conn, std::time::Instant)> = None;
    loop {
        if held
            .as_ref()
            .is_some_and(|(_, since)| rx.is_empty() || since.elapsed() >= HOLD)
        {
            held = None;
        }
        let first = tokio::select! {
            biased;
            op = rx.recv() => op,
            () = stop.cancelled() => {
                // Refuse new work, then write what is already queued.
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut rows = first.0.rows();
        batch.push(first);
        while rows < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok(op) => {
                    rows += op.0.rows();
                    batch.push(op);
                }
                Err(_) => break,
            }
        }
        let ops: Vec<&WriteOp> = batch.iter().map(|(op, _)| op).collect();
        let started = std::time::Instant::now();
        let conn = match held.take() {
            Some(held) => Ok(held),
            None => Conn::acquire(&db)
                .await
                .map(|c| (c, std::time::Instant::now())),
        };
        let result = match conn {
            Ok((mut conn, since)) => {
                let result = write_batch(&mut conn, hub.node(), &ops).await;
                // A connection whose write failed goes back to the pool, which tests it.
                if result.is_ok() {
                    held = Some((conn, since));
                }
                result
            }
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        if took >= SLOW_COMMIT {
            tracing::warn!(ms = took.as_millis() as u64, rows, "slow group commit");
        }
        metrics::COMMITS.fetch_add(1, Ordering::Relaxed);
        metrics::COMMIT_ROWS.fetch_add(rows as u64, Ordering::Relaxed);
        metrics::COMMIT_MICROS.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let result = match result {
            Ok(Written { ids, acks_deleted }) => {
                vacuum.deleted(&shared, acks_deleted);
                count_queues(&directory, &batch, acks_deleted);
                hand_over(&hub, &mut batch, ids);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "group commit failed");
                Err(format!("{e:#}"))
            }
        };
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(result.clone());
        }
    }
}

/// The writer's database: on PostgreSQL a pool of one connection of its own, so that it never
/// waits for a connection behind the sockets' reads (when many sockets read their queues at
/// once, they could hold every connection of the shared pool while the commits that would let
/// them catch up wait). SQLite already has its single write connection.
fn own_connection(db: Db) -> Db {
    match db {
        Db::Postgres(shared) => Db::Postgres(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*shared.connect_options()).clone()),
        ),
        sqlite @ Db::Sqlite { .. } => sqlite,
    }
}

/// The writer's connection.
enum Conn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Conn {
    async fn acquire(db: &Db) -> anyhow::Result<Self> {
        Ok(match db {
            Db::Sqlite { write, .. } => {
                Self::Sqlite(write.acquire().await.context("write connection")?)
            }
            Db::Postgres(pool) => Self::Postgres(pool.acquire().await.context("write connection")?),
        })
    }
}

/// Keeps the PostgreSQL queue table from growing without bound: every envelope is inserted
/// and deleted, and only `VACUUM` makes the space of deleted rows reusable. Autovacuum may be
/// off (as on the machine the benchmarks ran on), and at its defaults it looks at a table
/// once a minute, by when a busy relay has left millions of dead rows: the table and its
/// indexes grow, each insert dirties a new page, and commits stall behind their writeback
/// (docs/benchmarks.md, part 4). A `VACUUM` of a table kept small is cheap, and it blocks
/// neither inserts nor deletes (without `TRUNCATE false` its last step would: it takes an
/// exclusive lock to cut empty pages off the end of the table).
struct Vacuum {
    /// Deleted rows between two runs (0: never run).
    every: u64,
    /// Deleted since the last run started.
    deleted: u64,
    /// A run is in progress.
    running: Arc<std::sync::atomic::AtomicBool>,
}

impl Vacuum {
    /// Counts rows the writer deleted and starts a run when due.
    fn deleted(&mut self, db: &Db, rows: u64) {
        let Db::Postgres(pool) = db else { return };
        self.deleted = self.deleted.saturating_add(rows);
        if self.every == 0 || self.deleted < self.every || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.deleted = 0;
        let running = self.running.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            // SKIP_LOCKED: another node's run (or an autovacuum) already has it.
            match sqlx::raw_sql("VACUUM (SKIP_LOCKED, TRUNCATE false) envelopes")
                .execute(&pool)
                .await
            {
                Ok(_) => {
                    metrics::VACUUMS.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(ms = started.elapsed().as_millis() as u64, "queue vacuumed");
                }
                Err(e) => tracing::warn!(error = %e, "VACUUM of the queue failed"),
            }
            running.store(false, Ordering::Release);
        });
    }
}

/// Updates the cached queue lengths after a commit.
fn count_queues(directory: &Directory, batch: &[(WriteOp, Reply)], acks_deleted: u64) {
    let mut inserted: BTreeMap<i64, u64> = BTreeMap::new();
    let mut acked: BTreeMap<i64, u64> = BTreeMap::new();
    let mut named = 0u64;
    for (op, _) in batch {
        match op {
            WriteOp::Insert(rows) => {
                for e in rows {
                    *inserted.entry(e.device_pk).or_default() += 1;
                }
            }
            WriteOp::Ack {
                device_pk,
                pushed,
                other,
            } => {
                let distinct = pushed.iter().chain(other).collect::<BTreeSet<_>>().len() as u64;
                *acked.entry(*device_pk).or_default() += distinct;
                named += distinct;
            }
        }
    }
    directory.committed(&inserted, &acked, named == acks_deleted);
}

/// Hands the envelopes of a committed batch (with their ids, in insert order) to the
/// recipients' sockets on this node.
fn hand_over(hub: &Hub, batch: &mut [(WriteOp, Reply)], ids: Vec<i64>) {
    let mut by_device: BTreeMap<i64, Vec<Envelope>> = BTreeMap::new();
    let mut ids = ids.into_iter();
    for (op, _) in batch.iter_mut() {
        let WriteOp::Insert(rows) = op else { continue };
        for (e, id) in std::mem::take(rows).into_iter().zip(&mut ids) {
            let env = (|| {
                Some(Envelope {
                    id,
                    source_user: UserId::new(e.source_user).ok()?,
                    source_device: DeviceId::try_from(e.source_device).ok()?,
                    server_timestamp: u64::try_from(e.server_ts).ok()?,
                    body: B64(e.body),
                })
            })();
            match env {
                Some(env) => by_device.entry(e.device_pk).or_default().push(env),
                // Not expected (the row was built from checked values): the socket reads
                // the database instead.
                None => hub.wake(e.device_pk),
            }
        }
    }
    for (pk, envelopes) in by_device {
        hub.deliver(pk, envelopes);
    }
}

/// The acks of a batch.
struct Acks<'a> {
    /// Ids pushed by the acking device's socket, of every device.
    pushed: Vec<i64>,
    /// Other ids, by device.
    other: Vec<(i64, &'a Vec<i64>)>,
}

impl Acks<'_> {
    fn is_empty(&self) -> bool {
        self.pushed.is_empty() && self.other.is_empty()
    }
}

/// What a committed batch wrote.
struct Written {
    /// Ids of the inserted envelopes, in order.
    ids: Vec<i64>,
    /// Rows the acks deleted.
    acks_deleted: u64,
}

/// The tags of a group commit's result rows, `(tag, value)`: each statement selects what it
/// did under one of these numbers (the SQLite script from [`sqlite`]'s builder, PostgreSQL's
/// from [`postgres::GROUP_COMMIT`], whose text a test checks against them).
mod tag {
    /// PostgreSQL: the id of an inserted envelope (one row each).
    pub(super) const INSERTED_ID: i64 = 0;
    /// PostgreSQL: the rows the acks deleted.
    pub(super) const DELETED: i64 = 1;
    /// PostgreSQL: the `NOTIFY`s sent (not used).
    pub(super) const NOTIFIED: i64 = 2;
    /// SQLite: the first id of the inserted envelopes (their ids are consecutive).
    pub(super) const FIRST_ID: i64 = 3;
    /// SQLite: the last id of the inserted envelopes.
    pub(super) const LAST_ID: i64 = 4;
    /// SQLite: the connection's count of changed rows before the deletes.
    pub(super) const CHANGES_BEFORE: i64 = 5;
    /// SQLite: the same count after the deletes.
    pub(super) const CHANGES_AFTER: i64 = 6;
}

/// Reads the result rows of a batch ([`tag`]): an id per inserted envelope, or the first and
/// last of a consecutive range of them; the rows the acks deleted, or the connection's count
/// of changed rows before and after the deletes.
fn written(rows: Vec<(i64, i64)>, inserted: usize) -> anyhow::Result<Written> {
    let mut ids = Vec::with_capacity(inserted);
    let mut acks_deleted = 0;
    let (mut first, mut last) = (None, None);
    let (mut before, mut after) = (None, None);
    for (tag, value) in rows {
        match tag {
            tag::INSERTED_ID => ids.push(value),
            tag::DELETED => acks_deleted = u64::try_from(value).unwrap_or(0),
            tag::FIRST_ID => first = Some(value),
            tag::LAST_ID => last = Some(value),
            tag::CHANGES_BEFORE => before = Some(value),
            tag::CHANGES_AFTER => after = Some(value),
            // Selected only so that PostgreSQL runs the `NOTIFY`s (a `WITH` clause that is
            // not a data-modifying one runs only if read).
            tag::NOTIFIED => {}
            _ => {}
        }
    }
    if let (Some(before), Some(after)) = (before, after) {
        acks_deleted = u64::try_from(after.saturating_sub(before)).unwrap_or(0);
    }
    if let (Some(first), Some(last)) = (first, last) {
        ids.extend(first..=last);
    }
    if ids.len() != inserted {
        anyhow::bail!("insert envelopes: wrong number of ids");
    }
    // Ids are assigned in VALUES order within a statement and statements run in order
    // (AUTOINCREMENT; a sequence); RETURNING's own row order is not promised, so sort.
    ids.sort_unstable();
    Ok(Written { ids, acks_deleted })
}

/// Writes one batch in one transaction, sent to the database as one request: on SQLite one
/// script (`BEGIN; INSERT …; DELETE …; COMMIT`, with `SELECT`s of what they did) run by the
/// connection's thread in one hand-off; on PostgreSQL one statement (data-modifying `WITH`
/// clauses, its own transaction) in one round trip. Sent statement by statement, each would
/// wait for a thread wake-up or a round trip, and the writer, which commits one batch at a
/// time, spent most of its time waiting.
async fn write_batch(conn: &mut Conn, node: u64, ops: &[&WriteOp]) -> anyhow::Result<Written> {
    let inserts: Vec<&NewEnvelope> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Insert(v) => Some(v.iter()),
            WriteOp::Ack { .. } => None,
        })
        .flatten()
        .collect();
    let mut acks = Acks {
        pushed: Vec::new(),
        other: Vec::new(),
    };
    for op in ops {
        if let WriteOp::Ack {
            device_pk,
            pushed,
            other,
        } = op
        {
            acks.pushed.extend(pushed);
            if !other.is_empty() {
                acks.other.push((*device_pk, other));
            }
        }
    }
    if inserts.is_empty() && acks.is_empty() {
        return Ok(Written {
            ids: Vec::new(),
            acks_deleted: 0,
        });
    }
    match conn {
        Conn::Sqlite(conn) => sqlite::commit(conn, &inserts, &acks).await,
        Conn::Postgres(conn) => postgres::commit(conn, node, &inserts, &acks).await,
    }
}
