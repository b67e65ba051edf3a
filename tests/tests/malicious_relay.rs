//! An attacker with write access to the relay's database (the SQLite file in its data
//! directory, or its PostgreSQL database) tampers with it while the real relay and real client
//! engines run, on SQLite and on PostgreSQL. Every device the attacker adds or changes gets a
//! valid prekey bundle, so only the clients' checks stand between it and a session. The
//! clients trust only the org log they verified:
//!
//! - a **ghost device** inserted into `devices` (for a colleague, or for one's own user, who
//!   gets sync copies) makes the send fail with a trust failure, and no envelope is ever queued
//!   for the ghost;
//! - a device's **identity swapped** in `devices` makes the next send that refreshes the
//!   device list fail, and nothing is queued for the swapped device;
//! - a **forged log entry** (chained at the right place, signed by a key without authority)
//!   is refused: the verified head does not move, the device it adds is never listed, a send
//!   that needs the log fails, and a listening device raises a trust alarm;
//! - a **rolled-back log** (the newest entries deleted) is refused as a rollback, and a
//!   listening device raises a trust alarm.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use parley_client::enrol::DeviceKeys;
use parley_client::error::TrustFailure;
use parley_client::messaging::{Event, Messenger, Target};
use parley_client::orglog::now_secs;
use parley_client::store::Contact;
use parley_client::{Error, ErrorInfo};
use parley_crypto::keys::os_rng;
use parley_crypto::prekeys::PreKeyStore;
use parley_e2e::{Arg, Backend, Database, Device, Org, Server, drain, receive, texts};
use parley_proto::DeviceId;
use parley_proto::org::{OrgBody, OrgEntry, OrgError, OrgState, sha256};

/// Inserts an active device row for `user` with `keys` behind the relay's back (as
/// registration would, but with no log entry); returns its row id.
async fn insert_device(db: &Database, user: &str, device: DeviceId, keys: &DeviceKeys) -> i64 {
    let identity = keys.identity.public();
    let now = i64::try_from(now_secs() * 1000).unwrap();
    db.int(
        "INSERT INTO devices (user_id, device_id, identity, signing_key, secret_hash,
                              registration_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING pk",
        &[
            Arg::Text(user),
            Arg::Int(i64::from(device)),
            Arg::Bytes(&identity.to_bytes()),
            Arg::Bytes(&identity.signing_key().to_bytes()),
            Arg::Bytes(&sha256(&keys.secret)),
            Arg::Int(i64::from(keys.registration_id)),
            Arg::Int(now),
        ],
    )
    .await
}

/// Stores a valid prekey bundle of `keys` for the device row `pk` (replacing its own), so
/// that a client trusting the relay's list could start a session with it: what the attacker
/// needs for the ghost to be usable, and what keeps the tests from passing only for want of
/// a bundle.
async fn give_prekeys(db: &Database, pk: i64, keys: &DeviceKeys) {
    let prekeys = PreKeyStore::new(&keys.identity, now_secs(), &mut os_rng());
    let pk = Arg::Int(pk);
    db.execute("DELETE FROM one_time_prekeys WHERE device_pk = $1", &[pk])
        .await;
    db.execute("DELETE FROM signed_prekeys WHERE device_pk = $1", &[pk])
        .await;
    db.execute(
        "INSERT INTO signed_prekeys (device_pk, signed_prekey, last_resort_kem)
         VALUES ($1, $2, $3)",
        &[
            pk,
            Arg::Bytes(&prekeys.signed_prekey().unwrap().to_bytes()),
            Arg::Bytes(&prekeys.last_resort_kem_prekey().unwrap().to_bytes()),
        ],
    )
    .await;
}

/// A ghost: a device row for `user` with fresh keys and a valid prekey bundle, that the log
/// never added; returns its row id.
async fn insert_ghost(db: &Database, user: &str, device: DeviceId) -> i64 {
    let keys = DeviceKeys::generate();
    let pk = insert_device(db, user, device, &keys).await;
    give_prekeys(db, pk, &keys).await;
    pk
}

/// The row id of `user`'s device `device`.
async fn pk_of(db: &Database, user: &str, device: DeviceId) -> i64 {
    db.int(
        "SELECT pk FROM devices WHERE user_id = $1 AND device_id = $2",
        &[Arg::Text(user), Arg::Int(i64::from(device))],
    )
    .await
}

