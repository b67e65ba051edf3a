//! Two relay nodes on one PostgreSQL database.

use super::*;

/// Two relay nodes on one PostgreSQL database: an envelope stored by one node reaches a socket
/// held by the other (woken by `NOTIFY`), interleaved with envelopes stored by the socket's
/// own node, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_postgres_database() {
    let storage = Storage::new(Backend::Postgres).await;
    let a = TestServer::start(storage.config()).await;
    let org = common::create_org(a.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let b = TestServer::start(storage.config()).await;
    let alice_on_b = parley_client::relay::Relay::new(b.url.clone())
        .with_credentials(alice.relay.credentials().unwrap().clone());
    let bob_on_b = parley_client::relay::Relay::new(b.url.clone())
        .with_credentials(bob.relay.credentials().unwrap().clone());
    let mut ws = bob_on_b.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    for i in 0..40u32 {
        let req = SendRequest {
            messages: vec![env(&bob, &i.to_be_bytes())],
            ttl_secs: None,
        };
        // Even ones through node A (NOTIFY), odd ones through node B (its own writer).
        let via = if i % 2 == 0 {
            &alice.relay
        } else {
            &alice_on_b
        };
        via.send(&bob.user, &req).await.unwrap();
        let e = next_envelope(&mut ws).await;
        assert_eq!(e.body.0, i.to_be_bytes().to_vec());
        ws.ack(vec![e.id]).await.unwrap();
    }
    ws.close().await;
    b.stop().await.unwrap();
    a.stop().await.unwrap();
    storage.cleanup().await;
}

/// Two relay nodes on one PostgreSQL database: a device linked through node A is expected by
/// node B's next send as soon as A's `NOTIFY` arrived, although B had cached the user's devices
/// (the cache would otherwise keep them for `MAX_AGE`, 10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_linked_on_one_node_is_expected_on_another() {
    let storage = Storage::new(Backend::Postgres).await;
    let a = TestServer::start(storage.config()).await;
    let org = common::create_org(a.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let b = TestServer::start(storage.config()).await;
    let alice_on_b = parley_client::relay::Relay::new(b.url.clone())
        .with_credentials(alice.relay.credentials().unwrap().clone());
    let one = |body: &[u8]| SendRequest {
        messages: vec![env(&bob, body)],
        ttl_secs: None,
    };
    // B caches Bob's devices once its LISTEN connection is up.
    let start = std::time::Instant::now();
    while b.state.directory.lookup(&bob.user).is_none() {
        assert!(start.elapsed() < Duration::from_secs(5), "B never cached");
        alice_on_b.send(&bob.user, &one(b"warm")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bob2 = org.link(&bob).await.unwrap();
    let start = std::time::Instant::now();
    loop {
        match alice_on_b.send(&bob.user, &one(b"x")).await {
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let m = e.body().unwrap().mismatched.clone().unwrap();
                assert_eq!((m.missing, m.extra), (vec![2], vec![]));
                break;
            }
            other => {
                other.unwrap();
                assert!(
                    start.elapsed() < Duration::from_secs(3),
                    "node B still accepts a send without Bob's new device"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let req = SendRequest {
        messages: vec![env(&bob, b"y"), env(&bob2, b"y")],
        ttl_secs: None,
    };
    alice_on_b.send(&bob.user, &req).await.unwrap();
    b.stop().await.unwrap();
    a.stop().await.unwrap();
    storage.cleanup().await;
}
