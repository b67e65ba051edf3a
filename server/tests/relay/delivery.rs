//! Delivery over the WebSocket: live and queued, windows, acks, redelivery and reconnects.

use super::*;

both!(
    live_and_queued_delivery,
    unacked_is_redelivered_and_acked_is_not,
    a_device_reads_only_its_own_queue,
    a_full_window_loses_nothing,
    a_burst_of_ack_frames_is_all_written,
    acks_sent_before_a_reconnect_are_not_redelivered,
);

async fn live_and_queued_delivery(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    // Queued while offline, in order.
    for i in 0..50u32 {
        send(&alice, &[&bob], &i.to_be_bytes()).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(got.len(), 50);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.body.0, (i as u32).to_be_bytes().to_vec());
    }
    ws.ack(got.iter().map(|e| e.id).collect()).await.unwrap();
    // Live: pushed the moment it is stored.
    for i in 0..20u32 {
        send(&alice, &[&bob], &(1000 + i).to_be_bytes())
            .await
            .unwrap();
        let e = next_envelope(&mut ws).await;
        assert_eq!(e.body.0, (1000 + i).to_be_bytes().to_vec());
        ws.ack(vec![e.id]).await.unwrap();
    }
    // More than one window's worth, acked as they come.
    let n = parley_server::routes::ws::WINDOW as u32 * 2 + 10;
    let sender = alice.clone();
    let to = bob.clone();
    let sending = tokio::spawn(async move {
        for i in 0..n {
            send(&sender, &[&to], &i.to_be_bytes()).await.unwrap();
        }
    });
    for i in 0..n {
        let e = next_envelope(&mut ws).await;
        assert_eq!(e.body.0, i.to_be_bytes().to_vec(), "in order");
        ws.ack(vec![e.id]).await.unwrap();
    }
    sending.await.unwrap();
    ws.close().await;
    finish(storage, server).await;
}

/// Several senders at once while the device acks only when its window is full: envelopes
/// pile up beyond the window and the socket's mailbox; each arrives exactly once, and each
/// sender's in the order it sent them.
async fn a_full_window_loses_nothing(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let bob = org.join("bob").await.unwrap();
    let window = parley_server::routes::ws::WINDOW;
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    let (senders, each) = (4u8, 300u32);
    let mut sending = Vec::new();
    for s in 0..senders {
        let from = org.join(&format!("s{s}")).await.unwrap();
        let to = bob.clone();
        sending.push(tokio::spawn(async move {
            for i in 0..each {
                let mut body = vec![s];
                body.extend_from_slice(&i.to_be_bytes());
                send(&from, &[&to], &body).await.unwrap();
            }
        }));
    }
    let total = usize::from(senders) * each as usize;
    let mut ids = BTreeSet::new();
    let mut last: Vec<Option<u32>> = vec![None; usize::from(senders)];
    let mut unacked = Vec::new();
    while ids.len() < total {
        let e = next_envelope(&mut ws).await;
        assert!(ids.insert(e.id), "envelope {} pushed twice", e.id);
        let s = usize::from(e.body.0[0]);
        let i = u32::from_be_bytes(e.body.0[1..5].try_into().unwrap());
        assert!(
            last[s].is_none_or(|l| l < i),
            "sender {s}: {i} after {:?}",
            last[s]
        );
        last[s] = Some(i);
        unacked.push(e.id);
        // Ack only a full window (or the tail).
        if unacked.len() == window || ids.len() == total {
            ws.ack(std::mem::take(&mut unacked)).await.unwrap();
        }
    }
    for t in sending {
        t.await.unwrap();
    }
    // Nothing more is queued.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(ws);
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    finish(storage, server).await;
}

async fn unacked_is_redelivered_and_acked_is_not(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    for i in 0..10u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    ws.ack(got[..4].iter().map(|e| e.id).collect())
        .await
        .unwrap();
    // Wait for the ack to commit: a fresh socket replaces this one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(ws); // dropped connection, no close handshake
    let mut ws = bob.relay.connect().await.unwrap();
    let again = drain(&mut ws, false).await;
    assert_eq!(
        again.iter().map(|e| e.body.0[0]).collect::<Vec<_>>(),
        (4..10).collect::<Vec<u8>>()
    );
    assert_eq!(again[0].id, got[4].id);
    // A newer socket replaces an older one, which is told why.
    let mut ws2 = bob.relay.connect().await.unwrap();
    let closing = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(ServerFrame::Closing { reason })) => return reason,
                Some(Ok(_)) => {}
                _ => return String::new(),
            }
        }
    })
    .await
    .unwrap();
    assert!(closing.contains("replaced"), "{closing}");
    assert_eq!(drain(&mut ws2, false).await.len(), 6);
    finish(storage, server).await;
}

