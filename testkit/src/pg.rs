//! A fresh, empty PostgreSQL database per test (or per load-generator run), on the server
//! named by `PARLEY_TEST_PG` (default [`DEFAULT_PG_URL`]), dropped when its [`TestDb`] is.

use anyhow::Context as _;
use sqlx::Connection as _;

/// The PostgreSQL server tests use when `PARLEY_TEST_PG` is not set.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server tests use: `PARLEY_TEST_PG`, default [`DEFAULT_PG_URL`].
pub fn pg_admin_url() -> String {
    std::env::var("PARLEY_TEST_PG").unwrap_or_else(|_| DEFAULT_PG_URL.into())
}

/// A database of its own on a PostgreSQL server, dropped (`WITH (FORCE)`, so open connections
/// do not keep it) by [`TestDb::drop_db`] or, failing that, when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    admin_url: String,
    name: String,
    dropped: bool,
}

impl TestDb {
    /// Creates `parley_t_<random>` on the test server ([`pg_admin_url`]).
    pub async fn create() -> anyhow::Result<Self> {
        Self::create_on(&pg_admin_url(), "parley_t").await
    }

    /// Creates `<prefix>_<random>` on the server of `admin_url` (a URL of a database there
    /// that the user may create databases from). `prefix` must be a plain SQL identifier.
    pub async fn create_on(admin_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {admin_url}"))?;
        let name = format!("{prefix}_{}", crate::hex(&crate::random_bytes::<8>()?));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .context("the PostgreSQL URL has no database part")?;
        Ok(Self {
            url: format!("{base}/{name}"),
            admin_url: admin_url.to_owned(),
            name,
            dropped: false,
        })
    }

    /// The new database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The new database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (best effort: a failure leaves it behind).
    pub async fn drop_db(mut self) {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await;
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::query(&drop).execute(&mut conn).await;
    }
}

impl Drop for TestDb {
    /// Drops the database unless [`TestDb::drop_db`] has.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot wait on the caller's runtime (if any): a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(drop_database(&admin_url, &name));
        })
        .join();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn exists(name: &str) -> bool {
        let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap()
            == 1
    }

    #[tokio::test]
    async fn a_database_of_its_own_gone_when_dropped() {
        let a = TestDb::create().await.unwrap();
        let b = TestDb::create().await.unwrap();
        assert_ne!(a.url(), b.url());
        assert!(a.name().starts_with("parley_t_"));
        assert!(a.url().ends_with(&format!("/{}", a.name())));
        // Usable, and an open connection does not keep it from being dropped.
        let mut conn = sqlx::PgConnection::connect(a.url()).await.unwrap();
        sqlx::query("CREATE TABLE t (x INT)")
            .execute(&mut conn)
            .await
            .unwrap();
        let (a_name, b_name) = (a.name().to_owned(), b.name().to_owned());
        assert!(exists(&a_name).await && exists(&b_name).await);
        a.drop_db().await;
        drop(b);
        assert!(!exists(&a_name).await);
        assert!(!exists(&b_name).await);
    }

    #[tokio::test]
    async fn a_bad_url_is_an_error() {
        assert!(
            TestDb::create_on("postgres://postgres@127.0.0.1:1/x", "parley_t")
                .await
                .is_err()
        );
        assert!(TestDb::create_on("no url", "parley_t").await.is_err());
    }
}
