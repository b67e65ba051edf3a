//! Safety numbers, for people who verify each other by hand or by scanning a code
//! (docs/architecture.md §3, "Safety numbers").
//!
//! # Construction
//!
//! Signal's `NumericFingerprintGenerator`, fingerprint version 0, with 5200 iterations, as
//! libsignal's `rust/protocol/src/fingerprint.rs` computes it. For each party, with `key`
//! that party's key material and `id` its stable identifier:
//!
//! ```text
//! h_1 = SHA-512(0x0000 || key || id || key)        // version 0 as a big-endian u16
//! h_i = SHA-512(h_{i-1} || key)                    // for i = 2 ..= 5200
//! ```
//!
//! The first 30 bytes of `h_5200` are read as six big-endian 40-bit integers, each taken
//! modulo 100 000 and written as five zero-padded digits: 30 digits per party. The
//! displayed safety number is the two 30-digit strings concatenated, the smaller string
//! first, so both parties see the same 60 digits. The scannable form carries the first 32
//! bytes of each party's `h_5200`.
//!
//! # Key material: every device of a user
//!
//! Signal hashes one identity key per person. A Parley user has several devices, each with
//! its own Ed25519 signing key (docs/architecture.md §1), so a user's key material is **the set of
//! that user's device signing public keys, sorted bytewise, duplicates removed, and
//! concatenated** (32 bytes each), the way libsignal's Java generator once combined a list
//! of identity keys. One safety number then covers all of a person's devices: it changes
//! when any device key changes, or a device is added or removed, and it does not depend on
//! the order in which devices are listed. At most [`MAX_DEVICES_PER_USER`] keys are accepted.
//!
//! # Scannable encoding
//!
//! `version (u8, PROTOCOL_VERSION) || local (32 bytes) || remote (32 bytes)`, where "local"
//! is the party that shows the code. [`SafetyNumber::verify_scanned`] compares the scanned
//! code with the roles swapped, in constant time; an unknown version, a short code or
//! trailing bytes are a typed [`DecodeError`].

use core::fmt::{self, Write as _};

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::codec::Reader;
use crate::consts::{KEY_LEN, MAX_DEVICES_PER_USER, MAX_USER_ID_LEN, PROTOCOL_VERSION};
use crate::error::DecodeError;
use crate::keys::SigningPublicKey;

/// SHA-512 iterations per party (Signal's value).
pub const ITERATIONS: u32 = 5200;

/// Fingerprint version hashed into the first iteration (Signal's version 0).
const FINGERPRINT_VERSION: [u8; 2] = 0u16.to_be_bytes();

/// Bytes of each party's hash carried in the scannable form.
const SCANNABLE_HASH_LEN: usize = 32;

/// Length of [`SafetyNumber::scannable`].
pub const SCANNABLE_LEN: usize = 1 + 2 * SCANNABLE_HASH_LEN;

/// Digits per party in the displayed number.
const DIGITS_PER_PARTY: usize = 30;

/// Why a safety number cannot be computed. `Display` contains no identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SafetyNumberError {
    /// A party has no device key.
    #[error("no device keys")]
    NoDeviceKeys,
    /// A party has more than [`MAX_DEVICES_PER_USER`] device keys.
    #[error("too many device keys")]
    TooManyDeviceKeys,
    /// A user identifier is longer than [`MAX_USER_ID_LEN`] bytes.
    #[error("user identifier too long")]
    UserIdTooLong,
}

/// The safety number of a conversation between two users, as one of them sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    /// First 32 bytes of the local user's fingerprint hash.
    local: [u8; SCANNABLE_HASH_LEN],
    /// First 32 bytes of the remote user's fingerprint hash.
    remote: [u8; SCANNABLE_HASH_LEN],
}

impl SafetyNumber {
    /// Computes the safety number between the local user (identifier and device signing
    /// keys) and the remote user. Keys may be given in any order.
    pub fn new(
        local_user_id: &[u8],
        local_keys: &[SigningPublicKey],
        remote_user_id: &[u8],
        remote_keys: &[SigningPublicKey],
    ) -> Result<Self, SafetyNumberError> {
        let local_material = key_material(local_keys)?;
        let remote_material = key_material(remote_keys)?;
        if local_user_id.len() > MAX_USER_ID_LEN || remote_user_id.len() > MAX_USER_ID_LEN {
            return Err(SafetyNumberError::UserIdTooLong);
        }
        Ok(Self {
            local: scannable_part(&fingerprint_hash(local_user_id, &local_material)),
            remote: scannable_part(&fingerprint_hash(remote_user_id, &remote_material)),
        })
    }

    /// The 60 digits both users see, without separators.
    pub fn display(&self) -> String {
        let local = digits(&self.local);
        let remote = digits(&self.remote);
        if local < remote {
            local + &remote
        } else {
            remote + &local
        }
    }

    /// The 60 digits in twelve groups of five separated by spaces, for reading aloud.
    pub fn display_grouped(&self) -> String {
        let digits = self.display();
        let groups: Vec<&str> = digits
            .as_bytes()
            .chunks(5)
            .filter_map(|g| core::str::from_utf8(g).ok())
            .collect();
        groups.join(" ")
    }

