//! Tests that run the real `parley-server` binary: two nodes on one PostgreSQL, kill -9 in
//! the middle of traffic, and the blindness scan of everything the relay stores.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Backend, BinaryServer, Device, Storage, TestDb, drain};
use parley_client::relay::{Delivery, RelayError};
use parley_proto::B64;
use parley_proto::api::{OutgoingEnvelope, SendRequest};
use parley_proto::ws::ServerFrame;

async fn send(from: &Device, to: &Device, body: &[u8]) -> Result<(), RelayError> {
    let req = SendRequest {
        messages: vec![OutgoingEnvelope {
            device: to.device,
            registration_id: to.registration_id,
            body: B64(body.to_vec()),
        }],
        ttl_secs: None,
    };
    from.relay.send(&to.user, &req).await.map(|_| ())
}

/// Next frame within `secs`, or `None` on timeout.
/// The next frame other than `log_advanced` (which every socket gets when it opens and when
/// the org log grows).
async fn next_frame(ws: &mut Delivery, secs: u64) -> Option<ServerFrame> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(secs), ws.next())
            .await
            .ok()
            .flatten()
            .map(|f| f.unwrap());
        if !matches!(frame, Some(ServerFrame::LogAdvanced { .. })) {
            return frame;
        }
    }
}

/// Waits (up to 30 s) until the relay's queue is empty: every ack sent has been stored.
async fn wait_for_empty_queue(url: &str) {
    for _ in 0..300 {
        let metrics = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.lines().any(|l| l == "parley_envelopes_queued 0") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the queue did not drain");
}

fn with_relay(d: &Device, relay: &parley_client::relay::Relay) -> Device {
    Device {
        relay: relay.with_credentials(d.relay.credentials().unwrap().clone()),
        ..d.clone()
    }
}

/// A message sent through node A reaches a device connected to node B at once, and the other
/// way round; each node serves its own sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_postgres_deliver_live() {
    let pg = TestDb::create().await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = BinaryServer::start(dir_a.path(), Some(pg.url()), &[]).await;
    let b = BinaryServer::start(dir_b.path(), Some(pg.url()), &[]).await;
    let org = common::create_org(a.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let (alice_b, bob_b) = (with_relay(&alice, &b.relay()), with_relay(&bob, &b.relay()));

    let mut bob_ws = bob_b.relay.connect().await.unwrap();
    let mut alice_ws = alice.relay.connect().await.unwrap();
    assert!(matches!(
        next_frame(&mut bob_ws, 10).await,
        Some(ServerFrame::QueueEmpty)
    ));
    assert!(matches!(
        next_frame(&mut alice_ws, 10).await,
        Some(ServerFrame::QueueEmpty)
    ));
    for i in 0..20u8 {
        send(&alice, &bob, &[i]).await.unwrap(); // through node A to a socket on node B
        match next_frame(&mut bob_ws, 5).await {
            Some(ServerFrame::Envelope(e)) => {
                assert_eq!(e.body.0, vec![i]);
                bob_ws.ack(vec![e.id]).await.unwrap();
            }
            other => panic!("expected an envelope on node B, got {other:?}"),
        }
        send(&bob_b, &alice_b, &[i]).await.unwrap(); // through node B to a socket on node A
        match next_frame(&mut alice_ws, 5).await {
            Some(ServerFrame::Envelope(e)) => {
                assert_eq!(e.body.0, vec![i]);
                alice_ws.ack(vec![e.id]).await.unwrap();
            }
            other => panic!("expected an envelope on node A, got {other:?}"),
        }
    }
    a.kill9().await;
    b.kill9().await;
    pg.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loses_nothing_sqlite() {
    kill9_loses_nothing(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loses_nothing_postgres() {
    kill9_loses_nothing(Backend::Postgres, false).await;
}

/// The same with SIGTERM: the relay exits cleanly (status 0) and keeps what it accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_loses_nothing_sqlite() {
    kill9_loses_nothing(Backend::Sqlite, true).await;
}

/// kill -9 while envelopes are in flight: after a restart, every envelope whose send was
/// answered 200 is delivered, none whose ack had been stored comes back, and no id repeats.
async fn kill9_loses_nothing(backend: Backend, sigterm: bool) {
    let storage = Storage::new(backend).await;
    let db = storage.pg.as_ref().map(|p| p.url().to_owned());
    let server = BinaryServer::start(
        storage.dir.path(),
        db.as_deref(),
        &["--rate-per-sec", "1000000", "--rate-burst", "1000000"],
    )
    .await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();

    // Phase 1: delivered and acked before the crash.
    for i in 0..100u32 {
        send(&alice, &bob, format!("one-{i}").as_bytes())
            .await
            .unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let acked: BTreeSet<i64> = drain(&mut ws, true).await.iter().map(|e| e.id).collect();
    assert_eq!(acked.len(), 100);
    // Let the acks commit, then keep the socket open without acking.
    wait_for_empty_queue(&server.url).await;

    // Phase 2: four senders in full flight when the relay is killed.
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let mut tasks = Vec::new();
    for t in 0..4u32 {
        let (a, b, accepted) = (alice.clone(), bob.clone(), accepted.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..100_000u32 {
                let body = format!("two-{t}-{i}");
                match send(&a, &b, body.as_bytes()).await {
                    Ok(()) => {
                        accepted.lock().unwrap().insert(body);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    if sigterm {
        assert!(server.terminate().await.success(), "clean exit on SIGTERM");
    } else {
        server.kill9().await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(ws);
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 10,
        "traffic was in flight ({} accepted)",
        accepted.len()
    );

    let server = BinaryServer::start(storage.dir.path(), db.as_deref(), &[]).await;
    let bob = with_relay(&bob, &server.relay());
    let mut ws = bob.relay.connect().await.unwrap();
    let mut seen: BTreeMap<i64, String> = BTreeMap::new();
    for e in drain(&mut ws, true).await {
        assert!(!acked.contains(&e.id), "an acked envelope came back");
        let body = String::from_utf8(e.body.0).unwrap();
        assert!(
            seen.insert(e.id, body).is_none(),
            "an id repeated on one socket"
        );
    }
    // Each accepted send was stored once, under one id.
    assert_eq!(
        seen.values().collect::<BTreeSet<_>>().len(),
        seen.len(),
        "a message stored twice"
    );
    // Once the acks have committed (the queue is empty), nothing comes back.
    wait_for_empty_queue(&server.url).await;
    drop(ws);
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(
        drain(&mut ws, false).await.is_empty(),
        "acked envelopes were redelivered"
    );
    let delivered: BTreeSet<String> = seen.into_values().collect();
    let lost: Vec<_> = accepted.difference(&delivered).take(5).collect();
    assert!(lost.is_empty(), "accepted but lost: {lost:?}");
    // Anything delivered beyond `accepted` was stored but its answer was cut by the kill.
    assert!(delivered.iter().all(|b| b.starts_with("two-")));
    server.kill9().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_stores_no_plaintext_or_secret_sqlite() {
    blind_relay(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_stores_no_plaintext_or_secret_postgres() {
    blind_relay(Backend::Postgres).await;
}

/// Messages and a file carrying a known marker go through the relay end-to-end encrypted;
/// afterwards neither the marker nor any device secret, private key, setup token or invite
/// code appears anywhere in the database or the attachment folder.
async fn blind_relay(backend: Backend) {
    use parley_crypto::DeviceAddress;
    use parley_crypto::attachment::{self, AttachmentKey};
    use parley_crypto::keys::os_rng;
    use parley_crypto::message::SessionMessage;
    use parley_crypto::prekeys::PreKeyStore;
    use parley_crypto::session_record::{LocalDevice, SessionRecord};

    let storage = Storage::new(backend).await;
    let server = common::TestServer::start(storage.config()).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let invite_code = org.invite(&common::user("carol"), true).await.unwrap();
    let marker = format!(
        "PARLEY-MARKER-{}",
        parley_testkit::hex(&parley_server::random_bytes::<8>().unwrap())
    );

    // Alice starts a session from Bob's bundle and sends him the marker, encrypted.
    let mut rng = os_rng();
    let mut bob_prekeys = PreKeyStore::new(&bob.identity, 0, &mut rng);
    bob_prekeys.generate_one_time(&bob.identity, 5, &mut rng);
    let bundle = bob_prekeys.bundle(bob.identity.public()).unwrap();
    let (a_addr, b_addr) = (
        DeviceAddress::new("alice", 1).unwrap(),
        DeviceAddress::new("bob", 1).unwrap(),
    );
    let mut alice_session = SessionRecord::new();
    alice_session
        .initiate(&a_addr, &b_addr, &alice.identity, &bundle, &mut rng)
        .unwrap();
    let mut bob_session = SessionRecord::new();
    for i in 0..3 {
        let text = format!("{marker} message {i}");
        let wire = alice_session.encrypt(text.as_bytes()).unwrap().to_bytes();
        send(&alice, &bob, &wire).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    for (i, e) in got.iter().enumerate() {
        let msg = SessionMessage::from_bytes(&e.body.0).unwrap();
        let local = LocalDevice {
            address: &b_addr,
            identity: &bob.identity,
            prekeys: &mut bob_prekeys,
        };
        let plain = bob_session
            .decrypt(local, &a_addr, &msg, |_| true, 1, &mut rng)
            .unwrap();
        assert_eq!(
            &plain.plaintext[..],
            format!("{marker} message {i}").as_bytes(),
            "the relay delivered it intact"
        );
    }

    // A file made of the marker, encrypted and uploaded.
    let file: Vec<u8> = marker.as_bytes().repeat(20_000);
    let key = AttachmentKey::generate(&mut rng);
    let mut cipher = Vec::new();
    attachment::encrypt(&key, &mut rng, &file[..], &mut cipher, |_| {}).unwrap();
    let created = alice.relay.upload_attachment(cipher.into()).await.unwrap();
    let down = bob
        .relay
        .download_attachment(&created.id)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut plain = Vec::new();
    attachment::decrypt(&key, None, &down[..], &mut plain, |_| {}).unwrap();
    assert!(plain == file);

    // Everything the relay stored.
    let stored: Vec<u8> = match &storage.pg {
        None => {
            server.stop().await.unwrap();
            let mut all = Vec::new();
            for entry in walk(storage.dir.path()) {
                all.extend(std::fs::read(entry).unwrap());
            }
            all
        }
        Some(pg) => {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(pg.url()).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let mut all = Vec::new();
            for t in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM {t} t"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                for r in rows {
                    all.extend(r.into_bytes());
                }
            }
            for entry in walk(storage.dir.path()) {
                all.extend(std::fs::read(entry).unwrap());
            }
            server.stop().await.unwrap();
            all
        }
    };
    assert!(
        stored.len() > 10_000,
        "the scan saw the stored data ({} bytes)",
        stored.len()
    );
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("marker", marker.as_bytes().to_vec()),
        (
            "alice's device secret",
            alice.relay.credentials().unwrap().secret.to_vec(),
        ),
        (
            "bob's device secret",
            bob.relay.credentials().unwrap().secret.to_vec(),
        ),
        (
            "alice's signing key",
            alice.identity.signing().seed().to_vec(),
        ),
        (
            "alice's identity DH key",
            alice.identity.dh().secret_bytes().to_vec(),
        ),
        ("the setup token", common::SETUP_TOKEN.as_bytes().to_vec()),
        ("an invite code", invite_code.to_vec()),
        ("the file key", key.to_bytes().to_vec()),
    ];
    for (what, bytes) in secrets {
        for form in [
            bytes.clone(),
            parley_testkit::hex(&bytes).into_bytes(),
            B64::encode(&bytes).into_bytes(),
        ] {
            assert!(
                !contains(&stored, &form),
                "{what} found in the relay's storage"
            );
        }
    }
    // The check can fail: the public identity is stored, and found.
    assert!(
        contains(&stored, &alice.identity.public().to_bytes())
            || contains(
                &stored,
                parley_testkit::hex(&alice.identity.public().to_bytes()).as_bytes()
            )
    );
    storage.cleanup().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The relay's own log, at debug level, over a whole scenario (rate-limited requests without
/// credentials included): no device secret, setup token, invite code, envelope bytes, user id
/// or client address appears in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_hold_no_secrets_bytes_names_or_addresses() {
    let storage = Storage::new(Backend::Sqlite).await;
    let log = storage.dir.path().join("relay.log");
    let server = BinaryServer::start_with_log(storage.dir.path(), None, &[], Some(&log)).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let code = org.invite(&common::user("carol"), true).await.unwrap();
    let marker = b"LOG-MARKER-e6d1f0".to_vec();
    for _ in 0..3 {
        send(&alice, &bob, &marker).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut ws, true).await.len(), 3);
    let _ = alice
        .relay
        .upload_attachment(marker.repeat(100).into())
        .await
        .unwrap();
    // Some failures too: they are logged at info.
    let mut creds = alice.relay.credentials().unwrap().clone();
    creds.secret[0] ^= 1;
    assert!(
        server
            .relay()
            .with_credentials(creds)
            .prekey_count()
            .await
            .is_err()
    );
    assert!(send(&alice, &bob, &[]).await.is_err());
    // Requests without credentials beyond the per-address limit (default burst: 100): the
    // refusals are logged without the address they were counted against.
    let anonymous = org.relay.clone();
    let mut refused = None;
    for _ in 0..500 {
        if let Err(e) = anonymous.org_log(0).await {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(
        refused.and_then(|e| e.status()),
        Some(reqwest::StatusCode::TOO_MANY_REQUESTS)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill9().await;

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/v1/messages/{user}"),
        "the log has the requests:\n{text}"
    );
    let secret = alice.relay.credentials().unwrap().secret.clone();
    let forbidden: Vec<(&str, String)> = vec![
        ("a device secret", B64::encode(&secret)),
        ("a device secret (hex)", parley_testkit::hex(&secret)),
        ("the setup token", common::SETUP_TOKEN.into()),
        ("an invite code", B64::encode(&code)),
        ("envelope bytes", String::from_utf8(marker.clone()).unwrap()),
        ("envelope bytes (base64)", B64::encode(&marker)),
        ("a user id", "alice".into()),
        ("a user id", "bob".into()),
        ("a user id", "carol".into()),
    ];
    for (what, needle) in forbidden {
        assert!(!text.contains(&needle), "{what} in the log");
    }
    // The only address is the relay's own, in its start-up line.
    for line in text.lines().filter(|l| !l.contains("starting")) {
        assert!(!line.contains("127.0.0.1"), "an address in the log: {line}");
    }
    storage.cleanup().await;
}
