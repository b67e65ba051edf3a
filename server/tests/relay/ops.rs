//! Operational endpoints and metrics, graceful shutdown, TLS and the plain-HTTP rule.

use super::*;

both!(ops_endpoints, graceful_shutdown_keeps_accepted_envelopes);

async fn ops_endpoints(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let bob = org.join("bob").await.unwrap();
    let _ws = bob.relay.connect().await.unwrap();
    send(&org.admin, &[&bob], b"x").await.unwrap();
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "parley_connections",
        "parley_database_up 1",
        "parley_envelopes_queued",
        "parley_deliveries_total",
        "parley_errors_total{code=\"unauthorized\"}",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    // A database that cannot count the queue (here: its table is gone) still leaves the
    // counters readable, and says so.
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes RENAME TO envelopes_away").execute(pool).await.unwrap();
    });
    let answer = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let text = answer.text().await.unwrap();
    assert!(text.contains("parley_database_up 0"), "{text}");
    assert!(!text.contains("parley_envelopes_queued"), "{text}");
    assert!(text.contains("parley_deliveries_total"), "{text}");
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes_away RENAME TO envelopes").execute(pool).await.unwrap();
    });
    let doc: serde_json::Value = reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/org",
        "/v1/org/log",
        "/v1/devices",
        "/v1/keys/{user}/{device}",
        "/v1/messages/{user}",
        "/v1/ws",
        "/v1/attachments",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    finish(storage, server).await;
}

async fn graceful_shutdown_keeps_accepted_envelopes(backend: Backend) {
    let storage = Storage::new(backend).await;
    let server = TestServer::start(storage.config()).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let ok = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for t in 0..4u32 {
        let (a, b, ok) = (alice.clone(), bob.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..1000u32 {
                match send(&a, &[&b], &(t * 10_000 + i).to_be_bytes()).await {
                    Ok(()) => {
                        ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop().await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let accepted = ok.load(std::sync::atomic::Ordering::SeqCst);
    assert!(accepted > 0);
    let server = TestServer::start(storage.config()).await;
    let bob = Device {
        relay: server.relay().with_credentials(creds_of(&bob)),
        ..bob
    };
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, true).await;
    let distinct: BTreeSet<Vec<u8>> = got.iter().map(|e| e.body.0.clone()).collect();
    assert_eq!(
        got.len() as u32,
        accepted,
        "every accepted envelope survives the shutdown"
    );
    assert_eq!(distinct.len(), got.len(), "none twice");
    finish(storage, server).await;
}

/// With --tls-cert/--tls-key the relay speaks HTTPS (rustls) and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_when_configured() {
    let storage = Storage::new(Backend::Sqlite).await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (
        storage.dir.path().join("cert.pem"),
        storage.dir.path().join("key.pem"),
    );
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut config = storage.config();
    config.tls = Some((cert_path, key_path));
    let server = TestServer::start(config).await;
    let port = server.url.rsplit_once(':').unwrap().1.to_owned();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let health: serde_json::Value = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    // Plain HTTP to the TLS port fails; an untrusted certificate is refused by a client.
    let plain = reqwest::get(format!("http://localhost:{port}/healthz")).await;
    assert!(!plain.is_ok_and(|r| r.status().is_success()));
    assert!(
        reqwest::get(format!("https://localhost:{port}/healthz"))
            .await
            .is_err()
    );
    finish(storage, server).await;
}

/// Plain HTTP beyond loopback is refused unless explicitly allowed.
#[test]
fn plain_http_only_on_loopback() {
    let mut config = parley_server::Config::for_data_dir("/nonexistent");
    config.listen = "0.0.0.0:8787".parse().unwrap();
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("refusing plain HTTP")
    );
    config.allow_plain_http = true;
    assert!(config.validate().is_ok());
    config.database_url = Some("mysql://x".into());
    assert!(config.validate().is_err());
}
