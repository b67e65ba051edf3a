//! Record encryption and keyed row hashes.
//!
//! A sealed record is `version(1) || seed(32) || AES-256-GCM ciphertext and tag`, where the
//! AES key and nonce are [`AeadKey::derive`]`(record key, "Parley_Store_Record_v1" || seed)`
//! and `seed` is 32 fresh random bytes: every record gets its own key and nonce, so there is
//! no nonce-reuse bound on how many records one store key may seal.
//!
//! The associated data is `"Parley_Store_AD_v1" || len-prefixed table || len-prefixed row key
//! || len-prefixed routing bytes`, where the routing bytes encode the row's plaintext columns.
//! A record therefore opens only in the table and row it was written for, and only while the
//! plaintext columns beside it are unchanged.
//!
//! Row keys that would otherwise name someone (a device address, a user id, a group id) are
//! `HMAC-SHA256(index key, len-prefixed domain || value)`: deterministic so rows can be found,
//! meaningless without the key.

use parley_crypto::codec::Writer as _;
use parley_crypto::kdf::{AeadKey, hkdf, hmac};
use rand_core::Rng as _;
use zeroize::Zeroizing;

use super::error::{StoreError, StoreResult};
use super::key::KEY_LEN;

/// Version byte of a sealed record.
const RECORD_VERSION: u8 = 1;
/// Length of the per-record random seed.
const SEED_LEN: usize = 32;

/// The two subkeys of a store key.
pub(crate) struct Sealer {
    record: Zeroizing<[u8; KEY_LEN]>,
    index: Zeroizing<[u8; KEY_LEN]>,
}

impl Sealer {
    /// Derives the record and index subkeys from the store key.
    pub(crate) fn new(store_key: &[u8; KEY_LEN]) -> Self {
        Self {
            record: hkdf::<KEY_LEN>(&[], store_key, b"Parley_Store_Record_Key_v1"),
            index: hkdf::<KEY_LEN>(&[], store_key, b"Parley_Store_Index_Key_v1"),
        }
    }

    /// Seals `plaintext` for row `row_key` of `table`, with the row's plaintext columns
    /// encoded as `routing`.
    pub(crate) fn seal(
        &self,
        table: &str,
        row_key: &[u8],
        routing: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let mut seed = [0u8; SEED_LEN];
        parley_crypto::keys::os_rng().fill_bytes(&mut seed);
        let ct = self
            .aead(&seed)
            .seal(&associated_data(table, row_key, routing), plaintext);
        let mut out = Vec::with_capacity(1 + SEED_LEN + ct.len());
        out.push(RECORD_VERSION);
        out.extend_from_slice(&seed);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a record sealed by [`Sealer::seal`] with the same table, row key and routing.
    pub(crate) fn open(
        &self,
        table: &'static str,
        row_key: &[u8],
        routing: &[u8],
        sealed: &[u8],
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        let tampered = StoreError::Tampered { table };
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(tampered);
        };
        if version != RECORD_VERSION {
            return Err(tampered);
        }
        let Some((seed, ct)) = rest.split_at_checked(SEED_LEN) else {
            return Err(tampered);
        };
        self.aead(seed)
            .open(&associated_data(table, row_key, routing), ct)
            .map_err(|_| tampered)
    }

    /// The keyed hash of `value` in `domain`, used as a row key.
    pub(crate) fn lookup(&self, domain: &str, value: &[u8]) -> [u8; 32] {
        let mut data = Vec::with_capacity(4 + domain.len() + value.len());
        data.put_bytes(domain.as_bytes());
        data.put_raw(value);
        *hmac(&self.index[..], &data)
    }

    fn aead(&self, seed: &[u8]) -> AeadKey {
        let mut info = b"Parley_Store_Record_v1".to_vec();
        info.extend_from_slice(seed);
        AeadKey::derive(&self.record[..], &info)
    }
}

fn associated_data(table: &str, row_key: &[u8], routing: &[u8]) -> Vec<u8> {
    let mut ad = b"Parley_Store_AD_v1".to_vec();
    ad.put_bytes(table.as_bytes());
    ad.put_bytes(row_key);
    ad.put_bytes(routing);
    ad
}
