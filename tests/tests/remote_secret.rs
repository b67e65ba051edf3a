//! The remote secret (docs/architecture.md §5.3): with the org's policy on, a device's store
//! opens only with the secret the relay hands out, and revocation deletes it, so a copy of
//! the disk (with its local key) taken before is unreadable after, though the device never
//! came back online. With the policy off the store keeps a copy and opens offline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use parley_client::Error;
use parley_client::messaging::Messenger;
use parley_client::store::DATABASE_FILE;
use parley_client::unlock::open_store;
use parley_e2e::{Arg, Backend, Org, Server, on_both_backends};
use parley_proto::org::{Policy, RevokeReason};

/// A copy of a store's database, taken the way a thief images a disk (the key file stays
/// where it is: the thief has the whole disk).
fn image(home: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(home.join(DATABASE_FILE), to.join(DATABASE_FILE)).unwrap();
}

async fn remote_secret_policy(backend: Backend) {
    let mut server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let (bob_user, bob_device, home) = (bob.user(), bob.m.device(), bob.home.clone());
    bob.m.close().await;

    // Policy off: the store keeps its secret and opens with the relay down.
    server.child.kill().await.unwrap();
    open_store(&home, org.keys()).await.unwrap().close().await;
    server.restart_in_place().await;

    // Policy on: once bob reads it, his store keeps no copy.
    alice
        .m
        .set_policy(Policy {
            remote_secret: true,
            ..Policy::default()
        })
        .await
        .unwrap();
    let m = Messenger::new(open_store(&home, org.keys()).await.unwrap())
        .await
        .unwrap();
    m.sync_org().await.unwrap();
    m.close().await;

    // It opens with the relay (which hands out the secret) ...
    let store = open_store(&home, org.keys()).await.unwrap();
    store.close().await;
    let copy = org.dir.path().join("bob-image");
    image(&home, &copy);

    // ... and not without: a clear, temporary refusal that loses nothing.
    server.child.kill().await.unwrap();
    let e = open_store(&home, org.keys()).await.unwrap_err();
    assert!(matches!(e, Error::RelayRequired), "{e:?}");
    assert!(e.is_temporary());
    assert_eq!(e.code(), "relay_required");
    assert!(home.join(DATABASE_FILE).exists());
    server.restart_in_place().await;

    // The device is lost and revoked; it never comes back online. The relay deleted the
    // secret, so neither the device's files nor the image open, though the local key is there.
    alice
        .m
        .revoke_device(&bob_user, bob_device, RevokeReason::Lost)
        .await
        .unwrap();
    let db = server.database().await;
    let kept = db
        .int(
            "SELECT COUNT(*) FROM devices WHERE user_id = $1 AND device_id = $2
             AND (remote_secret IS NOT NULL OR unlock_hash IS NOT NULL)",
            &[
                Arg::Text(bob_user.as_str()),
                Arg::Int(i64::from(bob_device)),
            ],
        )
        .await;
    assert_eq!(kept, 0, "revocation deletes the remote secret");
    db.close().await;
    for dir in [&home, &copy] {
        let e = open_store(dir, org.keys()).await.unwrap_err();
        assert!(matches!(e, Error::RemoteSecretGone), "{e:?}");
        assert!(!e.is_temporary());
    }

    // Alice's own store (policy on too) still opens: only the revoked device lost its secret.
    let alice_home = alice.home.clone();
    alice.m.close().await;
    open_store(&alice_home, org.keys())
        .await
        .unwrap()
        .close()
        .await;
}

/// The policy turned off again: devices keep a copy again and open offline.
async fn policy_off_again_opens_offline(backend: Backend) {
    let mut server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let on = Policy {
        remote_secret: true,
        ..Policy::default()
    };
    alice.m.set_policy(on).await.unwrap();
    alice.m.sync_org().await.unwrap();
    alice.m.set_policy(Policy::default()).await.unwrap();
    alice.m.sync_org().await.unwrap();
    let home = alice.home.clone();
    alice.m.close().await;
    server.child.kill().await.unwrap();
    open_store(&home, org.keys()).await.unwrap().close().await;
}

on_both_backends!(remote_secret_policy, policy_off_again_opens_offline);
