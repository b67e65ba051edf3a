//! Group commit for the message path.
//!
//! Every envelope insert and every ack goes through one task that takes whatever requests
//! are waiting (up to [`MAX_BATCH_ROWS`]) and writes them in one transaction with multi-row
//! statements, then answers each request. On SQLite a statement costs ~130 µs of thread
//! hand-off and a commit an fsync, so one transaction per envelope would cap the relay near
//! 5,000 envelopes/s; batching amortises both. A send request is answered only after its
//! transaction committed, so an acknowledged envelope survives a crash.
//!
//! After the commit the task hands the new envelopes (with the ids the database gave them) to
//! the recipients' sockets on this node, which push them without reading them back, and on
//! PostgreSQL
//! it also sends a `NOTIFY` (inside the transaction, so it is delivered on commit) that wakes
//! the sockets held by other relay nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context as _;
use parley_proto::ws::Envelope;
use parley_proto::{B64, DeviceId, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::db::{Db, NewEnvelope, insert_envelopes};
use crate::directory::Directory;
use crate::hub::{Hub, WAKE_CHANNEL};

/// Most rows (inserted plus deleted) written in one transaction.
pub const MAX_BATCH_ROWS: usize = 2_000;
/// Queue of waiting requests.
const QUEUE: usize = 4_096;

/// One write request.
#[derive(Debug)]
pub enum WriteOp {
    /// Store envelopes.
    Insert(Vec<NewEnvelope>),
    /// Delete acked envelopes of one device.
    Ack {
        /// The device whose queue it is (a device can only delete its own envelopes).
        device_pk: i64,
        /// Envelope ids.
        ids: Vec<i64>,
    },
}

impl WriteOp {
    fn rows(&self) -> usize {
        match self {
            Self::Insert(v) => v.len(),
            Self::Ack { ids, .. } => ids.len(),
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
    pub fn start(
        db: Db,
        hub: Hub,
        directory: Arc<Directory>,
        stop: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(db, hub, directory, rx, stop));
        (Self { tx }, task)
    }

    /// Writes `op` and waits for its commit.
    pub async fn write(&self, op: WriteOp) -> anyhow::Result<()> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((op, reply))
            .await
            .map_err(|_| anyhow::anyhow!("writer stopped"))?;
        done.await
            .map_err(|_| anyhow::anyhow!("writer stopped"))?
            .map_err(|e| anyhow::anyhow!(e))
    }
}

async fn run(
    db: Db,
    hub: Hub,
    directory: Arc<Directory>,
    mut rx: mpsc::Receiver<(WriteOp, Reply)>,
    stop: CancellationToken,
) {
    let mut batch: Vec<(WriteOp, Reply)> = Vec::new();
    loop {
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
        let result = write_batch(&db, hub.node(), &ops).await;
        let result = match result {
            Ok(Written { ids, acks_deleted }) => {
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
            WriteOp::Ack { device_pk, ids } => {
                let distinct = ids.iter().collect::<BTreeSet<_>>().len() as u64;
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

/// Deletes the acked envelopes of every ack in the batch with one statement (one round
/// trip on PostgreSQL, one hand-off on SQLite) inside the transaction `$tx` of database type
/// `$db`: `(device_pk = $d AND id IN (…)) OR …`, so a device only ever deletes its own.
macro_rules! delete_acked {
    ($db:ty, $tx:expr, $acks:expr) => {{
        let acks: &[(i64, &Vec<i64>)] = $acks;
        let mut qb = sqlx::QueryBuilder::<$db>::new("DELETE FROM envelopes WHERE ");
        let mut any = false;
        for (device_pk, ids) in acks.iter().filter(|(_, ids)| !ids.is_empty()) {
            if any {
                qb.push(" OR ");
            }
            any = true;
            qb.push("(device_pk = ")
                .push_bind(*device_pk)
                .push(" AND id IN (");
            let mut sep = qb.separated(", ");
            for id in ids.iter() {
                sep.push_bind(*id);
            }
            qb.push("))");
        }
        if any {
            qb.build()
                .execute(&mut *$tx)
                .await
                .context("delete acked envelopes")?
                .rows_affected()
        } else {
            0
        }
    }};
}

/// What a committed batch wrote.
struct Written {
    /// Ids of the inserted envelopes, in order.
    ids: Vec<i64>,
    /// Rows the acks deleted.
    acks_deleted: u64,
}

/// Writes one batch in one transaction.
async fn write_batch(db: &Db, node: u64, ops: &[&WriteOp]) -> anyhow::Result<Written> {
    let inserts: Vec<&NewEnvelope> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Insert(v) => Some(v.iter()),
            WriteOp::Ack { .. } => None,
        })
        .flatten()
        .collect();
    let woken: BTreeSet<i64> = inserts.iter().map(|e| e.device_pk).collect();
    let acks: Vec<(i64, &Vec<i64>)> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Ack { device_pk, ids } => Some((*device_pk, ids)),
            WriteOp::Insert(_) => None,
        })
        .collect();
    match db {
        Db::Sqlite { write, .. } => {
            let mut tx = write.begin().await.context("begin")?;
            let ids = insert_envelopes!(sqlx::Sqlite, tx, &inserts)?;
            let acks_deleted = delete_acked!(sqlx::Sqlite, tx, &acks);
            tx.commit().await.context("commit")?;
            Ok(Written { ids, acks_deleted })
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.context("begin")?;
            let ids = insert_envelopes!(sqlx::Postgres, tx, &inserts)?;
            let acks_deleted = delete_acked!(sqlx::Postgres, tx, &acks);
            for payload in notify_payloads(node, &woken) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(WAKE_CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await
                    .context("notify")?;
            }
            tx.commit().await.context("commit")?;
            Ok(Written { ids, acks_deleted })
        }
    }
}

/// NOTIFY payloads (at most 8000 bytes each): this node's id in hex, `:`, comma-separated
/// device row ids.
fn notify_payloads(node: u64, devices: &BTreeSet<i64>) -> Vec<String> {
    let prefix = format!("{node:x}:");
    let mut out = Vec::new();
    let mut cur = prefix.clone();
    for pk in devices {
        if cur.len() > 7_900 {
            out.push(std::mem::replace(&mut cur, prefix.clone()));
        }
        if cur.len() > prefix.len() {
            cur.push(',');
        }
        cur.push_str(&pk.to_string());
    }
    if cur.len() > prefix.len() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_notify_limit() {
        let devices: BTreeSet<i64> = (1_000_000_000..1_000_003_000).collect();
        let payloads = notify_payloads(0xabc, &devices);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8_000));
        let mut back = BTreeSet::new();
        for p in &payloads {
            let (node, pks) = crate::hub::parse_payload(p);
            assert_eq!(node, Some(0xabc));
            back.extend(pks);
        }
        assert_eq!(back, devices);
    }
}
