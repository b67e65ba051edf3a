//! Sends over HTTP: the device lists a send must match, and one send to several users.

use super::*;

both!(
    send_checks_devices,
    send_to_several_users,
    a_send_may_shorten_its_ttl
);

async fn send_checks_devices(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let alice2 = org.link(&alice).await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let bob2 = org.link(&bob).await.unwrap();

    // Missing a device: 409 with the missing id.
    let e = send(&alice, &[&bob], b"x").await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::CONFLICT));
    let m = e.body().unwrap().mismatched.clone().unwrap();
    assert_eq!((m.missing, m.extra), (vec![2], vec![]));
    // An extra device.
    let mut req = SendRequest {
        messages: vec![env(&bob, b"x"), env(&bob2, b"x")],
        ttl_secs: None,
    };
    req.messages.push(OutgoingEnvelope {
        device: 7,
        registration_id: 1,
        body: B64(b"x".to_vec()),
    });
    let e = alice.relay.send(&bob.user, &req).await.unwrap_err();
    assert_eq!(e.body().unwrap().mismatched.clone().unwrap().extra, vec![7]);
    // A stale registration id: 410.
    let mut req = SendRequest {
        messages: vec![env(&bob, b"x"), env(&bob2, b"x")],
        ttl_secs: None,
    };
    req.messages[1].registration_id ^= 0x4000;
    let e = alice.relay.send(&bob.user, &req).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::GONE));
    assert_eq!(e.body().unwrap().stale.clone().unwrap(), vec![2]);
    // Unknown user: 404. Duplicate device: 400.
    let e = alice
        .relay
        .send(
            &user("nobody"),
            &SendRequest {
                messages: vec![env(&bob, b"x")],
                ttl_secs: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NotFound));
    let dup = SendRequest {
        messages: vec![env(&bob, b"x"), env(&bob, b"x")],
        ttl_secs: None,
    };
    assert_eq!(
        code(&alice.relay.send(&bob.user, &dup).await.unwrap_err()),
        Some(ErrorCode::InvalidInput)
    );
    // To one's own user: every other device, not the sender.
    send(&alice, &[&alice2], b"sync").await.unwrap();
    let e = send(&alice, &[&alice, &alice2], b"sync").await.unwrap_err();
    assert_eq!(e.body().unwrap().mismatched.clone().unwrap().extra, vec![1]);
    // Nothing of the refused requests was stored.
    send(&alice, &[&bob, &bob2], b"ok").await.unwrap();
    let mut ws = bob2.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(
        got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
        vec![b"ok".to_vec()]
    );
    assert_eq!(
        (got[0].source_user.as_str(), got[0].source_device),
        ("alice", 1)
    );
    // A device linked after the relay cached Bob's devices is expected at once.
    let bob3 = org.link(&bob).await.unwrap();
    let e = send(&alice, &[&bob, &bob2], b"x").await.unwrap_err();
    let m = e.body().unwrap().mismatched.clone().unwrap();
    assert_eq!((m.missing, m.extra), (vec![3], vec![]));
    send(&alice, &[&bob, &bob2, &bob3], b"ok3").await.unwrap();
    finish(storage, server).await;
}

