//! The org policy's offline limits (docs/architecture.md §5.3), with the relay unreachable
//! and the clock injected (`Messenger::open_at`), not slept: past the lock limit a device
//! opens only if it reaches the relay; past the wipe limit it wipes itself with no word from
//! the relay.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use parley_client::Error;
use parley_client::messaging::Messenger;
use parley_client::orglog::now_secs;
use parley_client::store::DATABASE_FILE;
use parley_e2e::{Backend, Org, Server};
use parley_proto::org::Policy;

const HOUR: u64 = 3600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_limits_lock_then_wipe() {
    let mut server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    alice
        .m
        .set_policy(Policy {
            offline_lock_secs: HOUR,
            offline_wipe_secs: 24 * HOUR,
            ..Policy::default()
        })
        .await
        .unwrap();
    // Bob reads the policy (and so reaches the relay now).
    bob.m.sync_org().await.unwrap();
    let home = bob.home.clone();
    bob.m.close().await;
    let open_at = async |secs: u64| {
        let store = parley_client::unlock::open_store(&home, org.keys()).await?;
        Messenger::open_at(store, now_secs() + secs).await
    };

    // Within the limit: opens, relay or not.
    open_at(HOUR / 2).await.unwrap().close().await;

    // Past the lock limit with the relay reachable: it checks in, and opens.
    open_at(2 * HOUR).await.unwrap().close().await;

    // Past the lock limit with the relay gone: locked, a temporary error; nothing lost.
    server.child.kill().await.unwrap();
    let e = open_at(2 * HOUR).await.err().unwrap();
    assert!(matches!(e, Error::OfflineLocked), "{e:?}");
    assert!(e.is_temporary());
    assert!(home.join(DATABASE_FILE).exists());
    let copy = org.dir.path().join("bob-copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(home.join(DATABASE_FILE), copy.join(DATABASE_FILE)).unwrap();

    // Past the wipe limit, still without the relay: it wipes itself, key first.
    let e = open_at(25 * HOUR).await.err().unwrap();
    assert!(matches!(e, Error::OfflineWiped), "{e:?}");
    assert!(!home.join(DATABASE_FILE).exists());
    let e = parley_client::unlock::open_store(&copy, org.keys())
        .await
        .unwrap_err();
    assert!(e.is_store_locked(), "the copy cannot be opened: {e:?}");
}
