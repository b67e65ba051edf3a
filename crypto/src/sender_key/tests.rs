//! Tests of sender keys: the cases of libsignal's `tests/groups.rs` that apply, plus forward
//! secrecy, transactional decryption, rotation as removal, and decoder robustness.
//!
//! Long because each case of libsignal's group tests is its own test here; the cases share
//! the fixtures at the top.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    reason = "test code on values it constructs"
)]

use std::sync::LazyLock;

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::message::{DISTRIBUTION_LEN, MAX_CIPHERTEXT_LEN, TAG_LEN, write_header};
use super::own::OWN_KEY_LEN;
use super::record::SenderKeyState;
use super::*;
use crate::address::DeviceAddress;
use crate::codec::Writer;
use crate::consts::{
    MAX_PLAINTEXT_LEN, MAX_SENDER_KEY_SKIP, MAX_SENDER_KEY_STATES, MAX_SENDER_KEY_STORED_KEYS,
    PROTOCOL_VERSION, SIGNATURE_LEN,
};
use crate::error::{DecodeError, Error};
use crate::kdf::hmac;
use crate::keys::SigningKeyPair;

type TestResult = core::result::Result<(), Box<dyn std::error::Error>>;

const GROUP: GroupId = GroupId([7; 32]);

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn alice() -> core::result::Result<DeviceAddress, DecodeError> {
    DeviceAddress::new("alice", 1)
}

/// A sender and one receiver that has processed its distribution message.
fn setup(seed: u8) -> (OwnSenderKey, SenderKeyRecord) {
    let own = OwnSenderKey::new(GROUP, &mut rng(seed));
    let mut record = SenderKeyRecord::new();
    assert!(record.is_empty());
    assert_eq!(
        record.process_distribution(&own.distribution_message()),
        DistributionOutcome::Added
    );
    assert!(!record.is_empty());
    (own, record)
}

/// Encrypts `n` messages "message i" from alice.
fn send(own: &mut OwnSenderKey, n: usize) -> core::result::Result<Vec<Vec<u8>>, Error> {
    let sender = alice()?;
    (0..n)
        .map(|i| own.encrypt(&sender, format!("message {i}").as_bytes()))
        .collect()
}

fn plaintext(i: usize) -> Vec<u8> {
    format!("message {i}").into_bytes()
}

/// Asserts that decrypting fails with `expected` and leaves the record byte-for-byte unchanged.
fn assert_rejected(
    record: &mut SenderKeyRecord,
    group: &GroupId,
    sender: &DeviceAddress,
    bytes: &[u8],
    expected: Error,
) {
    let before = record.to_bytes();
    assert_eq!(
        record.decrypt(group, sender, bytes).map(|_| ()),
        Err(expected)
    );
    assert!(record.to_bytes()[..] == before[..], "record changed");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The chain seed `steps` iterations after `seed`, by the spec's HMAC steps.
fn chain_seed_at(seed: &[u8; 32], steps: u32) -> [u8; 32] {
    let mut seed = *seed;
    for _ in 0..steps {
        seed = *hmac(&seed, &[0x02]);
    }
    seed
}

/// The message key seed of iteration `steps` of a chain that starts at `seed`.
fn message_key_seed_at(seed: &[u8; 32], steps: u32) -> [u8; 32] {
    *hmac(&chain_seed_at(seed, steps), &[0x01])
}

#[test]
fn round_trip_to_several_receivers() -> TestResult {
    let mut own = OwnSenderKey::new(GROUP, &mut rng(1));
    let wire = own.distribution_message().to_bytes();
    let mut receivers = Vec::new();
    for _ in 0..3 {
        let mut record = SenderKeyRecord::new();
        let distribution = SenderKeyDistributionMessage::from_bytes(&wire)?;
        assert_eq!(
            record.process_distribution(&distribution),
            DistributionOutcome::Added
        );
        receivers.push(record);
    }
    let messages = send(&mut own, 5)?;
    for record in &mut receivers {
        for (i, message) in messages.iter().enumerate() {
            let decrypted = record.decrypt(&GROUP, &alice()?, message)?;
            assert_eq!(*decrypted, plaintext(i));
        }
    }
    Ok(())
}

#[test]
fn out_of_order_within_the_skip_window() -> TestResult {
    let (mut own, mut record) = setup(2);
    let messages = send(&mut own, 10)?;
    for i in [9, 0, 5, 3, 1, 2, 4, 6, 8, 7] {
        assert_eq!(
            *record.decrypt(&GROUP, &alice()?, &messages[i])?,
            plaintext(i)
        );
    }
    for message in &messages {
        assert_rejected(
            &mut record,
            &GROUP,
            &alice()?,
            message,
            Error::DuplicateMessage,
        );
    }
    Ok(())
}

#[test]
fn skipping_over_the_limit_is_rejected_before_any_work() -> TestResult {
    let (mut own, mut record) = setup(3);
    let limit = usize::try_from(MAX_SENDER_KEY_SKIP)?;
    let messages = send(&mut own, limit + 2)?;
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &messages[limit + 1],
        Error::TooManySkipped,
    );
    // Exactly MAX_SENDER_KEY_SKIP skipped keys is allowed, and keeps every one of them.
    assert_eq!(
        *record.decrypt(&GROUP, &alice()?, &messages[limit])?,
        plaintext(limit)
    );
    assert_eq!(record.states[0].skipped.len(), limit);
    assert_eq!(
        *record.decrypt(&GROUP, &alice()?, &messages[limit + 1])?,
        plaintext(limit + 1)
    );
    assert_eq!(
        *record.decrypt(&GROUP, &alice()?, &messages[0])?,
        plaintext(0)
    );
    Ok(())
}

