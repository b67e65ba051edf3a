//! Key types shared by every protocol: validated X25519 and Ed25519 public keys, X25519
//! key pairs, and the checked Diffie-Hellman that rejects non-contributory results
//! (PQXDH spec §4.1, "Validation": low-order points are rejected).

use core::fmt;

use ed25519_dalek::Signer as _;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::codec::Reader;
use crate::consts::{KEY_LEN, SIGNATURE_LEN};
use crate::error::{DecodeError, Error};

/// A 32-byte shared secret produced by a Diffie-Hellman or a KEM.
pub type SharedSecret = Zeroizing<[u8; 32]>;

/// The operating system's random number generator, for callers outside tests.
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// An X25519 public key that is canonical (u < 2^255 - 19) and not of small order.
///
/// Equality compares the 32-byte encodings in constant time; since only canonical encodings
/// are accepted, equal bytes and equal keys are the same thing.
#[derive(Clone, Copy)]
pub struct PublicKey(x25519_dalek::PublicKey);

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        ct_eq_32(self.as_bytes(), other.as_bytes())
    }
}

impl Eq for PublicKey {}

impl core::hash::Hash for PublicKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PublicKey {
    /// Validates 32 bytes as an X25519 public key.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Result<Self, DecodeError> {
        if !is_canonical_field_element(&bytes) {
            return Err(DecodeError::InvalidKey);
        }
        // The canonical encodings of the points of small order (on the curve and its twist)
        // are exactly 0, 1, p - 1 and the two u-coordinates of order-8 points; public values,
        // so a plain comparison is fine (and far cheaper than multiplying by the cofactor).
        if small_order_encodings().contains(&bytes) {
            return Err(DecodeError::InvalidKey);
        }
        Ok(Self(x25519_dalek::PublicKey::from(bytes)))
    }

    /// Reads and validates a key.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::from_bytes(r.array()?)
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.0.to_bytes()
    }

    /// The 32-byte encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", short_hex(self.as_bytes()))
    }
}

/// Canonical u-coordinates of every X25519 point of order dividing 8.
fn small_order_encodings() -> &'static [[u8; 32]] {
    static LIST: std::sync::OnceLock<Vec<[u8; 32]>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        let mut list: Vec<[u8; 32]> = curve25519_dalek::constants::EIGHT_TORSION
            .iter()
            .map(|p| p.to_montgomery().to_bytes())
            .collect();
        let mut one = [0u8; 32];
        one[0] = 1;
        list.push(one);
        let mut p_minus_1 = [0xffu8; 32];
        p_minus_1[0] = 0xec;
        p_minus_1[31] = 0x7f;
        list.push(p_minus_1);
        list.sort_unstable();
        list.dedup();
        list
    })
}

/// Whether 32 little-endian bytes encode an integer below 2^255 - 19.
fn is_canonical_field_element(bytes: &[u8; 32]) -> bool {
    if bytes[31] & 0x80 != 0 {
        return false;
    }
    // Values in [2^255 - 19, 2^255 - 1]: top byte 0x7f, bytes 30..1 all 0xff, low byte >= 0xed.
    let high_ones = bytes[31] == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff);
    !(high_ones && bytes[0] >= 0xed)
}

/// A long-lived X25519 key pair (identity key, signed prekey, one-time prekey, ratchet key).
pub struct KeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

impl KeyPair {
    /// Generates a fresh key pair.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let secret = StaticSecret::random_from_rng(rng);
        Self::from_secret(secret)
    }

    fn from_secret(secret: StaticSecret) -> Self {
        // Clamped scalar times the base point is never of small order.
        let public = PublicKey(x25519_dalek::PublicKey::from(&secret));
        Self { secret, public }
    }

    /// Rebuilds a key pair from its 32 secret bytes.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Self {
        Self::from_secret(StaticSecret::from(*bytes))
    }

    /// Reads the 32 secret bytes of a key pair.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = r.secret::<32>()?;
        Ok(Self::from_secret_bytes(&bytes))
    }

    /// The secret bytes, for serialisation of persistent state only.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// X25519 with `their` public key; fails on a non-contributory (all-zero) result.
    pub fn dh(&self, their: &PublicKey) -> Result<SharedSecret, Error> {
        let shared = self.secret.diffie_hellman(&their.0);
        if !shared.was_contributory() {
            return Err(Error::NonContributory);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

impl Clone for KeyPair {
    fn clone(&self) -> Self {
        Self {
            secret: self.secret.clone(),
            public: self.public,
        }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { secret: _, public } = self;
        f.debug_struct("KeyPair")
            .field("public", public)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 verifying key that is canonical and not of small order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigningPublicKey(ed25519_dalek::VerifyingKey);

impl SigningPublicKey {
    /// Validates 32 bytes as an Ed25519 public key.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<Self, DecodeError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| DecodeError::InvalidKey)?;
        if key.is_weak() || key.as_bytes() != bytes {
            return Err(DecodeError::InvalidKey);
        }
        Ok(Self(key))
    }

    /// Reads and validates a key.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::from_bytes(&r.array()?)
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.0.to_bytes()
    }

    /// The 32-byte encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        self.0.as_bytes()
    }

    /// Verifies `signature` over `message` with the strict (RFC 8032 §5.1.7, no malleability)
    /// rules.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), Error> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(message, &sig)
            .map_err(|_| Error::BadSignature)
    }
}