/// How many envelopes the relay holds for the device with row id `pk`.
async fn queued(db: &Database, pk: i64) -> i64 {
    db.int(
        "SELECT COUNT(*) FROM envelopes WHERE device_pk = $1",
        &[Arg::Int(pk)],
    )
    .await
}

/// The org log as `m` verified and stored it.
async fn verified(m: &Messenger) -> OrgState {
    let mut tx = m.store().begin().await.unwrap();
    let state = tx.org_state().await.unwrap().expect("a verified log");
    tx.commit().await.unwrap();
    state
}

/// `m`'s cached contact of `user`.
async fn contact(m: &Messenger, user: &str) -> Contact {
    let mut tx = m.store().begin().await.unwrap();
    let c = tx.contact(user).await.unwrap().expect("a contact");
    tx.commit().await.unwrap();
    c
}

/// The device numbers of a contact.
fn numbers(c: &Contact) -> Vec<DeviceId> {
    c.devices.iter().map(|d| d.device).collect()
}

/// Connects `m` (the relay announces the log's length when the socket opens, and the engine
/// syncs it) and returns the first trust alarm. A device change reported instead is a
/// failure: nothing of a log that does not verify may be used. Fails after 60 s of silence.
async fn trust_alarm(m: &Messenger) -> ErrorInfo {
    let mut events = m.events().await.unwrap();
    let alarm = loop {
        let event = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .expect("a trust alarm")
            .expect("the connection stayed open")
            .unwrap();
        match event {
            Event::TrustAlarm { error } => break error,
            Event::DevicesChanged { user, added, .. } => {
                panic!("a log that does not verify changed {user}'s devices: {added:?}")
            }
            _ => {}
        }
    };
    events.close().await;
    alarm
}

/// `assert!(matches!(..))`, showing the error when it does not match.
macro_rules! assert_err {
    ($err:expr, $pat:pat, $code:expr) => {{
        let err = $err;
        assert!(matches!(err, $pat), "unexpected error: {err:?}");
        assert_eq!(err.code(), $code);
    }};
}

/// alice and bob on a fresh relay, having exchanged a message: alice's engine has a session
/// with bob.1 and a fresh cached list of bob's devices, the relay has cached bob's list.
async fn talking(backend: Backend) -> (Server, Org, Device, Device) {
    let server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    alice
        .m
        .send_text(&Target::User(bob.user()), "hello")
        .await
        .unwrap();
    assert_eq!(texts(&receive(&bob.m, 1).await), ["hello"]);
    (server, org, alice, bob)
}

/// A device row for bob that the log never added: alice's send fails with
/// `UnlistedDevice`, and neither the ghost nor bob's real device gets an envelope, then or
/// when the queued message is retried.
async fn ghost_device_of_a_colleague(backend: Backend) {
    let (mut server, org, alice, bob) = talking(backend).await;
    let db = server.database().await;
    let bob1 = pk_of(&db, "bob", 1).await;
    let ghost = insert_ghost(&db, "bob", 9).await;
    // The relay caches bob's device list for up to 10 s (server/src/directory.rs, MAX_AGE)
    // and alice's engine for an hour; the relay must see the ghost for its 409 to make
    // alice refresh. Restarting the relay drops its cache at once (the attacker can restart
    // it, or wait), where waiting out MAX_AGE would cost 10 s and depend on timing.
    server.restart_in_place().await;

    let to_bob = Target::User(bob.user());
    let err = alice
        .m
        .send_text(&to_bob, "for bob only")
        .await
        .unwrap_err();
    assert_err!(
        err,
        Error::Trust(TrustFailure::UnlistedDevice),
        "trust_failure"
    );
    // The message stays queued; a retry is refused the same way.
    let err = alice.m.flush_outbox(true).await.unwrap_err();
    assert_err!(
        err,
        Error::Trust(TrustFailure::UnlistedDevice),
        "trust_failure"
    );

    assert_eq!(queued(&db, ghost).await, 0, "nothing queued for the ghost");
    assert_eq!(
        queued(&db, bob1).await,
        0,
        "nothing stored for the refused send"
    );
    assert!(drain(&bob.m).await.is_empty(), "bob.1 got nothing");
    // alice's log and cache still list bob.1 alone.
    assert!(verified(&alice.m).await.device(&bob.user(), 9).is_none());
    assert_eq!(numbers(&contact(&alice.m, "bob").await), [1]);
    db.close().await;
    drop(org);
}

