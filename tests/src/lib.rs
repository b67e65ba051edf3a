//! Harness of the end-to-end tests (`tests/tests/*.rs`): the real `parley-server` binary on
//! `127.0.0.1:0` over a SQLite data directory or a fresh PostgreSQL database, the real
//! `parley` binary, and accounts driven through the client engine (the same code the CLI and
//! the desktop app run).
//!
//! The binaries are the workspace's own, built by `cargo build -p parley-server -p parley-cli`
//! into the target directory of the running test (a no-op when `cargo test --workspace` has
//! built them already).
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use parley_client::enrol;
use parley_client::messaging::{Event, Messenger, Received};
use parley_client::store::KeySource;
use parley_proto::UserId;
use parley_proto::invite::TlsPins;
use parley_testkit::pg::{TestDb, pg_admin_url};
use tokio::io::AsyncBufReadExt as _;

/// Runs each scenario `async fn name(backend: Backend)` once on SQLite and once on a fresh
/// PostgreSQL database, as the tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await;
            }
        }
    )*};
}

/// The setup token every test relay is started with.
pub const SETUP_TOKEN: &str = "e2e-setup-token";

/// The `parley-server` and `parley` binaries of this workspace.
pub fn binaries() -> &'static (PathBuf, PathBuf) {
    static BINS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINS.get_or_init(|| {
        // <target>/<profile>/deps/<test binary>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let profile = profile_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "parley-server",
            "-p",
            "parley-cli",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
        (
            profile_dir.join("parley-server"),
            profile_dir.join("parley"),
        )
    })
}

/// Where a relay keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the relay's data directory (the default).
    Sqlite,
    /// A fresh database on the test PostgreSQL (`PARLEY_TEST_PG`, default the local one).
    Postgres,
}

/// Which key a renewed certificate is for.
#[derive(Clone, Copy, Debug)]
pub enum Renewal {
    /// The key the relay had.
    SameKey,
    /// The backup key the org pinned.
    BackupKey,
    /// A key nobody pinned.
    NewKey,
}

/// A running `parley-server` process.
pub struct Server {
    /// Its base URL.
    pub url: String,
    /// The process.
    pub child: tokio::process::Child,
    /// Its data directory (SQLite file and attachments).
    pub data: tempfile::TempDir,
    /// Its PostgreSQL database, on that backend; dropped with the server (after the process,
    /// which `child` kills when dropped: fields drop in order).
    pub pg: Option<TestDb>,
    /// With TLS: the SHA-256 of its certificate's public key, as it printed it, and of a backup
    /// key kept in reserve (`backup-key.pem` in its data directory).
    pub pins: Option<TlsPins>,
    extra: Vec<String>,
}

