//! Protocol tests of PQXDH + Double Ratchet + Sesame records through the public API
//! (model: libsignal `tests/session.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use common::{DAY, Party, established};
use parley_crypto::consts::{MAX_SKIP, MAX_STORED_SKIPPED_KEYS};
use parley_crypto::error::{DecodeError, Error};
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::PreKeyBundle;

#[test]
fn round_trip_with_and_without_one_time_prekeys() {
    for one_time in [5, 0] {
        let mut alice = Party::new("alice", 1, 1, 5);
        let mut bob = Party::new("bob", 7, 2, one_time);
        let (a, b) = (alice.address.clone(), bob.address.clone());
        let bundle = bob.bundle();
        assert_eq!(bundle.one_time_prekey.is_some(), one_time > 0);
        alice.start(&b, &bundle);
        let m1 = alice.encrypt(&b, b"first");
        let m2 = alice.encrypt(&b, b"second");
        assert!(matches!(
            SessionMessage::from_bytes(&m2).unwrap(),
            SessionMessage::PreKey(_)
        ));
        assert_eq!(bob.decrypt(&a, &m1).unwrap(), b"first");
        assert_eq!(bob.decrypt(&a, &m2).unwrap(), b"second");
        // The one-time prekeys were used up, the last-resort one was not.
        assert_eq!(
            bob.prekeys.one_time_counts(),
            (one_time.saturating_sub(1), one_time.saturating_sub(1))
        );
        for i in 0..5u8 {
            let r = bob.encrypt(&a, &[i; 3]);
            assert_eq!(alice.decrypt(&b, &r).unwrap(), [i; 3]);
            let m = alice.encrypt(&b, &[i; 4]);
            // Once Bob has replied, Alice stops sending the PQXDH header.
            assert!(matches!(
                SessionMessage::from_bytes(&m).unwrap(),
                SessionMessage::Ratchet(_)
            ));
            assert_eq!(bob.decrypt(&a, &m).unwrap(), [i; 4]);
        }
    }
}

#[test]
fn prekey_message_is_repeated_until_the_peer_replies() {
    let mut alice = Party::new("alice", 1, 1, 5);
    let mut bob = Party::new("bob", 1, 2, 5);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let first = alice.encrypt(&b, b"lost");
    let second = alice.encrypt(&b, b"arrives");
    // The first message is lost; the second still starts the session.
    assert_eq!(bob.decrypt(&a, &second).unwrap(), b"arrives");
    // The lost one arriving late also decrypts, on the same session.
    assert_eq!(bob.decrypt(&a, &first).unwrap(), b"lost");
    assert_eq!(bob.sessions[&a].archived_len(), 0);
}

#[test]
fn only_a_new_sessions_first_message_needs_the_prekeys_and_trust() {
    use parley_crypto::prekeys::PreKeyStore;
    use parley_crypto::session_record::{LocalDevice, SessionRecord};
    let mut alice = Party::new("alice", 1, 1, 5);
    let mut bob = Party::new("bob", 1, 2, 5);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let first = SessionMessage::from_bytes(&alice.encrypt(&b, b"one")).unwrap();
    let second = SessionMessage::from_bytes(&alice.encrypt(&b, b"two")).unwrap();
    assert!(SessionRecord::new().starts_new_session(&first));
    assert_eq!(bob.decrypt(&a, &first.to_bytes()).unwrap(), b"one");
    // The second prekey message belongs to the session the first made: no prekeys, and no
    // question about the sender's identity.
    let mut record = bob.sessions[&a].clone();
    assert!(!record.starts_new_session(&second));
    let mut empty = PreKeyStore::empty();
    let local = LocalDevice {
        address: &bob.address,
        identity: &bob.identity,
        prekeys: &mut empty,
    };
    let refuse = |_: &parley_crypto::identity::PublicIdentity| false;
    let got = record
        .decrypt(local, &a, &second, refuse, 1_000, &mut bob.rng)
        .unwrap();
    assert_eq!(&got.plaintext[..], b"two");
    // Once Bob answers, Alice's messages are ratchet messages, which never start one.
    let reply = bob.encrypt(&a, b"hi");
    assert_eq!(alice.decrypt(&b, &reply).unwrap(), b"hi");
    let ratchet = SessionMessage::from_bytes(&alice.encrypt(&b, b"three")).unwrap();
    assert!(matches!(ratchet, SessionMessage::Ratchet(_)));
    assert!(!SessionRecord::new().starts_new_session(&ratchet));
    // A session started afresh by the same sender (another base key) is new again.
    alice.start(&b, &bob.bundle());
    let restarted = SessionMessage::from_bytes(&alice.encrypt(&b, b"four")).unwrap();
    assert!(record.starts_new_session(&restarted));
}