#[test]
fn duplicates_and_replays_are_rejected() -> TestResult {
    let (mut own, mut record) = setup(4);
    let messages = send(&mut own, 3)?;
    record.decrypt(&GROUP, &alice()?, &messages[0])?;
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &messages[0],
        Error::DuplicateMessage,
    );
    // A skipped key is used once.
    record.decrypt(&GROUP, &alice()?, &messages[2])?;
    record.decrypt(&GROUP, &alice()?, &messages[1])?;
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &messages[1],
        Error::DuplicateMessage,
    );
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &messages[2],
        Error::DuplicateMessage,
    );
    Ok(())
}

#[test]
fn bad_signatures_are_rejected() -> TestResult {
    let (mut own, mut record) = setup(5);
    let messages = send(&mut own, 1)?;
    let good = &messages[0];

    let mut flipped_signature = good.clone();
    *flipped_signature.last_mut().ok_or("empty")? ^= 0x01;
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &flipped_signature,
        Error::BadSignature,
    );

    // The signature covers the ciphertext.
    let mut flipped_ciphertext = good.clone();
    let ciphertext_start = 1 + 32 + 4 + 4 + 4;
    flipped_ciphertext[ciphertext_start] ^= 0x01;
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &flipped_ciphertext,
        Error::BadSignature,
    );

    // Re-signed by a key that is not the chain's.
    let other = SigningKeyPair::generate(&mut rng(50));
    let mut message = SenderKeyMessage::from_bytes(good)?;
    message.signature = other.sign(&message.signed_bytes());
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &message.to_bytes(),
        Error::BadSignature,
    );

    // Another group member knows the chain seed but not the signing key: it cannot forge.
    let mut forger = OwnSenderKey {
        group_id: GROUP,
        chain_id: own.chain_id,
        chain: own.chain.clone(),
        signing_key: SigningKeyPair::generate(&mut rng(51)),
    };
    let forged = forger.encrypt(&alice()?, b"forged")?;
    assert_rejected(&mut record, &GROUP, &alice()?, &forged, Error::BadSignature);

    assert_eq!(*record.decrypt(&GROUP, &alice()?, good)?, plaintext(0));
    Ok(())
}

#[test]
fn wrong_group_or_sender_is_rejected() -> TestResult {
    let (mut own, mut record) = setup(6);
    let messages = send(&mut own, 1)?;
    let good = &messages[0];
    let other_group = GroupId::generate(&mut rng(60));
    assert_ne!(other_group, GROUP);

    // Presented as a message of another group.
    assert_rejected(
        &mut record,
        &other_group,
        &alice()?,
        good,
        Error::UnknownSenderKey,
    );
    // Its group id rewritten to that group: the signature no longer verifies.
    let mut moved = good.clone();
    moved[1..33].copy_from_slice(&other_group.0);
    assert_rejected(
        &mut record,
        &other_group,
        &alice()?,
        &moved,
        Error::BadSignature,
    );
    // Attributed to another device of the same user, or to another user.
    for sender in [
        DeviceAddress::new("alice", 2)?,
        DeviceAddress::new("bob", 1)?,
    ] {
        assert_rejected(&mut record, &GROUP, &sender, good, Error::DecryptFailed);
    }

    assert_eq!(*record.decrypt(&GROUP, &alice()?, good)?, plaintext(0));
    Ok(())
}

