//! Test harness: a relay on `127.0.0.1:0` (in process, or the real binary) over a fresh
//! SQLite directory or a fresh PostgreSQL database, and an org with devices to drive it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use parley_client::relay::Relay;
use parley_proto::UserId;
use parley_server::{AppState, Config, Relay as Server};
pub use parley_testkit::org::{Device, Org};
pub use parley_testkit::pg::TestDb;
use tokio::io::AsyncBufReadExt as _;

pub const SETUP_TOKEN: &str = "test-setup-token";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test relay keeps its data.
pub struct Storage {
    pub dir: tempfile::TempDir,
    pub pg: Option<TestDb>,
}

impl Storage {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDb::create().await.expect("a test database")),
        };
        Self { dir, pg }
    }

    pub fn config(&self) -> Config {
        let mut c = Config::for_data_dir(self.dir.path());
        c.database_url = self.pg.as_ref().map(|p| p.url().to_owned());
        c.setup_token = Some(SETUP_TOKEN.into());
        // Tests send fast; the rate limit has its own test.
        c.limits.rate_per_sec = 1e9;
        c.limits.rate_burst = 1e9;
        c.limits.ip_rate_per_sec = 1e9;
        c.limits.ip_rate_burst = 1e9;
        c
    }

    pub async fn cleanup(self) {
        if let Some(pg) = self.pg {
            pg.drop_db().await;
        }
    }
}

/// A relay running in this process.
pub struct TestServer {
    pub url: String,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = Server::open(config).await.expect("open relay");
        let state = server.state();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            state,
            stop: Some(stop),
            task,
        }
    }

    pub fn relay(&self) -> Relay {
        Relay::new(self.url.clone())
    }

    /// Graceful shutdown; returns what `serve` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("shutdown in time")
            .expect("join")
    }
}

/// The real `parley-server` binary.
pub struct BinaryServer {
    pub url: String,
    pub child: tokio::process::Child,
}

impl BinaryServer {
    pub async fn start(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        extra: &[&str],
    ) -> Self {
        Self::start_with_log(data_dir, database_url, extra, None).await
    }

    /// Like `start`, with the relay's log (stderr, at `PARLEY_LOG=debug`) written to `log`.
    pub async fn start_with_log(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        extra: &[&str],
        log: Option<&std::path::Path>,
    ) -> Self {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_parley-server"));
        cmd.arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra);
        cmd.env_remove("PARLEY_DATABASE_URL")
            .env("PARLEY_SETUP_TOKEN", SETUP_TOKEN)
            .env("PARLEY_LOG", "warn");
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        let stderr = match log {
            Some(path) => {
                cmd.env("PARLEY_LOG", "debug");
                Stdio::from(std::fs::File::create(path).unwrap())
            }
            None => Stdio::inherit(),
        };
        cmd.stdout(Stdio::piped()).stderr(stderr).kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn parley-server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("parley-server listening on ") {
                    return rest.trim().to_owned();
                }
            }
            panic!("parley-server exited before listening");
        })
        .await
        .expect("parley-server started in time");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { url, child }
    }

    pub fn relay(&self) -> Relay {
        Relay::new(self.url.clone())
    }

    pub async fn kill9(mut self) {
        self.child.kill().await.unwrap();
    }

    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exit in time")
            .unwrap()
    }
}

pub fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

pub fn now_secs() -> u64 {
    parley_server::now_secs()
}

/// Creates the org on `relay` (see [`Org::create`]).
pub async fn create_org(relay: Relay) -> Org {
    Org::create(relay, SETUP_TOKEN).await.expect("create org")
}

pub fn data_dir(s: &Storage) -> PathBuf {
    s.dir.path().to_path_buf()
}

/// Reads frames until `queue_empty` (10 s at most per frame), returning the envelopes before
/// it; acks each one as it arrives when `ack`.
pub async fn drain(
    ws: &mut parley_client::relay::Delivery,
    ack: bool,
) -> Vec<parley_proto::ws::Envelope> {
    use parley_proto::ws::ServerFrame;
    let mut out = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("valid frame");
        match frame {
            ServerFrame::Envelope(e) => {
                if ack {
                    ws.ack(vec![e.id]).await.unwrap();
                }
                out.push(e);
            }
            ServerFrame::QueueEmpty => return out,
            ServerFrame::LogAdvanced { .. } => {}
            ServerFrame::Closing { reason } => panic!("closed: {reason}"),
            other => panic!("unexpected frame {other:?}"),
        }
    }
}
