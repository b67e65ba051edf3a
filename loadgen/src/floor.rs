//! The database floor: the rows the relay writes for each envelope (same table, columns,
//! indexes and body size as `server/migrations/*/0001_init.sql`), inserted and deleted
//! directly through sqlx with nothing else in the way, batched the best way the database
//! allows: each transaction inserts a batch with multi-row `INSERT … RETURNING id`
//! statements and deletes the previous batch with one multi-row `DELETE`; one commit per
//! batch. SQLite uses the relay's pragmas (WAL, `synchronous = FULL`) on a file, PostgreSQL
//! a fresh database on the same server. The result is insert+delete cycles per second.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parley_testkit::pg::TestDb;
use sqlx::QueryBuilder;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// `envelopes` and its indexes, as in the SQLite migration.
const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE envelopes (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        device_pk     INTEGER NOT NULL,
        source_user   TEXT    NOT NULL,
        source_device INTEGER NOT NULL,
        server_ts     INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        body          BLOB    NOT NULL
    )",
    "CREATE INDEX envelopes_by_device ON envelopes (device_pk, id)",
    "CREATE INDEX envelopes_by_expiry ON envelopes (expires_at)",
];

/// `envelopes` and its indexes, as in the PostgreSQL migration.
const PG_SCHEMA: &[&str] = &[
    "CREATE TABLE envelopes (
        id            BIGSERIAL PRIMARY KEY,
        device_pk     BIGINT NOT NULL,
        source_user   TEXT    NOT NULL,
        source_device BIGINT NOT NULL,
        server_ts     BIGINT NOT NULL,
        expires_at    BIGINT NOT NULL,
        body          BYTEA    NOT NULL
    )",
    "CREATE INDEX envelopes_by_device ON envelopes (device_pk, id)",
    "CREATE INDEX envelopes_by_expiry ON envelopes (expires_at)",
];

/// Rows per INSERT statement (the relay's chunk).
const INSERT_CHUNK: usize = 500;

/// The floor at one batch size.
#[derive(Debug, Clone)]
pub struct Floor {
    /// Rows per transaction.
    pub batch: usize,
    /// Insert+delete cycles per second.
    pub rows_per_sec: f64,
}

/// Insert+delete cycles for `$window` with `$batch` rows per transaction, spread over
/// `$devices` recipient devices, on the pool `$pool` of database type `$db`.
macro_rules! cycle {
    ($db:ty, $pool:expr, $batch:expr, $devices:expr, $body_bytes:expr, $window:expr) => {{
        let (pool, batch, devices, window) = ($pool, $batch, $devices, $window);
        let body = vec![0x5au8; $body_bytes];
        let mut prev: Vec<i64> = Vec::new();
        let mut done: u64 = 0;
        let mut n: i64 = 0;
        let start = Instant::now();
        while start.elapsed() < window {
            let now = i64::try_from(start.elapsed().as_millis()).unwrap_or(0);
            let mut tx = pool.begin().await?;
            let mut ids = Vec::with_capacity(batch);
            let mut left = batch;
            while left > 0 {
                let k = left.min(INSERT_CHUNK);
                let mut qb = QueryBuilder::<$db>::new(
                    "INSERT INTO envelopes (device_pk, source_user, source_device, server_ts, expires_at, body) ",
                );
                qb.push_values(0..k, |mut b, _| {
                    n += 1;
                    b.push_bind(n % devices + 1)
                        .push_bind("sender")
                        .push_bind(1i64)
                        .push_bind(now)
                        .push_bind(now + 30 * 86_400_000)
                        .push_bind(body.as_slice());
                });
                qb.push(" RETURNING id");
                let rows: Vec<(i64,)> = qb.build_query_as().fetch_all(&mut *tx).await?;
                ids.extend(rows.into_iter().map(|(id,)| id));
                left -= k;
            }
            for chunk in prev.chunks(INSERT_CHUNK * 4) {
                let mut qb = QueryBuilder::<$db>::new("DELETE FROM envelopes WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(&mut *tx).await?;
            }
            done += prev.len() as u64;
            tx.commit().await?;
            prev = ids;
        }
        anyhow::Ok(done as f64 / start.elapsed().as_secs_f64())
    }};
}

/// The SQLite floor, in a fresh file in `dir`.
pub async fn sqlite(
    dir: &Path,
    batches: &[usize],
    devices: i64,
    body_bytes: usize,
    window: Duration,
) -> anyhow::Result<Vec<Floor>> {
    let mut out = Vec::new();
    for &batch in batches {
        let file = dir.join(format!("floor-{batch}.db"));
        let opts = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .context("opening the floor SQLite file")?;
        for stmt in SQLITE_SCHEMA {
            sqlx::query(stmt).execute(&pool).await?;
        }
        let rows_per_sec = cycle!(sqlx::Sqlite, &pool, batch, devices, body_bytes, window)?;
        pool.close().await;
        out.push(Floor {
            batch,
            rows_per_sec,
        });
    }
    Ok(out)
}

/// The PostgreSQL floor, in a fresh database on the server of `admin_url`.
pub async fn postgres(
    admin_url: &str,
    batches: &[usize],
    devices: i64,
    body_bytes: usize,
    window: Duration,
) -> anyhow::Result<Vec<Floor>> {
    let mut out = Vec::new();
    for &batch in batches {
        let db = TestDb::create_on(admin_url, "parley_lg_floor").await?;
        let result = async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(db.url())
                .await?;
            for stmt in PG_SCHEMA {
                sqlx::query(stmt).execute(&pool).await?;
            }
            let r = cycle!(sqlx::Postgres, &pool, batch, devices, body_bytes, window);
            pool.close().await;
            r
        }
        .await;
        db.drop_db().await;
        out.push(Floor {
            batch,
            rows_per_sec: result?,
        });
    }
    Ok(out)
}
