//! What the CLI tests share: a relay started in this process, accounts, and running the
//! `parley` binary.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Output;

pub const TOKEN: &str = "cli-test-token";

pub struct Relay {
    pub url: String,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub dir: tempfile::TempDir,
}

impl Relay {
    /// Its `host:port`.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// Stops it (its connections are closed) and gives back its data folder.
    pub async fn shut_down(self) -> tempfile::TempDir {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        self.dir
    }
}

pub async fn relay() -> Relay {
    relay_at(tempfile::tempdir().unwrap(), "127.0.0.1:0").await
}

/// A relay on `addr` keeping its data in `dir` (so it can be stopped and started again).
pub async fn relay_at(dir: tempfile::TempDir, addr: &str) -> Relay {
    let mut config = parley_server::Config::for_data_dir(dir.path());
    config.setup_token = Some(TOKEN.into());
    let listener = std::net::TcpListener::bind(addr).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = parley_server::Relay::open(config).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    Relay {
        url,
        stop,
        task,
        dir,
    }
}

/// Alice creates an org on `relay` and invites Bob, who joins; returns the temporary folder
/// and the account and key directories.
pub async fn alice_and_bob(relay: &Relay) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (alice, bob, keys) = (
        tmp.path().join("alice"),
        tmp.path().join("bob"),
        tmp.path().join("keys"),
    );
    let init = [
        "init-org",
        "--relay",
        &relay.url,
        "--setup-token",
        TOKEN,
        "--user",
        "alice",
    ];
    let out = parley(&alice, &keys, &init).await;
    assert!(out.status.success(), "{}", stderr(&out));
    invite_and_join(&alice, &bob, &keys, "bob").await;
    (tmp, alice, bob, keys)
}

/// `admin` invites `user`, who joins at `home`.
pub async fn invite_and_join(admin: &Path, home: &Path, keys: &Path, user: &str) {
    let out = parley(admin, keys, &["invite", user]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let invite = stdout(&out).trim().to_owned();
    let out = parley(home, keys, &["join", &invite]).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The `parley` command with an account directory and a key directory.
pub fn command(home: &Path, keys: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.arg("--home")
        .arg(home)
        .arg("--key-dir")
        .arg(keys)
        .args(args)
        .kill_on_drop(true);
    cmd.env_remove("PARLEY_HOME")
        .env_remove("PARLEY_KEY_DIR")
        .env_remove("PARLEY_SETUP_TOKEN");
    cmd
}

/// Runs `parley` with an account directory and a key directory.
pub async fn parley(home: &Path, keys: &Path, args: &[&str]) -> Output {
    command(home, keys, args).output().await.unwrap()
}

/// Runs `parley --json …`, expects `code`, and parses stdout as one JSON object.
pub async fn json(home: &Path, keys: &Path, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = parley(home, keys, &all).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "parley {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one JSON object: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Runs `parley --json …`, expects `code` (1 or 75) and returns the error's code, checking
/// the error's shape.
pub async fn json_error(home: &Path, keys: &Path, args: &[&str], code: i32) -> String {
    let v = json(home, keys, args, code).await;
    let error = v["error"].as_object().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(error.len(), 2, "{v}");
    let message = error["message"].as_str().unwrap();
    assert!(!message.is_empty(), "{v}");
    error["code"].as_str().unwrap().to_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether `s` is `n` lowercase hex digits.
pub fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
