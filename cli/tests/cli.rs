//! The `parley` binary against a real relay (started in this process on 127.0.0.1:0): create
//! an org, invite, join, and the errors a user meets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{TOKEN, alice_and_bob, json, json_error, parley, relay, relay_at, stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_invite_join_and_list() {
    let relay = relay().await;
    let tmp = tempfile::tempdir().unwrap();
    let (alice, bob, keys) = (
        tmp.path().join("alice"),
        tmp.path().join("bob"),
        tmp.path().join("keys"),
    );

    let out = parley(
        &alice,
        &keys,
        &[
            "init-org",
            "--relay",
            &relay.url,
            "--setup-token",
            TOKEN,
            "--user",
            "alice",
            "--org-name",
            "Acme",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("first admin"));

    let out = parley(&alice, &keys, &["invite", "bob"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let invite = stdout(&out).trim().to_owned();
    assert!(invite.starts_with("parley-invite:"));

    let out = parley(&bob, &keys, &["join", &invite]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Joined as bob, device 1"));

    let out = parley(&bob, &keys, &["whoami"]).await;
    let alice_who = parley(&alice, &keys, &["whoami"]).await;
    assert!(stdout(&out).contains("user:    bob"));
    let org = |s: String| s.lines().find(|l| l.starts_with("org:")).map(str::to_owned);
    assert_eq!(
        org(stdout(&out)),
        org(stdout(&alice_who)),
        "same pinned org"
    );

    let out = parley(&bob, &keys, &["devices", "alice"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("alice.1 "));

    // Messages, both ways, through the relay, end-to-end encrypted.
    let out = parley(
        &alice,
        &keys,
        &["send", "bob", "Hello Bob, the launch is on Friday."],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = parley(&bob, &keys, &["listen", "--json", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["from"].as_str(), line["text"].as_str()),
        (Some("alice"), Some("Hello Bob, the launch is on Friday."))
    );
    let out = parley(&bob, &keys, &["send", "alice", "Thanks!"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = parley(&alice, &keys, &["listen", "--drain"]).await;
    assert_eq!(stdout(&out).trim(), "bob: Thanks!");
    // Delivered once: a second listen finds nothing new.
    let out = parley(&bob, &keys, &["listen", "--drain"]).await;
    assert_eq!(stdout(&out).trim(), "");
    let out = parley(&alice, &keys, &["history", "bob"]).await;
    assert_eq!(
        stdout(&out),
        "> Hello Bob, the launch is on Friday.\n< Thanks!\n"
    );
    // A second device of Alice's: it gets what Bob sends her, and copies of what she sends.
    let alice2 = tmp.path().join("alice2");
    let out = parley(&alice, &keys, &["link-device"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = parley(&alice2, &keys, &["join", stdout(&out).trim()]).await;
    assert!(
        stdout(&out).contains("Joined as alice, device 2"),
        "{}",
        stderr(&out)
    );
    let out = parley(&bob, &keys, &["send", "alice", "to both of you"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = parley(&alice, &keys, &["send", "bob", "from my laptop"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = parley(&alice2, &keys, &["listen", "--drain"]).await;
    assert_eq!(
        stdout(&out),
        "bob: to both of you\n(you, to bob) from my laptop\n"
    );
    let out = parley(&alice, &keys, &["listen", "--drain"]).await;
    assert_eq!(stdout(&out), "bob: to both of you\n");
    let out = parley(&bob, &keys, &["listen", "--drain"]).await;
    assert_eq!(stdout(&out), "alice: from my laptop\n");
    let out = parley(&alice2, &keys, &["history", "bob"]).await;
    assert_eq!(stdout(&out), "< to both of you\n> from my laptop\n");

    // No plaintext in either local store.
    for home in [&alice, &bob] {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(home).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                bytes.extend(std::fs::read(path).unwrap());
            }
        }
        assert!(
            !bytes.windows(6).any(|w| w == b"launch"),
            "plaintext in {}",
            home.display()
        );
    }

    // The account's store holds no secret in the clear, and its key is elsewhere.
    assert!(std::fs::read_dir(&keys).unwrap().count() >= 2);

    // Errors: a used invite, a damaged invite, a non-admin inviting, an existing account,
    // a missing account, a bad user id — each exits 1 (2 for usage) with a message.
    let out = parley(&tmp.path().join("mallory"), &keys, &["join", &invite]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown, used or expired"),
        "{}",
        stderr(&out)
    );
    assert!(
        !tmp.path().join("mallory/store.db").exists(),
        "a failed join leaves no account behind"
    );
    let out = parley(
        &tmp.path().join("eve"),
        &keys,
        &["join", "parley-invite:AAAA"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("damaged"), "{}", stderr(&out));
    let out = parley(&bob, &keys, &["invite", "carol"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("only an administrator's device"),
        "{}",
        stderr(&out)
    );
    let out = parley(&bob, &keys, &["join", &invite]).await;
    assert_eq!(out.status.code(), Some(1));
    let out = parley(&tmp.path().join("nobody"), &keys, &["whoami"]).await;
    assert_eq!(out.status.code(), Some(1));
    let out = parley(&alice, &keys, &["invite", "Not A User"]).await;
    assert_eq!(out.status.code(), Some(2));

    let _ = relay.stop.send(());
    relay.task.await.unwrap().unwrap();
}

/// A message sent while the relay is down stays queued, survives the client's restart, and is
/// delivered exactly once when the relay is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_while_the_relay_is_down() {
    let relay = relay().await;
    let (_tmp, alice, bob, keys) = alice_and_bob(&relay).await;

    let addr = relay.url.trim_start_matches("http://").to_owned();
    let _ = relay.stop.send(());
    relay.task.await.unwrap().unwrap();
    let out = parley(&alice, &keys, &["send", "bob", "while you were away"]).await;
    assert_eq!(out.status.code(), Some(75), "EX_TEMPFAIL");
    assert!(stderr(&out).contains("stays queued"), "{}", stderr(&out));

    let relay = relay_at(relay.dir, &addr).await;
    // Alice's next run sends what was queued; Bob gets it once.
    let out = parley(&alice, &keys, &["listen", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = parley(&bob, &keys, &["listen", "--drain"]).await;
    assert_eq!(stdout(&out), "alice: while you were away\n");
    assert!(
        parley(&alice, &keys, &["listen", "--drain"])
            .await
            .status
            .success()
    );
    let out = parley(&bob, &keys, &["listen", "--drain"]).await;
    assert_eq!(stdout(&out), "");
    let out = parley(&alice, &keys, &["history", "bob"]).await;
    assert_eq!(stdout(&out), "> while you were away\n");
    let _ = relay.stop.send(());
    relay.task.await.unwrap().unwrap();
}

/// When a device's one-time prekeys run low on the relay, its next `listen` refills them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prekeys_are_refilled_when_low() {
    use parley_client::store::KeySource;
    let relay = relay().await;
    let (_tmp, alice, bob, keys) = alice_and_bob(&relay).await;

    let client = |home: std::path::PathBuf| {
        let keys = keys.clone();
        async move {
            let store = parley_client::unlock::open_store(&home, KeySource::key_file_in(keys))
                .await
                .unwrap();
            let mut tx = store.begin().await.unwrap();
            let account = tx.account().await.unwrap().unwrap();
            let identity = tx.identity().await.unwrap().unwrap();
            tx.commit().await.unwrap();
            store.close().await;
            parley_client::enrol::relay_for(&account, &identity).unwrap()
        }
    };
    let (as_alice, as_bob) = (client(alice.clone()).await, client(bob.clone()).await);
    let bob_id = parley_proto::UserId::new("bob").unwrap();
    for _ in 0..40 {
        as_alice.claim_prekeys(&bob_id, Some(1)).await.unwrap();
    }
    let low = as_bob.prekey_count().await.unwrap();
    assert_eq!((low.one_time, low.one_time_kem), (10, 10));
    assert!(
        parley(&bob, &keys, &["listen", "--drain"])
            .await
            .status
            .success()
    );
    let refilled = as_bob.prekey_count().await.unwrap();
    assert!(
        refilled.one_time >= 90 && refilled.one_time_kem >= 90,
        "{refilled:?}"
    );
    // A session started from a refilled key works.
    assert!(
        parley(&alice, &keys, &["send", "bob", "after the refill"])
            .await
            .status
            .success()
    );
    assert_eq!(
        stdout(&parley(&bob, &keys, &["listen", "--drain"]).await),
        "alice: after the refill\n"
    );
    let _ = relay.stop.send(());
    relay.task.await.unwrap().unwrap();
}

/// A file goes end-to-end encrypted through the relay and arrives byte for byte; the relay's
/// attachment folder holds only ciphertext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip() {
    let relay = relay().await;
    let (tmp, alice, bob, keys) = alice_and_bob(&relay).await;

    let marker = b"CONFIDENTIAL-QUARTERLY-REPORT";
    let data: Vec<u8> = (0..3_000_000u32)
        .flat_map(|i| {
            if i % 1000 == 0 {
                marker.to_vec()
            } else {
                vec![(i % 251) as u8]
            }
        })
        .collect();
    let path = tmp.path().join("report.bin");
    std::fs::write(&path, &data).unwrap();
    let out = parley(
        &alice,
        &keys,
        &[
            "send-file",
            "bob",
            path.to_str().unwrap(),
            "--caption",
            "Q3",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // stderr is a pipe here, not a terminal: no progress bar is drawn into it.
    assert!(
        !stderr(&out).contains("upload"),
        "no progress bar off a terminal: {}",
        stderr(&out)
    );

    let downloads = tmp.path().join("dl");
    let out = parley(
        &bob,
        &keys,
        &[
            "listen",
            "--drain",
            "--json",
            "--download-dir",
            downloads.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    let saved = line["file"].as_str().unwrap().to_owned();
    assert!(saved.ends_with("report.bin"), "{saved}");
    assert!(
        std::fs::read(&saved).unwrap() == data,
        "the file arrived intact"
    );
    assert!(line["text"].as_str().unwrap().starts_with("Q3"));
    assert_eq!(
        std::fs::read_dir(&downloads).unwrap().count(),
        1,
        "no temporary files left"
    );

    // The relay's attachment folder holds ciphertext only.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(relay.dir.path().join("attachments")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            stored.extend(std::fs::read(p).unwrap());
        }
    }
    assert!(stored.len() > data.len(), "the upload is stored");
    assert!(!stored.windows(marker.len()).any(|w| w == marker));
    let out = parley(&alice, &keys, &["history", "bob"]).await;
    assert_eq!(
        stdout(&out),
        format!("> [file report.bin ({} bytes)] Q3\n", data.len())
    );

    // Without --download-dir a received file stays encrypted in the account directory until
    // the user saves one.
    let out = parley(&alice, &keys, &["send-file", "bob", path.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = parley(&bob, &keys, &["listen", "--drain", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(
        (&line["kept"], &line["file"]),
        (&true.into(), &serde_json::Value::Null),
        "{line}"
    );
    assert!(
        line["text"]
            .as_str()
            .unwrap()
            .contains("parley save-file alice"),
        "{line}"
    );
    let mut kept = Vec::new();
    read_tree(&bob, &mut kept);
    assert!(kept.len() > data.len(), "the ciphertext is kept");
    assert!(
        !kept.windows(marker.len()).any(|w| w == marker),
        "nothing of the file is readable in the account directory"
    );
    let id = line["id"].as_str().unwrap();
    let saved_dir = tmp.path().join("saved");
    let v = json(
        &bob,
        &keys,
        &["save-file", "alice", id, saved_dir.to_str().unwrap()],
        0,
    )
    .await;
    let saved = v["saved"].as_str().unwrap();
    assert!(saved.ends_with("report.bin"), "{v}");
    assert!(std::fs::read(saved).unwrap() == data, "saved intact");
    // Saved again: a second copy, never over the first.
    let v = json(
        &bob,
        &keys,
        &["save-file", "alice", id, saved_dir.to_str().unwrap()],
        0,
    )
    .await;
    assert!(
        v["saved"].as_str().unwrap().ends_with("1-report.bin"),
        "{v}"
    );
    let code = json_error(&bob, &keys, &["save-file", "alice", &"0".repeat(32)], 1).await;
    assert_eq!(code, "no_such_file");
    let _ = relay.stop.send(());
    relay.task.await.unwrap().unwrap();
}

/// Every file's bytes under `dir`, appended to `out`.
fn read_tree(dir: &std::path::Path, out: &mut Vec<u8>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            read_tree(&p, out);
        } else {
            out.extend(std::fs::read(p).unwrap());
        }
    }
}