impl Server {
    /// Starts a relay on a fresh data directory (and, for PostgreSQL, a fresh database).
    pub async fn start(backend: Backend) -> Self {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                TestDb::create_on(&pg_admin_url(), "parley_e2e")
                    .await
                    .unwrap(),
            ),
        };
        let data = tempfile::tempdir().unwrap();
        let (url, child, pin) = spawn(
            data.path(),
            pg.as_ref().map(TestDb::url),
            "127.0.0.1:0",
            &[],
        )
        .await;
        assert!(pin.is_none(), "plain HTTP on loopback");
        Self {
            url,
            child,
            data,
            pg,
            pins: None,
            extra: Vec::new(),
        }
    }

    /// Starts a SQLite relay serving HTTPS with a fresh self-signed certificate for
    /// `localhost` and `127.0.0.1`, and makes a backup key for it to move to.
    pub async fn start_tls() -> Self {
        let data = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert_path, key_path) = (data.path().join("cert.pem"), data.path().join("key.pem"));
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        let backup = rcgen::KeyPair::generate().unwrap();
        std::fs::write(data.path().join("backup-key.pem"), backup.serialize_pem()).unwrap();
        let extra = vec![
            "--tls-cert".to_owned(),
            cert_path.display().to_string(),
            "--tls-key".to_owned(),
            key_path.display().to_string(),
        ];
        let (url, child, pin) = spawn(data.path(), None, "127.0.0.1:0", &extra).await;
        assert_eq!(
            pin,
            parley_client::tls::spki_pin(cert.cert.der()),
            "the relay prints its public key's SHA-256"
        );
        let backup = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&backup)
            .unwrap();
        let backup = parley_client::tls::spki_pin(backup.der()).unwrap();
        Self {
            url,
            child,
            data,
            pg: None,
            pins: pin.map(|primary| TlsPins {
                primary,
                backup: Some(backup),
            }),
            extra,
        }
    }

    /// Replaces a TLS relay's certificate (read at its next start) with a new one for
    /// `localhost`, for the key `renewal` names.
    pub fn renew_certificate(&self, renewal: Renewal) {
        let key_path = self.data.path().join("key.pem");
        let key = match renewal {
            Renewal::SameKey => std::fs::read_to_string(&key_path).unwrap(),
            Renewal::BackupKey => {
                std::fs::read_to_string(self.data.path().join("backup-key.pem")).unwrap()
            }
            Renewal::NewKey => rcgen::KeyPair::generate().unwrap().serialize_pem(),
        };
        std::fs::write(&key_path, &key).unwrap();
        let key = rcgen::KeyPair::from_pem(&key).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(self.data.path().join("cert.pem"), cert.pem()).unwrap();
    }

    /// Kills the relay (SIGKILL) and starts it again on the same data, at a new port.
    pub async fn restart(&mut self) {
        self.child.kill().await.unwrap();
        let (url, child, _) = spawn(
            self.data.path(),
            self.pg.as_ref().map(TestDb::url),
            "127.0.0.1:0",
            &self.extra,
        )
        .await;
        self.url = url;
        self.child = child;
    }

    /// Kills the relay (SIGKILL) and starts it again on the same data and the same address,
    /// so that the accounts enrolled with its URL reach it again. What it kept in memory (the
    /// cached device lists and credentials) starts empty: the next request reads the database.
    pub async fn restart_in_place(&mut self) {
        self.child.kill().await.unwrap();
        let addr = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest)
            .to_owned();
        let (url, child, _) = spawn(
            self.data.path(),
            self.pg.as_ref().map(TestDb::url),
            &addr,
            &self.extra,
        )
        .await;
        assert_eq!(url, self.url, "the relay came back at the same address");
        self.child = child;
    }

    /// A second relay node on this relay's PostgreSQL database (its own process, address and
    /// data directory), as a deployment with several nodes runs them. Drop it before this one,
    /// which owns the database.
    pub async fn another_node(&self) -> Self {
        let url = self
            .pg
            .as_ref()
            .map(TestDb::url)
            .expect("several nodes share a PostgreSQL database");
        let data = tempfile::tempdir().unwrap();
        let (node, child, _) = spawn(data.path(), Some(url), "127.0.0.1:0", &self.extra).await;
        Self {
            url: node,
            child,
            data,
            pg: None,
            pins: self.pins,
            extra: self.extra.clone(),
        }
    }

    /// A connection to the relay's database (the SQLite file in its data directory, or its
    /// PostgreSQL database) beside the running relay: what an attacker with write access to
    /// the database has, for tests that tamper with it. SQLite's WAL mode lets it write while
    /// the relay runs (a write waits up to 10 s for the relay's).
    pub async fn database(&self) -> Database {
        match &self.pg {
            Some(pg) => Database::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(pg.url())
                    .await
                    .unwrap(),
            ),
            None => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(self.data.path().join("parley.db"))
                    .busy_timeout(Duration::from_secs(10));
                Database::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(opts)
                        .await
                        .unwrap(),
                )
            }
        }
    }

    /// The relay's resident set size now and its peak, in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.child.id().unwrap()).unwrap()
    }

    /// Everything the relay stored: the files of its data directory and, on PostgreSQL, the
    /// text of every row of every table (binary columns as PostgreSQL prints them, hex).
    pub async fn stored_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        read_tree(self.data.path(), &mut out);
        if let Some(pg) = &self.pg {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(pg.url()).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for t in tables {
                let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {t} t"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for r in rows {
                    out.extend_from_slice(r.as_bytes());
                }
            }
        }
        out
    }
}

/// A relay's database, opened beside the relay by [`Server::database`]. Statements are plain
/// SQL with `$1`, `$2` … parameters, which both backends take.
#[derive(Debug)]
pub enum Database {
    /// The SQLite file.
    Sqlite(sqlx::SqlitePool),
    /// The PostgreSQL database.
    Postgres(sqlx::PgPool),
}

