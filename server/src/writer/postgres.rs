//! The PostgreSQL form of a group commit: one statement whose text never changes, its rows
//! as arrays, and the `NOTIFY`s that wake the other nodes.

use std::collections::BTreeSet;

use anyhow::Context as _;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use super::{Acks, Written, written};
use crate::db::NewEnvelope;
use crate::hub::WAKE_CHANNEL;

/// A group commit on PostgreSQL: one statement (its own transaction, one round trip) with
/// data-modifying `WITH` clauses. The inserted rows come from arrays in order (`WITH
/// ORDINALITY … ORDER BY`), so the sequence gives them ids in that order; acked ids the
/// device's socket pushed are deleted by id, others only with their device; the wake
/// `NOTIFY`s reach the other nodes when the statement commits. A row named by both deletes
/// is deleted once (and counted once or twice: the queue-length cache then forgets). The result
/// rows are tagged as [`super::tag`] says (checked by a test).
pub(super) const GROUP_COMMIT: &str = "
WITH i AS (
    INSERT INTO envelopes (device_pk, source_user, source_device, server_ts, expires_at, body)
    SELECT d, u, s, t, x, b
    FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::bytea[])
         WITH ORDINALITY AS r(d, u, s, t, x, b, n)
    ORDER BY n
    RETURNING id),
p AS (DELETE FROM envelopes WHERE id = ANY($7::int8[]) RETURNING 1),
o AS (
    DELETE FROM envelopes e USING UNNEST($8::int8[], $9::int8[]) AS a(d, id)
    WHERE e.device_pk = a.d AND e.id = a.id
    RETURNING 1),
n AS (SELECT pg_notify($10, w) FROM UNNEST($11::text[]) AS w)
SELECT 0::int8, id FROM i
UNION ALL SELECT 1::int8, (SELECT count(*) FROM p) + (SELECT count(*) FROM o)
UNION ALL SELECT 2::int8, (SELECT count(*) FROM n)";

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

/// Writes a batch as one statement, in one round trip.
pub(super) async fn commit(
    conn: &mut PoolConnection<Postgres>,
    node: u64,
    inserts: &[&NewEnvelope],
    acks: &Acks<'_>,
) -> anyhow::Result<Written> {
    let woken: BTreeSet<i64> = inserts.iter().map(|e| e.device_pk).collect();
    let payloads = notify_payloads(node, &woken);
    let (other_devices, other_ids): (Vec<i64>, Vec<i64>) = acks
        .other
        .iter()
        .flat_map(|(pk, ids)| ids.iter().map(|id| (*pk, *id)))
        .unzip();
    // One statement whose text never changes (prepared once per connection): the rows travel
    // as arrays. Nothing is parsed or planned per batch, and there is no limit on parameters.
    let rows = sqlx::query_as::<_, (i64, i64)>(GROUP_COMMIT)
        .bind(inserts.iter().map(|e| e.device_pk).collect::<Vec<_>>())
        .bind(
            inserts
                .iter()
                .map(|e| e.source_user.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(inserts.iter().map(|e| e.source_device).collect::<Vec<_>>())
        .bind(inserts.iter().map(|e| e.server_ts).collect::<Vec<_>>())
        .bind(inserts.iter().map(|e| e.expires_at).collect::<Vec<_>>())
        .bind(
            inserts
                .iter()
                .map(|e| e.body.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(&acks.pushed)
        .bind(other_devices)
        .bind(other_ids)
        .bind(WAKE_CHANNEL)
        .bind(payloads)
        .fetch_all(&mut **conn)
        .await
        .context("group commit")?;
    written(rows, inserts.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::super::tag::{DELETED, INSERTED_ID, NOTIFIED};
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

    /// The statement tags its result rows with the numbers [`super::super::tag`] names.
    #[test]
    fn the_statement_tags_its_rows_as_named() {
        for row in [
            format!("SELECT {INSERTED_ID}::int8, id FROM i\n"),
            format!("UNION ALL SELECT {DELETED}::int8, (SELECT count(*) FROM p)"),
            format!("UNION ALL SELECT {NOTIFIED}::int8, (SELECT count(*) FROM n)"),
        ] {
            assert!(GROUP_COMMIT.contains(&row), "{row}");
        }
    }
}
