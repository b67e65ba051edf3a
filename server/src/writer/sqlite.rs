//! The SQLite form of a group commit: one script, small ones padded so that the write
//! connection keeps them prepared.

use sqlx::pool::PoolConnection;
use sqlx::{QueryBuilder, Sqlite};

use super::tag::{CHANGES_AFTER, CHANGES_BEFORE, FIRST_ID, LAST_ID};
use super::{Acks, Written, written};
use crate::db::NewEnvelope;

/// A small SQLite group commit (at most [`KEPT_INSERTS`] statements of [`KEPT_INSERT_ROWS`]
/// rows and [`KEPT_DELETES`] of [`KEPT_DELETE_IDS`] ids) pads its inserts with rows of `NULL`s
/// that the statement leaves out and its deletes with `NULL`s that match nothing, so that its
/// text depends only on how many statements it has: at most 15 texts, which the write
/// connection keeps prepared. Prepared afresh, parsing and compiling a commit's script was
/// 6 % of the relay's CPU time (4 envelopes per message, docs/benchmarks.md part 8). A larger
/// commit is sent as it is, in statements of [`LARGE_INSERT_ROWS`] rows, and prepared for
/// that commit alone: kept, its many texts would each hold their compiled statements (with
/// every commit's text kept, the relay held 75 MiB more after a load run).
const KEPT_INSERT_ROWS: usize = 64;
/// See [`KEPT_INSERT_ROWS`].
const KEPT_INSERTS: usize = 4;
/// See [`KEPT_INSERT_ROWS`].
const KEPT_DELETE_IDS: usize = 256;
/// See [`KEPT_INSERT_ROWS`].
const KEPT_DELETES: usize = 2;
/// Rows per insert statement of a commit not kept prepared.
const LARGE_INSERT_ROWS: usize = 500;

/// Whether a commit is small enough to be kept prepared (see [`KEPT_INSERT_ROWS`]); deletes
/// by device (after a reconnect: rare) vary with the devices and never are.
fn kept_prepared(inserts: usize, acks: &Acks<'_>) -> bool {
    inserts <= KEPT_INSERT_ROWS * KEPT_INSERTS
        && acks.pushed.len() <= KEPT_DELETE_IDS * KEPT_DELETES
        && acks.other.is_empty()
}

/// Appends to `qb` one `INSERT` of `rows` (no `RETURNING`), padded to `pad_to` rows (if more
/// than `rows`) of `NULL`s that its `WHERE` leaves out. The rows are inserted in the order
/// given (`VALUES` is read in order), so they get consecutive ids.
fn push_insert<'a>(qb: &mut QueryBuilder<'a, Sqlite>, rows: &[&'a NewEnvelope], pad_to: usize) {
    qb.push(
        "INSERT INTO envelopes (device_pk, source_user, source_device, server_ts, expires_at, body) \
         SELECT column1, column2, column3, column4, column5, column6 FROM (",
    );
    let padding = pad_to.saturating_sub(rows.len());
    let rows = rows
        .iter()
        .copied()
        .map(Some)
        .chain(std::iter::repeat_n(None, padding));
    qb.push_values(rows, |mut b, e| match e {
        Some(e) => {
            b.push_bind(e.device_pk)
                .push_bind(e.source_user.as_str())
                .push_bind(e.source_device)
                .push_bind(e.server_ts)
                .push_bind(e.expires_at)
                .push_bind(e.body.as_slice());
        }
        None => {
            for _ in 0..6 {
                b.push_bind(None::<i64>);
            }
        }
    });
    qb.push(") WHERE column1 IS NOT NULL; ");
}