#[test]
fn tampered_bundles_are_rejected() {
    let bob = Party::new("bob", 1, 2, 5);
    let bytes = bob.bundle().to_bytes();
    assert!(PreKeyBundle::from_bytes(&bytes).is_ok());
    // Everything but the one-time prekey (unsigned, as in Signal: a relay that swaps it only
    // makes the session fail, since SK also depends on DH1..DH3 and the KEM secret) is signed.
    let signed_len = bytes.len() - (4 + 32);
    for i in 0..signed_len {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert!(
            PreKeyBundle::from_bytes(&bad).is_err(),
            "flipped byte {i} accepted"
        );
    }
    assert!(PreKeyBundle::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        PreKeyBundle::from_bytes(&long),
        Err(Error::Decode(DecodeError::TrailingBytes))
    );
}

#[test]
fn gap_over_the_limit_is_refused() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let mut last = Vec::new();
    for _ in 0..=MAX_SKIP + 1 {
        last = alice.encrypt(&b, b"x");
    }
    let before = bob.snapshot(&a);
    assert_eq!(bob.decrypt(&a, &last), Err(Error::TooManySkipped));
    assert_eq!(bob.snapshot(&a), before);
    // Exactly MAX_SKIP skipped keys is allowed.
    let mut alice2_msgs = Vec::new();
    let (mut alice, mut bob) = established();
    for _ in 0..=MAX_SKIP {
        alice2_msgs.push(alice.encrypt(&b, b"y"));
    }
    assert_eq!(bob.decrypt(&a, alice2_msgs.last().unwrap()).unwrap(), b"y");
    assert_eq!(bob.decrypt(&a, &alice2_msgs[0]).unwrap(), b"y");
}

#[test]
fn skipped_keys_are_evicted_oldest_first_and_expire() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    // Chain 1: 1,500 skipped.
    let chain1: Vec<_> = (0..1_501)
        .map(|i| alice.encrypt(&b, format!("c1 {i}").as_bytes()))
        .collect();
    assert!(bob.decrypt(&a, &chain1[1_500]).is_ok());
    // A DH step, then chain 2: 1,500 more skipped; 1,000 of chain 1's are evicted.
    let r = bob.encrypt(&a, b"turn");
    alice.decrypt(&b, &r).unwrap();
    let chain2: Vec<_> = (0..1_501)
        .map(|i| alice.encrypt(&b, format!("c2 {i}").as_bytes()))
        .collect();
    assert!(bob.decrypt(&a, &chain2[1_500]).is_ok());
    assert_eq!(MAX_STORED_SKIPPED_KEYS, 2_000);
    assert_eq!(bob.decrypt(&a, &chain1[0]), Err(Error::DuplicateMessage));
    assert_eq!(bob.decrypt(&a, &chain1[999]), Err(Error::DuplicateMessage));
    assert_eq!(bob.decrypt(&a, &chain1[1_000]).unwrap(), b"c1 1000");
    assert_eq!(bob.decrypt(&a, &chain2[0]).unwrap(), b"c2 0");
    // Skipped keys older than 30 days are gone.
    assert_eq!(
        bob.decrypt_at(&a, &chain2[1], 1_000 + 31 * DAY),
        Err(Error::DuplicateMessage)
    );
    assert_eq!(
        bob.decrypt_at(&a, &chain2[2], 1_000 + 29 * DAY).unwrap(),
        b"c2 2"
    );
}

#[test]
fn replays_are_rejected() {
    let mut alice = Party::new("alice", 1, 1, 5);
    let mut bob = Party::new("bob", 1, 2, 5);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let m = alice.encrypt(&b, b"once");
    let fresh_bob = (bob.prekeys.clone(), bob.identity.clone());
    assert_eq!(bob.decrypt(&a, &m).unwrap(), b"once");
    assert_eq!(bob.decrypt(&a, &m), Err(Error::DuplicateMessage));
    let r = bob.encrypt(&a, b"reply");
    alice.decrypt(&b, &r).unwrap();
    assert_eq!(alice.decrypt(&b, &r), Err(Error::DuplicateMessage));
    // Bob loses the session; a replay of the prekey message cannot start a new one, because
    // the one-time prekey it used is gone.
    bob.sessions.clear();
    assert_eq!(bob.decrypt(&a, &m), Err(Error::UnknownPreKey));
    drop(fresh_bob);
}

