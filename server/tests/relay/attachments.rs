//! Attachments, and the expiry of envelopes and attachments.

use super::*;

both!(attachments_round_trip, expiry);

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
