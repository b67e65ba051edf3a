//! Two users with two devices each talk through a real `parley-server` (SQLite and
//! PostgreSQL): every device sees the whole conversation in order; a device that was offline
//! gets everything on reconnect; a dropped connection and out-of-order delivery lose nothing
//! and duplicate nothing; neither the relay's storage nor any local store holds a plaintext.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::time::Duration;

use parley_client::messaging::Target;
use parley_e2e::{Backend, Device, Org, Server, contains, drain, read_tree, receive, texts};
use parley_proto::ws::ServerFrame;

const SECRET: &str = "e2e-secret-";

async fn say(from: &Device, to: &Device, text: &str, log: &mut Vec<String>) {
    // A live client is up to date before it writes.
    drain(&from.m).await;
    from.m
        .send_text(&Target::User(to.user()), text)
        .await
        .unwrap();
    log.push(text.to_owned());
}

async fn history(d: &Device, with: &Device) -> Vec<String> {
    d.m.history(&Target::User(with.user()), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect()
}

async fn two_users_two_devices(backend: Backend) {
    let server = Server::start(backend).await;
    let (org, a1) = Org::create(&server, "alice").await;
    let b1 = org.invite(&a1, "bob").await;
    let a2 = org.link(&a1, 2).await;
    let b2 = org.link(&b1, 2).await;
    let mut log = Vec::new();

    // Everyone online, taking turns.
    let order = [&a1, &b1, &a2, &b2, &b2, &a1, &a2, &b1];
    for (i, d) in order.iter().enumerate() {
        let peer = if d.m.user() == "alice" { &b1 } else { &a1 };
        say(d, peer, &format!("{SECRET}{i} from {}", d.name), &mut log).await;
    }
    // alice.2 goes offline; the others go on.
    for (i, d) in [&a1, &b1, &b2, &a1, &b2, &b1].iter().enumerate() {
        let peer = if d.m.user() == "alice" { &b1 } else { &a1 };
        say(
            d,
            peer,
            &format!("{SECRET}offline {i} from {}", d.name),
            &mut log,
        )
        .await;
    }
    // Everyone catches up; alice.2 gets everything it missed.
    for d in [&a1, &b1, &b2, &a2] {
        drain(&d.m).await;
    }
    for (d, peer) in [(&a1, &b1), (&a2, &b1), (&b1, &a1), (&b2, &a1)] {
        assert_eq!(history(d, peer).await, log, "history of {}", d.name);
    }

    // A dropped connection after the messages were stored but before they were acked: the
    // relay delivers them again and the engine ignores the repeats.
    for i in 0..3 {
        a1.m.send_text(&Target::User(b1.user()), &format!("{SECRET}drop {i}"))
            .await
            .unwrap();
        log.push(format!("{SECRET}drop {i}"));
    }
    let mut ws = b2.m.relay().connect().await.unwrap();
    let mut stored = 0;
    while stored < 3 {
        match ws.next().await.unwrap().unwrap() {
            ServerFrame::Envelope(env) => {
                assert!(b2.m.receive(&env).await.unwrap().is_some());
                stored += 1;
            }
            ServerFrame::QueueEmpty | ServerFrame::LogAdvanced { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(ws); // no ack
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(drain(&b2.m).await.is_empty(), "repeats are not reported");
    assert_eq!(history(&b2, &a1).await, log);

    // Out of order: bob.1 takes five envelopes and processes them last first.
    for i in 0..5 {
        a2.m.send_text(&Target::User(b1.user()), &format!("{SECRET}ooo {i}"))
            .await
            .unwrap();
        log.push(format!("{SECRET}ooo {i}"));
    }
    let mut ws = b1.m.relay().connect().await.unwrap();
    let mut envelopes = Vec::new();
    while envelopes.len() < 8 {
        // three "drop" messages, then five "ooo"
        match ws.next().await.unwrap().unwrap() {
            ServerFrame::Envelope(env) => envelopes.push(env),
            ServerFrame::QueueEmpty | ServerFrame::LogAdvanced { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut got = Vec::new();
    for env in envelopes.iter().rev() {
        let msg = b1.m.receive(env).await.unwrap().expect("a new message");
        got.push(msg.text().unwrap().to_owned());
        ws.ack(vec![env.id]).await.unwrap();
    }
    ws.close().await;
    let got: BTreeSet<String> = got.into_iter().collect();
    let want: BTreeSet<String> = log[log.len() - 8..].iter().cloned().collect();
    assert_eq!(got, want, "nothing lost, nothing twice");
    assert!(drain(&b1.m).await.is_empty());
    let h: BTreeSet<String> = history(&b1, &a1).await.into_iter().collect();
    assert_eq!(h, log.iter().cloned().collect::<BTreeSet<_>>());

    // The others still get the last messages, once.
    let rest = receive(&a1.m, 5).await; // a2's "ooo" copies
    assert_eq!(texts(&rest), log[log.len() - 5..].to_vec());

    // Blindness: no plaintext on the relay or in any local store.
    let relay_bytes = server.stored_bytes().await;
    assert!(!relay_bytes.is_empty());
    assert!(!contains(&relay_bytes, SECRET.as_bytes()), "relay storage");
    for d in [&a1, &a2, &b1, &b2] {
        let mut local = Vec::new();
        read_tree(&d.home, &mut local);
        assert!(!local.is_empty());
        assert!(!contains(&local, SECRET.as_bytes()), "store of {}", d.name);
    }
    drop(org);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_two_devices_sqlite() {
    two_users_two_devices(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_two_devices_postgres() {
    two_users_two_devices(Backend::Postgres).await;
}
