//! The one sealed-record abstraction every table goes through: a record is sealed with
//! the store key before it reaches SQLite, bound to its table, its row key and its row's
//! plaintext columns (see [`super`] for what is in the clear).

use zeroize::Zeroizing;

use error::StoreResult;

use super::*;

impl StoreTx<'_> {
    pub(super) async fn get_record(
        &mut self,
        table: &'static str,
        key_column: &str,
        key: &[u8],
    ) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        let sql = format!("SELECT record FROM {table} WHERE {key_column} = ?");
        let sealed: Option<Vec<u8>> = sqlx::query_scalar(&sql)
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await?;
        sealed
            .map(|s| self.store.sealer.open(table, key, &[], &s))
            .transpose()
    }

    pub(super) async fn put_record(
        &mut self,
        table: &'static str,
        key_column: &str,
        key: &[u8],
        plaintext: &[u8],
    ) -> StoreResult<()> {
        let sealed = self.store.sealer.seal(table, key, &[], plaintext);
        let sql = format!(
            "INSERT INTO {table} ({key_column}, record) VALUES (?, ?) \
             ON CONFLICT ({key_column}) DO UPDATE SET record = excluded.record"
        );
        sqlx::query(&sql)
            .bind(key)
            .bind(sealed)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub(super) async fn delete_record(
        &mut self,
        table: &'static str,
        key_column: &str,
        key: &[u8],
    ) -> StoreResult<bool> {
        let sql = format!("DELETE FROM {table} WHERE {key_column} = ?");
        let done = sqlx::query(&sql).bind(key).execute(&mut *self.tx).await?;
        Ok(done.rows_affected() > 0)
    }

    pub(super) async fn all_records(
        &mut self,
        table: &'static str,
        key_column: &str,
    ) -> StoreResult<Vec<(Vec<u8>, Zeroizing<Vec<u8>>)>> {
        let sql = format!("SELECT {key_column}, record FROM {table} ORDER BY {key_column}");
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(&sql).fetch_all(&mut *self.tx).await?;
        rows.into_iter()
            .map(|(key, sealed)| {
                let plain = self.store.sealer.open(table, &key, &[], &sealed)?;
                Ok((key, plain))
            })
            .collect()
    }

    pub(super) async fn put_singleton(&mut self, name: &str, plaintext: &[u8]) -> StoreResult<()> {
        // `name` is TEXT; binding its bytes as a BLOB would make a different key, so bind the
        // text and seal with its bytes.
        let sealed = self
            .store
            .sealer
            .seal(T_SINGLETONS, name.as_bytes(), &[], plaintext);
        sqlx::query(
            "INSERT INTO singletons (name, record) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET record = excluded.record",
        )
        .bind(name)
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
