//! The org root key's recovery file: the key's 32-byte seed sealed under a passphrase
//! (docs/architecture.md §2.1).
//!
//! The key-encryption key is Argon2id (RFC 9106) of the passphrase with a fresh 16-byte salt;
//! from it [`AeadKey::derive`] takes an AES-256-GCM key and nonce (single use: the salt is
//! new for every file). The file binds the org it belongs to (the genesis hash) and its own
//! parameters as associated data, so neither can be changed without the passphrase failing.
//!
//! Layout (then base64 between armour lines, see [`RootKeyFile::to_text`]):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `PRK1` |
//! | 4, 4, 4 | Argon2id memory (KiB), passes, lanes, big-endian |
//! | 16 | salt |
//! | 32 | the org's genesis hash |
//! | 48 | AES-256-GCM ciphertext of the seed, and its tag |
//!
//! An untrusted file's Argon2 parameters are checked against [`MAX_MEMORY_KIB`],
//! [`MAX_PASSES`] and [`MAX_LANES`] before any memory is allocated.

use zeroize::Zeroizing;

use crate::codec::{Reader, Writer as _};
use crate::kdf::AeadKey;

const MAGIC: &[u8; 4] = b"PRK1";
const INFO: &[u8] = b"Parley_Root_Key_File_v1";
const SALT_LEN: usize = 16;
const HEADER_LEN: usize = 4 + 12 + SALT_LEN + 32;
const ARMOUR_BEGIN: &str = "-----BEGIN PARLEY ORG ROOT KEY-----";
const ARMOUR_END: &str = "-----END PARLEY ORG ROOT KEY-----";

/// Argon2id memory this build writes: 64 MiB.
pub const MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes this build writes.
pub const PASSES: u32 = 3;
/// Most memory a file may ask for: 1 GiB.
pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// Most passes a file may ask for.
pub const MAX_PASSES: u32 = 16;
/// Most lanes a file may ask for.
pub const MAX_LANES: u32 = 8;
/// Shortest passphrase [`RootKeyFile::seal`] accepts, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// What can go wrong with a recovery file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// Not a recovery file, or a damaged one.
    #[error("this is not a Parley root key file, or it is damaged")]
    Malformed,
    /// The file asks for Argon2 parameters outside the accepted range.
    #[error("the root key file asks for key-derivation parameters outside the accepted range")]
    Parameters,
    /// The passphrase does not open the file (or the file was altered).
    #[error("the passphrase does not open this root key file")]
    WrongPassphrase,
    /// The passphrase is shorter than [`MIN_PASSPHRASE_CHARS`].
    #[error("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")]
    WeakPassphrase,
}

/// A sealed root key: see the [module docs](self).
#[derive(Clone, PartialEq, Eq)]
pub struct RootKeyFile {
    bytes: Vec<u8>,
}

impl core::fmt::Debug for RootKeyFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RootKeyFile").finish_non_exhaustive()
    }
}

struct Header {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    salt: [u8; SALT_LEN],
    genesis_hash: [u8; 32],
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.put_raw(MAGIC);
        out.put_u32(self.memory_kib);
        out.put_u32(self.passes);
        out.put_u32(self.lanes);
        out.put_raw(&self.salt);
        out.put_raw(&self.genesis_hash);
        out
    }

    fn key(&self, passphrase: &str) -> Result<AeadKey, RecoveryError> {
        if self.memory_kib > MAX_MEMORY_KIB || self.passes > MAX_PASSES || self.lanes > MAX_LANES {
            return Err(RecoveryError::Parameters);
        }
        let params = argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(32))
            .map_err(|_| RecoveryError::Parameters)?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut kek = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), &self.salt, &mut kek[..])
            .map_err(|_| RecoveryError::Parameters)?;
        Ok(AeadKey::derive(&kek[..], INFO))
    }
}

