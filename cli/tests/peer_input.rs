//! What a peer or the relay chooses is used carefully: a file message whose attachment id is
//! not the relay's form is shown, but nothing is downloaded; texts, captions, file names,
//! group names and the relay's refusals reach people's terminals without control characters
//! (escapes, bidi overrides, line breaks), while `--json` keeps them exact.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::{alice_and_bob, json, parley, relay, stderr, stdout};
use parley_client::messaging::{Messenger, Target};
use parley_client::store::KeySource;
use parley_proto::B64;
use parley_proto::UserId;
use parley_proto::content::{AttachmentPointer, Body};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sends `body` from the account at `home` to `to` through the engine, as a modified client
/// could.
async fn send_body(home: &Path, keys: &Path, to: &str, body: Body) {
    let store = parley_client::unlock::open_store(home, KeySource::key_file_in(keys.to_path_buf()))
        .await
        .unwrap();
    let m = Messenger::new(store).await.unwrap();
    m.send_body(&Target::User(UserId::new(to).unwrap()), body)
        .await
        .unwrap();
    m.close().await;
}

/// A file message whose attachment id would walk the relay's URL paths is shown without its
/// file, with the reason; no file is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_attachment_id_is_not_downloaded() {
    let relay = relay().await;
    let (tmp, alice, bob, keys) = alice_and_bob(&relay).await;
    let body = Body::File {
        attachment: AttachmentPointer {
            id: "../../v1/org/log?since=0".into(),
            key: B64(vec![1; 32]),
            digest: B64(vec![2; 32]),
            size: 5,
            content_type: "application/octet-stream".into(),
            file_name: Some("a.txt".into()),
        },
        caption: Some("look".into()),
        reply_to: None,
    };
    send_body(&alice, &keys, "bob", body).await;
    let downloads = tmp.path().join("dl");
    let dl = downloads.to_str().unwrap();
    let out = parley(
        &bob,
        &keys,
        &["--json", "listen", "--drain", "--download-dir", dl],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(line["event"], "message", "{line}");
    assert!(line["file"].is_null(), "{line}");
    let text = line["text"].as_str().unwrap();
    assert!(text.contains("could not be downloaded"), "{text}");
    assert!(text.contains("attachment id is malformed"), "{text}");
    assert!(!downloads.exists(), "nothing was saved");
    let _ = relay.stop.send(());
    relay.task.await.unwrap().unwrap();
}

/// Whether `s` holds a control character other than the line breaks between lines, or a
/// bidi override.
fn has_controls(s: &str) -> bool {
    s.lines().any(|l| {
        l.contains(|c: char| {
            c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
    })
}

/// A text, a group's name, a file's name and caption with a screen-clearing escape and a
/// right-to-left override: `listen`, `history` and `group list` show them without; `--json`
/// keeps them exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_text_reaches_the_terminal_without_control_characters() {
    let relay = relay().await;
    let (tmp, alice, bob, keys) = alice_and_bob(&relay).await;
    let text = "hi\x1b[2Jthere\u{202e}evil\nbob: forged";
    let out = parley(&alice, &keys, &["send", "bob", text]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let path = tmp.path().join("r\u{202e}txt.exe");
    std::fs::write(&path, b"data").unwrap();
    let file = path.to_str().unwrap();
    let out = parley(
        &alice,
        &keys,
        &["send-file", "bob", file, "--caption", "cap\x1b]0;title\x07"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&alice, &keys, &["group", "create", "Ops\x1b[31m", "bob"], 0).await;
    let group = v["id"].as_str().unwrap().to_owned();
    let to_group = format!("#{group}");
    json(&alice, &keys, &["send", &to_group, "in\u{2066}group"], 0).await;

    let dl = tmp.path().join("dl");
    let dl = dl.to_str().unwrap();
    let out = parley(&bob, &keys, &["listen", "--drain", "--download-dir", dl]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(!has_controls(&shown), "{shown:?}");
    assert!(!has_controls(&stderr(&out)), "{:?}", stderr(&out));
    assert!(
        shown.contains("alice: hi[2Jthereevilbob: forged\n"),
        "one line, its text kept: {shown:?}"
    );
    assert!(!shown.lines().any(|l| l.starts_with("bob:")), "{shown:?}");
    assert!(
        shown.contains("alice: cap]0;title [file saved to"),
        "{shown:?}"
    );
    assert!(shown.contains("rtxt.exe]"), "{shown:?}");
    assert!(shown.contains("#Ops[31m alice: ingroup"), "{shown:?}");

    let out = parley(&bob, &keys, &["history", "alice"]).await;
    let shown = stdout(&out);
    assert!(!has_controls(&shown), "{shown:?}");
    assert!(shown.contains("< hi[2Jthereevilbob: forged\n"), "{shown:?}");
    assert!(
        shown.contains("< [file rtxt.exe (4 bytes)] cap]0;title\n"),
        "{shown:?}"
    );
    let out = parley(&bob, &keys, &["history", &to_group]).await;
    assert!(!has_controls(&stdout(&out)), "{:?}", stdout(&out));
    assert!(
        stdout(&out).contains("alice: ingroup"),
        "{:?}",
        stdout(&out)
    );
    let out = parley(&bob, &keys, &["group", "list"]).await;
    assert!(!has_controls(&stdout(&out)), "{:?}", stdout(&out));
    assert!(stdout(&out).contains("  Ops[31m  "), "{:?}", stdout(&out));

    // Under --json the peer's text is exact.
    let v = json(&bob, &keys, &["history", "alice"], 0).await;
    assert_eq!(v["messages"][0]["text"], text, "{v}");
    let v = json(&bob, &keys, &["group", "list"], 0).await;
    assert_eq!(v["groups"][0]["name"], "Ops\x1b[31m", "{v}");
    let _ = relay.stop.send(());
    relay.task.await.unwrap().unwrap();
}

/// Answers every HTTP request on `listener` with 403 and an error body whose message holds
/// terminal escapes, as a hostile relay could.
async fn hostile_relay(listener: tokio::net::TcpListener) {
    let body = serde_json::json!({
        "code": "forbidden",
        "message": "go away\x1b[2J\x1b]0;pwned\x07\u{202e}now",
    })
    .to_string();
    while let Ok((mut socket, _)) = listener.accept().await {
        let body = body.clone();
        tokio::spawn(async move {
            // Read the head and any body the request announces, then answer.
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let Ok(n) = socket.read(&mut buf).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let answer = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// The relay's refusal message is printed for people without its escapes; `--json` keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_refusal_reaches_the_terminal_without_control_characters() {
    let relay = relay().await;
    let (_tmp, alice, _bob, keys) = alice_and_bob(&relay).await;
    // The relay goes; a hostile one takes its address.
    let addr = relay.addr();
    let dir = relay.shut_down().await;
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    let hostile = tokio::spawn(hostile_relay(listener));

    let out = parley(&alice, &keys, &["send", "bob", "hello"]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(err.contains("go away[2J]0;pwnednow"), "{err:?}");
    assert!(!has_controls(&err), "{err:?}");
    let v = json(&alice, &keys, &["send", "bob", "hello"], 1).await;
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("go away\x1b[2J\x1b]0;pwned\x07\u{202e}now"),
        "{v}"
    );

    hostile.abort();
    let _ = hostile.await;
    drop(dir);
}
