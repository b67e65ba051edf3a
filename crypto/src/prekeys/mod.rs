//! Prekeys and prekey bundles (PQXDH spec §3.2, "Publishing keys").
//!
//! A device publishes a signed X25519 prekey, a signed last-resort ML-KEM-1024 prekey, and
//! batches of one-time X25519 prekeys and signed one-time ML-KEM-1024 prekeys. Every signature
//! is Ed25519 by the device signing key over a domain-separated message
//! (`"Parley_SignedPreKey_v1" || id || key` and `"Parley_KemPreKey_v1" || kind || id || key`),
//! so a key of one kind can never be passed off as another.
//!
//! [`PreKeyStore`] holds the private halves. It is only changed through [`PreKeyStore::consume`]
//! after the first message of a new session has decrypted, so a forged or corrupted prekey
//! message never burns a one-time key (PQXDH spec §4.2, "Replay attacks": we also remember every
//! (last-resort key, base key) pair and refuse to accept one twice).

use std::collections::{BTreeMap, VecDeque};

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::consts::{
    KEM_PUBLIC_KEY_LEN, MAX_ONE_TIME_PREKEYS, MAX_REMEMBERED_BASE_KEYS, PROTOCOL_VERSION,
};
use crate::error::{DecodeError, Error};
use crate::identity::{IdentityKeyPair, PublicIdentity};
use crate::kem::{KemKeyPair, KemPublicKey};
use crate::keys::{KeyPair, PublicKey, Signature, SigningPublicKey};

mod store;

pub use store::PreKeyStore;

const SIGNED_PREKEY_CONTEXT: &[u8] = b"Parley_SignedPreKey_v1";
const KEM_PREKEY_CONTEXT: &[u8] = b"Parley_KemPreKey_v1";

/// Signed prekeys and last-resort KEM prekeys kept per kind: the current one and the one it
/// replaced, so sessions started from a just-rotated bundle still succeed.
const KEPT_ROTATED_KEYS: usize = 2;

/// Whether a KEM prekey is used once or is the last-resort fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KemPreKeyKind {
    /// Reused until rotated; replays are refused by remembering base keys.
    LastResort,
    /// Deleted after its first successful use.
    OneTime,
}

impl KemPreKeyKind {
    fn to_u8(self) -> u8 {
        match self {
            Self::LastResort => 1,
            Self::OneTime => 2,
        }
    }

    fn from_u8(v: u8) -> Result<Self, DecodeError> {
        match v {
            1 => Ok(Self::LastResort),
            2 => Ok(Self::OneTime),
            _ => Err(DecodeError::InvalidValue),
        }
    }
}

/// What a prekey signature covers. Each kind of key has its own context string, and a KEM
/// key's kind is signed with it, so no key can be passed off as one of another kind:
/// `"Parley_SignedPreKey_v1" || id || key` and `"Parley_KemPreKey_v1" || kind || id || key`.
enum SignedContent<'a> {
    /// A signed X25519 prekey.
    X25519 { id: u32, key: &'a PublicKey },
    /// A last-resort or one-time ML-KEM-1024 prekey.
    Kem {
        kind: KemPreKeyKind,
        id: u32,
        key: &'a KemPublicKey,
    },
}

impl SignedContent<'_> {
    fn to_bytes(&self) -> Vec<u8> {
        let (context, kind, id, key): (&[u8], _, _, &[u8]) = match self {
            Self::X25519 { id, key } => (SIGNED_PREKEY_CONTEXT, None, *id, key.as_bytes()),
            Self::Kem { kind, id, key } => (KEM_PREKEY_CONTEXT, Some(*kind), *id, key.as_bytes()),
        };
        let mut m = Vec::with_capacity(context.len() + 5 + key.len());
        m.put_raw(context);
        if let Some(kind) = kind {
            m.put_u8(kind.to_u8());
        }
        m.put_u32(id);
        m.put_raw(key);
        m
    }

    fn sign(&self, identity: &IdentityKeyPair) -> Signature {
        identity.sign(&self.to_bytes())
    }

    fn verify(&self, signer: &SigningPublicKey, signature: &Signature) -> Result<(), Error> {
        signer.verify(&self.to_bytes(), signature)
    }
}

/// The public half of a signed X25519 prekey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPreKeyPublic {
    /// Identifier, unique per device.
    pub id: u32,
    /// The key.
    pub key: PublicKey,
    /// Signature by the device signing key.
    pub signature: Signature,
}

