//! `parley listen` keeps going when the relay goes away and comes back, and gives up with
//! exit 75 when it stays away.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{alice_and_bob, command, json, relay, relay_at, stderr};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// Reads JSON lines until one has `text`; panics after `secs`.
async fn until_text(lines: &mut Lines, text: &str, secs: u64) -> serde_json::Value {
    let wait = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["text"] == text {
                return v;
            }
        }
        panic!("listen ended before {text:?}");
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .unwrap_or_else(|_| panic!("no {text:?} within {secs} s"))
}

async fn read_all(mut r: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut s = String::new();
    r.read_to_string(&mut s).await.unwrap();
    s
}

/// The same `listen` process gets a message sent after the relay restarted, and stops
/// cleanly (exit 0) on SIGINT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_reconnects_after_the_relay_restarts() {
    let relay = relay().await;
    let (_tmp, alice, bob, keys) = alice_and_bob(&relay).await;
    let mut child = command(&bob, &keys, &["--json", "listen"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let stderr_task = tokio::spawn(read_all(child.stderr.take().unwrap()));

    json(&alice, &keys, &["send", "bob", "before"], 0).await;
    let v = until_text(&mut lines, "before", 30).await;
    assert_eq!(v["event"], "message");

    let addr = relay.addr();
    let dir = relay.shut_down().await;
    // Long enough for listen to fail to reconnect at least once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(child.try_wait().unwrap().is_none(), "listen kept going");
    let relay = relay_at(dir, &addr).await;
    json(&alice, &keys, &["send", "bob", "after the restart"], 0).await;
    until_text(&mut lines, "after the restart", 60).await;
    assert!(child.try_wait().unwrap().is_none(), "the same process");

    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    let err = stderr_task.await.unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("reconnecting in"), "{err}");
    assert!(err.contains("reconnected"), "{err}");
    relay.shut_down().await;
}

/// Without a relay, `listen` retries with backoff for `--give-up-after` seconds, then exits
/// 75; a connection that drops is retried the same way (under --json the error is the last
/// line of stdout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_gives_up_with_75() {
    let relay = relay().await;
    let (_tmp, alice, bob, keys) = alice_and_bob(&relay).await;

    // Dropped while listening, never back.
    let mut child = command(&bob, &keys, &["--json", "listen", "--give-up-after", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let stderr_task = tokio::spawn(read_all(child.stderr.take().unwrap()));
    json(&alice, &keys, &["send", "bob", "hello"], 0).await;
    until_text(&mut lines, "hello", 30).await;
    let addr = relay.addr();
    let dir = relay.shut_down().await;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(75), "{}", stderr_task.await.unwrap());
    let last = lines.next_line().await.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["error"]["code"], "relay_unreachable", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("gave up reconnecting"),
        "{v}"
    );
    assert_eq!(lines.next_line().await.unwrap(), None);

    // Never reachable: several attempts, spaced out, then 75.
    let started = Instant::now();
    let out = command(&bob, &keys, &["listen", "--give-up-after", "2"])
        .output()
        .await
        .unwrap();
    let took = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert!(err.matches("reconnecting in").count() >= 2, "{err}");
    assert!(err.contains("error: gave up reconnecting after"), "{err}");
    assert!(err.contains("cannot reach the relay"), "{err}");
    assert_eq!(common::stdout(&out), "");

    // --drain still exits 0 once caught up.
    let relay = relay_at(dir, &addr).await;
    let out = command(&bob, &keys, &["listen", "--drain", "--give-up-after", "5"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    relay.shut_down().await;
}