impl RootKeyFile {
    /// Seals `seed` (the root key's) for the org `genesis_hash` under `passphrase`, with a
    /// fresh salt from `rng` and this build's Argon2id parameters.
    pub fn seal(
        seed: &[u8; 32],
        genesis_hash: &[u8; 32],
        passphrase: &str,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Self, RecoveryError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(RecoveryError::WeakPassphrase);
        }
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let header = Header {
            memory_kib: MEMORY_KIB,
            passes: PASSES,
            lanes: 1,
            salt,
            genesis_hash: *genesis_hash,
        };
        let mut bytes = header.encode();
        let sealed = header.key(passphrase)?.seal(&bytes, seed);
        bytes.extend_from_slice(&sealed);
        Ok(Self { bytes })
    }

    /// The org the file belongs to (readable without the passphrase).
    pub fn genesis_hash(&self) -> [u8; 32] {
        Self::header(&self.bytes)
            .map(|(h, _)| h.genesis_hash)
            .unwrap_or_default()
    }

    /// Opens the file with `passphrase`: the root key's seed.
    pub fn open(&self, passphrase: &str) -> Result<Zeroizing<[u8; 32]>, RecoveryError> {
        let (header, sealed) = Self::header(&self.bytes)?;
        let aad = self
            .bytes
            .get(..HEADER_LEN)
            .ok_or(RecoveryError::Malformed)?;
        let seed = header
            .key(passphrase)?
            .open(aad, sealed)
            .map_err(|_| RecoveryError::WrongPassphrase)?;
        let mut out = Zeroizing::new([0u8; 32]);
        if seed.len() != 32 {
            return Err(RecoveryError::Malformed);
        }
        out.copy_from_slice(&seed);
        Ok(out)
    }

    fn header(bytes: &[u8]) -> Result<(Header, &[u8]), RecoveryError> {
        let mut r = Reader::new(bytes);
        let malformed = |_| RecoveryError::Malformed;
        if r.array::<4>().map_err(malformed)? != *MAGIC {
            return Err(RecoveryError::Malformed);
        }
        let header = Header {
            memory_kib: r.u32().map_err(malformed)?,
            passes: r.u32().map_err(malformed)?,
            lanes: r.u32().map_err(malformed)?,
            salt: r.array().map_err(malformed)?,
            genesis_hash: r.array().map_err(malformed)?,
        };
        let sealed = bytes.get(HEADER_LEN..).ok_or(RecoveryError::Malformed)?;
        if sealed.len() != 32 + 16 {
            return Err(RecoveryError::Malformed);
        }
        Ok((header, sealed))
    }

    /// The file's text: base64 between armour lines.
    pub fn to_text(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.bytes);
        format!("{ARMOUR_BEGIN}\n{b64}\n{ARMOUR_END}\n")
    }

    /// Reads a file's text (armour lines and surrounding white space allowed).
    pub fn from_text(text: &str) -> Result<Self, RecoveryError> {
        use base64::Engine as _;
        let body: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != ARMOUR_BEGIN && *l != ARMOUR_END)
            .collect();
        if body.len() > 1024 {
            return Err(RecoveryError::Malformed);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| RecoveryError::Malformed)?;
        Self::header(&bytes)?;
        Ok(Self { bytes })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_refuses() {
        let mut rng = crate::keys::os_rng();
        let seed = [7u8; 32];
        let genesis = [9u8; 32];
        let pass = "correct horse battery staple";
        let file = RootKeyFile::seal(&seed, &genesis, pass, &mut rng).unwrap();
        let text = file.to_text();
        let back = RootKeyFile::from_text(&text).unwrap();
        assert_eq!(back.genesis_hash(), genesis);
        assert_eq!(*back.open(pass).unwrap(), seed);
        assert_eq!(
            back.open("correct horse battery stapLe"),
            Err(RecoveryError::WrongPassphrase)
        );
        assert_eq!(
            RootKeyFile::seal(&seed, &genesis, "short", &mut rng),
            Err(RecoveryError::WeakPassphrase)
        );
        // The header is bound: another org's hash, or cheaper parameters, fail.
        let mut moved = back.bytes.clone();
        moved[40] ^= 1; // in the genesis hash
        assert_eq!(
            RootKeyFile { bytes: moved }.open(pass),
            Err(RecoveryError::WrongPassphrase)
        );
        let mut cheaper = back.bytes.clone();
        cheaper[4..8].copy_from_slice(&(16 * 1024u32).to_be_bytes());
        assert_eq!(
            RootKeyFile { bytes: cheaper }.open(pass),
            Err(RecoveryError::WrongPassphrase)
        );
    }

    #[test]
    fn untrusted_files_are_checked_before_allocating() {
        for bad in ["", "PRK1", "not base64 !", &"A".repeat(5000)] {
            assert_eq!(
                RootKeyFile::from_text(bad),
                Err(RecoveryError::Malformed),
                "{bad:.20}"
            );
        }
        let mut rng = crate::keys::os_rng();
        let file =
            RootKeyFile::seal(&[1; 32], &[2; 32], "a long enough passphrase", &mut rng).unwrap();
        let mut huge = file.bytes.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            RootKeyFile { bytes: huge }.open("a long enough passphrase"),
            Err(RecoveryError::Parameters)
        );
    }
}