/// Appends to `qb` the deletes of a batch's acks, each a statement of its own, between two
/// readings of `total_changes()` (result rows tagged [`CHANGES_BEFORE`] and
/// [`CHANGES_AFTER`]): the ids the acking sockets pushed by id alone (in statements of `chunk`
/// ids, each padded to `pad_to` ids, if more, with `NULL`s that match nothing), the other ids
/// one statement per device, with the device, so a device only ever deletes its own. (One
/// statement with an `OR` term per device fails beyond SQLite's expression depth limit, 1,000
/// devices; a row-value `IN` would scan the table.)
fn push_deletes(qb: &mut QueryBuilder<'_, Sqlite>, acks: &Acks<'_>, chunk: usize, pad_to: usize) {
    qb.push(format_args!("SELECT {CHANGES_BEFORE}, total_changes(); "));
    for ids in acks.pushed.chunks(chunk.max(1)) {
        qb.push("DELETE FROM envelopes WHERE id IN (");
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        for _ in ids.len()..pad_to {
            sep.push_bind(None::<i64>);
        }
        qb.push("); ");
    }
    for (device_pk, ids) in &acks.other {
        qb.push("DELETE FROM envelopes WHERE device_pk = ")
            .push_bind(*device_pk)
            .push(" AND id IN (");
        let mut sep = qb.separated(", ");
        for id in ids.iter() {
            sep.push_bind(*id);
        }
        qb.push("); ");
    }
    qb.push(format_args!("SELECT {CHANGES_AFTER}, total_changes(); "));
}

/// Writes a batch as one script (`BEGIN; INSERT …; DELETE …; COMMIT`, with `SELECT`s of what
/// they did), which the connection's thread runs in one hand-off. On failure it rolls back.
pub(super) async fn commit(
    conn: &mut PoolConnection<Sqlite>,
    inserts: &[&NewEnvelope],
    acks: &Acks<'_>,
) -> anyhow::Result<Written> {
    // The SQLite driver runs every statement of a query string, binding the `?` parameters in
    // order (sqlx 0.8; launchbadge/sqlx#3108 discusses dropping that, which every test of the
    // message path would notice).
    // No `RETURNING`: its rows would come back one by one over the driver's channel. The rows
    // of one transaction on the only write connection get consecutive ids (AUTOINCREMENT: one
    // more than the largest ever used), so the last id of the first statement and of the last
    // one give them all.
    let kept = kept_prepared(inserts.len(), acks);
    let (rows_per, ids_per) = if kept {
        (KEPT_INSERT_ROWS, KEPT_DELETE_IDS)
    } else {
        (LARGE_INSERT_ROWS, 4 * LARGE_INSERT_ROWS)
    };
    // A kept script pads every statement to its full size.
    let pad = |n: usize| if kept { n } else { 0 };
    let mut qb = QueryBuilder::<Sqlite>::new("BEGIN; ");
    let chunks = inserts.chunks(rows_per).count();
    for (i, chunk) in inserts.chunks(rows_per).enumerate() {
        push_insert(&mut qb, chunk, pad(rows_per));
        if i == 0 {
            let first = i64::try_from(chunk.len()).unwrap_or(i64::MAX) - 1;
            qb.push(format_args!("SELECT {FIRST_ID}, last_insert_rowid() - "))
                .push_bind(first)
                .push("; ");
        }
        if i + 1 == chunks {
            qb.push(format_args!("SELECT {LAST_ID}, last_insert_rowid(); "));
        }
    }
    if !acks.is_empty() {
        push_deletes(&mut qb, acks, ids_per, pad(ids_per));
    }
    qb.push("COMMIT");
    let rows = qb
        .build_query_as::<(i64, i64)>()
        .persistent(kept)
        .fetch_all(&mut **conn)
        .await;
    match rows {
        Ok(rows) => written(rows, inserts.len()),
        Err(e) => {
            // A statement failed, so COMMIT did not run: roll back, or else drop the
            // connection (the pool opens a new one) rather than leave it in a transaction.
            if sqlx::query("ROLLBACK").execute(&mut **conn).await.is_err() {
                conn.close_on_drop();
            }
            Err(anyhow::Error::new(e).context("group commit"))
        }
    }
}
