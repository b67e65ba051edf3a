//! Entry points for the fuzz targets in `fuzz/`, shared with the corpus replay test
//! (`tests/fuzz_corpus.rs`) so that `cargo test` runs every committed corpus input through
//! exactly the code the fuzzer exercises. Each entry point feeds untrusted bytes to one decoder
//! and checks that it returns rather than panics, and that what it accepts re-encodes to the
//! same bytes. Some go on to use what they decoded against a fixed state (a session set up once
//! per process; a sender-key record, an attachment key and a safety number built from
//! constants) and check that anything refused leaves that state unchanged. `docs/fuzzing.md` lists them and how to run them. Not
//! part of the stable API.

use std::io::{self, Write};
use std::sync::OnceLock;

use crate::address::DeviceAddress;
use crate::attachment::{self, AttachmentKey};
use crate::consts::{ATTACHMENT_CHUNK_LEN, PROTOCOL_VERSION, SESSION_RECORD_VERSION};
use crate::error::Error;
use crate::fingerprint::SafetyNumber;
use crate::identity::{IdentityKeyPair, PublicIdentity};
use crate::keys::{SigningKeyPair, os_rng};
use crate::message::SessionMessage;
use crate::prekeys::{PreKeyBundle, PreKeyStore};
use crate::sender_key::{
    GroupId, OwnSenderKey, SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyRecord,
};
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
    ("sender_key_distribution", sender_key_distribution),
    ("sender_key_message", sender_key_message),
    ("sender_key_record", sender_key_record),
    ("attachment_decrypt", attachment_decrypt),
    ("safety_number_scan", safety_number_scan),
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

// ---------------------------------------------------------------------------------------------
// Sender keys

/// The group of the sender-key fixture.
pub const FIXED_GROUP: GroupId = GroupId([0x47; 32]);

/// The sender device of the sender-key fixture.
pub fn fixed_sender() -> DeviceAddress {
    match DeviceAddress::new("alice", 1) {
        Ok(a) => a,
        Err(_) => unreachable_fixture(),
    }
}

/// The sender-key fixture's sending state at iteration 0, built from constant bytes so that
/// `tests/seed_corpus.rs` can write messages that [`sender_key_message`] decrypts.
pub fn fixed_sender_key() -> OwnSenderKey {
    let mut bytes = vec![PROTOCOL_VERSION];
    bytes.extend_from_slice(&FIXED_GROUP.0);
    bytes.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    bytes.extend_from_slice(&0u32.to_be_bytes());
    bytes.extend_from_slice(&[0x5e; 32]);
    bytes.extend_from_slice(&FIXED_SIGNING_SEED);
    match OwnSenderKey::from_bytes(&bytes) {
        Ok(own) => own,
        Err(_) => unreachable_fixture(),
    }
}

/// Seed of the signing key of [`fixed_sender_key`].
const FIXED_SIGNING_SEED: [u8; 32] = [0x51; 32];

/// Iterations of [`fixed_sender_key`] that the fixed record has decrypted: the record holds
/// skipped keys for the iterations below the last one and expects the one after it.
pub const FIXED_RECORD_DECRYPTED: u32 = 2;

/// The receiving record of the fixture: the chain of [`fixed_sender_key`] from iteration 0,
/// with iteration [`FIXED_RECORD_DECRYPTED`] decrypted (so 0 and 1 are stored as skipped).
fn fixed_record() -> &'static [u8] {
    static RECORD: OnceLock<Vec<u8>> = OnceLock::new();
    RECORD.get_or_init(|| {
        let mut own = fixed_sender_key();
        let mut record = SenderKeyRecord::new();
        record.process_distribution(&own.distribution_message());
        let sender = fixed_sender();
        let mut last = Vec::new();
        for _ in 0..=FIXED_RECORD_DECRYPTED {
            match own.encrypt(&sender, b"fixture") {
                Ok(m) => last = m,
                Err(_) => unreachable_fixture(),
            }
        }
        if record.decrypt(&FIXED_GROUP, &sender, &last).is_err() {
            unreachable_fixture()
        }
        record.to_bytes().to_vec()
    })
}

fn load_fixed_record() -> SenderKeyRecord {
    match SenderKeyRecord::from_bytes(fixed_record()) {
        Ok(r) => r,
        Err(_) => unreachable_fixture(),
    }
}

/// [`SenderKeyDistributionMessage::from_bytes`], then what it does to the fixed record: the
/// record it leaves behind must still encode and decode to the same bytes.
pub fn sender_key_distribution(data: &[u8]) {
    let Ok(distribution) = SenderKeyDistributionMessage::from_bytes(data) else {
        return;
    };
    assert_eq!(&distribution.to_bytes()[..], data);
    let mut record = load_fixed_record();
    record.process_distribution(&distribution);
    let bytes = record.to_bytes();
    let decoded = SenderKeyRecord::from_bytes(&bytes);
    assert!(decoded.is_ok_and(|r| r.to_bytes()[..] == bytes[..]));
}