async fn send_to_several_users(backend: Backend) {
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

    // One request, every device of every user (and Alice's other device, not the sender).
    let ok = multi(vec![
        to("bob", &[&bob, &bob2], b"group 1"),
        to("carol", &[&carol], b"group 1"),
        to("alice", &[&alice2], b"group 1"),
    ]);
    let answer = alice.relay.send_multi(&ok).await.unwrap();
    assert_eq!(answer.sender_devices, vec![1, 2]);

    // Mismatches are reported for every user concerned; an unknown user's envelopes are extra.
    let e = alice
        .relay
        .send_multi(&multi(vec![
            to("bob", &[&bob], b"no"),
            to("carol", &[&carol], b"no"),
            to("nobody", &[&carol], b"no"),
        ]))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::CONFLICT));
    assert_eq!(code(&e), Some(ErrorCode::MismatchedDevices));
    assert_eq!(
        e.body().unwrap().mismatched_users.clone().unwrap(),
        vec![
            UserMismatch {
                user: user("bob"),
                devices: MismatchedDevices {
                    missing: vec![2],
                    extra: vec![]
                }
            },
            UserMismatch {
                user: user("nobody"),
                devices: MismatchedDevices {
                    missing: vec![],
                    extra: vec![1]
                }
            },
        ]
    );
    // A stale registration id: 410 naming the user and device.
    let mut stale = multi(vec![
        to("bob", &[&bob, &bob2], b"no"),
        to("carol", &[&carol], b"no"),
    ]);
    stale.recipients[1].messages[0].registration_id ^= 0x4000;
    let e = alice.relay.send_multi(&stale).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::GONE));
    assert_eq!(
        e.body().unwrap().stale_users.clone().unwrap(),
        vec![UserStale {
            user: user("carol"),
            stale: vec![1]
        }]
    );
    // Bad requests.
    let bad = [
        (multi(vec![]), ErrorCode::InvalidInput),
        (
            multi(vec![
                to("carol", &[&carol], b"no"),
                to("carol", &[&carol], b"no"),
            ]),
            ErrorCode::InvalidInput,
        ),
        (
            multi(vec![to("carol", &[], b"no")]),
            ErrorCode::InvalidInput,
        ),
        (
            multi(vec![to("carol", &[&carol], b"")]),
            ErrorCode::InvalidInput,
        ),
        (
            multi(vec![RecipientEnvelopes {
                user: user("carol"),
                messages: (0..=MAX_ENVELOPES_PER_SEND as u32)
                    .map(|d| OutgoingEnvelope {
                        device: d,
                        registration_id: 1,
                        body: B64(b"no".to_vec()),
                    })
                    .collect(),
            }]),
            ErrorCode::TooLarge,
        ),
    ];
    for (req, expected) in bad {
        let e = alice.relay.send_multi(&req).await.unwrap_err();
        assert_eq!(code(&e), Some(expected), "{e}");
    }

    // Only the accepted request was stored: each device got it once, the sender nothing.
    for d in [&bob, &bob2, &carol, &alice2] {
        let mut ws = d.relay.connect().await.unwrap();
        let got = drain(&mut ws, true).await;
        assert_eq!(
            got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
            vec![b"group 1".to_vec()],
            "{}.{}",
            d.user,
            d.device
        );
        assert_eq!(
            (got[0].source_user.as_str(), got[0].source_device),
            ("alice", 1)
        );
        ws.close().await;
    }
    let mut ws = alice.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    finish(storage, server).await;
}

/// A disappearing message's envelopes leave the queues after the `ttl_secs` its send gave
/// (never later than the relay's own TTL); a TTL of zero is refused.
async fn a_send_may_shorten_its_ttl(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let with_ttl = |body: &[u8], ttl_secs| SendRequest {
        messages: vec![env(&bob, body)],
        ttl_secs,
    };
    let e = alice
        .relay
        .send(&bob.user, &with_ttl(b"x", Some(0)))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    let before = parley_server::now_ms();
    for (body, ttl) in [
        (&b"kept"[..], None),
        (b"an hour", Some(3600)),
        (b"longer than the relay keeps anything", Some(u64::MAX)),
    ] {
        alice
            .relay
            .send(&bob.user, &with_ttl(body, ttl))
            .await
            .unwrap();
    }
    let expiries: Vec<i64> = parley_server::on_db!(&server.state.db, read, pool => {
        sqlx::query_scalar("SELECT expires_at FROM envelopes ORDER BY id")
            .fetch_all(pool).await.unwrap()
    });
    let relay_ttl = 30 * 24 * 3600 * 1000;
    let after = parley_server::now_ms();
    assert!((before + relay_ttl..=after + relay_ttl).contains(&expiries[0]));
    assert!((before + 3_600_000..=after + 3_600_000).contains(&expiries[1]));
    assert!((before + relay_ttl..=after + relay_ttl).contains(&expiries[2]));

    alice
        .relay
        .send(&bob.user, &with_ttl(b"one second", Some(1)))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    parley_server::expire(&server.state).await.unwrap();
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(
        got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
        vec![
            b"kept".to_vec(),
            b"an hour".to_vec(),
            b"longer than the relay keeps anything".to_vec()
        ]
    );
    finish(storage, server).await;
}
