//! The root chain (Double Ratchet spec §2.3, §5.2): `KDF_RK(rk, dh_out)` is HKDF-SHA256 with
//! `rk` as salt, the DH output as input key material and an application-specific info string,
//! giving 64 bytes: a new root key and a new chain key.

use core::fmt;

use zeroize::Zeroizing;

use crate::chain_key::ChainKey;
use crate::codec::Reader;
use crate::error::DecodeError;
use crate::kdf::hkdf;
use crate::keys::SharedSecret;

const ROOT_INFO: &[u8] = b"Parley_Ratchet_v1";

/// A root key. Each ratchet step derives the next one, which replaces it in the session state
/// (the old one is zeroized when dropped). It is `Clone` because a decrypt works on a copy of
/// the session and keeps it only on success (compute, then commit); it is not `Copy`.
pub struct RootKey(Zeroizing<[u8; 32]>);

impl RootKey {
    /// Wraps a 32-byte secret (the PQXDH output `SK`, or a stored root key).
    pub fn new(key: Zeroizing<[u8; 32]>) -> Self {
        Self(key)
    }

    /// `KDF_RK`: derives the next root key and a chain key starting at index 0.
    pub fn ratchet(&self, dh_out: &SharedSecret) -> (RootKey, ChainKey) {
        let okm = hkdf::<64>(&self.0[..], &dh_out[..], ROOT_INFO);
        let (root, chain) = okm.split_at(32);
        let mut r = Zeroizing::new([0u8; 32]);
        r.copy_from_slice(root);
        let mut c = Zeroizing::new([0u8; 32]);
        c.copy_from_slice(chain);
        (RootKey(r), ChainKey::new(c, 0))
    }

    /// The key bytes, for serialisation of session state only.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads a stored root key.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(r.secret()?))
    }
}

impl Clone for RootKey {
    fn clone(&self) -> Self {
        Self(Zeroizing::new(*self.0))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(..)")
    }
}
