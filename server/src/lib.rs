//! # parley-server
//!
//! Parley's blind relay (docs/architecture.md §1, §2, §4): it stores and forwards end-to-end
//! encrypted envelopes, prekeys, encrypted attachments and the signed org log, and never holds
//! a message, a file or a private key. SQLite by default; PostgreSQL, shared by several relay
//! nodes that wake each other with `LISTEN/NOTIFY`, when one node is not enough.
//!
//! [`app`] builds the router over an [`AppState`]; [`Relay::open`] opens the storage and
//! starts the writer, and [`Relay::serve`] runs the whole relay on a listener until a shutdown
//! future completes, so tests start the real server on `127.0.0.1:0`.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod db;
pub mod directory;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod openapi;
pub mod orglog;
pub mod ratelimit;
pub mod routes;
pub mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use axum::serve::ListenerExt as _;
use tokio_util::sync::CancellationToken;

pub use config::Config;
use db::Db;
use hub::Hub;
use ratelimit::RateLimiter;
use writer::Writer;

/// Everything a request handler needs.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The shared state behind [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// Storage.
    pub db: Db,
    /// Configuration.
    pub config: Config,
    /// Open sockets on this node.
    pub hub: Hub,
    /// Group-commit writer for envelopes and acks.
    pub writer: Writer,
    /// Per-device rate limits.
    pub limiter: RateLimiter,
    /// Per-client-address rate limits of the endpoints without device credentials.
    pub ip_limiter: RateLimiter<std::net::IpAddr>,
    /// Cancelled at shutdown.
    pub shutdown: CancellationToken,
    /// Attachment folder.
    pub attachments_dir: PathBuf,
    /// Cache of device credentials.
    pub auth_cache: auth::AuthCache,
    /// Cache of each user's active devices and each device's queue length.
    pub directory: Arc<directory::Directory>,
    /// The verified org log.
    pub org_log: orglog::OrgLog,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `N` random bytes from the OS.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
    Ok(out)
}

/// The router with every route.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// A relay that has opened its storage but not yet started serving.
#[derive(Debug)]
pub struct Relay {
    state: AppState,
    writer_task: tokio::task::JoinHandle<()>,
    writer_stop: CancellationToken,
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The setup token to show the operator, when the org does not exist yet and none was
    /// configured (a fresh one at every start until the org is created).
    pub new_setup_token: Option<String>,
}

impl Relay {
    /// Opens the data directory and database (creating and migrating them), and starts the
    /// writer and background tasks.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        config.validate()?;
        let attachments_dir = config.data_dir.join("attachments");
        tokio::fs::create_dir_all(attachments_dir.join("incoming"))
            .await
            .with_context(|| format!("creating {}", attachments_dir.display()))?;
        let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
        let new_setup_token =
            routes::org::prepare_setup_token(&db, config.setup_token.as_deref()).await?;
        let org_log = orglog::OrgLog::load(&db).await?;
        let hub = Hub::default();
        hub.log_advanced(org_log.entries().await);
        let writer_stop = CancellationToken::new();
        // On PostgreSQL the cache waits for the LISTEN connection (see `directory`).
        let directory = Arc::new(directory::Directory::new(!db.is_postgres()));
        let (writer, writer_task) = Writer::start(
            db.clone(),
            hub.clone(),
            directory.clone(),
            config.pg_vacuum_rows,
            writer_stop.clone(),
        );
        let shutdown = CancellationToken::new();
        let limiter = RateLimiter::new(config.limits.rate_per_sec, config.limits.rate_burst);
        let ip_limiter =
            RateLimiter::new(config.limits.ip_rate_per_sec, config.limits.ip_rate_burst);
        let state = AppState(Arc::new(Inner {
            db: db.clone(),
            config,
            hub: hub.clone(),
            writer,
            limiter,
            ip_limiter,
            shutdown: shutdown.clone(),
            attachments_dir,
            auth_cache: auth::AuthCache::default(),
            directory: directory.clone(),
            org_log,
        }));
        let mut background = vec![tokio::spawn(expiry_loop(state.clone()))];
        if let Db::Postgres(pool) = &db {
            background.push(tokio::spawn(hub::listen(pool.clone(), state.clone())));
        }
        Ok(Self {
            state,
            writer_task,
            writer_stop,
            background,
            new_setup_token,
        })
    }

    /// The state (for in-process route tests).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting, closes the
    /// sockets, lets running requests finish and writes what was accepted.
    pub async fn serve(
        self,
        listener: std::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            state,
            writer_task,
            writer_stop,
            background,
            ..
        } = self;
        listener.set_nonblocking(true)?;
        // The client's address reaches the handlers (`ConnectInfo`) for the per-address rate
        // limit (`auth::Unauthenticated`); it is never logged.
        let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let stop = state.shutdown.clone();
        let hub = state.hub.clone();
        let on_shutdown = {
            let stop = stop.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down");
                stop.cancel();
                hub.close_all("the relay is shutting down");
            }
        };
        match state.config.tls.clone() {
            None => {
                // Pushes and responses are small writes: without TCP_NODELAY, Nagle's
                // algorithm holds each one back until the previous one is acknowledged (up to
                // the peer's delayed-ACK timeout, 40 ms on Linux). axum-server (TLS, below)
                // sets it on its own.
                let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY not set");
                    }
                });
                axum::serve(listener, service)
                    .with_graceful_shutdown(on_shutdown)
                    .await?;
            }
            Some((cert, key)) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .context("loading the TLS certificate and key")?;
                let handle = axum_server::Handle::new();
                let h = handle.clone();
                tokio::spawn(async move {
                    on_shutdown.await;
                    h.graceful_shutdown(Some(Duration::from_secs(10)));
                });
                axum_server::from_tcp_rustls(listener, tls)
                    .handle(handle)
                    .serve(service)
                    .await?;
            }
        }
        stop.cancel();
        for task in background {
            let _ = task.await;
        }
        // Every request has been answered: write what is queued, then stop the writer.
        writer_stop.cancel();
        if tokio::time::timeout(Duration::from_secs(30), writer_task)
            .await
            .is_err()
        {
            tracing::warn!("writer did not finish within 30 s");
        }
        state.db.close().await;
        Ok(())
    }
}

/// Deletes expired envelopes and attachments once a minute.
async fn expiry_loop(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = expire(&state).await {
            tracing::warn!(error = %format!("{e:#}"), "expiry pass failed");
        }
    }
}

/// One expiry pass.
pub async fn expire(state: &AppState) -> anyhow::Result<()> {
    let now = now_ms();
    on_db!(&state.db, write, pool => {
        sqlx::query("DELETE FROM envelopes WHERE expires_at <= $1").bind(now).execute(pool).await?;
    });
    // Queues shrank behind the writer's back: read their lengths again.
    state.directory.forget_queues();
    routes::attachments::expire(state, now).await
}