/// A device row for alice's own user that the log never added: sync copies never reach it.
/// A send to bob is refused once the relay's answer names the ghost among alice's devices,
/// and a note to self (which goes only to alice's other devices) is refused when the relay's
/// 409 makes alice refresh her own list.
async fn ghost_device_of_ones_own_user(backend: Backend) {
    let (mut server, org, alice, bob) = talking(backend).await;
    let alice2 = org.link(&alice, 2).await;
    let me = Target::User(alice.user());
    // Once alice's engine has synced the log, alice.2 is in her list of her own devices, and
    // gets copies.
    drain(&alice.m).await;
    alice.m.send_text(&me, "note").await.unwrap();
    assert_eq!(texts(&receive(&alice2.m, 1).await), ["note"]);
    assert_eq!(numbers(&contact(&alice.m, "alice").await), [1, 2]);

    let db = server.database().await;
    let ghost = insert_ghost(&db, "alice", 9).await;
    // See ghost_device_of_a_colleague: the relay forgets its cached device lists.
    server.restart_in_place().await;

    let err = alice
        .m
        .send_text(&Target::User(bob.user()), "copy for me")
        .await
        .unwrap_err();
    assert_err!(
        err,
        Error::Trust(TrustFailure::UnlistedDevice),
        "trust_failure"
    );
    let err = alice.m.send_text(&me, "another note").await.unwrap_err();
    assert_err!(
        err,
        Error::Trust(TrustFailure::UnlistedDevice),
        "trust_failure"
    );

    assert_eq!(queued(&db, ghost).await, 0, "nothing queued for the ghost");
    assert!(verified(&alice.m).await.device(&alice.user(), 9).is_none());
    assert_eq!(numbers(&contact(&alice.m, "alice").await), [1, 2]);
    db.close().await;
    drop(org);
}

/// bob.1's identity and registration id changed in `devices`: alice's next send gets a 410,
/// refreshes bob's list, and fails with `IdentityChanged`; nothing is stored for bob.1 and
/// alice still knows bob.1 by the identity the log certifies.
async fn identity_swap(backend: Backend) {
    let (mut server, org, alice, bob) = talking(backend).await;
    let db = server.database().await;
    let bob1 = pk_of(&db, "bob", 1).await;
    let real = {
        let mut tx = bob.m.store().begin().await.unwrap();
        let identity = *tx.identity().await.unwrap().unwrap().public();
        tx.commit().await.unwrap();
        identity
    };
    let old_registration = db
        .int(
            "SELECT registration_id FROM devices WHERE pk = $1",
            &[Arg::Int(bob1)],
        )
        .await;
    let swapped = DeviceKeys::generate();
    let identity = swapped.identity.public();
    let changed = db
        .execute(
            "UPDATE devices SET identity = $1, signing_key = $2, registration_id = $3
             WHERE pk = $4",
            &[
                Arg::Bytes(&identity.to_bytes()),
                Arg::Bytes(&identity.signing_key().to_bytes()),
                Arg::Int((old_registration + 1) % 0x4000),
                Arg::Int(bob1),
            ],
        )
        .await;
    assert_eq!(changed, 1);
    give_prekeys(&db, bob1, &swapped).await;
    // The relay's cached registration id would hide the change for up to 10 s: restart it
    // (see ghost_device_of_a_colleague), so that alice's send gets the 410 at once.
    server.restart_in_place().await;

    let err = alice
        .m
        .send_text(&Target::User(bob.user()), "for bob only")
        .await
        .unwrap_err();
    assert_err!(
        err,
        Error::Trust(TrustFailure::IdentityChanged),
        "trust_failure"
    );

    assert_eq!(queued(&db, bob1).await, 0, "nothing stored for bob.1");
    assert!(drain(&bob.m).await.is_empty());
    let log = verified(&alice.m).await;
    assert_eq!(log.device(&bob.user(), 1).unwrap().identity, real);
    let cached = contact(&alice.m, "bob").await;
    assert_eq!(numbers(&cached), [1]);
    assert_eq!(cached.devices[0].identity, real);
    assert_eq!(
        i64::from(cached.devices[0].registration_id),
        old_registration
    );
    db.close().await;
    drop(org);
}