#[test]
fn replayed_last_resort_prekey_message_is_refused() {
    let mut alice = Party::new("alice", 1, 1, 0);
    let mut bob = Party::new("bob", 1, 2, 0);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let m = alice.encrypt(&b, b"via last resort");
    assert_eq!(bob.decrypt(&a, &m).unwrap(), b"via last resort");
    bob.sessions.clear();
    assert_eq!(bob.decrypt(&a, &m), Err(Error::ReplayedPreKeyMessage));
    // After a rotation both last-resort keys are kept, and the replay is still refused.
    let mut rng = common::rng(40);
    bob.prekeys.rotate(&bob.identity, 10, &mut rng);
    assert_eq!(bob.decrypt(&a, &m), Err(Error::ReplayedPreKeyMessage));
    // A restored store still remembers.
    bob.prekeys = parley_crypto::prekeys::PreKeyStore::from_bytes(&bob.prekeys.to_bytes()).unwrap();
    assert_eq!(bob.decrypt(&a, &m), Err(Error::ReplayedPreKeyMessage));
}

#[test]
fn out_of_order_across_dh_steps() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let a1: Vec<_> = (0..3).map(|i| alice.encrypt(&b, &[1, i])).collect();
    let b1: Vec<_> = (0..2).map(|i| bob.encrypt(&a, &[2, i])).collect();
    assert_eq!(alice.decrypt(&b, &b1[1]).unwrap(), [2, 1]);
    let a2: Vec<_> = (0..3).map(|i| alice.encrypt(&b, &[3, i])).collect();
    // Bob sees the newest chain first, then the older one, all shuffled.
    assert_eq!(bob.decrypt(&a, &a2[2]).unwrap(), [3, 2]);
    assert_eq!(bob.decrypt(&a, &a1[1]).unwrap(), [1, 1]);
    assert_eq!(bob.decrypt(&a, &a2[0]).unwrap(), [3, 0]);
    assert_eq!(bob.decrypt(&a, &a1[0]).unwrap(), [1, 0]);
    assert_eq!(bob.decrypt(&a, &a1[2]).unwrap(), [1, 2]);
    assert_eq!(bob.decrypt(&a, &a2[1]).unwrap(), [3, 1]);
    assert_eq!(alice.decrypt(&b, &b1[0]).unwrap(), [2, 0]);
    for m in a1.iter().chain(&a2) {
        assert_eq!(bob.decrypt(&a, m), Err(Error::DuplicateMessage));
    }
}

#[test]
fn simultaneous_initiation_converges() {
    let mut alice = Party::new("alice", 1, 1, 5);
    let mut bob = Party::new("bob", 1, 2, 5);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let (ab, bb) = (alice.bundle(), bob.bundle());
    alice.start(&b, &bb);
    bob.start(&a, &ab);
    let from_alice = alice.encrypt(&b, b"hi bob");
    let from_bob = bob.encrypt(&a, b"hi alice");
    assert_eq!(bob.decrypt(&a, &from_alice).unwrap(), b"hi bob");
    assert_eq!(alice.decrypt(&b, &from_bob).unwrap(), b"hi alice");
    // Each side now has two sessions; after one reply they agree on one.
    let m = alice.encrypt(&b, b"reply 1");
    assert_eq!(bob.decrypt(&a, &m).unwrap(), b"reply 1");
    let m = bob.encrypt(&a, b"reply 2");
    assert_eq!(alice.decrypt(&b, &m).unwrap(), b"reply 2");
    let alice_current = alice.sessions[&b].current().unwrap().base_key().to_bytes();
    let bob_current = bob.sessions[&a].current().unwrap().base_key().to_bytes();
    assert_eq!(alice_current, bob_current);
    for i in 0..4u8 {
        let m = alice.encrypt(&b, &[i]);
        assert_eq!(bob.decrypt(&a, &m).unwrap(), [i]);
        let m = bob.encrypt(&a, &[i, i]);
        assert_eq!(alice.decrypt(&b, &m).unwrap(), [i, i]);
    }
}

