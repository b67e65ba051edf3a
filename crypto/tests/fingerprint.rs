//! Tests of safety numbers (`parley_crypto::fingerprint`): both sides agree, any change of
//! a device set changes the number, device order does not, a pinned vector, and typed
//! errors for bad scanned codes and bad inputs.

use parley_crypto::consts::{MAX_DEVICES_PER_USER, MAX_USER_ID_LEN};
use parley_crypto::error::DecodeError;
use parley_crypto::fingerprint::{SCANNABLE_LEN, SafetyNumber, SafetyNumberError};
use parley_crypto::keys::{SigningKeyPair, SigningPublicKey};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn device(seed: u8) -> SigningPublicKey {
    SigningKeyPair::from_seed(&[seed; 32]).public()
}

fn devices(seeds: &[u8]) -> Vec<SigningPublicKey> {
    seeds.iter().copied().map(device).collect()
}

/// Alice (devices 1, 2) and Bob (device 3), each from their own side.
fn both_sides() -> Result<(SafetyNumber, SafetyNumber), SafetyNumberError> {
    let alice = devices(&[1, 2]);
    let bob = devices(&[3]);
    Ok((
        SafetyNumber::new(b"alice", &alice, b"bob", &bob)?,
        SafetyNumber::new(b"bob", &bob, b"alice", &alice)?,
    ))
}

#[test]
fn both_sides_see_the_same_number() -> TestResult {
    let (at_alice, at_bob) = both_sides()?;
    assert_eq!(at_alice.display(), at_bob.display());
    assert_eq!(at_alice.display_grouped(), at_bob.display_grouped());
    assert_eq!(at_alice.display().len(), 60);
    assert!(at_alice.display().bytes().all(|b| b.is_ascii_digit()));
    assert!(at_alice.verify_scanned(&at_bob.scannable())?);
    assert!(at_bob.verify_scanned(&at_alice.scannable())?);
    // Scanning one's own code is not a match.
    assert!(!at_alice.verify_scanned(&at_alice.scannable())?);
    Ok(())
}

/// Pins the output. Computed independently of this crate (Python: `cryptography` for the
/// Ed25519 public keys of seeds 1, 2, 3; `hashlib` for the 5200 SHA-512 iterations).
#[test]
fn fixed_vector() -> TestResult {
    let (at_alice, at_bob) = both_sides()?;
    assert_eq!(
        at_alice.display(),
        "036210900517424808741531099097283861206047698259587253484739"
    );
    assert_eq!(
        at_alice.display_grouped(),
        "03621 09005 17424 80874 15310 99097 28386 12060 47698 25958 72534 84739"
    );
    assert_eq!(at_alice.to_string(), at_alice.display_grouped());
    assert_eq!(
        hex::encode(at_alice.scannable()),
        "01\
         7606f8b5853432dc78ad11e905d47051edce726a97cfd8372e9b7f54ddb9bad2\
         3ded839422a188a77b1c288c1301b270ab4a89860cc7387136138afe1043f24a"
    );
    assert_eq!(at_alice.scannable().len(), SCANNABLE_LEN);
    assert_eq!(
        format!("{at_bob:?}"),
        "SafetyNumber(\"036210900517424808741531099097283861206047698259587253484739\")"
    );
    Ok(())
}

#[test]
fn device_order_and_duplicates_do_not_matter() -> TestResult {
    let bob = devices(&[3]);
    let a = SafetyNumber::new(b"alice", &devices(&[1, 2, 4]), b"bob", &bob)?;
    let b = SafetyNumber::new(b"alice", &devices(&[4, 1, 2]), b"bob", &bob)?;
    let c = SafetyNumber::new(b"alice", &devices(&[2, 4, 1, 2]), b"bob", &bob)?;
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.display(), c.display());
    Ok(())
}

