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

use parley_client::relay::{Credentials, Relay};
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_proto::api::{
    CreateInviteRequest, CreateLinkRequest, CreateOrgRequest, NewDevice, RegisterRequest,
};
use parley_proto::org::{InviteStatement, OrgBody, OrgEntry, sha256};
use parley_proto::{B64, DeviceId, UserId};
use parley_server::{AppState, Config, Relay as Server};
use tokio::io::AsyncBufReadExt as _;

pub const SETUP_TOKEN: &str = "test-setup-token";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use (`PARLEY_TEST_PG`, default the local one).
pub fn pg_admin_url() -> String {
    std::env::var("PARLEY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty PostgreSQL database, dropped by [`TestDb::drop_db`].
#[derive(Debug, Clone)]
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn create() -> Self {
        use sqlx::Connection as _;
        let admin = pg_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect to the test PostgreSQL");
        let name = format!(
            "parley_t_{}",
            hex(&parley_server::random_bytes::<8>().unwrap())
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop_db(&self) {
        use sqlx::Connection as _;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
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
            Backend::Postgres => Some(TestDb::create().await),
        };
        Self { dir, pg }
    }

    pub fn config(&self) -> Config {
        let mut c = Config::for_data_dir(self.dir.path());
        c.database_url = self.pg.as_ref().map(|p| p.url.clone());
        c.setup_token = Some(SETUP_TOKEN.into());
        // Tests send fast; the rate limit has its own test.
        c.limits.rate_per_sec = 1e9;
        c.limits.rate_burst = 1e9;
        c
    }

    pub async fn cleanup(self) {
        if let Some(pg) = &self.pg {
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

/// A registered device with its keys.
#[derive(Clone)]
pub struct Device {
    pub user: UserId,
    pub device: DeviceId,
    pub identity: IdentityKeyPair,
    pub registration_id: u32,
    pub relay: Relay,
}

fn new_device() -> (IdentityKeyPair, NewDevice, Vec<u8>) {
    let identity = IdentityKeyPair::generate(&mut os_rng());
    let secret = parley_server::random_bytes::<32>().unwrap().to_vec();
    let registration_id = u32::from_be_bytes(parley_server::random_bytes::<4>().unwrap()) & 0x3fff;
    let nd = NewDevice {
        identity: B64(identity.public().to_bytes().to_vec()),
        secret: B64(secret.clone()),
        registration_id,
    };
    (identity, nd, secret)
}

pub fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

/// An org created on a relay, with its first admin device.
pub struct Org {
    pub relay: Relay,
    pub root: SigningKeyPair,
    pub genesis: OrgEntry,
    pub admin: Device,
}

pub fn now_secs() -> u64 {
    parley_server::now_secs()
}

impl Org {
    /// The signed genesis and admin entries for `admin_user` device 1 with `identity`.
    pub fn entries(
        root: &SigningKeyPair,
        admin_user: &UserId,
        identity: &IdentityKeyPair,
    ) -> (OrgEntry, OrgEntry) {
        let body = OrgBody::OrgCreated {
            root_key: root.public(),
            name: "Acme".into(),
        };
        let genesis = OrgEntry::sign(0, [0; 32], now_secs(), body, root.public(), |m| {
            root.sign(m)
        });
        let body = OrgBody::AdminAdded {
            user: admin_user.clone(),
            device: 1,
            signing_key: *identity.public().signing_key(),
        };
        let admin = OrgEntry::sign(1, genesis.hash(), now_secs(), body, root.public(), |m| {
            root.sign(m)
        });
        (genesis, admin)
    }

    pub async fn create(relay: Relay) -> Self {
        let root = SigningKeyPair::generate(&mut os_rng());
        let admin_user = user("admin");
        let (identity, nd, secret) = new_device();
        let (genesis, admin_entry) = Self::entries(&root, &admin_user, &identity);
        let req = CreateOrgRequest {
            setup_token: SETUP_TOKEN.into(),
            genesis: B64(genesis.to_bytes()),
            admin: B64(admin_entry.to_bytes()),
            user: admin_user.clone(),
            device: nd.clone(),
        };
        let reg = relay.create_org(&req).await.expect("create org");
        let admin = Device {
            user: admin_user.clone(),
            device: reg.device,
            identity,
            registration_id: nd.registration_id,
            relay: relay.with_credentials(Credentials {
                user: admin_user,
                device: reg.device,
                secret,
            }),
        };
        Self {
            relay,
            root,
            genesis,
            admin,
        }
    }

    /// Registers an invite for `u` and returns its code.
    pub async fn invite(&self, u: &UserId, new_user: bool) -> Vec<u8> {
        let code = parley_server::random_bytes::<32>().unwrap().to_vec();
        let st = InviteStatement {
            genesis_hash: self.genesis.hash(),
            code_hash: sha256(&code),
            user: u.clone(),
            new_user,
            expires_at: now_secs() + 3600,
        };
        let sig = self.admin.identity.sign(&st.signed_bytes());
        let req = CreateInviteRequest {
            code_hash: B64(st.code_hash.to_vec()),
            user: u.clone(),
            new_user,
            expires_at: st.expires_at,
            signature: B64(sig.0.to_vec()),
        };
        self.admin
            .relay
            .create_invite(&req)
            .await
            .expect("create invite");
        code
    }

    /// Registers a device with a code.
    pub async fn register(
        &self,
        u: &UserId,
        code: &[u8],
    ) -> Result<Device, parley_client::relay::RelayError> {
        let (identity, nd, secret) = new_device();
        let req = RegisterRequest {
            code: B64(code.to_vec()),
            user: u.clone(),
            device: nd.clone(),
        };
        let reg = self.relay.register(&req).await?;
        Ok(Device {
            user: u.clone(),
            device: reg.device,
            identity,
            registration_id: nd.registration_id,
            relay: self.relay.with_credentials(Credentials {
                user: u.clone(),
                device: reg.device,
                secret,
            }),
        })
    }

    /// Invites and registers a new user's first device.
    pub async fn join(&self, name: &str) -> Device {
        let u = user(name);
        let code = self.invite(&u, true).await;
        self.register(&u, &code).await.expect("register")
    }

    /// Links a further device of `d`'s user.
    pub async fn link(&self, d: &Device) -> Device {
        let code = parley_server::random_bytes::<32>().unwrap().to_vec();
        let req = CreateLinkRequest {
            code_hash: B64(sha256(&code).to_vec()),
            expires_at: now_secs() + 600,
        };
        d.relay.create_link(&req).await.expect("create link");
        self.register(&d.user, &code)
            .await
            .expect("register linked device")
    }
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
            ServerFrame::Closing { reason } => panic!("closed: {reason}"),
            other => panic!("unexpected frame {other:?}"),
        }
    }
}