#[test]
fn failed_decrypt_changes_nothing() {
    let mut alice = Party::new("alice", 1, 1, 5);
    let mut bob = Party::new("bob", 1, 2, 5);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let first = alice.encrypt(&b, b"first");
    // A corrupted prekey message neither creates a session nor burns a prekey.
    let mut bad = first.clone();
    *bad.last_mut().unwrap() ^= 1;
    let before = bob.snapshot(&a);
    assert_eq!(bob.decrypt(&a, &bad), Err(Error::DecryptFailed));
    assert_eq!(bob.snapshot(&a), before);
    assert_eq!(bob.decrypt(&a, &first).unwrap(), b"first");
    // On an established session: a corrupted message in the current chain, in a new chain
    // (DH step), and a corrupted skipped one.
    let r = bob.encrypt(&a, b"r");
    alice.decrypt(&b, &r).unwrap();
    let m0 = alice.encrypt(&b, b"m0");
    let m1 = alice.encrypt(&b, b"m1");
    for (target, name) in [(&m1, "new chain"), (&m0, "skipped")] {
        let mut bad = target.clone();
        let n = bad.len();
        bad[n - 5] ^= 0x80;
        let before = bob.snapshot(&a);
        assert_eq!(bob.decrypt(&a, &bad), Err(Error::DecryptFailed), "{name}");
        assert_eq!(bob.snapshot(&a), before, "{name}");
        assert_eq!(
            bob.decrypt(&a, target).unwrap(),
            if name == "skipped" { b"m0" } else { b"m1" }
        );
    }
    let m2 = alice.encrypt(&b, b"m2");
    let mut bad = m2.clone();
    bad[10] ^= 1; // inside the header: a different ratchet key or counter
    let before = bob.snapshot(&a);
    assert!(bob.decrypt(&a, &bad).is_err());
    assert_eq!(bob.snapshot(&a), before);
    assert_eq!(bob.decrypt(&a, &m2).unwrap(), b"m2");
}

#[test]
fn wrong_recipient_is_rejected() {
    let mut alice = Party::new("alice", 1, 1, 5);
    let bob1 = Party::new("bob", 1, 2, 5);
    let mut bob2 = Party::new("bob", 2, 3, 5);
    let a = alice.address.clone();
    alice.start(&bob1.address.clone(), &bob1.bundle());
    let m = alice.encrypt(&bob1.address.clone(), b"for device 1");
    assert_eq!(bob2.decrypt(&a, &m), Err(Error::WrongRecipient));
}

#[test]
fn untrusted_identity_is_refused_before_anything_changes() {
    use parley_crypto::session_record::{LocalDevice, SessionRecord};
    let mut alice = Party::new("alice", 1, 1, 5);
    let mut bob = Party::new("bob", 1, 2, 5);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let m = SessionMessage::from_bytes(&alice.encrypt(&b, b"hi")).unwrap();
    let before = bob.prekeys.to_bytes().to_vec();
    let mut record = SessionRecord::new();
    let local = LocalDevice {
        address: &b,
        identity: &bob.identity,
        prekeys: &mut bob.prekeys,
    };
    let err = record
        .decrypt(local, &a, &m, |_| false, 0, &mut bob.rng)
        .unwrap_err();
    assert_eq!(err, Error::UntrustedIdentity);
    assert!(record.current().is_none());
    assert_eq!(bob.prekeys.to_bytes().to_vec(), before);
}

#[test]
fn unknown_versions_and_garbage_are_typed_errors() {
    let (mut alice, bob) = established();
    let mut m = alice.encrypt(&bob.address.clone(), b"x");
    m[0] = 2;
    assert_eq!(
        SessionMessage::from_bytes(&m),
        Err(Error::Decode(DecodeError::UnknownVersion(2)))
    );
    m[0] = 1;
    m[1] = 9;
    assert_eq!(
        SessionMessage::from_bytes(&m),
        Err(Error::Decode(DecodeError::InvalidValue))
    );
    assert!(SessionMessage::from_bytes(&[]).is_err());
    let record = alice.sessions[&bob.address].to_bytes();
    let mut bad = record.to_vec();
    bad[0] = 0;
    assert!(parley_crypto::session_record::SessionRecord::from_bytes(&bad).is_err());
}

