//! The `outbox` table: items selected by their next attempt.

use error::StoreResult;
use records::{OutboxId, OutboxItem};

use super::super::*;

impl StoreTx<'_> {
    /// Stores (or replaces, e.g. after a failed attempt) an outbox item.
    pub async fn put_outbox(&mut self, item: &OutboxItem) -> StoreResult<()> {
        let routing = OutboxItem::routing(item.next_attempt);
        let sealed = self
            .store
            .sealer
            .seal(T_OUTBOX, &item.id.0, &routing, &item.encode());
        sqlx::query(
            "INSERT INTO outbox (id, next_attempt, record) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET next_attempt = excluded.next_attempt, \
             record = excluded.record",
        )
        .bind(&item.id.0[..])
        .bind(to_i64(item.next_attempt)?)
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    fn open_outbox(&self, row: (Vec<u8>, i64, Vec<u8>)) -> StoreResult<OutboxItem> {
        let (id, next_attempt, sealed) = row;
        let id = OutboxId(array(T_OUTBOX, &id)?);
        let next_attempt = to_u64(next_attempt)?;
        let plain =
            self.store
                .sealer
                .open(T_OUTBOX, &id.0, &OutboxItem::routing(next_attempt), &sealed)?;
        OutboxItem::decode(id, next_attempt, &plain).map_err(malformed(T_OUTBOX))
    }

    /// An outbox item.
    pub async fn outbox_item(&mut self, id: &OutboxId) -> StoreResult<Option<OutboxItem>> {
        let row: Option<(Vec<u8>, i64, Vec<u8>)> =
            sqlx::query_as("SELECT id, next_attempt, record FROM outbox WHERE id = ?")
                .bind(&id.0[..])
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(|r| self.open_outbox(r)).transpose()
    }

    /// Up to `limit` items due at `now`, earliest first.
    pub async fn due_outbox(&mut self, now: u64, limit: u32) -> StoreResult<Vec<OutboxItem>> {
        let rows: Vec<(Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, next_attempt, record FROM outbox WHERE next_attempt <= ? \
             ORDER BY next_attempt, id LIMIT ?",
        )
        .bind(to_i64(now)?)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(|r| self.open_outbox(r)).collect()
    }

    /// Removes an outbox item (sent, or given up); true if it existed.
    pub async fn remove_outbox(&mut self, id: &OutboxId) -> StoreResult<bool> {
        self.delete_record(T_OUTBOX, "id", &id.0).await
    }
}