/// [`SenderKeyMessage::from_bytes`], then [`SenderKeyRecord::decrypt`] on the fixed record,
/// of the bytes as they are and of the message re-signed with the fixture's signing key (so
/// that the fuzzer also reaches the iteration, skipped-key and AEAD checks): a failure leaves
/// the record unchanged; a success (only a message the fixture really sent) cannot be repeated.
pub fn sender_key_message(data: &[u8]) {
    if let Ok(mut message) = SenderKeyMessage::from_bytes(data) {
        assert_eq!(message.to_bytes(), data);
        message.sign_with(&SigningKeyPair::from_seed(&FIXED_SIGNING_SEED));
        decrypt_once(&message.to_bytes());
    }
    decrypt_once(data);
}

/// Decrypts `data` with the fixed record: unchanged on failure, refused the second time on
/// success.
fn decrypt_once(data: &[u8]) {
    let mut record = load_fixed_record();
    let sender = fixed_sender();
    match record.decrypt(&FIXED_GROUP, &sender, data) {
        Err(_) => assert_eq!(&record.to_bytes()[..], fixed_record()),
        Ok(_) => {
            let after = record.to_bytes();
            assert_ne!(&after[..], fixed_record());
            assert_eq!(
                record.decrypt(&FIXED_GROUP, &sender, data).map(|_| ()),
                Err(Error::DuplicateMessage)
            );
            assert_eq!(record.to_bytes()[..], after[..]);
        }
    }
}

/// [`SenderKeyRecord::from_bytes`].
pub fn sender_key_record(data: &[u8]) {
    if let Ok(record) = SenderKeyRecord::from_bytes(data) {
        assert_eq!(&record.to_bytes()[..], data);
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// The key of the attachment fixture.
pub fn fixed_attachment_key() -> AttachmentKey {
    AttachmentKey::from_bytes(&[0xa7; 32])
}

/// A reader over a slice that returns at most `step` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        buf.iter_mut().zip(head).for_each(|(b, h)| *b = *h);
        self.data = tail;
        Ok(n)
    }
}

/// A writer that counts bytes and checks that no single write exceeds one chunk, so the
/// plaintext is handed out chunk by chunk and never accumulated.
#[derive(Default)]
struct Counter {
    written: usize,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        assert!(buf.len() <= ATTACHMENT_CHUNK_LEN);
        self.written = self.written.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// [`attachment::decrypt`] of arbitrary bytes under a fixed key. The first byte picks how the
/// rest is read (bits 0–6: at most that many bytes per `read` call, 0 for no limit) and
/// whether an all-zero digest is expected (bit 7, which no stream can match). Anything but a
/// genuine stream fails; a genuine one decrypts to exactly its announced length; nothing is
/// written beyond the input's length, one chunk at a time.
pub fn attachment_decrypt(data: &[u8]) {
    let Some((&mode, ciphertext)) = data.split_first() else {
        return;
    };
    let step = match usize::from(mode & 0x7f) {
        0 => usize::MAX,
        n => n,
    };
    let zero_digest = [0u8; 32];
    let digest = (mode & 0x80 != 0).then_some(&zero_digest);
    let reader = Trickle {
        data: ciphertext,
        step,
    };
    let mut out = Counter::default();
    let mut progress = 0u64;
    let result = attachment::decrypt(&fixed_attachment_key(), digest, reader, &mut out, |n| {
        progress = progress.saturating_add(n);
    });
    assert!(out.written <= ciphertext.len());
    if let Ok(n) = result {
        assert!(digest.is_none(), "a stream matched the all-zero digest");
        assert_eq!(usize::try_from(n).ok(), Some(out.written));
        assert_eq!(progress, n);
        assert_eq!(
            Ok(attachment::ciphertext_len(n)),
            u64::try_from(ciphertext.len())
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Safety numbers

/// The safety numbers of the fixture as each of its two users computes them: (ours, theirs).
pub fn fixed_safety_numbers() -> &'static (SafetyNumber, SafetyNumber) {
    static NUMBERS: OnceLock<(SafetyNumber, SafetyNumber)> = OnceLock::new();
    NUMBERS.get_or_init(|| {
        let alice = [SigningKeyPair::from_seed(&[1; 32]).public()];
        let bob = [
            SigningKeyPair::from_seed(&[2; 32]).public(),
            SigningKeyPair::from_seed(&[3; 32]).public(),
        ];
        let ours = SafetyNumber::new(b"alice", &alice, b"bob", &bob);
        let theirs = SafetyNumber::new(b"bob", &bob, b"alice", &alice);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => (ours, theirs),
            _ => unreachable_fixture(),
        }
    })
}

/// [`SafetyNumber::verify_scanned`] of arbitrary bytes against the fixed number: it matches
/// exactly the other user's code, and a code never matches the number that shows it.
pub fn safety_number_scan(data: &[u8]) {
    let (ours, theirs) = fixed_safety_numbers();
    let matched = ours.verify_scanned(data);
    assert_eq!(
        matched.is_ok(),
        data.len() == crate::fingerprint::SCANNABLE_LEN && data.first() == Some(&PROTOCOL_VERSION)
    );
    assert_eq!(matched == Ok(true), data == theirs.scannable());
    assert_eq!(
        theirs.verify_scanned(data) == Ok(true),
        data == ours.scannable()
    );
}
