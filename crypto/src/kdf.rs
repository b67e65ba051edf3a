//! The primitive calls every protocol shares: HKDF-SHA256, HMAC-SHA256 and AES-256-GCM with a
//! key and nonce derived by HKDF (Double Ratchet spec §5.2, "ENCRYPT": we replace the
//! recommended AES-CBC + HMAC with AES-256-GCM, deriving its 32-byte key and 12-byte nonce
//! from the message key, as docs/architecture.md §3 specifies).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;

/// Longest output HKDF-SHA256 can expand to (RFC 5869 §2.3: 255 hash lengths).
pub const HKDF_MAX_OUTPUT_LEN: usize = 255 * 32;

/// HKDF-SHA256 (RFC 5869) extract-and-expand into a fixed-size zeroizing output.
///
/// `N` is at most [`HKDF_MAX_OUTPUT_LEN`]:
///
/// ```
/// let okm = parley_crypto::kdf::hkdf::<8160>(b"salt", b"ikm", b"info");
/// assert_eq!(okm.len(), parley_crypto::kdf::HKDF_MAX_OUTPUT_LEN);
/// // Expanded in full, not left zero by a refused expand.
/// assert!(okm[8100..].iter().any(|&b| b != 0));
/// ```
///
/// and a larger `N` does not compile:
///
/// ```compile_fail
/// let okm = parley_crypto::kdf::hkdf::<8161>(b"salt", b"ikm", b"info");
/// ```
pub fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; N]> {
    const {
        assert!(
            N <= HKDF_MAX_OUTPUT_LEN,
            "HKDF-SHA256 output longer than 255 * 32 bytes"
        )
    }
    let mut out = Zeroizing::new([0u8; N]);
    // Expand fails only for outputs over 255 * 32 bytes, which the bound above rules out.
    let _ = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut out[..]);
    out
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

#[cold]
fn unreachable_hmac() -> ! {
    #[expect(clippy::panic, reason = "HMAC-SHA256 accepts keys of every length")]
    {
        panic!("HMAC rejected a key")
    }
}

/// An AES-256-GCM key and nonce derived from a single-use secret; never reused for two
/// plaintexts because the secret it comes from is used once.
pub struct AeadKey {
    key: Zeroizing<[u8; 32]>,
    nonce: [u8; 12],
}

impl AeadKey {
    /// Derives key and nonce: HKDF-SHA256(salt = 32 zero bytes, IKM = `secret`, info) → 44 bytes.
    #[expect(
        clippy::indexing_slicing,
        reason = "constant bounds within a 44-byte array"
    )]
    pub fn derive(secret: &[u8], info: &[u8]) -> Self {
        let okm = hkdf::<44>(&[0u8; 32], secret, info);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&okm[..32]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&okm[32..]);
        Self { key, nonce }
    }

    /// Encrypts `plaintext`, appending the 16-byte tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(plaintext.len().saturating_add(16));
        buf.extend_from_slice(plaintext);
        // AES-GCM fails only for inputs over 2^36 bytes; callers cap plaintexts far below.
        let _ = self
            .cipher()
            .encrypt_in_place(&Nonce::from(self.nonce), aad, &mut buf);
        buf
    }

    /// Decrypts and authenticates `ciphertext`; the plaintext is zeroized on drop.
    pub fn open(&self, aad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher()
            .decrypt_in_place(&Nonce::from(self.nonce), aad, &mut *buf)
            .map_err(|_| Error::DecryptFailed)?;
        Ok(buf)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.key).into())
    }
}

impl core::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AeadKey(..)")
    }
}