impl SignedPreKeyPublic {
    fn signed(&self) -> SignedContent<'_> {
        SignedContent::X25519 {
            id: self.id,
            key: &self.key,
        }
    }

    /// Checks the signature.
    pub fn verify(&self, signer: &SigningPublicKey) -> Result<(), Error> {
        self.signed().verify(signer, &self.signature)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.put_u32(self.id);
        out.put_raw(self.key.as_bytes());
        out.put_raw(&self.signature.0);
    }

    /// The encoding uploaded to the relay: version byte, then the fields.
    pub fn to_bytes(&self) -> Vec<u8> {
        part_bytes(|out| self.write(out))
    }

    /// Decodes [`SignedPreKeyPublic::to_bytes`] (the signature is checked with the bundle).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        part_from(bytes, Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u32()?,
            key: PublicKey::read(r)?,
            signature: Signature::read(r)?,
        })
    }
}

/// The public half of a signed ML-KEM-1024 prekey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KemPreKeyPublic {
    /// Identifier, unique per device.
    pub id: u32,
    /// Last-resort or one-time.
    pub kind: KemPreKeyKind,
    /// The encapsulation key.
    pub key: KemPublicKey,
    /// Signature by the device signing key.
    pub signature: Signature,
}

impl KemPreKeyPublic {
    fn signed(&self) -> SignedContent<'_> {
        SignedContent::Kem {
            kind: self.kind,
            id: self.id,
            key: &self.key,
        }
    }

    /// Checks the signature.
    pub fn verify(&self, signer: &SigningPublicKey) -> Result<(), Error> {
        self.signed().verify(signer, &self.signature)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.put_u32(self.id);
        out.put_u8(self.kind.to_u8());
        out.put_raw(self.key.as_bytes());
        out.put_raw(&self.signature.0);
    }

    /// The encoding uploaded to the relay: version byte, then the fields.
    pub fn to_bytes(&self) -> Vec<u8> {
        part_bytes(|out| self.write(out))
    }

    /// Decodes [`KemPreKeyPublic::to_bytes`] (the signature is checked with the bundle).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        part_from(bytes, Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            id: r.u32()?,
            kind: KemPreKeyKind::from_u8(r.u8()?)?,
            key: KemPublicKey::read(r)?,
            signature: Signature::read(r)?,
        })
    }
}

/// The public half of a one-time X25519 prekey (unsigned, as in Signal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneTimePreKeyPublic {
    /// Identifier, unique per device.
    pub id: u32,
    /// The key.
    pub key: PublicKey,
}

impl OneTimePreKeyPublic {
    /// The encoding uploaded to the relay: version byte, id, key.
    pub fn to_bytes(&self) -> Vec<u8> {
        part_bytes(|out| {
            out.put_u32(self.id);
            out.put_raw(self.key.as_bytes());
        })
    }

    /// Decodes [`OneTimePreKeyPublic::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        part_from(bytes, |r| {
            Ok(Self {
                id: r.u32()?,
                key: PublicKey::read(r)?,
            })
        })
    }
}

/// A prekey part as uploaded on its own: version byte, then `write`'s fields.
fn part_bytes(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![PROTOCOL_VERSION];
    write(&mut out);
    out
}

