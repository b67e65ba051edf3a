//! Storage: one [`Db`] over either the SQLite file (default) or PostgreSQL.
//!
//! Queries are written once in SQL that both databases accept (`$n` placeholders) and run on
//! whichever pool is configured (the [`on_db!`] macro expands them for each). Where the two
//! must differ (claiming a one-time prekey, waking other relay nodes) each has its own text.
//!
//! SQLite: WAL journal, `synchronous = FULL` (an envelope the relay has acknowledged survives
//! a power cut), one connection for all writes (so writers never contend for the lock) and a
//! small pool for reads. PostgreSQL: one pool; a one-time prekey is claimed with
//! `FOR UPDATE SKIP LOCKED` so concurrent claimers never get the same key.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// A database connection pool.
#[derive(Clone, Debug)]
pub enum Db {
    /// The SQLite file.
    Sqlite {
        /// Pool for reads.
        read: SqlitePool,
        /// The single write connection.
        write: SqlitePool,
    },
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the read pool (`read`) or the write pool (`write`) of
/// whichever database is configured.
#[macro_export]
macro_rules! on_db {
    ($db:expr, read, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { read: $pool, .. } => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
    ($db:expr, write, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { write: $pool, .. } => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub use crate::on_db;

/// Kind of a one-time prekey row.
pub const KIND_X25519: i64 = 1;
/// Kind of a one-time KEM prekey row.
pub const KIND_KEM: i64 = 2;

impl Db {
    /// Opens (creating if needed) the SQLite file `parley.db` in `data_dir`, or connects to
    /// PostgreSQL; then applies the migrations.
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let db = match database_url {
            None => {
                let opts = SqliteConnectOptions::new()
                    .filename(data_dir.join("parley.db"))
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .pragma("cache_size", "-32768")
                    .pragma("temp_store", "memory");
                // No test of a pooled connection before handing it out: a connection to a
                // local file does not go stale, and the test is a hand-off to the
                // connection's thread and back on every use.
                let write = SqlitePoolOptions::new()
                    .max_connections(1)
                    .test_before_acquire(false)
                    .connect_with(opts.clone())
                    .await
                    .context("opening the SQLite database")?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&write)
                    .await
                    .context("migrating SQLite")?;
                let read = SqlitePoolOptions::new()
                    .max_connections(4)
                    .test_before_acquire(false)
                    .connect_with(opts.read_only(true))
                    .await
                    .context("opening the SQLite database for reading")?;
                Self::Sqlite { read, write }
            }
            Some(url) => {
                let opts = sqlx::postgres::PgConnectOptions::from_str(url)
                    .context("parsing the PostgreSQL URL")?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .context("connecting to PostgreSQL")?;
                sqlx::migrate!("./migrations/postgres")
                    .run(&pool)
                    .await
                    .context("migrating PostgreSQL")?;
                Self::Postgres(pool)
            }
        };
        Ok(db)
    }

    /// True for PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Self::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// An envelope to store.
#[derive(Debug, Clone)]
pub struct NewEnvelope {
    /// Recipient device row.
    pub device_pk: i64,
    /// Sender user.
    pub source_user: String,
    /// Sender device.
    pub source_device: i64,
    /// Relay time, ms.
    pub server_ts: i64,
    /// Expiry, ms.
    pub expires_at: i64,
    /// Ciphertext.
    pub body: Vec<u8>,
}
