//! Remote wipe with signed receipts (docs/architecture.md §5.2), through real relays and real
//! engines, on SQLite and PostgreSQL: a device that is online when the order comes, one that
//! was offline and obeys at its next connection, and a lost one that was revoked first. Each
//! time the device signs a receipt the admin's client verifies, its store key and files are
//! gone, and a copy of its store taken before the wipe cannot be opened.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::time::Duration;

use parley_client::Error;
use parley_client::admin::Signer;
use parley_client::files::FILES_DIR;
use parley_client::messaging::{Event, Target};
use parley_client::store::DATABASE_FILE;
use parley_client::wipe::DOWNLOADS_DIR;
use parley_e2e::{Backend, Device, Org, Server, receive};
use parley_proto::UserId;
use parley_proto::org::{OrgBody, RevokeReason};

/// Copies an account directory (what a thief's disk image holds).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The device's next event error: it must be the wipe, with the receipt delivered.
async fn expect_wiped(d: &Device) {
    let outcome = match d.m.events().await {
        Err(e) => e,
        Ok(mut events) => loop {
            match tokio::time::timeout(Duration::from_secs(30), events.next())
                .await
                .expect("the wipe within 30 s")
                .expect("an event")
            {
                Ok(Event::Message(_) | Event::CaughtUp | Event::DevicesChanged { .. }) => {}
                Ok(other) => panic!("unexpected event {other:?}"),
                Err(e) => break e,
            }
        },
    };
    assert!(
        matches!(outcome, Error::Wiped { receipt: true }),
        "{outcome:?}"
    );
    assert_eq!(outcome.code(), "device_wiped");
}

/// Everything Parley wrote in the account directory is gone, and the copy taken before cannot
/// be opened: its key was destroyed.
async fn expect_nothing_left(org: &Org, d: &Device, copy: &Path) {
    assert!(!d.home.join(DATABASE_FILE).exists(), "{}", d.home.display());
    assert!(!d.home.join(DOWNLOADS_DIR).exists());
    assert!(!d.home.join(FILES_DIR).exists());
    let e = parley_client::unlock::open_store(copy, org.keys())
        .await
        .unwrap_err();
    assert!(e.is_store_locked(), "{e:?}");
}

/// The admin's client verifies the receipt: the order is done by the device's own signature
/// and the device is revoked as wiped.
async fn expect_receipt(alice: &Device, d: &Device) {
    let user = d.m.user().to_owned();
    let device = d.m.device();
    let org = alice.m.org().await.unwrap();
    let order = org
        .wipe_orders()
        .iter()
        .find(|w| w.user.as_str() == user && w.device == device)
        .unwrap();
    let (receipt_seq, _) = order.done.expect("a receipt");
    let audit = alice.m.audit().await.unwrap();
    let receipt = &audit[receipt_seq as usize];
    assert!(
        matches!(&receipt.body, OrgBody::WipeDone { order: o, .. } if *o == order.seq),
        "{receipt:?}"
    );
    assert!(
        matches!(&receipt.signer, Signer::Device { user: u, device: n } if u.as_str() == user && *n == device),
        "signed by the device itself: {:?}",
        receipt.signer
    );
    let rec = org
        .device(&UserId::new(user.clone()).unwrap(), device)
        .unwrap();
    assert!(rec.revoked.is_some());
}

async fn wipes(backend: Backend) {
    let server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let bob2 = org.link(&bob, 2).await;
    let bob3 = org.link(&bob, 3).await;
    let bob4 = org.link(&bob, 4).await;
    let to_bob = Target::User(UserId::new(bob.m.user()).unwrap());
    alice
        .m
        .send_text(&to_bob, "the merger is on")
        .await
        .unwrap();
    for d in [&bob2, &bob3, &bob4] {
        assert_eq!(receive(&d.m, 1).await.len(), 1);
        std::fs::create_dir_all(d.home.join(DOWNLOADS_DIR)).unwrap();
        std::fs::write(d.home.join(DOWNLOADS_DIR).join("deck.pdf"), b"slides").unwrap();
        std::fs::create_dir_all(d.home.join(FILES_DIR)).unwrap();
        std::fs::write(d.home.join(FILES_DIR).join("0".repeat(32)), b"ciphertext").unwrap();
    }
    let copies = org.dir.path().join("copies");
    for d in [&bob2, &bob3, &bob4] {
        copy_dir(&d.home, &copies.join(&d.name));
    }
    let user = UserId::new(bob.m.user()).unwrap();

    // Offline when ordered: obeys at its next connection.
    alice.m.order_wipe(&user, 2).await.unwrap();
    expect_wiped(&bob2).await;
    expect_nothing_left(&org, &bob2, &copies.join(&bob2.name)).await;
    expect_receipt(&alice, &bob2).await;

    // Lost: revoked first, so the relay refuses its credentials; it still reads the order
    // and delivers its receipt.
    alice
        .m
        .revoke_device(&user, 3, RevokeReason::Lost)
        .await
        .unwrap();
    alice.m.order_wipe(&user, 3).await.unwrap();
    expect_wiped(&bob3).await;
    expect_nothing_left(&org, &bob3, &copies.join(&bob3.name)).await;
    expect_receipt(&alice, &bob3).await;

    // Online and listening when the order comes.
    let mut events = bob4.m.events().await.unwrap();
    loop {
        if let Event::CaughtUp = events.next().await.unwrap().unwrap() {
            break;
        }
    }
    alice.m.order_wipe(&user, 4).await.unwrap();
    let e = loop {
        match tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("the wipe within 30 s")
            .expect("an event")
        {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(matches!(e, Error::Wiped { receipt: true }), "{e:?}");
    drop(events);
    expect_nothing_left(&org, &bob4, &copies.join(&bob4.name)).await;
    expect_receipt(&alice, &bob4).await;

    // Bob's first device is untouched and still talks.
    alice.m.send_text(&to_bob, "still there?").await.unwrap();
    assert_eq!(receive(&bob.m, 2).await.len(), 2);
}

parley_e2e::on_both_backends!(wipes);
