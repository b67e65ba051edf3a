//! Fork detection (docs/architecture.md §2): a relay that shows two users different org logs
//! is caught when one reads a message of the other, because every message carries the log
//! head its author had verified. The relay here is the real binary run on two copies of its
//! SQLite database: the admin's entry goes into one, a colleague's into the other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use parley_client::Error;
use parley_client::enrol;
use parley_client::error::TrustFailure;
use parley_client::messaging::Target;
use parley_e2e::{Backend, Org, Server, drain, take_envelope};
use parley_proto::UserId;
use parley_proto::org::Policy;

/// The relay's database files.
const DB_FILES: [&str; 3] = ["parley.db", "parley.db-wal", "parley.db-shm"];

fn copy_db(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in DB_FILES {
        let _ = std::fs::remove_file(to.join(f));
        if from.join(f).exists() {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_shown_different_logs_are_told() {
    let mut server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let to_bob = Target::User(UserId::new("bob").unwrap());

    // The same log on both sides: a message's head checks out.
    alice.m.send_text(&to_bob, "hello").await.unwrap();
    let env = take_envelope(&bob.m).await;
    let got = bob.m.receive(&env).await.unwrap().unwrap();
    bob.m
        .check_org_head(got.org_head.as_ref().unwrap())
        .await
        .unwrap();
    drain(&bob.m).await;
    // An older head (bob has not seen alice's newest entry) checks out too: the relay's
    // entries since then chain to alice's verified head.
    let to_alice = Target::User(UserId::new("alice").unwrap());
    bob.m.send_text(&to_alice, "hi").await.unwrap(); // (bob's cache of alice is fresh now)
    drain(&alice.m).await;
    alice.m.set_policy(Policy::default()).await.unwrap();
    bob.m.send_text(&to_alice, "hi again").await.unwrap();
    let env = take_envelope(&alice.m).await;
    let got = alice.m.receive(&env).await.unwrap().unwrap();
    let head = got.org_head.unwrap();
    assert!(
        head.len < alice.m.org().await.unwrap().head().len,
        "bob was behind"
    );
    alice.m.check_org_head(&head).await.unwrap();
    drain(&alice.m).await;

    // The relay keeps a second copy of its database from here on.
    let data = server.data.path().to_path_buf();
    let fork = org.dir.path().join("fork");
    server.child.kill().await.unwrap();
    copy_db(&data, &fork);
    server.restart_in_place().await;

    // Copy A: alice sets a policy (a new entry) and writes to bob.
    alice
        .m
        .set_policy(Policy {
            presence: true,
            ..Policy::default()
        })
        .await
        .unwrap();
    alice.m.send_text(&to_bob, "on my branch").await.unwrap();
    let env = take_envelope(&bob.m).await;

    // Copy B: the relay serves bob the log without alice's entry, and bob adds his own.
    server.child.kill().await.unwrap();
    copy_db(&fork, &data);
    server.restart_in_place().await;
    enrol::link(bob.m.store()).await.unwrap();

    // Bob reads alice's message: her log and his have the same length and different ends.
    let got = bob.m.receive(&env).await.unwrap().unwrap();
    assert_eq!(got.text(), Some("on my branch"));
    let e = bob
        .m
        .check_org_head(got.org_head.as_ref().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Trust(TrustFailure::LogForked)), "{e:?}");
    assert!(e.to_string().contains("different logs"), "{e}");
}