/// A parameter of a [`Database`] statement.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// An integer (`INTEGER` / `BIGINT`).
    Int(i64),
    /// Bytes (`BLOB` / `BYTEA`).
    Bytes(&'a [u8]),
    /// Text.
    Text(&'a str),
}

/// `query` with `args` bound in order.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match *arg {
                Arg::Int(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
            };
        }
        q
    }};
}

impl Database {
    /// Runs a statement; returns how many rows it changed.
    pub async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> u64 {
        match self {
            Self::Sqlite(pool) => bind_all!(sqlx::query(sql), args)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected(),
            Self::Postgres(pool) => bind_all!(sqlx::query(sql), args)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected(),
        }
    }

    /// The integer a statement returns (one row, one column: a `COUNT(*)`, an `INSERT …
    /// RETURNING pk`).
    pub async fn int(&self, sql: &str, args: &[Arg<'_>]) -> i64 {
        match self {
            Self::Sqlite(pool) => bind_all!(sqlx::query_scalar(sql), args)
                .fetch_one(pool)
                .await
                .unwrap(),
            Self::Postgres(pool) => bind_all!(sqlx::query_scalar(sql), args)
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }

    /// The bytes a statement returns (one row, one column).
    pub async fn bytes(&self, sql: &str, args: &[Arg<'_>]) -> Vec<u8> {
        match self {
            Self::Sqlite(pool) => bind_all!(sqlx::query_scalar(sql), args)
                .fetch_one(pool)
                .await
                .unwrap(),
            Self::Postgres(pool) => bind_all!(sqlx::query_scalar(sql), args)
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Every file under `dir`, appended to `out`.
pub fn read_tree(dir: &Path, out: &mut Vec<u8>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            read_tree(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.extend(bytes);
        }
    }
}

/// Whether `needle` (or its lower-case hex) occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let hex: Vec<u8> = needle
        .iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect();
    haystack.windows(needle.len()).any(|w| w == needle)
        || haystack.windows(hex.len()).any(|w| w == hex.as_slice())
}

/// `VmRSS` and `VmHWM` of process `pid`, KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

async fn spawn(
    data: &Path,
    database_url: Option<&str>,
    listen: &str,
    extra: &[String],
) -> (String, tokio::process::Child, Option<[u8; 32]>) {
    let mut cmd = tokio::process::Command::new(&binaries().0);
    cmd.arg("--data-dir")
        .arg(data)
        .arg("--listen")
        .arg(listen)
        .env_remove("PARLEY_DATABASE_URL")
        .env("PARLEY_SETUP_TOKEN", SETUP_TOKEN)
        .env("PARLEY_LOG", "warn")
        .env("PARLEY_RATE_PER_SEC", "100000")
        .env("PARLEY_RATE_BURST", "100000")
        .env("PARLEY_IP_RATE_PER_SEC", "100000")
        .env("PARLEY_IP_RATE_BURST", "100000")
        .args(extra);
    if let Some(url) = database_url {
        cmd.arg("--database-url").arg(url);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn parley-server");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pin = None;
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) =
                line.strip_prefix("TLS public key SHA-256 (for parley init-org --tls-pin): ")
            {
                pin = parley_client::tls::parse_pin(rest.trim());
            }
            if let Some(rest) = line.strip_prefix("parley-server listening on ") {
                return rest.trim().to_owned();
            }
        }
        panic!("parley-server exited before listening");
    })
    .await
    .expect("parley-server started in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (url, child, pin)
}

/// One device's account: its directory and its messenger.
pub struct Device {
    /// `user.device`, for messages.
    pub name: String,
    /// The account directory.
    pub home: PathBuf,
    /// The engine.
    pub m: Messenger,
}

impl Device {
    /// The user id.
    pub fn user(&self) -> UserId {
        UserId::new(self.m.user()).unwrap()
    }
}

/// Accounts on one relay, sharing a key directory.
pub struct Org {
    /// Holds the accounts and the key files.
    pub dir: tempfile::TempDir,
    /// The relay URL.
    pub url: String,
}

impl Org {
    /// The key directory.
    pub fn keys(&self) -> KeySource {
        KeySource::key_file_in(self.dir.path().join("keys"))
    }

    /// The key directory's path.
    pub fn key_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// Creates the org on `server` with `admin` as its first user; returns its device.
    pub async fn create(server: &Server, admin: &str) -> (Self, Device) {
        let org = Self {
            dir: tempfile::tempdir().unwrap(),
            url: server.url.clone(),
        };
        let home = org.dir.path().join(format!("{admin}.1"));
        let store = enrol::create_org(
            &home,
            org.keys(),
            &server.url,
            server.pins,
            SETUP_TOKEN,
            &UserId::new(admin).unwrap(),
            "E2E",
        )
        .await
        .unwrap();
        let m = Messenger::new(store).await.unwrap();
        (
            org,
            Device {
                name: format!("{admin}.1"),
                home,
                m,
            },
        )
    }

    /// `admin` invites `user` (a new user named after its id), who joins with a first device.
    pub async fn invite(&self, admin: &Device, user: &str) -> Device {
        let text = enrol::invite(
            admin.m.store(),
            &UserId::new(user).unwrap(),
            profile(user),
            false,
        )
        .await
        .unwrap();
        self.join(&format!("{user}.1"), &text).await
    }

    /// `device` links a further device of its user.
    pub async fn link(&self, device: &Device, n: u32) -> Device {
        let text = enrol::link(device.m.store()).await.unwrap();
        self.join(&format!("{}.{n}", device.m.user()), &text).await
    }

    /// Joins with an invite or link text as the device called `name` (e.g. `bob.1`).
    pub async fn join(&self, name: &str, text: &str) -> Device {
        let home = self.dir.path().join(name);
        let store = enrol::join(&home, self.keys(), text).await.unwrap();
        Device {
            name: name.to_owned(),
            home,
            m: Messenger::new(store).await.unwrap(),
        }
    }
}

/// Connects `m` and collects events until `n` messages (texts, files, group changes …)
/// arrived, then closes the connection. Fails after 60 s of silence.
pub async fn receive(m: &Messenger, n: usize) -> Vec<Received> {
    let mut events = m.events().await.unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        let event = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} messages arrived", got.len()))
            .expect("the connection stayed open")
            .unwrap();
        match event {
            Event::Message(msg) => got.push(*msg),
            Event::Dropped { from, error } => {
                panic!("dropped an envelope from {from}: {}", error.message)
            }
            _ => {}
        }
    }
    events.close().await;
    got
}

