//! The group-commit writer: ids of envelopes, failed commits, acks of many devices, and the vacuum of the queue table.

use super::*;

both!(
    a_large_group_commit_maps_ids_to_envelopes,
    small_group_commits_map_ids_to_envelopes,
    a_failed_group_commit_leaves_the_writer_usable,
    acks_of_many_devices_commit_together,
);

/// One group commit of 600 envelopes for two devices (on SQLite a script prepared for this
/// commit alone, with two INSERT statements): each envelope handed to a socket carries the id
/// its row got, and the ids follow the insert order.
async fn a_large_group_commit_maps_ids_to_envelopes(backend: Backend) {
    group_commits_map_ids_to_envelopes(backend, &[600]).await;
}

/// Three group commits of 150 envelopes, the later ones with the acks of the one before (on
/// SQLite a script kept prepared: three INSERTs of 64 rows, the last padded with rows it
/// leaves out, and a DELETE padded with ids that match nothing; the second and third commit
/// reuse it). As above, and nothing acked stays queued.
async fn small_group_commits_map_ids_to_envelopes(backend: Backend) {
    group_commits_map_ids_to_envelopes(backend, &[150, 150, 150]).await;
}

/// Writes one group commit of each size in `sizes` for the two devices of bob (alternating),
/// bodies numbered in insert order; checks that the rows' ids follow that order and that each
/// socket receives every envelope with the id of its row; acks them all.
async fn group_commits_map_ids_to_envelopes(backend: Backend, sizes: &[u32]) {
    use parley_server::db::NewEnvelope;
    use parley_server::writer::WriteOp;
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let bob2 = org.link(&bob).await.unwrap();
    let mut ws1 = bob.relay.connect().await.unwrap();
    let mut ws2 = bob2.relay.connect().await.unwrap();
    assert!(drain(&mut ws1, false).await.is_empty());
    assert!(drain(&mut ws2, false).await.is_empty());
    let pks: Vec<i64> = parley_server::on_db!(&server.state.db, read, pool => {
        sqlx::query_scalar("SELECT pk FROM devices WHERE user_id = 'bob' ORDER BY device_id")
            .fetch_all(pool).await.unwrap()
    });
    let (mut numbered, mut last_id) = (0u32, 0i64);
    for &n in sizes {
        let now = parley_server::now_ms();
        let rows: Vec<NewEnvelope> = (numbered..numbered + n)
            .map(|i| NewEnvelope {
                device_pk: pks[(i % 2) as usize],
                source_user: alice.user.as_str().to_owned(),
                source_device: 1,
                server_ts: now,
                expires_at: now + 60_000,
                body: i.to_be_bytes().to_vec(),
            })
            .collect();
        server
            .state
            .writer
            .write(WriteOp::Insert(rows))
            .await
            .unwrap();
        let stored: Vec<(i64, Vec<u8>)> = parley_server::on_db!(&server.state.db, read, pool => {
            sqlx::query_as("SELECT id, body FROM envelopes WHERE id > $1 ORDER BY id")
                .bind(last_id).fetch_all(pool).await.unwrap()
        });
        assert_eq!(stored.len(), n as usize);
        // Ids follow the insert order.
        for (i, (_, body)) in (numbered..).zip(&stored) {
            assert_eq!(body, &i.to_be_bytes().to_vec());
        }
        last_id = stored.last().map_or(last_id, |(id, _)| *id);
        numbered += n;
        let stored: std::collections::BTreeMap<i64, Vec<u8>> = stored.into_iter().collect();
        // The first window of each socket comes from the writer's hand-over, not the database.
        let window = parley_server::routes::ws::WINDOW;
        for ws in [&mut ws1, &mut ws2] {
            let mut unacked = Vec::new();
            for _ in 0..n / 2 {
                let e = next_envelope(ws).await;
                assert_eq!(
                    stored.get(&e.id),
                    Some(&e.body.0),
                    "envelope {} has another's body",
                    e.id
                );
                unacked.push(e.id);
                if unacked.len() == window {
                    ws.ack(std::mem::take(&mut unacked)).await.unwrap();
                }
            }
            ws.ack(unacked).await.unwrap();
        }
    }
    // Every ack is written: nothing stays queued.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = parley_server::on_db!(&server.state.db, read, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM envelopes").fetch_one(pool).await.unwrap()
        });
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} acked envelopes still queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    finish(storage, server).await;
}

/// A group commit that fails (here: the table is gone) answers its senders with an error and
/// leaves no transaction open: the next one commits.
async fn a_failed_group_commit_leaves_the_writer_usable(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    send(&alice, &[&bob], b"before").await.unwrap();
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes RENAME TO envelopes_away").execute(pool).await.unwrap();
    });
    let e = send(&alice, &[&bob], b"lost").await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes_away RENAME TO envelopes").execute(pool).await.unwrap();
    });
    send(&alice, &[&bob], b"after").await.unwrap();
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(
        got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
        vec![b"before".to_vec(), b"after".to_vec()]
    );
    finish(storage, server).await;
}

/// Acks naming ids their socket did not push (each deleted only with its device), from more
/// devices than SQLite takes terms in one expression, commit in one transaction, and delete
/// what they name.
async fn acks_of_many_devices_commit_together(backend: Backend) {
    use parley_server::writer::WriteOp;
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    for i in 0..3u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let rows: Vec<(i64, i64)> = parley_server::on_db!(&server.state.db, read, pool => {
        sqlx::query_as("SELECT device_pk, id FROM envelopes").fetch_all(pool).await.unwrap()
    });
    assert_eq!(rows.len(), 3);
    let mut commits = Vec::new();
    for i in 0..1_500i64 {
        // Devices that do not exist, naming ids that do not exist; then Bob's.
        let op = WriteOp::Ack {
            device_pk: 1_000_000 + i,
            pushed: Vec::new(),
            other: vec![i64::MAX - i],
        };
        commits.push(server.state.writer.submit(op).await.unwrap());
    }
    let op = WriteOp::Ack {
        device_pk: rows[0].0,
        pushed: Vec::new(),
        other: rows.iter().map(|r| r.1).collect(),
    };
    commits.push(server.state.writer.submit(op).await.unwrap());
    for c in commits {
        c.await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    ws.close().await;
    finish(storage, server).await;
}

/// On PostgreSQL the relay vacuums the queue table itself after every `pg_vacuum_rows`
/// deleted envelopes (this machine's PostgreSQL runs with autovacuum off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_table_is_vacuumed_postgres() {
    let storage = Storage::new(Backend::Postgres).await;
    let mut config = storage.config();
    config.pg_vacuum_rows = 20;
    let server = TestServer::start(config).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let vacuums = || async {
        parley_server::on_db!(&server.state.db, read, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'envelopes'",
            )
            .fetch_one(pool).await.unwrap()
        })
    };
    let before = vacuums().await;
    for i in 0..30u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut ws, true).await.len(), 30);
    ws.close().await;
    // Statistics reach the view within a second or so.
    let vacuumed = async {
        while vacuums().await <= before {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), vacuumed)
        .await
        .expect("the envelopes table vacuumed within 10 s");
    finish(storage, server).await;
}
