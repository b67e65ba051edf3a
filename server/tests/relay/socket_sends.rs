//! Sends over the WebSocket: answers, refusals, pipelining, and what is stored.

use super::*;

both!(
    sends_over_the_socket,
    a_send_over_the_socket_is_stored_if_and_only_if_answered,
    pipelined_sends_on_many_sockets_are_all_answered,
    other_writes_go_through_while_the_writer_is_busy,
);

/// Reads a sender's socket until `n` sends are answered (10 s at most per frame): request
/// number → the answer frame.
async fn answers(ws: &mut Delivery, n: usize) -> std::collections::BTreeMap<u64, ServerFrame> {
    let mut out = std::collections::BTreeMap::new();
    while out.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s")
            .expect("socket open")
            .expect("valid frame");
        match frame {
            ServerFrame::Sent { request, .. } | ServerFrame::SendFailed { request, .. } => {
                assert!(out.insert(request, frame).is_none(), "answered twice");
            }
            ServerFrame::QueueEmpty | ServerFrame::LogAdvanced { .. } => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
    out
}

/// The status and error code of a refused send, as the client's error for it gives them.
fn refused(frame: &ServerFrame) -> (u16, ErrorCode) {
    match frame {
        ServerFrame::SendFailed { status, error, .. } => {
            let e = RelayError::refused(*status, error.clone());
            (e.status().unwrap().as_u16(), code(&e).unwrap())
        }
        other => panic!("not refused: {other:?}"),
    }
}

async fn sends_over_the_socket(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let alice2 = org.link(&alice).await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let bob2 = org.link(&bob).await.unwrap();
    let carol = org.join("carol").await.unwrap();
    let multi = |recipients| MultiSendRequest {
        recipients,
        ttl_secs: None,
    };
    let mut ws = alice.relay.connect().await.unwrap();
    // 50 sends in flight at once, then a group message, a mismatched one, a stale one.
    for i in 1..=50u64 {
        let req = multi(vec![to("bob", &[&bob, &bob2], &i.to_be_bytes())]);
        ws.send(i, req).await.unwrap();
    }
    ws.send(
        51,
        multi(vec![
            to("bob", &[&bob, &bob2], b"group"),
            to("carol", &[&carol], b"group"),
        ]),
    )
    .await
    .unwrap();
    ws.send(52, multi(vec![to("bob", &[&bob], b"no")]))
        .await
        .unwrap();
    let mut stale = multi(vec![to("carol", &[&carol], b"no")]);
    stale.recipients[0].messages[0].registration_id ^= 0x4000;
    ws.send(53, stale).await.unwrap();
    // Frames a send cannot be read from are answered as the HTTP request would be.
    ws.send_raw(
        r#"{"type":"send","request":54,"recipients":[{"user":"bob","messages":[{"device":1,"registration_id":1,"body":"!!"}]}]}"#,
    )
    .await
    .unwrap();
    ws.send_raw(r#"{"type":"send","request":55}"#)
        .await
        .unwrap();
    ws.send(56, multi(vec![])).await.unwrap();
    // The socket is still open: one more send.
    ws.send(57, multi(vec![to("carol", &[&carol], b"last")]))
        .await
        .unwrap();
    let got = answers(&mut ws, 57).await;
    for i in (1..=51).chain([57]) {
        match &got[&i] {
            ServerFrame::Sent {
                sender_devices,
                server_timestamp,
                ..
            } => {
                assert_eq!(sender_devices, &vec![1, 2]);
                assert!(*server_timestamp > 0);
            }
            other => panic!("{i}: {other:?}"),
        }
    }
    assert_eq!(refused(&got[&52]), (409, ErrorCode::MismatchedDevices));
    let ServerFrame::SendFailed { error, .. } = &got[&52] else {
        unreachable!()
    };
    assert_eq!(
        error.mismatched_users.clone().unwrap(),
        vec![UserMismatch {
            user: user("bob"),
            devices: MismatchedDevices {
                missing: vec![2],
                extra: vec![]
            }
        }]
    );
    assert_eq!(refused(&got[&53]), (410, ErrorCode::StaleDevices));
    assert_eq!(refused(&got[&54]), (400, ErrorCode::BadBase64));
    assert_eq!(refused(&got[&55]), (400, ErrorCode::MalformedJson));
    assert_eq!(refused(&got[&56]), (400, ErrorCode::InvalidInput));
    // A frame over the request body limit (8 MiB) ends the socket unanswered, and nothing of
    // it is stored (checked below).
    let huge = format!(
        r#"{{"type":"send","request":58,"recipients":[{}]}}"#,
        " ".repeat(9 << 20)
    );
    let _ = ws.send_raw(&huge).await;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the socket ends within 10 s")
        {
            None | Some(Err(_)) => break,
            Some(Ok(ServerFrame::Sent { request, .. })) => panic!("{request} answered"),
            Some(Ok(_)) => {}
        }
    }

    // Stored in the order sent, and only what was accepted.
    let expected_bob: Vec<Vec<u8>> = (1..=50u64)
        .map(|i| i.to_be_bytes().to_vec())
        .chain([b"group".to_vec()])
        .collect();
    for (d, expected) in [
        (&bob, expected_bob.clone()),
        (&bob2, expected_bob),
        (&carol, vec![b"group".to_vec(), b"last".to_vec()]),
        (&alice2, vec![]),
    ] {
        let mut ws = d.relay.connect().await.unwrap();
        let got = drain(&mut ws, true).await;
        assert_eq!(
            got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
            expected,
            "{}.{}",
            d.user,
            d.device
        );
        ws.close().await;
    }
    finish(storage, server).await;

    // Each send costs a token of the rate limit, as a request does.
    let storage = Storage::new(backend).await;
    let mut config = storage.config();
    config.limits.rate_per_sec = 0.5;
    config.limits.rate_burst = 4.0;
    let server = TestServer::start(config).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let mut ws = alice.relay.connect().await.unwrap();
    for i in 1..=5u64 {
        ws.send(i, multi(vec![to("bob", &[&bob], b"x")]))
            .await
            .unwrap();
    }
    let got = answers(&mut ws, 5).await;
    let limited: Vec<&ServerFrame> = got
        .values()
        .filter(|f| matches!(f, ServerFrame::SendFailed { .. }))
        .collect();
    assert!(!limited.is_empty(), "{got:?}");
    for f in limited {
        assert_eq!(refused(f), (429, ErrorCode::RateLimited));
        let ServerFrame::SendFailed { error, .. } = f else {
            unreachable!()
        };
        assert!(error.retry_after_secs.unwrap() >= 1);
    }
    ws.close().await;
    finish(storage, server).await;
}

/// Many sockets, each with as many sends waiting for their commit as the relay takes, while
/// every send reads devices from the database (directory cache off): every send is answered
/// and stored. (A send waiting in a socket for its commit must hold no database connection:
/// the socket polls it only between frames, so such sends would starve the sockets' own reads
/// of the pool, and the relay would stop.)
async fn pipelined_sends_on_many_sockets_are_all_answered(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let bob = org.join("bob").await.unwrap();
    let mut senders = Vec::new();
    for i in 0..24 {
        senders.push(org.join(&format!("s{i}")).await.unwrap());
    }
    server.state.directory.set_enabled(false);
    let per = parley_server::routes::ws::MAX_PENDING_SENDS as u64;
    let mut tasks = Vec::new();
    for s in senders {
        let bob = bob.clone();
        tasks.push(tokio::spawn(async move {
            let mut ws = s.relay.connect().await.unwrap();
            for i in 1..=per {
                let req = MultiSendRequest {
                    recipients: vec![to("bob", &[&bob], &i.to_be_bytes())],
                    ttl_secs: None,
                };
                ws.send(i, req).await.unwrap();
            }
            let got = answers(&mut ws, per as usize).await;
            let stored = |f: &ServerFrame| matches!(f, ServerFrame::Sent { .. });
            assert!(got.values().all(stored), "{got:?}");
            ws.close().await;
        }));
    }
    for t in futures_util::future::join_all(tasks).await {
        t.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut ws, true).await.len(), 24 * per as usize);
    ws.close().await;
    finish(storage, server).await;
}