/// A `DeviceAdded` for bob at the end of the stored log, with the right seq and prev_hash
/// but signed by a key the log never authorised, plus the matching device row: alice's sync
/// refuses it with `Unauthorized`, keeps her verified head, never lists the device, a send to
/// bob fails, nothing is queued for the forged device, and a listening alice gets an alarm.
async fn forged_log_entry(backend: Backend) {
    let server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    // alice has verified everything, bob's device included.
    alice.m.sync_org().await.unwrap();
    let before = verified(&alice.m).await;
    let head = before.head();
    assert!(before.device(&bob.user(), 1).is_some());

    let db = server.database().await;
    let stored = db.int("SELECT COUNT(*) FROM org_log", &[]).await;
    assert_eq!(u64::try_from(stored).unwrap(), head.len);
    let last = db
        .bytes(
            "SELECT hash FROM org_log WHERE seq = $1",
            &[Arg::Int(stored - 1)],
        )
        .await;
    assert_eq!(last, head.hash, "the forgery chains to the real head");

    let mallory = DeviceKeys::generate();
    let ghost = DeviceKeys::generate();
    let device = before.next_device(&bob.user());
    let body = OrgBody::DeviceAdded {
        user: bob.user(),
        device,
        identity: *ghost.identity.public(),
    };
    let time = now_secs().max(before.last_timestamp());
    let forged = OrgEntry::after(&head, body, mallory.identity.signing(), time);
    assert_eq!(forged.seq, head.len);
    db.execute(
        "INSERT INTO org_log (seq, entry, hash) VALUES ($1, $2, $3)",
        &[
            Arg::Int(stored),
            Arg::Bytes(&forged.to_bytes()),
            Arg::Bytes(&forged.hash()),
        ],
    )
    .await;
    let ghost_pk = insert_device(&db, "bob", device, &ghost).await;
    give_prekeys(&db, ghost_pk, &ghost).await;

    let err = alice.m.sync_org().await.unwrap_err();
    assert_err!(
        err,
        Error::OrgLog(OrgError::Unauthorized),
        "org_log_invalid"
    );
    let after = verified(&alice.m).await;
    assert_eq!(after.head(), head, "the verified head did not move");
    assert!(after.device(&bob.user(), device).is_none());

    // A first send to bob brings the log up to date, and so fails too.
    let err = alice
        .m
        .send_text(&Target::User(bob.user()), "for bob only")
        .await
        .unwrap_err();
    assert_err!(
        err,
        Error::OrgLog(OrgError::Unauthorized),
        "org_log_invalid"
    );
    assert_eq!(
        queued(&db, ghost_pk).await,
        0,
        "nothing queued for the forgery"
    );
    assert_eq!(queued(&db, pk_of(&db, "bob", 1).await).await, 0);

    // Listening, alice is told.
    let alarm = trust_alarm(&alice.m).await;
    assert_eq!(alarm, Error::OrgLog(OrgError::Unauthorized).info());
    assert_eq!(verified(&alice.m).await.head(), head);
    db.close().await;
    drop(org);
}

/// The newest entries deleted from `org_log` after alice verified them: her sync fails with
/// `LogRollback` and keeps what she verified; listening, she gets an alarm.
async fn rolled_back_log(backend: Backend) {
    let server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    alice.m.sync_org().await.unwrap();
    let before = verified(&alice.m).await;
    let head = before.head();
    assert!(before.device(&bob.user(), 1).is_some());

    let db = server.database().await;
    // bob's invite and registration.
    let newest = i64::try_from(head.len).unwrap() - 2;
    let deleted = db
        .execute("DELETE FROM org_log WHERE seq >= $1", &[Arg::Int(newest)])
        .await;
    assert_eq!(deleted, 2);

    let err = alice.m.sync_org().await.unwrap_err();
    assert_err!(
        err,
        Error::Trust(TrustFailure::LogRollback),
        "trust_failure"
    );
    let after = verified(&alice.m).await;
    assert_eq!(after.head(), head, "the verified head did not move back");
    assert!(after.device(&bob.user(), 1).is_some());

    // Listening, alice is told.
    let alarm = trust_alarm(&alice.m).await;
    assert_eq!(alarm, Error::Trust(TrustFailure::LogRollback).info());
    assert_eq!(verified(&alice.m).await.head(), head);
    db.close().await;
    drop(org);
}

parley_e2e::on_both_backends!(
    ghost_device_of_a_colleague,
    ghost_device_of_ones_own_user,
    identity_swap,
    forged_log_entry,
    rolled_back_log
);