    /// The versioned encoding to show as a QR code: version, local hash, remote hash.
    pub fn scannable(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SCANNABLE_LEN);
        out.push(PROTOCOL_VERSION);
        out.extend_from_slice(&self.local);
        out.extend_from_slice(&self.remote);
        out
    }

    /// Whether `other_scannable`, scanned from the other user's screen, matches this safety
    /// number: their "local" must be our "remote" and the other way round. Constant time.
    pub fn verify_scanned(&self, other_scannable: &[u8]) -> Result<bool, DecodeError> {
        let mut r = Reader::new(other_scannable);
        r.version()?;
        let their_local = r.array::<SCANNABLE_HASH_LEN>()?;
        let their_remote = r.array::<SCANNABLE_HASH_LEN>()?;
        r.finish()?;
        let same = their_local.ct_eq(&self.remote) & their_remote.ct_eq(&self.local);
        Ok(same.into())
    }
}

impl fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_grouped())
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            local: _,
            remote: _,
        } = self;
        f.debug_tuple("SafetyNumber")
            .field(&self.display())
            .finish()
    }
}

/// The sorted, deduplicated device keys of one user, concatenated.
fn key_material(keys: &[SigningPublicKey]) -> Result<Vec<u8>, SafetyNumberError> {
    if keys.is_empty() {
        return Err(SafetyNumberError::NoDeviceKeys);
    }
    if keys.len() > MAX_DEVICES_PER_USER {
        return Err(SafetyNumberError::TooManyDeviceKeys);
    }
    let mut sorted: Vec<[u8; KEY_LEN]> = keys.iter().map(SigningPublicKey::to_bytes).collect();
    sorted.sort_unstable();
    sorted.dedup();
    Ok(sorted.concat())
}

/// Signal's iterated fingerprint hash (version 0) of one party.
fn fingerprint_hash(id: &[u8], key_material: &[u8]) -> [u8; 64] {
    let mut hash = Sha512::new()
        .chain_update(FINGERPRINT_VERSION)
        .chain_update(key_material)
        .chain_update(id)
        .chain_update(key_material)
        .finalize();
    for _ in 1..ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(key_material)
            .finalize();
    }
    hash.into()
}

/// The first 32 bytes of a fingerprint hash.
fn scannable_part(hash: &[u8; 64]) -> [u8; SCANNABLE_HASH_LEN] {
    let mut out = [0u8; SCANNABLE_HASH_LEN];
    for (o, h) in out.iter_mut().zip(hash) {
        *o = *h;
    }
    out
}

/// The 30 digits of one party: six 5-byte big-endian integers, each modulo 100 000.
fn digits(hash: &[u8; SCANNABLE_HASH_LEN]) -> String {
    let mut out = String::with_capacity(DIGITS_PER_PARTY);
    let (groups, _) = hash.as_chunks::<5>();
    for &[a, b, c, d, e] in groups.iter().take(DIGITS_PER_PARTY / 5) {
        let n = u64::from_be_bytes([0, 0, 0, a, b, c, d, e]);
        // Writing to a String cannot fail.
        let _ = write!(out, "{:05}", n % 100_000);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libsignal's version-1 test vectors (`fingerprint_test_v1`): Alice's and Bob's
    /// serialised Curve25519 identity keys (33 bytes each) as key material, with their phone
    /// numbers as stable identifiers. Checks our iteration, digit encoding and ordering
    /// against Signal's.
    #[test]
    fn matches_libsignal_vectors() -> Result<(), hex::FromHexError> {
        let alice_key =
            hex::decode("0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868")?;
        let bob_key =
            hex::decode("05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b")?;
        let alice = scannable_part(&fingerprint_hash(b"+14152222222", &alice_key));
        let bob = scannable_part(&fingerprint_hash(b"+14153333333", &bob_key));
        assert_eq!(
            hex::encode(alice),
            "1e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df"
        );
        assert_eq!(
            hex::encode(bob),
            "d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d"
        );
        let number = SafetyNumber {
            local: alice,
            remote: bob,
        };
        assert_eq!(
            number.display(),
            "300354477692869396892869876765458257569162576843440918079131"
        );
        let swapped = SafetyNumber {
            local: bob,
            remote: alice,
        };
        assert_eq!(swapped.display(), number.display());
        Ok(())
    }

    #[test]
    fn digits_are_zero_padded() {
        assert_eq!(digits(&[0; 32]), "0".repeat(30));
        // 0x00000186a0 = 100 000 ≡ 0; 0x00000186a1 ≡ 1.
        let mut hash = [0u8; 32];
        for (h, v) in hash
            .iter_mut()
            .zip([0, 0, 1, 0x86, 0xa0, 0, 0, 1, 0x86, 0xa1])
        {
            *h = v;
        }
        assert_eq!(
            digits(&hash),
            "00000".to_owned() + "00001" + &"0".repeat(20)
        );
        // 2^40 - 1 = 1 099 511 627 775.
        assert_eq!(digits(&[0xff; 32]), "27775".repeat(6));
    }
}
