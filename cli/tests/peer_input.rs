//! What a peer chooses is used carefully: a file message whose attachment id is not the
//! relay's form is shown, but nothing is downloaded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::{alice_and_bob, parley, relay, stderr, stdout};
use parley_client::messaging::{Messenger, Target};
use parley_client::store::{KeySource, Store};
use parley_proto::B64;
use parley_proto::UserId;
use parley_proto::content::{AttachmentPointer, Body};

/// Sends `body` from the account at `home` to `to` through the engine, as a modified client
/// could.
async fn send_body(home: &Path, keys: &Path, to: &str, body: Body) {
    let store = Store::open(home, KeySource::key_file_in(keys.to_path_buf()), None)
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
