//! ML-KEM-1024 (FIPS 203) key pairs, public keys and ciphertexts, as PQXDH's `PQKEM`
//! (PQXDH spec §2.2). Decapsulation keys are kept and stored as their 64-byte seed (FIPS 203
//! §6.1, `(d, z)`), the form the standard recommends.

use core::fmt;

use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport};
use ml_kem::{MlKem1024, Seed};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::codec::Reader;
use crate::consts::{KEM_CIPHERTEXT_LEN, KEM_PUBLIC_KEY_LEN};
use crate::error::DecodeError;
use crate::keys::SharedSecret;

type DecapsulationKey = ml_kem::DecapsulationKey<MlKem1024>;
type EncapsulationKey = ml_kem::EncapsulationKey<MlKem1024>;

/// An ML-KEM-1024 encapsulation (public) key, validated per FIPS 203 §7.2.
#[derive(Clone)]
pub struct KemPublicKey {
    key: Box<EncapsulationKey>,
    bytes: Box<[u8; KEM_PUBLIC_KEY_LEN]>,
}

impl KemPublicKey {
    /// Validates an encoded encapsulation key.
    pub fn from_bytes(bytes: &[u8; KEM_PUBLIC_KEY_LEN]) -> Result<Self, DecodeError> {
        let encoded = Array::from(*bytes);
        let key = EncapsulationKey::new(&encoded).map_err(|_| DecodeError::InvalidKey)?;
        // Reject non-canonical encodings: the key must re-encode to the same bytes.
        if key.to_bytes().as_slice() != bytes.as_slice() {
            return Err(DecodeError::InvalidKey);
        }
        Ok(Self {
            key: Box::new(key),
            bytes: Box::new(*bytes),
        })
    }

    /// Reads and validates a key.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes: &[u8; KEM_PUBLIC_KEY_LEN] = r
            .take(KEM_PUBLIC_KEY_LEN)?
            .try_into()
            .map_err(|_| DecodeError::Truncated)?;
        Self::from_bytes(bytes)
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8; KEM_PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// Encapsulates a fresh shared secret to this key.
    pub fn encapsulate(
        &self,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> (KemCiphertext, SharedSecret) {
        let (ct, shared) = self.key.encapsulate_with_rng(rng);
        let mut ss = Zeroizing::new([0u8; 32]);
        ss.copy_from_slice(shared.as_slice());
        (KemCiphertext(Box::new(ct.into())), ss)
    }
}

impl PartialEq for KemPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for KemPublicKey {}

impl fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KemPublicKey({})",
            crate::keys::short_hex(&self.bytes[..])
        )
    }
}

/// An ML-KEM-1024 ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct KemCiphertext(pub Box<[u8; KEM_CIPHERTEXT_LEN]>);

impl KemCiphertext {
    /// Reads a ciphertext (any 1568 bytes decapsulate: ML-KEM rejects implicitly).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes: [u8; KEM_CIPHERTEXT_LEN] = r.array()?;
        Ok(Self(Box::new(bytes)))
    }
}

impl fmt::Debug for KemCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemCiphertext({})", crate::keys::short_hex(&self.0[..]))
    }
}

/// An ML-KEM-1024 key pair, stored as its 64-byte seed.
///
/// The seed is expanded (FIPS 203 `ML-KEM.KeyGen_internal`, tens of microseconds) only when
/// the key is first used: a prekey store holds dozens of these and is read on every received
/// message, which uses at most one of them.
pub struct KemKeyPair {
    seed: Zeroizing<[u8; 64]>,
    expanded: std::sync::OnceLock<Expanded>,
}

/// A seed's expansion.
struct Expanded {
    dk: Box<DecapsulationKey>,
    public: KemPublicKey,
}

impl KemKeyPair {
    /// Generates a key pair from a fresh random seed.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut seed = Zeroizing::new([0u8; 64]);
        rng.fill_bytes(&mut seed[..]);
        Self::from_seed(&seed)
    }

    /// Expands a key pair from its seed.
    pub fn from_seed(seed: &[u8; 64]) -> Self {
        Self {
            seed: Zeroizing::new(*seed),
            expanded: std::sync::OnceLock::new(),
        }
    }

    /// The expanded key pair (computed on first use).
    fn expanded(&self) -> &Expanded {
        self.expanded.get_or_init(|| {
            let dk = DecapsulationKey::from_seed(Seed::from(*self.seed));
            let encoded: [u8; KEM_PUBLIC_KEY_LEN] = dk.encapsulation_key().to_bytes().into();
            Expanded {
                public: KemPublicKey {
                    key: Box::new(dk.encapsulation_key().clone()),
                    bytes: Box::new(encoded),
                },
                dk: Box::new(dk),
            }
        })
    }

    /// Reads a key pair's seed.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let seed = r.secret::<64>()?;
        Ok(Self::from_seed(&seed))
    }

    /// The seed, for serialisation of persistent state only.
    pub fn seed(&self) -> &[u8; 64] {
        &self.seed
    }

    /// The public half.
    pub fn public(&self) -> &KemPublicKey {
        &self.expanded().public
    }

    /// Decapsulates a ciphertext. A ciphertext not made for this key yields an unrelated
    /// secret (implicit rejection, FIPS 203 §6.3), which the first AEAD check then refuses.
    pub fn decapsulate(&self, ct: &KemCiphertext) -> SharedSecret {
        let ct = Array::from(*ct.0);
        let shared = self.expanded().dk.decapsulate(&ct);
        let mut ss = Zeroizing::new([0u8; 32]);
        ss.copy_from_slice(shared.as_slice());
        ss
    }
}

impl Clone for KemKeyPair {
    fn clone(&self) -> Self {
        Self::from_seed(&self.seed)
    }
}

impl fmt::Debug for KemKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            seed: _,
            expanded: _,
        } = self;
        f.debug_struct("KemKeyPair")
            .field("public", self.public())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encapsulate_decapsulate_and_seed_round_trip() {
        let mut rng = crate::keys::os_rng();
        let kp = KemKeyPair::generate(&mut rng);
        let (ct, ss) = kp.public().encapsulate(&mut rng);
        assert_eq!(*kp.decapsulate(&ct), *ss);
        let again = KemKeyPair::from_seed(kp.seed());
        assert_eq!(again.public(), kp.public());
        let parsed = KemPublicKey::from_bytes(kp.public().as_bytes()).unwrap();
        assert_eq!(&parsed, kp.public());
    }

    #[test]
    fn rejects_out_of_range_coefficients() {
        // All-ones bytes encode coefficients 4095 > q = 3329 (FIPS 203 §7.2 modulus check).
        assert!(KemPublicKey::from_bytes(&[0xff; KEM_PUBLIC_KEY_LEN]).is_err());
    }
}
