//! Size, count and queue limits, and input the relay refuses.

use super::*;

both!(limits_and_bad_input, anonymous_rate_limit);

async fn limits_and_bad_input(backend: Backend) {
    let storage = Storage::new(backend).await;
    let mut config = storage.config();
    config.limits.max_envelope_bytes = 1000;
    config.limits.max_body_bytes = 10_000;
    config.limits.max_queue = 5;
    config.limits.max_attachment_bytes = 4096;
    let server = TestServer::start(config).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let auth = alice.relay.credentials().unwrap().clone();
    let header = {
        let login = format!("alice.1:{}", B64::encode(&auth.secret));
        format!("Basic {}", B64::encode(login.as_bytes()))
    };
    let http = reqwest::Client::new();
    let put = |body: String| {
        http.put(format!("{}/v1/messages/bob", server.url))
            .header("authorization", header.clone())
            .header("content-type", "application/json")
            .body(body)
    };
    let check = |r: reqwest::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(r.status(), status);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
    };
    check(
        put("{not json".into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    check(
        put("{}".into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let bad_b64 = r#"{"messages":[{"device":1,"registration_id":1,"body":"%%%"}]}"#;
    check(
        put(bad_b64.into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_base64",
    )
    .await;
    let unknown = r#"{"messages":[],"extra":1}"#;
    check(
        put(unknown.into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    check(
        put(r#"{"messages":[]}"#.into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    let huge = format!(
        r#"{{"messages":[{{"device":1,"registration_id":1,"body":"{}"}}]}}"#,
        "A".repeat(20_000)
    );
    check(
        put(huge).send().await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    let r = http
        .put(format!("{}/v1/messages/Not-A-User", server.url))
        .header("authorization", header.clone())
        .json(&SendRequest {
            messages: vec![env(&bob, b"x")],
            ttl_secs: None,
        })
        .send()
        .await
        .unwrap();
    check(r, StatusCode::BAD_REQUEST, "invalid_input").await;
    let e = send(&alice, &[&bob], &[0; 1001]).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    let e = alice
        .relay
        .send(
            &bob.user,
            &SendRequest {
                messages: vec![OutgoingEnvelope {
                    device: 1,
                    registration_id: 1,
                    body: B64(vec![]),
                }],
                ttl_secs: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    // Queue cap: five envelopes, then 429 queue_full; nothing already queued is lost.
    for i in 0..5u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let e = send(&alice, &[&bob], b"overflow").await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (
            Some(StatusCode::TOO_MANY_REQUESTS),
            Some(ErrorCode::QueueFull)
        )
    );
    let mut ws = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut ws, false).await.len(), 5);
    // A malformed WebSocket frame closes that socket only; the queue stays.
    ws.send_raw("{\"type\":\"nonsense\"}").await.unwrap();
    let reason = loop {
        match ws.next().await {
            Some(Ok(ServerFrame::Closing { reason })) => break reason,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(reason, "malformed frame");
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(got.len(), 5);
    // Acks make room again: two acked, two more accepted, then full again.
    ws.ack(vec![got[0].id, got[1].id]).await.unwrap();
    let start = std::time::Instant::now();
    while let Err(e) = send(&alice, &[&bob], b"after ack").await {
        assert_eq!(code(&e), Some(ErrorCode::QueueFull));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "acks made no room"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send(&alice, &[&bob], b"after ack").await.unwrap();
    let e = send(&alice, &[&bob], b"overflow").await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::QueueFull));
    // Attachments over the cap, declared or streamed.
    let e = alice
        .relay
        .upload_attachment(vec![0u8; 5000].into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    let stream =
        futures_util::stream::iter((0..5).map(|_| Ok::<_, std::io::Error>(vec![1u8; 1000])));
    let e = alice
        .relay
        .upload_attachment(reqwest::Body::wrap_stream(stream))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    assert_eq!(
        std::fs::read_dir(storage.dir.path().join("attachments/incoming"))
            .unwrap()
            .count(),
        0
    );
    // Unknown routes.
    let r = http
        .get(format!("{}/v2/whatever", server.url))
        .send()
        .await
        .unwrap();
    check(r, StatusCode::NOT_FOUND, "not_found").await;
    server.stop().await.unwrap();

    // Rate limits: burst of 3, then 429 with Retry-After.
    let mut config = storage.config();
    config.limits.rate_per_sec = 0.5;
    config.limits.rate_burst = 3.0;
    let server = TestServer::start(config).await;
    let alice = server.relay().with_credentials(auth);
    for _ in 0..3 {
        alice.prekey_count().await.unwrap();
    }
    let e = alice.prekey_count().await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (
            Some(StatusCode::TOO_MANY_REQUESTS),
            Some(ErrorCode::RateLimited)
        )
    );
    assert!(e.body().unwrap().retry_after_secs.unwrap() >= 1);
    // Other devices are not affected.
    let bob_relay = server.relay().with_credentials(creds_of(&bob));
    bob_relay.prekey_count().await.unwrap();
    // Naming users the relay does not know costs a token each (each is a read).
    let ghosts = MultiSendRequest {
        recipients: (0..5)
            .map(|i| RecipientEnvelopes {
                user: user(&format!("ghost{i}")),
                messages: vec![env(&bob, b"x")],
            })
            .collect(),
        ttl_secs: None,
    };
    let e = bob_relay.send_multi(&ghosts).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::MismatchedDevices));
    let e = bob_relay.prekey_count().await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::RateLimited));
    finish(storage, server).await;
}

/// The endpoints without device credentials (reading the org log, registering, creating the
/// org) share a token bucket per client address: a burst beyond it gets 429 `rate_limited`
/// with `retry_after_secs`, before the body is looked at. Valid device credentials are
/// charged to their device instead; wrong ones are not.
async fn anonymous_rate_limit(backend: Backend) {
    let storage = Storage::new(backend).await;
    let server = TestServer::start(storage.config()).await;
    let org = common::create_org(server.relay()).await;
    let alice_device = org.join("alice").await.unwrap();
    let auth = creds_of(&alice_device);
    server.stop().await.unwrap();

    let mut config = storage.config();
    config.limits.ip_rate_per_sec = 0.01;
    config.limits.ip_rate_burst = 3.0;
    let server = TestServer::start(config).await;
    // Reading the log needs no credentials, only a key the log knows (here the root key's).
    let anonymous = server.relay().with_log_key(&org.root);
    let alice = server
        .relay()
        .with_credentials(auth.clone())
        .with_log_key(alice_device.identity.signing());
    let limited = |e: &RelayError| {
        assert_eq!(
            (e.status(), code(e)),
            (
                Some(StatusCode::TOO_MANY_REQUESTS),
                Some(ErrorCode::RateLimited)
            ),
            "{e}"
        );
        assert!(e.body().unwrap().retry_after_secs.unwrap() >= 1, "{e}");
    };
    for _ in 0..3 {
        anonymous.org_log(0).await.unwrap();
    }
    limited(&anonymous.org_log(0).await.unwrap_err());
    // Registration and org creation draw on the same bucket, whatever their body.
    let http = reqwest::Client::new();
    for path in ["/v1/devices", "/v1/org"] {
        let r = http
            .post(format!("{}{path}", server.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(r.headers().contains_key("retry-after"), "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited", "{path}: {body}");
        assert!(body["retry_after_secs"].as_u64().unwrap() >= 1, "{body}");
    }
    // A device reading the log is charged to its own bucket.
    for _ in 0..5 {
        alice.org_log(0).await.unwrap();
    }
    // Credentials that do not verify do not escape the address's bucket.
    let mut wrong = auth;
    wrong.secret = vec![0; 32].into();
    let e = server
        .relay()
        .with_credentials(wrong)
        .org_log(0)
        .await
        .unwrap_err();
    limited(&e);
    // Authenticated endpoints keep their per-device limit only.
    alice.prekey_count().await.unwrap();
    finish(storage, server).await;
}
