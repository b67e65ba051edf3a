//! Device identity (docs/architecture.md §1, "Devices"): an Ed25519 signing key and an X25519 identity key
//! signed by it.
//!
//! Signal signs with the X25519 identity key itself (XEdDSA); we keep a separate Ed25519 key, as
//! the design brief specifies, so that every signature is plain RFC 8032 Ed25519 and the X25519
//! key is only ever used for Diffie-Hellman. The X25519 key is bound to the signing key by a
//! signature over `"Parley_IdentityKey_v1" || x25519_public`.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::consts::PROTOCOL_VERSION;
use crate::error::{DecodeError, Error};
use crate::keys::{KeyPair, PublicKey, Signature, SigningKeyPair, SigningPublicKey};

const IDENTITY_SIGNATURE_CONTEXT: &[u8] = b"Parley_IdentityKey_v1";

/// Length of [`PublicIdentity::to_bytes`].
pub const PUBLIC_IDENTITY_LEN: usize = 1 + 32 + 32 + 64;

/// The public identity of a device: what the org log certifies and peers encrypt to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicIdentity {
    signing: SigningPublicKey,
    dh: PublicKey,
    dh_signature: Signature,
}

impl PublicIdentity {
    /// The Ed25519 key that signs this device's prekeys, receipts and statements.
    pub fn signing_key(&self) -> &SigningPublicKey {
        &self.signing
    }

    /// The X25519 identity key used in PQXDH.
    pub fn dh_key(&self) -> &PublicKey {
        &self.dh
    }

    /// Versioned encoding: version, signing key, X25519 key, signature.
    pub fn to_bytes(&self) -> [u8; PUBLIC_IDENTITY_LEN] {
        let mut out = Vec::with_capacity(PUBLIC_IDENTITY_LEN);
        self.write(&mut out);
        let mut arr = [0u8; PUBLIC_IDENTITY_LEN];
        arr.copy_from_slice(&out);
        arr
    }

    /// Appends the encoding.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_u8(PROTOCOL_VERSION);
        out.put_raw(self.signing.as_bytes());
        out.put_raw(self.dh.as_bytes());
        out.put_raw(&self.dh_signature.0);
    }

    /// Decodes and verifies a public identity from untrusted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let id = Self::read(&mut r)?;
        r.finish()?;
        Ok(id)
    }

    /// Reads a public identity without checking the signature that binds its two keys: only
    /// for bytes this device verified with [`PublicIdentity::read`] before and has kept where
    /// nobody else can change them (its own sealed store). Saves an Ed25519 verification per
    /// read.
    pub fn read_verified_before(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.version()?;
        Ok(Self {
            signing: SigningPublicKey::read(r)?,
            dh: PublicKey::read(r)?,
            dh_signature: Signature::read(r)?,
        })
    }

    /// Reads a public identity and verifies the signature binding its two keys.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        r.version()?;
        let signing = SigningPublicKey::read(r)?;
        let dh = PublicKey::read(r)?;
        let dh_signature = Signature::read(r)?;
        signing.verify(&identity_signed_bytes(&dh), &dh_signature)?;
        Ok(Self {
            signing,
            dh,
            dh_signature,
        })
    }
}

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            signing,
            dh,
            dh_signature: _,
        } = self;
        f.debug_struct("PublicIdentity")
            .field("signing", signing)
            .field("dh", dh)
            .finish()
    }
}

fn identity_signed_bytes(dh: &PublicKey) -> Vec<u8> {
    let mut msg = Vec::with_capacity(IDENTITY_SIGNATURE_CONTEXT.len() + 32);
    msg.put_raw(IDENTITY_SIGNATURE_CONTEXT);
    msg.put_raw(dh.as_bytes());
    msg
}

/// A device's private identity.
#[derive(Clone)]
pub struct IdentityKeyPair {
    signing: SigningKeyPair,
    dh: KeyPair,
    public: PublicIdentity,
}

impl IdentityKeyPair {
    /// Generates a new device identity.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let signing = SigningKeyPair::generate(rng);
        let dh = KeyPair::generate(rng);
        Self::assemble(signing, dh)
    }

    fn assemble(signing: SigningKeyPair, dh: KeyPair) -> Self {
        let dh_signature = signing.sign(&identity_signed_bytes(dh.public()));
        let public = PublicIdentity {
            signing: signing.public(),
            dh: *dh.public(),
            dh_signature,
        };
        Self {
            signing,
            dh,
            public,
        }
    }

    /// The public identity.
    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    /// The signing key pair.
    pub fn signing(&self) -> &SigningKeyPair {
        &self.signing
    }

    /// The X25519 identity key pair.
    pub fn dh(&self) -> &KeyPair {
        &self.dh
    }

    /// Signs `message` with the device signing key.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// Versioned encoding of the private identity (for the encrypted local store only).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(65));
        self.write(&mut out);
        out
    }

    /// Appends the private encoding.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_u8(PROTOCOL_VERSION);
        out.put_raw(&self.signing.seed()[..]);
        out.put_raw(&self.dh.secret_bytes()[..]);
    }

    /// Decodes a private identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let id = Self::read(&mut r)?;
        r.finish()?;
        Ok(id)
    }

    /// Reads a private identity.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.version()?;
        let signing = SigningKeyPair::read(r)?;
        let dh = KeyPair::read(r)?;
        Ok(Self::assemble(signing, dh))
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            signing: _,
            dh: _,
            public,
        } = self;
        f.debug_struct("IdentityKeyPair")
            .field("public", public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn public_identity_round_trips_and_rejects_tampering() {
        let id = IdentityKeyPair::generate(&mut crate::keys::os_rng());
        let bytes = id.public().to_bytes();
        assert_eq!(PublicIdentity::from_bytes(&bytes).unwrap(), *id.public());
        for i in 1..bytes.len() {
            let mut bad = bytes;
            bad[i] ^= 1;
            assert!(PublicIdentity::from_bytes(&bad).is_err(), "byte {i}");
        }
        let mut bad = bytes;
        bad[0] = 9;
        assert_eq!(
            PublicIdentity::from_bytes(&bad),
            Err(Error::Decode(DecodeError::UnknownVersion(9)))
        );
        let restored = IdentityKeyPair::from_bytes(&id.to_bytes()).unwrap();
        assert_eq!(restored.public(), id.public());
    }

    #[test]
    fn debug_shows_no_secret() {
        let id = IdentityKeyPair::generate(&mut crate::keys::os_rng());
        let dbg = format!("{id:?}");
        let seed = id.signing().seed();
        let secret_hex = hex::encode(seed.get(..4).unwrap_or_default());
        assert!(!dbg.contains(&secret_hex));
        assert!(dbg.starts_with("IdentityKeyPair { public: PublicIdentity"));
    }
}