#[test]
fn records_survive_serialisation() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    let skipped = alice.encrypt(&b, b"later");
    let now = alice.encrypt(&b, b"now");
    assert_eq!(bob.decrypt(&a, &now).unwrap(), b"now");
    let bytes = bob.sessions[&a].to_bytes();
    let restored = parley_crypto::session_record::SessionRecord::from_bytes(&bytes).unwrap();
    assert_eq!(*restored.to_bytes(), *bytes);
    bob.sessions.insert(a.clone(), restored);
    assert_eq!(bob.decrypt(&a, &skipped).unwrap(), b"later");
}

/// A version 1 record (entries are bare sessions, no `PreKeyInit` digest) is migrated: its
/// sessions keep decrypting ratchet messages, refuse prekey messages matched by base key
/// (their `PreKeyInit` cannot be checked), and it is written back as the current version.
#[test]
fn version_1_records_are_migrated() {
    use parley_crypto::consts::{PROTOCOL_VERSION, SESSION_RECORD_VERSION};
    use parley_crypto::session_record::SessionRecord;

    let mut alice = Party::new("alice", 1, 1, 1);
    let mut bob = Party::new("bob", 1, 2, 1);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let first = alice.encrypt(&b, b"first");
    let second = alice.encrypt(&b, b"second");
    assert_eq!(bob.decrypt(&a, &first).unwrap(), b"first");
    // Bob's record: one current responder session with a digest, nothing archived.
    let v2 = bob.sessions[&a].to_bytes().to_vec();
    assert_eq!(v2[0], SESSION_RECORD_VERSION);
    let (body, archived_count) = v2.split_at(v2.len() - 4);
    assert_eq!(archived_count, [0; 4]);
    let (session, digest) = body.split_at(body.len() - 33);
    assert_eq!(digest[0], 1);
    let mut v1 = vec![PROTOCOL_VERSION];
    v1.extend_from_slice(&session[1..]);
    v1.extend_from_slice(&[0; 4]);

    let migrated = SessionRecord::from_bytes(&v1).unwrap();
    let rewritten = migrated.to_bytes();
    assert_eq!(rewritten[0], SESSION_RECORD_VERSION);
    assert_eq!(
        *SessionRecord::from_bytes(&rewritten).unwrap().to_bytes(),
        *rewritten
    );
    bob.sessions.insert(a.clone(), migrated);
    let before = bob.snapshot(&a);
    assert_eq!(bob.decrypt(&a, &second), Err(Error::PreKeyInitMismatch));
    assert_eq!(bob.snapshot(&a), before);
    let reply = bob.encrypt(&a, b"reply");
    assert_eq!(alice.decrypt(&b, &reply).unwrap(), b"reply");
    let third = alice.encrypt(&b, b"third");
    assert_eq!(bob.decrypt(&a, &third).unwrap(), b"third");
    // Any other version is a typed error.
    let mut v3 = v2.clone();
    v3[0] = 3;
    assert_eq!(
        SessionRecord::from_bytes(&v3).map(|_| ()),
        Err(Error::Decode(DecodeError::UnknownVersion(3)))
    );
}

/// A session this device initiated accepts no prekey message, even one with its base key.
#[test]
fn prekey_message_with_the_base_key_of_an_initiated_session_is_refused() {
    let mut alice = Party::new("alice", 1, 1, 1);
    let mut bob = Party::new("bob", 1, 2, 1);
    let (a, b) = (alice.address.clone(), bob.address.clone());
    alice.start(&b, &bob.bundle());
    let base_key = *alice.sessions[&b].current().unwrap().base_key();
    // A genuine prekey message from Bob to Alice, its base key replaced by Alice's own.
    bob.start(&a, &alice.bundle());
    let SessionMessage::PreKey(mut p) =
        SessionMessage::from_bytes(&bob.encrypt(&a, b"hi")).unwrap()
    else {
        panic!("not a prekey message")
    };
    p.init.base_key = base_key;
    let forged = SessionMessage::PreKey(p).to_bytes();
    let before = alice.snapshot(&b);
    assert_eq!(alice.decrypt(&b, &forged), Err(Error::PreKeyInitMismatch));
    assert_eq!(alice.snapshot(&b), before);
}