fn part_from<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    r.version()?;
    let value = read(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// What an initiator fetches from the relay to start a session with one device.
///
/// [`PreKeyBundle::from_bytes`] verifies the prekey signatures and remembers exactly what it
/// verified, so that starting a session from the decoded bundle does not verify them again.
/// The fields are public and may be changed afterwards: [`crate::pqxdh::initiate`] skips the
/// signature checks only while the signer, both signed prekeys and their signatures are still
/// the ones verified, and checks them again otherwise. A bundle built in memory
/// ([`PreKeyBundle::new`], [`PreKeyStore::bundle`]) is verified when it is used.
#[derive(Clone)]
pub struct PreKeyBundle {
    /// The device's identity.
    pub identity: PublicIdentity,
    /// Its signed X25519 prekey.
    pub signed_prekey: SignedPreKeyPublic,
    /// A one-time KEM prekey, or the last-resort one when none are left.
    pub kem_prekey: KemPreKeyPublic,
    /// A one-time X25519 prekey, if any are left.
    pub one_time_prekey: Option<OneTimePreKeyPublic>,
    /// What [`PreKeyBundle::from_bytes`] verified, if this bundle was decoded.
    verified: Option<Box<VerifiedSignatures>>,
}

/// The signer, signed contents and signatures of a bundle whose signatures were verified.
/// (The one-time X25519 prekey is unsigned, as in Signal, and so not part of it.)
#[derive(Clone, PartialEq, Eq)]
struct VerifiedSignatures {
    signer: SigningPublicKey,
    signed_prekey: SignedPreKeyPublic,
    kem_id: u32,
    kem_kind: KemPreKeyKind,
    kem_key: Box<[u8; KEM_PUBLIC_KEY_LEN]>,
    kem_signature: Signature,
}

impl VerifiedSignatures {
    fn of(bundle: &PreKeyBundle) -> Self {
        Self {
            signer: *bundle.identity.signing_key(),
            signed_prekey: bundle.signed_prekey.clone(),
            kem_id: bundle.kem_prekey.id,
            kem_kind: bundle.kem_prekey.kind,
            kem_key: Box::new(*bundle.kem_prekey.key.as_bytes()),
            kem_signature: bundle.kem_prekey.signature,
        }
    }

    /// Whether `bundle` still has exactly the verified signer, keys and signatures. (These are
    /// public values, so a plain comparison is fine.)
    fn cover(&self, bundle: &PreKeyBundle) -> bool {
        let Self {
            signer,
            signed_prekey,
            kem_id,
            kem_kind,
            kem_key,
            kem_signature,
        } = self;
        signer == bundle.identity.signing_key()
            && *signed_prekey == bundle.signed_prekey
            && *kem_id == bundle.kem_prekey.id
            && *kem_kind == bundle.kem_prekey.kind
            && **kem_key == *bundle.kem_prekey.key.as_bytes()
            && *kem_signature == bundle.kem_prekey.signature
    }
}

impl PartialEq for PreKeyBundle {
    /// Compares the public fields; whether a bundle was decoded (and so already verified)
    /// does not matter.
    fn eq(&self, other: &Self) -> bool {
        let Self {
            identity,
            signed_prekey,
            kem_prekey,
            one_time_prekey,
            verified: _,
        } = self;
        *identity == other.identity
            && *signed_prekey == other.signed_prekey
            && *kem_prekey == other.kem_prekey
            && *one_time_prekey == other.one_time_prekey
    }
}

impl Eq for PreKeyBundle {}

impl core::fmt::Debug for PreKeyBundle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            identity,
            signed_prekey,
            kem_prekey,
            one_time_prekey,
            verified: _,
        } = self;
        f.debug_struct("PreKeyBundle")
            .field("identity", identity)
            .field("signed_prekey", signed_prekey)
            .field("kem_prekey", kem_prekey)
            .field("one_time_prekey", one_time_prekey)
            .finish()
    }
}

impl PreKeyBundle {
    /// A bundle assembled from its parts (its signatures are checked when it is used).
    pub fn new(
        identity: PublicIdentity,
        signed_prekey: SignedPreKeyPublic,
        kem_prekey: KemPreKeyPublic,
        one_time_prekey: Option<OneTimePreKeyPublic>,
    ) -> Self {
        Self {
            identity,
            signed_prekey,
            kem_prekey,
            one_time_prekey,
            verified: None,
        }
    }

    /// Checks every signature in the bundle against the identity's signing key. (Key validity —
    /// canonical, not of low order, well-formed ML-KEM key — was checked when it was decoded.)
    pub fn verify(&self) -> Result<(), Error> {
        let signer = self.identity.signing_key();
        self.signed_prekey.verify(signer)?;
        self.kem_prekey.verify(signer)
    }

    /// Like [`PreKeyBundle::verify`], but free when [`PreKeyBundle::from_bytes`] already
    /// verified exactly these signatures.
    pub(crate) fn ensure_verified(&self) -> Result<(), Error> {
        match &self.verified {
            Some(verified) if verified.cover(self) => Ok(()),
            _ => self.verify(),
        }
    }

    /// Versioned encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1900);
        out.put_u8(PROTOCOL_VERSION);
        self.identity.write(&mut out);
        self.signed_prekey.write(&mut out);
        self.kem_prekey.write(&mut out);
        match &self.one_time_prekey {
            None => out.put_u8(0),
            Some(otpk) => {
                out.put_u8(1);
                out.put_u32(otpk.id);
                out.put_raw(otpk.key.as_bytes());
            }
        }
        out
    }

    /// Decodes a bundle from untrusted bytes and verifies its signatures.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        r.version()?;
        let identity = PublicIdentity::read(&mut r)?;
        let signed_prekey = SignedPreKeyPublic::read(&mut r)?;
        let kem_prekey = KemPreKeyPublic::read(&mut r)?;
        let one_time_prekey = if r.bool()? {
            Some(OneTimePreKeyPublic {
                id: r.u32()?,
                key: PublicKey::read(&mut r)?,
            })
        } else {
            None
        };
        r.finish()?;
        let mut bundle = Self::new(identity, signed_prekey, kem_prekey, one_time_prekey);
        bundle.verify()?;
        bundle.verified = Some(Box::new(VerifiedSignatures::of(&bundle)));
        Ok(bundle)
    }
}

/// Which prekeys a new session used, to be deleted or remembered once its first message has
/// decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsedPreKeys {
    /// The KEM prekey used.
    pub kem_prekey_id: u32,
    /// The one-time X25519 prekey used, if any.
    pub one_time_prekey_id: Option<u32>,
    /// The initiator's base key (for replay detection with last-resort keys).
    pub base_key: PublicKey,
}