/// Connects `m`, takes everything queued, and closes; returns the messages.
pub async fn drain(m: &Messenger) -> Vec<Received> {
    let mut events = m.events().await.unwrap();
    let mut got = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .expect("the relay answered")
            .expect("the connection stayed open")
            .unwrap();
        match event {
            Event::Message(msg) => got.push(*msg),
            Event::CaughtUp => break,
            Event::Dropped { from, error } => eprintln!("dropped from {from}: {}", error.message),
            _ => {}
        }
    }
    events.close().await;
    got
}

/// Receives the next `n` envelopes of `d` in reverse order of their arrival, acking each:
/// delivery as reordered as it gets.
pub async fn receive_reversed(d: &Device, n: usize) {
    use parley_proto::ws::ServerFrame;
    let mut ws = d.m.relay().connect().await.unwrap();
    let mut envelopes = Vec::new();
    while envelopes.len() < n {
        if let ServerFrame::Envelope(env) = ws.next().await.unwrap().unwrap() {
            envelopes.push(env);
        }
    }
    for env in envelopes.iter().rev() {
        d.m.receive(env).await.unwrap();
        ws.ack(vec![env.id]).await.unwrap();
    }
    ws.close().await;
}

/// The lines of the conversation with `with` as `d` shows it now ([`Messenger::history`]).
pub async fn shown(d: &Device, with: &parley_client::messaging::Target) -> Vec<String> {
    d.m.history(with, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect()
}

/// The texts of `messages`, in order.
pub fn texts(messages: &[Received]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.text().map(str::to_owned))
        .collect()
}

/// A directory entry named after the user id.
pub fn profile(user: &str) -> Option<parley_proto::org::Profile> {
    Some(parley_proto::org::Profile {
        display_name: user.to_owned(),
        ..Default::default()
    })
}

/// The next envelope queued for `m`'s device, taken off the relay without acking it and
/// without the engine seeing it (to feed it to another engine, or later).
pub async fn take_envelope(m: &Messenger) -> parley_proto::ws::Envelope {
    use parley_proto::ws::ServerFrame;
    let mut ws = m.relay().connect().await.unwrap();
    let env = loop {
        match ws.next().await.unwrap().unwrap() {
            ServerFrame::Envelope(env) => break env,
            ServerFrame::QueueEmpty | ServerFrame::LogAdvanced { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    ws.close().await;
    env
}
