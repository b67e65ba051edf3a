//! Group commit for the message path.
//!
//! Every envelope insert and every ack goes through one task that takes whatever requests
//! are waiting (up to [`MAX_BATCH_ROWS`]) and writes them in one transaction with multi-row
//! statements, then answers each request. On SQLite a statement costs ~130 µs of thread
//! hand-off and a commit an fsync, so one transaction per envelope would cap the relay near
//! 5,000 envelopes/s; batching amortises both. A send request is answered only after its
//! transaction committed, so an acknowledged envelope survives a crash.
//!
//! After the commit the task wakes the recipients' sockets on this node, and on PostgreSQL
//! it also sends a `NOTIFY` (inside the transaction, so it is delivered on commit) that wakes
//! the sockets held by other relay nodes.

use std::collections::BTreeSet;

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::db::{Db, NewEnvelope, insert_envelopes};
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
    pub fn start(db: Db, hub: Hub, stop: CancellationToken) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(db, hub, rx, stop));
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

async fn run(db: Db, hub: Hub, mut rx: mpsc::Receiver<(WriteOp, Reply)>, stop: CancellationToken) {
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
        let result = write_batch(&db, &ops).await;
        match &result {
            Ok(woken) => {
                for pk in woken {
                    hub.wake(*pk);
                }
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"), "group commit failed"),
        }
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(result.as_ref().map(|_| ()).map_err(|e| format!("{e:#}")));
        }
    }
}

/// Deletes one device's acked envelopes inside the transaction `$tx` of database type `$db`.
macro_rules! delete_acked {
    ($db:ty, $tx:expr, $device_pk:expr, $ids:expr) => {
        if !$ids.is_empty() {
            let mut qb = sqlx::QueryBuilder::<$db>::new("DELETE FROM envelopes WHERE device_pk = ");
            qb.push_bind($device_pk).push(" AND id IN (");
            let mut sep = qb.separated(", ");
            for id in $ids {
                sep.push_bind(*id);
            }
            qb.push(")");
            qb.build()
                .execute(&mut *$tx)
                .await
                .context("delete acked envelopes")?;
        }
    };
}

/// Writes one batch in one transaction; returns the devices that got new envelopes.
async fn write_batch(db: &Db, ops: &[&WriteOp]) -> anyhow::Result<BTreeSet<i64>> {
    let inserts: Vec<&NewEnvelope> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Insert(v) => Some(v.iter()),
            WriteOp::Ack { .. } => None,
        })
        .flatten()
        .collect();
    let woken: BTreeSet<i64> = inserts.iter().map(|e| e.device_pk).collect();
    let acks = ops.iter().filter_map(|op| match op {
        WriteOp::Ack { device_pk, ids } => Some((*device_pk, ids)),
        WriteOp::Insert(_) => None,
    });
    match db {
        Db::Sqlite { write, .. } => {
            let mut tx = write.begin().await.context("begin")?;
            insert_envelopes!(sqlx::Sqlite, tx, &inserts)?;
            for (device_pk, ids) in acks {
                delete_acked!(sqlx::Sqlite, tx, device_pk, ids);
            }
            tx.commit().await.context("commit")?;
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.context("begin")?;
            insert_envelopes!(sqlx::Postgres, tx, &inserts)?;
            for (device_pk, ids) in acks {
                delete_acked!(sqlx::Postgres, tx, device_pk, ids);
            }
            for payload in notify_payloads(&woken) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(WAKE_CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await
                    .context("notify")?;
            }
            tx.commit().await.context("commit")?;
        }
    }
    Ok(woken)
}

/// NOTIFY payloads (at most 8000 bytes each): comma-separated device row ids.
fn notify_payloads(devices: &BTreeSet<i64>) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for pk in devices {
        if cur.len() > 7_900 {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(',');
        }
        cur.push_str(&pk.to_string());
    }
    if !cur.is_empty() {
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
        let payloads = notify_payloads(&devices);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8_000));
        let back: BTreeSet<i64> = payloads
            .iter()
            .flat_map(|p| p.split(','))
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(back, devices);
    }
}