/// Enrolment (which writes outside the group commit) goes through while the group-commit
/// writer always has requests waiting: it keeps its connection from one commit to the next
/// only for a while (on SQLite it is the only write connection; kept for as long as requests
/// keep coming, enrolment would wait out the pool's timeout and fail).
async fn other_writes_go_through_while_the_writer_is_busy(backend: Backend) {
    use parley_server::writer::{MAX_BATCH_ROWS, WriteOp};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let stop = Arc::new(AtomicBool::new(false));
    // More requests in flight than one transaction takes, each a real (if empty) delete.
    let mut tasks = Vec::new();
    for _ in 0..MAX_BATCH_ROWS + MAX_BATCH_ROWS / 4 {
        let (writer, stop) = (server.state.writer.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut commits = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let op = WriteOp::Ack {
                    device_pk: 0,
                    pushed: Vec::new(),
                    other: vec![i64::MAX],
                };
                writer.write(op).await.unwrap();
                commits += 1;
            }
            commits
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..3 {
        org.join(&format!("late{i}")).await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let mut commits = 0;
    for t in tasks {
        commits += t.await.unwrap();
    }
    assert!(commits > MAX_BATCH_ROWS as u64, "the writer was kept busy");
    finish(storage, server).await;
}

/// A socket replaced while sends are in flight: every send it answered as stored was stored,
/// and none of the others.
async fn a_send_over_the_socket_is_stored_if_and_only_if_answered(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let mut ws = alice.relay.connect().await.unwrap();
    for i in 1..=300u64 {
        let req = MultiSendRequest {
            recipients: vec![to("bob", &[&bob], &i.to_be_bytes())],
            ttl_secs: None,
        };
        ws.send(i, req).await.unwrap();
    }
    // A second socket of Alice's device replaces the first.
    let second = alice.relay.connect().await.unwrap();
    let mut sent = Vec::new();
    let mut closing = false;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the socket ends within 10 s")
    {
        match frame.unwrap() {
            ServerFrame::Sent { request, .. } => {
                assert!(!closing, "answered after the closing frame");
                sent.push(request);
            }
            ServerFrame::Closing { .. } => closing = true,
            ServerFrame::QueueEmpty | ServerFrame::LogAdvanced { .. } => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(closing, "the relay said it closed the socket");
    second.close().await;
    let mut ws = bob.relay.connect().await.unwrap();
    let stored: Vec<u64> = drain(&mut ws, true)
        .await
        .iter()
        .map(|e| u64::from_be_bytes(e.body.0.as_slice().try_into().unwrap()))
        .collect();
    sent.sort_unstable();
    assert_eq!(stored, sent, "stored (in order) = answered");
    ws.close().await;
    finish(storage, server).await;
}
