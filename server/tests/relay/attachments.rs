//! Attachments, the per-device attachment quota, and the expiry of envelopes and
//! attachments.

use super::*;

both!(attachments_round_trip, expiry, attachment_quota);

async fn attachments_round_trip(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let chunks: Vec<Vec<u8>> = data.chunks(65_536).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let created = alice
        .relay
        .upload_attachment(reqwest::Body::wrap_stream(stream))
        .await
        .unwrap();
    assert_eq!(created.size, data.len() as u64);
    assert!(
        parley_proto::content::is_attachment_id(&created.id),
        "clients check received ids against this form: {}",
        created.id
    );
    let resp = bob.relay.download_attachment(&created.id).await.unwrap();
    assert_eq!(resp.content_length(), Some(data.len() as u64));
    assert!(resp.bytes().await.unwrap() == data);
    for bad in ["0".repeat(32), "nothex".into(), "../../parley.db".into()] {
        let e = bob.relay.download_attachment(&bad).await.unwrap_err();
        assert!(matches!(e.status(), Some(StatusCode::NOT_FOUND)), "{bad}");
    }
    assert_eq!(
        server
            .relay()
            .download_attachment(&created.id)
            .await
            .unwrap_err()
            .status(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let e = alice
        .relay
        .upload_attachment(Vec::new().into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    finish(storage, server).await;
}

async fn expiry(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    send(&alice, &[&bob], b"old").await.unwrap();
    send(&alice, &[&bob], b"new").await.unwrap();
    let att = alice
        .relay
        .upload_attachment(vec![1u8; 100].into())
        .await
        .unwrap();
    // Age the first envelope and the attachment past their TTL.
    let past = parley_server::now_ms() - 1;
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("UPDATE envelopes SET expires_at = $1 WHERE id = (SELECT MIN(id) FROM envelopes)")
            .bind(past).execute(pool).await.unwrap();
        sqlx::query("UPDATE attachments SET expires_at = $1").bind(past).execute(pool).await.unwrap();
    });
    parley_server::expire(&server.state).await.unwrap();
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(
        got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
        vec![b"new".to_vec()]
    );
    assert_eq!(
        bob.relay
            .download_attachment(&att.id)
            .await
            .unwrap_err()
            .status(),
        Some(StatusCode::NOT_FOUND)
    );
    assert!(
        !storage
            .dir
            .path()
            .join("attachments")
            .join(&att.id)
            .exists()
    );
    finish(storage, server).await;
}

/// Uploads `n` bytes from `d` as a stream without a declared length (chunked).
async fn upload_chunked(d: &Device, n: usize) -> Result<u64, RelayError> {
    let chunks = vec![Ok::<_, std::io::Error>(vec![7u8; n])];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    d.relay.upload_attachment(body).await.map(|c| c.size)
}

fn over_quota(e: &RelayError) -> bool {
    e.status() == Some(StatusCode::PAYLOAD_TOO_LARGE)
        && code(e) == Some(ErrorCode::TooLarge)
        && e.body().is_some_and(|b| b.message.contains("quota"))
}

/// A device may keep at most `attachment_quota_bytes` of unexpired attachments: an upload
/// over it is refused (before its body when it declares its length, while streaming when
/// not, and when concurrent uploads race), leaves no file, and counts for no one else.
async fn attachment_quota(backend: Backend) {
    let storage = Storage::new(backend).await;
    let mut config = storage.config();
    config.limits.max_attachment_bytes = 1000;
    config.limits.attachment_quota_bytes = 2500;
    let server = TestServer::start(config).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let carol = org.join("carol").await.unwrap();

    for _ in 0..2 {
        alice
            .relay
            .upload_attachment(vec![1u8; 1000].into())
            .await
            .unwrap();
    }
    // A declared length over what is left is refused before the body is read: this body
    // never ends, so the answer could not come if the relay waited for it.
    let auth = creds_of(&alice);
    let endless = futures_util::StreamExt::chain(
        futures_util::stream::iter([Ok::<_, std::io::Error>(vec![1u8; 100])]),
        futures_util::stream::pending(),
    );
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        reqwest::Client::new()
            .post(format!("{}/v1/attachments", server.url))
            .header(
                "authorization",
                parley_server::auth::basic_auth_header(&auth.user, auth.device, &auth.secret),
            )
            .header("content-length", "600")
            .body(reqwest::Body::wrap_stream(endless))
            .send(),
    )
    .await
    .expect("answered without reading the body")
    .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "too_large", "{body}");
    // Without a declared length it is refused while streaming.
    let e = upload_chunked(&alice, 600).await.unwrap_err();
    assert!(over_quota(&e), "{e}");
    // What is left still fits.
    assert_eq!(upload_chunked(&alice, 500).await.unwrap(), 500);
    let e = alice
        .relay
        .upload_attachment(vec![1u8; 1].into())
        .await
        .unwrap_err();
    assert!(over_quota(&e), "{e}");
    // The quota is per device.
    bob.relay
        .upload_attachment(vec![1u8; 1000].into())
        .await
        .unwrap();

    // Concurrent uploads cannot pass it together: each would fit alone, two fit at most.
    let results = futures_util::future::join_all(
        (0..8).map(|_| carol.relay.upload_attachment(vec![2u8; 1000].into())),
    )
    .await;
    let stored = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(stored, 2, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(over_quota),
        "{results:?}"
    );

    // Every upload is recorded with its device; refused ones left no file.
    let (rows, unowned, alice_bytes): (i64, i64, i64) = parley_server::on_db!(&server.state.db, read, pool => {
        sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) - COUNT(device_pk),
                    CAST(COALESCE(SUM(CASE WHEN device_pk = (SELECT pk FROM devices WHERE user_id = 'alice') THEN size END), 0) AS BIGINT)
             FROM attachments",
        )
        .fetch_one(pool).await.unwrap()
    });
    assert_eq!((rows, unowned, alice_bytes), (6, 0, 2500));
    let files = std::fs::read_dir(storage.dir.path().join("attachments"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_file())
        .count();
    assert_eq!(files, 6, "no file of a refused upload is kept");

    // Expired attachments no longer count.
    let past = parley_server::now_ms() - 1;
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("UPDATE attachments SET expires_at = $1").bind(past).execute(pool).await.unwrap();
    });
    alice
        .relay
        .upload_attachment(vec![1u8; 1000].into())
        .await
        .unwrap();
    finish(storage, server).await;
}