#[test]
fn late_joiner_cannot_read_messages_before_its_distribution() -> TestResult {
    let mut own = OwnSenderKey::new(GROUP, &mut rng(7));
    let messages = send(&mut own, 4)?;
    let distribution = own.distribution_message();
    assert_eq!(distribution.iteration(), 4);
    let mut record = SenderKeyRecord::new();
    record.process_distribution(&distribution);
    for message in &messages {
        assert_rejected(
            &mut record,
            &GROUP,
            &alice()?,
            message,
            Error::DuplicateMessage,
        );
    }
    let later = send(&mut own, 1)?;
    assert_eq!(*record.decrypt(&GROUP, &alice()?, &later[0])?, plaintext(0));
    Ok(())
}

#[test]
fn rotation_cuts_off_devices_holding_only_the_old_distribution() -> TestResult {
    let mut rng = rng(8);
    let mut own = OwnSenderKey::new(GROUP, &mut rng);
    let mut removed = SenderKeyRecord::new();
    let mut remaining = SenderKeyRecord::new();
    removed.process_distribution(&own.distribution_message());
    remaining.process_distribution(&own.distribution_message());
    let before = send(&mut own, 1)?;

    let old_chain_id = own.chain_id();
    let old_signing_key = *own.distribution_message().signing_key();
    own.rotate(&mut rng);
    assert_ne!(own.chain_id(), old_chain_id);
    assert_eq!(own.iteration(), 0);
    assert_ne!(*own.distribution_message().signing_key(), old_signing_key);
    // Only the devices that remain get the new distribution.
    assert_eq!(
        remaining.process_distribution(&own.distribution_message()),
        DistributionOutcome::Added
    );
    let after = send(&mut own, 2)?;

    for message in &after {
        assert_rejected(
            &mut removed,
            &GROUP,
            &alice()?,
            message,
            Error::UnknownSenderKey,
        );
    }
    for (i, message) in after.iter().enumerate() {
        assert_eq!(
            *remaining.decrypt(&GROUP, &alice()?, message)?,
            plaintext(i)
        );
    }
    // Messages sent before the rotation and still in flight decrypt for both.
    assert_eq!(
        *removed.decrypt(&GROUP, &alice()?, &before[0])?,
        plaintext(0)
    );
    assert_eq!(
        *remaining.decrypt(&GROUP, &alice()?, &before[0])?,
        plaintext(0)
    );
    Ok(())
}

#[test]
fn oldest_state_is_evicted_beyond_the_limit() -> TestResult {
    let mut rng = rng(9);
    let mut own = OwnSenderKey::new(GROUP, &mut rng);
    let mut record = SenderKeyRecord::new();
    let mut messages = Vec::new();
    for _ in 0..=MAX_SENDER_KEY_STATES {
        assert_eq!(
            record.process_distribution(&own.distribution_message()),
            DistributionOutcome::Added
        );
        messages.push(send(&mut own, 1)?.remove(0));
        own.rotate(&mut rng);
    }
    assert_eq!(record.states.len(), MAX_SENDER_KEY_STATES);
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &messages[0],
        Error::UnknownSenderKey,
    );
    for message in &messages[1..] {
        assert_eq!(*record.decrypt(&GROUP, &alice()?, message)?, plaintext(0));
    }
    Ok(())
}

#[test]
fn oldest_skipped_keys_are_evicted_beyond_the_limit() -> TestResult {
    let (mut own, mut record) = setup(10);
    let limit = MAX_SENDER_KEY_STORED_KEYS;
    let messages = send(&mut own, limit + 11)?;
    // Skips 0..limit, then limit+1..limit+10: nine more than can be stored.
    record.decrypt(&GROUP, &alice()?, &messages[limit])?;
    record.decrypt(&GROUP, &alice()?, &messages[limit + 10])?;
    assert_eq!(record.states[0].skipped.len(), limit);
    for message in &messages[..9] {
        assert_rejected(
            &mut record,
            &GROUP,
            &alice()?,
            message,
            Error::DuplicateMessage,
        );
    }
    assert_eq!(
        *record.decrypt(&GROUP, &alice()?, &messages[9])?,
        plaintext(9)
    );
    assert_eq!(
        *record.decrypt(&GROUP, &alice()?, &messages[limit + 5])?,
        plaintext(limit + 5)
    );
    Ok(())
}