#[test]
fn any_change_of_devices_or_identifiers_changes_the_number() -> TestResult {
    let (base, _) = both_sides()?;
    let bob = devices(&[3]);
    let alice = devices(&[1, 2]);
    let variants = [
        // Alice's device 2 replaced, a device added, a device removed.
        SafetyNumber::new(b"alice", &devices(&[1, 5]), b"bob", &bob)?,
        SafetyNumber::new(b"alice", &devices(&[1, 2, 5]), b"bob", &bob)?,
        SafetyNumber::new(b"alice", &devices(&[1]), b"bob", &bob)?,
        // Bob's key replaced, or a device added.
        SafetyNumber::new(b"alice", &alice, b"bob", &devices(&[6]))?,
        SafetyNumber::new(b"alice", &alice, b"bob", &devices(&[3, 6]))?,
        // Another identifier.
        SafetyNumber::new(b"alicf", &alice, b"bob", &bob)?,
        SafetyNumber::new(b"alice", &alice, b"bob2", &bob)?,
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_ne!(v.display(), base.display(), "variant {i}");
        assert!(!v.verify_scanned(&base.scannable())?, "variant {i}");
    }
    Ok(())
}

#[test]
fn man_in_the_middle_is_visible() -> TestResult {
    // Alice sees a key the relay substituted for Bob's; Bob sees Alice's real keys.
    let alice = devices(&[1, 2]);
    let at_alice = SafetyNumber::new(b"alice", &alice, b"bob", &devices(&[66]))?;
    let at_bob = SafetyNumber::new(b"bob", &devices(&[3]), b"alice", &alice)?;
    assert_ne!(at_alice.display(), at_bob.display());
    assert!(!at_alice.verify_scanned(&at_bob.scannable())?);
    assert!(!at_bob.verify_scanned(&at_alice.scannable())?);
    Ok(())
}

#[test]
fn bad_scanned_codes_are_typed_errors() -> TestResult {
    let (at_alice, at_bob) = both_sides()?;
    let good = at_bob.scannable();
    assert_eq!(at_alice.verify_scanned(&[]), Err(DecodeError::Truncated));
    let (_, short) = good.split_last().ok_or("empty")?;
    assert_eq!(at_alice.verify_scanned(short), Err(DecodeError::Truncated));
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        at_alice.verify_scanned(&long),
        Err(DecodeError::TrailingBytes)
    );
    let mut other_version = good.clone();
    if let Some(v) = other_version.first_mut() {
        *v = 2;
    }
    assert_eq!(
        at_alice.verify_scanned(&other_version),
        Err(DecodeError::UnknownVersion(2))
    );
    // One flipped bit anywhere in the hashes: parses, does not match.
    for at in 1..SCANNABLE_LEN {
        let mut bad = good.clone();
        if let Some(b) = bad.get_mut(at) {
            *b ^= 0x80;
        }
        assert_eq!(at_alice.verify_scanned(&bad), Ok(false), "byte {at}");
    }
    Ok(())
}

#[test]
fn bad_inputs_are_typed_errors() {
    // Within the limits: MAX_DEVICES_PER_USER keys and a MAX_USER_ID_LEN-byte identifier.
    let one = devices(&[1]);
    let too_many = devices(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert!(too_many.len() > MAX_DEVICES_PER_USER);
    let at_limit = devices(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(at_limit.len(), MAX_DEVICES_PER_USER);
    let long_id = [b'x'; MAX_USER_ID_LEN + 1];
    let max_id = [b'x'; MAX_USER_ID_LEN];

    assert_eq!(
        SafetyNumber::new(b"a", &[], b"b", &one),
        Err(SafetyNumberError::NoDeviceKeys)
    );
    assert_eq!(
        SafetyNumber::new(b"a", &one, b"b", &[]),
        Err(SafetyNumberError::NoDeviceKeys)
    );
    assert_eq!(
        SafetyNumber::new(b"a", &too_many, b"b", &one),
        Err(SafetyNumberError::TooManyDeviceKeys)
    );
    assert_eq!(
        SafetyNumber::new(b"a", &one, b"b", &too_many),
        Err(SafetyNumberError::TooManyDeviceKeys)
    );
    assert_eq!(
        SafetyNumber::new(&long_id, &one, b"b", &one),
        Err(SafetyNumberError::UserIdTooLong)
    );
    assert!(SafetyNumber::new(b"a", &at_limit, &max_id, &one).is_ok());
}