/// Prekeys travel to the relay one part at a time; a bundle reassembled from the parts starts
/// a session, a tampered part is refused when decoded or when the session starts.
#[test]
fn bundle_from_uploaded_parts() {
    use parley_crypto::prekeys::{KemPreKeyPublic, OneTimePreKeyPublic, SignedPreKeyPublic};
    let mut alice = Party::new("alice", 1, 11, 0);
    let mut bob = Party::new("bob", 1, 12, 0);
    let (ec, kem) = bob
        .prekeys
        .generate_one_time(&bob.identity, 1, &mut bob.rng);
    let signed = bob.prekeys.signed_prekey().unwrap().to_bytes();
    let last_resort = bob.prekeys.last_resort_kem_prekey().unwrap().to_bytes();
    let (one_time, one_time_kem) = (ec[0].to_bytes(), kem[0].to_bytes());

    let bundle = PreKeyBundle::new(
        *bob.identity.public(),
        SignedPreKeyPublic::from_bytes(&signed).unwrap(),
        KemPreKeyPublic::from_bytes(&one_time_kem).unwrap(),
        Some(OneTimePreKeyPublic::from_bytes(&one_time).unwrap()),
    );
    bundle.verify().unwrap();
    alice.start(&bob.address.clone(), &bundle);
    let m = alice.encrypt(&bob.address.clone(), b"from parts");
    assert_eq!(
        bob.decrypt(&alice.address.clone(), &m).unwrap(),
        b"from parts"
    );
    assert!(KemPreKeyPublic::from_bytes(&last_resort).is_ok());

    // Unknown version, truncation, trailing bytes.
    let mut v2 = signed.clone();
    v2[0] = 2;
    assert_eq!(
        SignedPreKeyPublic::from_bytes(&v2),
        Err(DecodeError::UnknownVersion(2))
    );
    assert!(OneTimePreKeyPublic::from_bytes(&one_time[..one_time.len() - 1]).is_err());
    let mut long = one_time.clone();
    long.push(0);
    assert_eq!(
        OneTimePreKeyPublic::from_bytes(&long),
        Err(DecodeError::TrailingBytes)
    );
    // A flipped signature bit decodes but does not verify.
    let mut bad = signed.clone();
    *bad.last_mut().unwrap() ^= 1;
    let bundle = PreKeyBundle::new(
        *bob.identity.public(),
        SignedPreKeyPublic::from_bytes(&bad).unwrap(),
        KemPreKeyPublic::from_bytes(&last_resort).unwrap(),
        None,
    );
    assert_eq!(bundle.verify(), Err(Error::BadSignature));
}

/// Forgetting the oldest one-time prekeys removes exactly those, and leaves the newer ones
/// usable.
#[test]
fn forgetting_the_oldest_one_time_prekeys() {
    use parley_crypto::prekeys::{KemPreKeyPublic, OneTimePreKeyPublic, SignedPreKeyPublic};
    let mut bob = Party::new("bob", 1, 21, 0);
    let (ec, kem) = bob
        .prekeys
        .generate_one_time(&bob.identity, 5, &mut bob.rng);
    bob.prekeys.forget_oldest_one_time(3, 2);
    assert_eq!(bob.prekeys.one_time_counts(), (2, 3));
    let bundle_with = |i: usize, j: usize| {
        PreKeyBundle::new(
            *bob.identity.public(),
            SignedPreKeyPublic::from_bytes(&bob.prekeys.signed_prekey().unwrap().to_bytes())
                .unwrap(),
            KemPreKeyPublic::from_bytes(&kem[j].to_bytes()).unwrap(),
            Some(OneTimePreKeyPublic::from_bytes(&ec[i].to_bytes()).unwrap()),
        )
    };
    // A forgotten key cannot complete a session; a kept one can.
    let (old, new) = (bundle_with(0, 4), bundle_with(4, 4));
    let mut alice = Party::new("alice", 1, 22, 0);
    alice.start(&bob.address.clone(), &old);
    let m = alice.encrypt(&bob.address.clone(), b"old key");
    assert!(bob.decrypt(&alice.address.clone(), &m).is_err());
    let mut carol = Party::new("carol", 1, 23, 0);
    carol.start(&bob.address.clone(), &new);
    let m = carol.encrypt(&bob.address.clone(), b"new key");
    assert_eq!(bob.decrypt(&carol.address.clone(), &m).unwrap(), b"new key");
}