#[test]
fn serialized_record_holds_no_used_message_key() -> TestResult {
    let (mut own, mut record) = setup(11);
    let seed = *own.distribution_message().seed.as_bytes();
    let messages = send(&mut own, 4)?;

    record.decrypt(&GROUP, &alice()?, &messages[3])?;
    let bytes = record.to_bytes();
    assert!(!contains(&bytes, &message_key_seed_at(&seed, 3)));
    for i in 0..=3 {
        assert!(
            !contains(&bytes, &chain_seed_at(&seed, i)),
            "chain seed {i}"
        );
    }
    // The search does see keys that are still needed: the chain and the skipped keys.
    assert!(contains(&bytes, &chain_seed_at(&seed, 4)));
    for i in 0..3 {
        assert!(
            contains(&bytes, &message_key_seed_at(&seed, i)),
            "skipped {i}"
        );
    }

    record.decrypt(&GROUP, &alice()?, &messages[1])?;
    let bytes = record.to_bytes();
    assert!(!contains(&bytes, &message_key_seed_at(&seed, 1)));
    assert!(contains(&bytes, &message_key_seed_at(&seed, 0)));
    assert!(contains(&bytes, &message_key_seed_at(&seed, 2)));
    Ok(())
}

#[test]
fn distribution_for_a_held_chain_never_moves_it_back_or_changes_its_key() -> TestResult {
    let mut own = OwnSenderKey::new(GROUP, &mut rng(12));
    let at_0 = own.distribution_message();
    let early = send(&mut own, 5)?;
    let at_5 = own.distribution_message();
    let mut record = SenderKeyRecord::new();
    assert_eq!(
        record.process_distribution(&at_5),
        DistributionOutcome::Added
    );
    let before = record.to_bytes();

    assert_eq!(
        record.process_distribution(&at_0),
        DistributionOutcome::Ignored
    );
    assert_eq!(
        record.process_distribution(&at_5),
        DistributionOutcome::Ignored
    );
    let middle = send(&mut own, 3)?;
    let mut other_key = own.distribution_message();
    other_key.signing_key = SigningKeyPair::generate(&mut rng(52)).public();
    assert_eq!(
        record.process_distribution(&other_key),
        DistributionOutcome::Ignored
    );
    assert!(record.to_bytes()[..] == before[..], "record changed");
    assert_rejected(
        &mut record,
        &GROUP,
        &alice()?,
        &early[0],
        Error::DuplicateMessage,
    );

    // A later iteration with the same key moves the chain forward, keeping the keys between.
    assert_eq!(
        record.process_distribution(&own.distribution_message()),
        DistributionOutcome::Advanced
    );
    let last = send(&mut own, 1)?;
    assert_eq!(*record.decrypt(&GROUP, &alice()?, &last[0])?, plaintext(0));
    for (i, message) in middle.iter().enumerate() {
        assert_eq!(*record.decrypt(&GROUP, &alice()?, message)?, plaintext(i));
    }
    Ok(())
}

#[test]
fn sending_stops_when_the_counter_is_exhausted() -> TestResult {
    let mut own = OwnSenderKey::new(GROUP, &mut rng(13));
    own.chain.iteration = u32::MAX - 1;
    let mut record = SenderKeyRecord::new();
    record.process_distribution(&own.distribution_message());
    let last = own.encrypt(&alice()?, b"last")?;
    assert_eq!(own.iteration(), u32::MAX);
    let before = own.to_bytes();
    assert_eq!(
        own.encrypt(&alice()?, b"one too many"),
        Err(Error::CounterExhausted)
    );
    assert!(own.to_bytes()[..] == before[..]);
    assert_eq!(*record.decrypt(&GROUP, &alice()?, &last)?, b"last");
    Ok(())
}

#[test]
fn plaintext_over_the_limit_is_refused() -> TestResult {
    let mut own = OwnSenderKey::new(GROUP, &mut rng(14));
    let too_long = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    assert_eq!(
        own.encrypt(&alice()?, &too_long),
        Err(Error::PlaintextTooLong)
    );
    assert_eq!(own.iteration(), 0);
    let longest = vec![0u8; MAX_PLAINTEXT_LEN];
    let (mut own, mut record) = setup(14);
    let message = own.encrypt(&alice()?, &longest)?;
    assert_eq!(*record.decrypt(&GROUP, &alice()?, &message)?, longest);
    Ok(())
}