/// A socket writes one ack at a time and gathers the frames that arrive meanwhile into the
/// next write: a burst of single-id frames must all be written.
async fn a_burst_of_ack_frames_is_all_written(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    for i in 0..200u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(got.len(), 200);
    for e in &got {
        ws.ack(vec![e.id]).await.unwrap();
    }
    // Ids the socket never pushed (another device's, made up) delete nothing of anyone's.
    ws.ack(vec![got[0].id + 100_000, -1]).await.unwrap();
    // Every ack commits while the socket stays open (not only when it closes). Read from the
    // database: the `/metrics` counters are per process, shared by the tests running in it.
    let acked = async {
        loop {
            let left: i64 = parley_server::on_db!(&server.state.db, read, pool => {
                sqlx::query_scalar("SELECT COUNT(*) FROM envelopes").fetch_one(pool).await.unwrap()
            });
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), acked)
        .await
        .expect("all 200 acks committed within 10 s");
    ws.close().await;
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(
        drain(&mut ws, false).await.is_empty(),
        "every ack was written"
    );
    ws.close().await;
    finish(storage, server).await;
}

/// A device that acks and reconnects is not sent again what it acked: its `close` returns
/// once the relay has written the acks; without a close, the new socket waits for the old one
/// to write the acks it received (here held up by a lock on the envelopes table).
async fn acks_sent_before_a_reconnect_are_not_redelivered(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    for round in 0..6u8 {
        for i in 0..100u8 {
            send(&alice, &[&bob], &[round, i]).await.unwrap();
        }
        let mut ws = bob.relay.connect().await.unwrap();
        let got = drain(&mut ws, false).await;
        assert_eq!(got.len(), 100, "round {round}");
        let replace = round % 2 == 1;
        let lock = if replace {
            Some(lock_envelopes(&storage).await)
        } else {
            None
        };
        for e in &got {
            ws.ack(vec![e.id]).await.unwrap();
        }
        if let Some(lock) = lock {
            // The relay reads the frames; their write waits for the lock.
            tokio::time::sleep(Duration::from_millis(200)).await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                drop(lock);
            });
        } else {
            ws.close().await;
        }
        let mut again = bob.relay.connect().await.unwrap();
        let pushed_again = drain(&mut again, false).await;
        assert!(
            pushed_again.is_empty(),
            "round {round} (replace: {replace}): {} acked envelopes pushed again",
            pushed_again.len()
        );
        again.close().await;
    }
    finish(storage, server).await;
}

/// Holds a lock that stops the relay from writing envelopes (not from reading them) until
/// dropped.
async fn lock_envelopes(storage: &Storage) -> Box<dyn std::any::Any + Send> {
    use sqlx::{Connection as _, Executor as _};
    match &storage.pg {
        Some(pg) => {
            let mut conn = sqlx::PgConnection::connect(pg.url()).await.unwrap();
            conn.execute("BEGIN; LOCK TABLE envelopes IN SHARE ROW EXCLUSIVE MODE")
                .await
                .unwrap();
            Box::new(conn)
        }
        None => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(storage.dir.path().join("parley.db"));
            let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            conn.execute("BEGIN IMMEDIATE").await.unwrap();
            Box::new(conn)
        }
    }
}

async fn a_device_reads_only_its_own_queue(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let carol = org.join("carol").await.unwrap();
    send(&alice, &[&bob], b"for bob").await.unwrap();
    send(&alice, &[&carol], b"for carol").await.unwrap();
    let mut wb = bob.relay.connect().await.unwrap();
    let mut wc = carol.relay.connect().await.unwrap();
    let b = drain(&mut wb, false).await;
    let c = drain(&mut wc, false).await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].body.0, b"for bob");
    assert_eq!(c[0].body.0, b"for carol");
    // Carol acks Bob's envelope id: it stays in Bob's queue.
    wc.ack(vec![b[0].id]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(wb);
    let mut wb = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut wb, false).await.len(), 1);
    finish(storage, server).await;
}
