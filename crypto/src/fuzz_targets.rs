//! Entry points for the fuzz targets in `fuzz/`, shared with the corpus replay test
//! (`tests/fuzz_corpus.rs`) so that `cargo test` runs every committed corpus input through
//! exactly the code the fuzzer exercises. Each entry point feeds untrusted bytes to one decoder
//! and checks that it returns rather than panics, and that what it accepts re-encodes to the
//! same bytes. Not part of the stable API.

use std::sync::OnceLock;

use crate::address::DeviceAddress;
use crate::consts::SESSION_RECORD_VERSION;
use crate::identity::{IdentityKeyPair, PublicIdentity};
use crate::keys::os_rng;
use crate::message::SessionMessage;
use crate::prekeys::{PreKeyBundle, PreKeyStore};
use crate::session_record::{LocalDevice, SessionRecord};

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/*.rs` file and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("public_identity", public_identity),
    ("private_identity", private_identity),
    ("prekey_bundle", prekey_bundle),
    ("prekey_store", prekey_store),
    ("session_message", session_message),
    ("session_record", session_record),
    ("session_decrypt", session_decrypt),
];

/// [`PublicIdentity::from_bytes`].
pub fn public_identity(data: &[u8]) {
    if let Ok(id) = PublicIdentity::from_bytes(data) {
        assert_eq!(&id.to_bytes()[..], data);
    }
}

/// [`IdentityKeyPair::from_bytes`].
pub fn private_identity(data: &[u8]) {
    if let Ok(id) = IdentityKeyPair::from_bytes(data) {
        assert_eq!(&id.to_bytes()[..], data);
    }
}

/// [`PreKeyBundle::from_bytes`].
pub fn prekey_bundle(data: &[u8]) {
    if let Ok(bundle) = PreKeyBundle::from_bytes(data) {
        assert_eq!(bundle.to_bytes(), data);
    }
}

/// [`PreKeyStore::from_bytes`].
pub fn prekey_store(data: &[u8]) {
    if let Ok(store) = PreKeyStore::from_bytes(data) {
        assert_eq!(&store.to_bytes()[..], data);
    }
}

/// [`SessionMessage::from_bytes`].
pub fn session_message(data: &[u8]) {
    if let Ok(msg) = SessionMessage::from_bytes(data) {
        assert_eq!(msg.to_bytes(), data);
    }
}

/// [`SessionRecord::from_bytes`]: a record of the current version re-encodes to the same
/// bytes; an older one is migrated to an encoding that does.
pub fn session_record(data: &[u8]) {
    if let Ok(record) = SessionRecord::from_bytes(data) {
        let bytes = record.to_bytes();
        if data.first() == Some(&SESSION_RECORD_VERSION) {
            assert_eq!(&bytes[..], data);
        } else {
            let migrated = SessionRecord::from_bytes(&bytes);
            assert!(migrated.is_ok_and(|m| m.to_bytes()[..] == bytes[..]));
        }
    }
}

struct Fixture {
    alice: DeviceAddress,
    bob: DeviceAddress,
    bob_identity: IdentityKeyPair,
    bob_prekeys: Vec<u8>,
    bob_record: Vec<u8>,
}

/// Bob's state after accepting Alice's session, built once.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = os_rng();
        let alice = DeviceAddress::new("alice", 1).ok();
        let bob = DeviceAddress::new("bob", 1).ok();
        let (Some(alice), Some(bob)) = (alice, bob) else {
            unreachable_fixture()
        };
        let alice_identity = IdentityKeyPair::generate(&mut rng);
        let bob_identity = IdentityKeyPair::generate(&mut rng);
        let mut prekeys = PreKeyStore::new(&bob_identity, 0, &mut rng);
        prekeys.generate_one_time(&bob_identity, 2, &mut rng);
        let Some(bundle) = prekeys.bundle(bob_identity.public()) else {
            unreachable_fixture()
        };
        let mut alice_record = SessionRecord::new();
        let mut bob_record = SessionRecord::new();
        let ok = alice_record
            .initiate(&alice, &bob, &alice_identity, &bundle, &mut rng)
            .is_ok()
            && alice_record.encrypt(b"hi").is_ok_and(|m| {
                let local = LocalDevice {
                    address: &bob,
                    identity: &bob_identity,
                    prekeys: &mut prekeys,
                };
                bob_record
                    .decrypt(local, &alice, &m, |_| true, 0, &mut rng)
                    .is_ok()
            });
        if !ok {
            unreachable_fixture()
        }
        Fixture {
            alice,
            bob,
            bob_identity,
            bob_prekeys: prekeys.to_bytes().to_vec(),
            bob_record: bob_record.to_bytes().to_vec(),
        }
    })
}

#[cold]
fn unreachable_fixture() -> ! {
    #[expect(clippy::panic, reason = "a fixed, valid set-up cannot fail")]
    {
        panic!("fuzz fixture set-up failed")
    }
}

/// Arbitrary bytes as a message to an established session: decryption fails with an error and
/// leaves the record and the prekey store unchanged.
pub fn session_decrypt(data: &[u8]) {
    let f = fixture();
    let Ok(message) = SessionMessage::from_bytes(data) else {
        return;
    };
    let (Ok(mut record), Ok(mut prekeys)) = (
        SessionRecord::from_bytes(&f.bob_record),
        PreKeyStore::from_bytes(&f.bob_prekeys),
    ) else {
        unreachable_fixture()
    };
    let local = LocalDevice {
        address: &f.bob,
        identity: &f.bob_identity,
        prekeys: &mut prekeys,
    };
    let result = record.decrypt(local, &f.alice, &message, |_| true, 0, &mut os_rng());
    if result.is_err() {
        assert_eq!(&record.to_bytes()[..], &f.bob_record[..]);
        assert_eq!(&prekeys.to_bytes()[..], &f.bob_prekeys[..]);
    }
}