/// Checks that `decode` rejects a changed version byte, a trailing byte and a missing byte.
fn assert_strict<T>(bytes: &[u8], decode: impl Fn(&[u8]) -> core::result::Result<T, DecodeError>) {
    let mut bad_version = bytes.to_vec();
    bad_version[0] = 2;
    assert!(matches!(
        decode(&bad_version),
        Err(DecodeError::UnknownVersion(2))
    ));
    let mut trailing = bytes.to_vec();
    trailing.push(0);
    assert!(matches!(decode(&trailing), Err(DecodeError::TrailingBytes)));
    assert!(matches!(
        decode(&bytes[..bytes.len() - 1]),
        Err(DecodeError::Truncated)
    ));
    assert!(matches!(decode(&[]), Err(DecodeError::Truncated)));
    assert!(decode(bytes).is_ok());
}

#[test]
fn encodings_round_trip_and_are_strict() -> TestResult {
    let (mut own, mut record) = setup(15);
    let messages = send(&mut own, 3)?;
    record.decrypt(&GROUP, &alice()?, &messages[2])?;

    let distribution = own.distribution_message().to_bytes();
    assert_eq!(distribution.len(), DISTRIBUTION_LEN);
    let decoded = SenderKeyDistributionMessage::from_bytes(&distribution)?;
    assert!(decoded.to_bytes()[..] == distribution[..]);
    assert_strict(&distribution, SenderKeyDistributionMessage::from_bytes);

    let message = SenderKeyMessage::from_bytes(&messages[0])?;
    assert_eq!(message.to_bytes(), messages[0]);
    assert_eq!(message.group_id(), &GROUP);
    assert_eq!(message.chain_id(), own.chain_id());
    assert_eq!(message.iteration(), 0);
    assert_strict(&messages[0], SenderKeyMessage::from_bytes);

    let own_bytes = own.to_bytes();
    assert_eq!(own_bytes.len(), OWN_KEY_LEN);
    assert_strict(&own_bytes, OwnSenderKey::from_bytes);
    let record_bytes = record.to_bytes();
    assert_strict(&record_bytes, SenderKeyRecord::from_bytes);

    // Restored state carries on where it left off.
    let mut own = OwnSenderKey::from_bytes(&own_bytes)?;
    let mut record = SenderKeyRecord::from_bytes(&record_bytes)?;
    assert!(record.to_bytes()[..] == record_bytes[..]);
    let next = own.encrypt(&alice()?, b"after restore")?;
    assert_eq!(*record.decrypt(&GROUP, &alice()?, &next)?, b"after restore");
    assert_eq!(
        *record.decrypt(&GROUP, &alice()?, &messages[1])?,
        plaintext(1)
    );
    Ok(())
}

#[test]
fn message_decoder_checks_ciphertext_length() {
    let mut short = Vec::new();
    write_header(&mut short, &GROUP, 1, 0);
    short.put_bytes(&[0; TAG_LEN - 1]);
    short.put_raw(&[0; SIGNATURE_LEN]);
    assert_eq!(
        SenderKeyMessage::from_bytes(&short),
        Err(DecodeError::InvalidValue)
    );
    let mut long = Vec::new();
    write_header(&mut long, &GROUP, 1, 0);
    long.put_len(MAX_CIPHERTEXT_LEN + 1);
    assert_eq!(
        SenderKeyMessage::from_bytes(&long),
        Err(DecodeError::TooLong)
    );
}

#[test]
fn record_decoder_rejects_inconsistent_state() -> TestResult {
    let (mut own, mut record) = setup(16);
    let messages = send(&mut own, 3)?;
    record.decrypt(&GROUP, &alice()?, &messages[2])?;
    let state = record.states[0].clone();
    let encode = |states: Vec<SenderKeyState>| SenderKeyRecord {
        states: states.into(),
    };

    let mut misordered = state.clone();
    misordered.skipped.swap(0, 1);
    let mut beyond_chain = state.clone();
    beyond_chain.skipped[1].iteration = beyond_chain.chain.iteration;
    for bad in [
        encode(vec![misordered]),
        encode(vec![beyond_chain]),
        encode(vec![state.clone(), state.clone()]),
    ] {
        assert_eq!(
            SenderKeyRecord::from_bytes(&bad.to_bytes()).map(|_| ()),
            Err(DecodeError::InvalidValue)
        );
    }
    assert!(SenderKeyRecord::from_bytes(&encode(vec![state]).to_bytes()).is_ok());

    // A count over the limit is refused before anything is read.
    let mut too_many = vec![PROTOCOL_VERSION];
    too_many.put_len(MAX_SENDER_KEY_STATES + 1);
    assert_eq!(
        SenderKeyRecord::from_bytes(&too_many).map(|_| ()),
        Err(DecodeError::TooLong)
    );
    Ok(())
}