impl fmt::Debug for SigningPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningPublicKey({})", short_hex(self.as_bytes()))
    }
}

/// An Ed25519 signature (64 bytes). Parsing only checks the length; [`SigningPublicKey::verify`]
/// does the rest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// Reads a signature.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(r.array()?))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", short_hex(&self.0))
    }
}

/// An Ed25519 signing key pair.
pub struct SigningKeyPair(ed25519_dalek::SigningKey);

impl SigningKeyPair {
    /// Generates a fresh signing key.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self(ed25519_dalek::SigningKey::generate(rng))
    }

    /// Rebuilds a signing key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// Reads the 32-byte seed of a signing key.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let seed = r.secret::<32>()?;
        Ok(Self::from_seed(&seed))
    }

    /// The seed, for serialisation of persistent state only.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> SigningPublicKey {
        SigningPublicKey(self.0.verifying_key())
    }

    /// Signs `message` (RFC 8032 Ed25519, deterministic).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl Clone for SigningKeyPair {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyPair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Constant-time equality of two 32-byte strings, a word at a time: the differences are
/// OR-ed together without branching and only the result goes through `subtle` (one
/// optimisation barrier instead of one per byte, as `[u8]::ct_eq` has).
fn ct_eq_32(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let (a_words, _) = a.as_chunks::<8>();
    let (b_words, _) = b.as_chunks::<8>();
    let diff = a_words.iter().zip(b_words).fold(0u64, |acc, (x, y)| {
        acc | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    diff.ct_eq(&0).into()
}

/// First four bytes in hex, for `Debug` of public values.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    hex::encode(bytes.get(..4).unwrap_or(bytes)) + "…"
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rejects_small_order_and_non_canonical_x25519_keys() {
        let mut p_minus_1 = [0xffu8; 32];
        p_minus_1[0] = 0xec;
        p_minus_1[31] = 0x7f;
        let mut one = [0u8; 32];
        one[0] = 1;
        for bad in [[0u8; 32], one, p_minus_1] {
            assert_eq!(PublicKey::from_bytes(bad), Err(DecodeError::InvalidKey));
        }
        for torsion in curve25519_dalek::constants::EIGHT_TORSION {
            let u = torsion.to_montgomery().to_bytes();
            assert_eq!(
                PublicKey::from_bytes(u),
                Err(DecodeError::InvalidKey),
                "{u:02x?}"
            );
        }
        let mut p = p_minus_1;
        p[0] = 0xed;
        assert_eq!(PublicKey::from_bytes(p), Err(DecodeError::InvalidKey));
        let mut high = [9u8; 32];
        high[31] |= 0x80;
        assert_eq!(PublicKey::from_bytes(high), Err(DecodeError::InvalidKey));
        let mut base = [0u8; 32];
        base[0] = 9;
        assert!(PublicKey::from_bytes(base).is_ok());
    }

    #[test]
    fn public_key_equality_is_byte_equality() {
        let mut rng = os_rng();
        let a = *KeyPair::generate(&mut rng).public();
        assert_eq!(a, PublicKey::from_bytes(a.to_bytes()).unwrap());
        // A difference in any single bit of any byte is seen.
        for i in 0..32 {
            for bit in 0..8 {
                let mut bytes = a.to_bytes();
                bytes[i] ^= 1 << bit;
                if let Ok(b) = PublicKey::from_bytes(bytes) {
                    assert_ne!(a, b, "byte {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn debug_prints_no_secret() {
        let mut rng = os_rng();
        let kp = KeyPair::generate(&mut rng);
        let secret_hex = short_hex(&kp.secret_bytes()[..]);
        let dbg = format!("{kp:?}");
        assert!(!dbg.contains(&secret_hex.trim_end_matches('…').to_string()));
        assert!(dbg.starts_with("KeyPair { public: PublicKey("));
    }
}