#[test]
fn debug_prints_no_secrets() -> TestResult {
    let (mut own, mut record) = setup(17);
    let messages = send(&mut own, 2)?;
    record.decrypt(&GROUP, &alice()?, &messages[1])?;
    let distribution = own.distribution_message();
    let seed = *record.states[0].chain.seed.as_bytes();
    let secrets = [
        *own.chain.seed.as_bytes(),
        *own.signing_key.seed(),
        *record.states[0].skipped[0].seed.as_bytes(),
        seed,
    ];

    let texts = [
        format!("{own:?}"),
        format!("{record:?}"),
        format!("{distribution:?}"),
    ];
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(&hex::encode(&secret[..4])), "{text}");
            assert!(!text.contains(&short_decimal(secret)), "{text}");
        }
    }
    assert!(
        texts[0].starts_with("OwnSenderKey { group_id: GroupId(["),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("chain: SenderChainKey { iteration: 2, .. }"));
    assert!(texts[1].contains("skipped_keys: 1 }"), "{}", texts[1]);
    Ok(())
}

/// The first four bytes as `Debug` of a byte array prints them.
fn short_decimal(secret: &[u8; 32]) -> String {
    format!("{:?}", &secret[..4])
        .trim_matches(['[', ']'])
        .to_string()
}

/// Valid encodings to mutate: a distribution, a message, an own key, and a record with two
/// states and skipped keys.
static SAMPLES: LazyLock<[Vec<u8>; 4]> = LazyLock::new(|| {
    #[expect(
        clippy::expect_used,
        reason = "fixed inputs that encrypt and decrypt; a failure is a test failure"
    )]
    samples().expect("building samples")
});

fn samples() -> core::result::Result<[Vec<u8>; 4], Box<dyn std::error::Error>> {
    let mut rng = rng(18);
    let mut own = OwnSenderKey::new(GROUP, &mut rng);
    let mut record = SenderKeyRecord::new();
    record.process_distribution(&own.distribution_message());
    let messages = send(&mut own, 3)?;
    record.decrypt(&GROUP, &alice()?, &messages[2])?;
    own.rotate(&mut rng);
    record.process_distribution(&own.distribution_message());
    Ok([
        own.distribution_message().to_bytes().to_vec(),
        messages[1].clone(),
        own.to_bytes().to_vec(),
        record.to_bytes().to_vec(),
    ])
}

/// Runs every decoder on `bytes`; whatever decodes must re-encode to the same bytes.
fn decode_all(bytes: &[u8]) {
    if let Ok(d) = SenderKeyDistributionMessage::from_bytes(bytes) {
        assert!(d.to_bytes()[..] == *bytes);
    }
    if let Ok(m) = SenderKeyMessage::from_bytes(bytes) {
        assert!(m.to_bytes()[..] == *bytes);
    }
    if let Ok(o) = OwnSenderKey::from_bytes(bytes) {
        assert!(o.to_bytes()[..] == *bytes);
    }
    if let Ok(r) = SenderKeyRecord::from_bytes(bytes) {
        assert!(r.to_bytes()[..] == *bytes);
    }
}

proptest! {
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        decode_all(&bytes);
        let mut with_version = vec![PROTOCOL_VERSION];
        with_version.extend_from_slice(&bytes);
        decode_all(&with_version);
    }

    #[test]
    fn decoders_never_panic_on_mutated_encodings(
        sample in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut bytes = SAMPLES[sample].clone();
        for (at, value) in edits {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        decode_all(&bytes);
        bytes.truncate(cut % (bytes.len() + 1));
        decode_all(&bytes);
    }

    #[test]
    fn decrypting_garbage_never_panics_or_changes_the_record(
        sample in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let (mut own, mut record) = setup(19);
        let message = send(&mut own, 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut bytes = if sample == 1 { message[0].clone() } else { SAMPLES[sample].clone() };
        let pristine = bytes.clone();
        for (at, value) in edits {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        let before = record.to_bytes();
        let sender = alice().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let result = record.decrypt(&GROUP, &sender, &bytes);
        if bytes == pristine && sample == 1 {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err());
            prop_assert!(record.to_bytes()[..] == before[..]);
        }
    }
}
