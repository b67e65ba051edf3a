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

#[derive(Clone)]
struct SignedPreKey {
    id: u32,
    key: KeyPair,
    signature: Signature,
    created_at: u64,
}

#[derive(Clone)]
struct KemPreKey {
    id: u32,
    kind: KemPreKeyKind,
    key: KemKeyPair,
    signature: Signature,
}

impl KemPreKey {
    fn public(&self) -> KemPreKeyPublic {
        KemPreKeyPublic {
            id: self.id,
            kind: self.kind,
            key: self.key.public().clone(),
            signature: self.signature,
        }
    }
}

/// A device's private prekeys.
#[derive(Clone)]
pub struct PreKeyStore {
    signed: VecDeque<SignedPreKey>,
    last_resort: VecDeque<KemPreKey>,
    one_time: BTreeMap<u32, OneTimeKey>,
    one_time_kem: BTreeMap<u32, KemPreKey>,
    seen_base_keys: VecDeque<(u32, [u8; 32])>,
    next_id: u32,
}

/// A one-time X25519 prekey as the store keeps it: its secret, and the key pair built from it
/// on first use. A store holds up to [`MAX_ONE_TIME_PREKEYS`] of these and is decoded for
/// every prekey message received, which uses at most one: building each pair (a base-point
/// multiplication) at decode time cost about a millisecond per message.
#[derive(Clone)]
struct OneTimeKey {
    secret: Zeroizing<[u8; 32]>,
    pair: std::sync::OnceLock<KeyPair>,
}

impl OneTimeKey {
    fn new(pair: KeyPair) -> Self {
        Self {
            secret: pair.secret_bytes(),
            pair: std::sync::OnceLock::from(pair),
        }
    }

    fn from_secret(secret: Zeroizing<[u8; 32]>) -> Self {
        Self {
            secret,
            pair: std::sync::OnceLock::new(),
        }
    }

    fn pair(&self) -> &KeyPair {
        self.pair
            .get_or_init(|| KeyPair::from_secret_bytes(&self.secret))
    }
}

impl core::fmt::Debug for PreKeyStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            signed,
            last_resort,
            one_time,
            one_time_kem,
            seen_base_keys,
            next_id,
        } = self;
        f.debug_struct("PreKeyStore")
            .field("signed", &signed.len())
            .field("last_resort", &last_resort.len())
            .field("one_time", &one_time.len())
            .field("one_time_kem", &one_time_kem.len())
            .field("seen_base_keys", &seen_base_keys.len())
            .field("next_id", next_id)
            .finish()
    }
}

impl PreKeyStore {
    /// A store that holds no key: what a [`crate::session_record::LocalDevice`] needs to decrypt
    /// a ratchet message, which only an existing session can decrypt and which never reads or
    /// changes prekeys. Decoding the real store costs one X25519 public key per one-time
    /// prekey (tens of them) on every received message; this costs nothing.
    pub fn empty() -> Self {
        Self {
            signed: VecDeque::new(),
            last_resort: VecDeque::new(),
            one_time: BTreeMap::new(),
            one_time_kem: BTreeMap::new(),
            seen_base_keys: VecDeque::new(),
            next_id: 1,
        }
    }

    /// A store with a fresh signed prekey and last-resort KEM prekey, and no one-time keys.
    pub fn new(identity: &IdentityKeyPair, now: u64, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut store = Self::empty();
        store.rotate(identity, now, rng);
        store
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        // Wrapping is harmless: ids only need to be unique among the keys currently held, and
        // 2^32 generations is far beyond any device's life.
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn new_kem(
        &mut self,
        identity: &IdentityKeyPair,
        kind: KemPreKeyKind,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> KemPreKey {
        let id = self.take_id();
        let key = KemKeyPair::generate(rng);
        let signature = SignedContent::Kem {
            kind,
            id,
            key: key.public(),
        }
        .sign(identity);
        KemPreKey {
            id,
            kind,
            key,
            signature,
        }
    }

    /// Replaces the signed prekey and the last-resort KEM prekey with new ones (weekly, per
    /// docs/architecture.md §4), keeping the previous ones for sessions begun from an older bundle.
    pub fn rotate(
        &mut self,
        identity: &IdentityKeyPair,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) {
        let id = self.take_id();
        let key = KeyPair::generate(rng);
        let signature = SignedContent::X25519 {
            id,
            key: key.public(),
        }
        .sign(identity);
        self.signed.push_back(SignedPreKey {
            id,
            key,
            signature,
            created_at: now,
        });
        let kem = self.new_kem(identity, KemPreKeyKind::LastResort, rng);
        let retired = self.last_resort.iter().map(|k| k.id).collect::<Vec<_>>();
        self.last_resort.push_back(kem);
        while self.signed.len() > KEPT_ROTATED_KEYS {
            self.signed.pop_front();
        }
        while self.last_resort.len() > KEPT_ROTATED_KEYS {
            self.last_resort.pop_front();
        }
        // Base keys seen with a deleted last-resort key can never be replayed again.
        let kept: Vec<u32> = self.last_resort.iter().map(|k| k.id).collect();
        if retired.iter().any(|id| !kept.contains(id)) {
            self.seen_base_keys.retain(|(id, _)| kept.contains(id));
        }
    }

    /// When the current signed prekey was made (for weekly rotation).
    pub fn signed_prekey_created_at(&self) -> Option<u64> {
        self.signed.back().map(|k| k.created_at)
    }

    /// The public current signed prekey.
    pub fn signed_prekey(&self) -> Option<SignedPreKeyPublic> {
        self.signed.back().map(|k| SignedPreKeyPublic {
            id: k.id,
            key: *k.key.public(),
            signature: k.signature,
        })
    }

    /// The public current last-resort KEM prekey.
    pub fn last_resort_kem_prekey(&self) -> Option<KemPreKeyPublic> {
        self.last_resort.back().map(KemPreKey::public)
    }

    /// Number of one-time X25519 and KEM prekeys held.
    pub fn one_time_counts(&self) -> (usize, usize) {
        (self.one_time.len(), self.one_time_kem.len())
    }

    /// Deletes the `x25519` oldest one-time X25519 prekeys and the `kem` oldest one-time KEM
    /// prekeys (lowest ids). The relay hands one-time prekeys out oldest first, so when the
    /// relay reports `r` left of the `h` held here, the `h - r` oldest were claimed by peers
    /// who have not used them yet (and may never); forgetting them makes room for fresh ones.
    pub fn forget_oldest_one_time(&mut self, x25519: usize, kem: usize) {
        for _ in 0..x25519 {
            self.one_time.pop_first();
        }
        for _ in 0..kem {
            self.one_time_kem.pop_first();
        }
    }

    /// Generates up to `count` one-time prekeys of each kind, never holding more than
    /// [`MAX_ONE_TIME_PREKEYS`] of either, and returns the public halves to upload.
    pub fn generate_one_time(
        &mut self,
        identity: &IdentityKeyPair,
        count: usize,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> (Vec<OneTimePreKeyPublic>, Vec<KemPreKeyPublic>) {
        let ec_count = count.min(MAX_ONE_TIME_PREKEYS.saturating_sub(self.one_time.len()));
        let kem_count = count.min(MAX_ONE_TIME_PREKEYS.saturating_sub(self.one_time_kem.len()));
        let mut ec = Vec::with_capacity(ec_count);
        for _ in 0..ec_count {
            let id = self.take_id();
            let key = KeyPair::generate(rng);
            ec.push(OneTimePreKeyPublic {
                id,
                key: *key.public(),
            });
            self.one_time.insert(id, OneTimeKey::new(key));
        }
        let mut kem = Vec::with_capacity(kem_count);
        for _ in 0..kem_count {
            let key = self.new_kem(identity, KemPreKeyKind::OneTime, rng);
            kem.push(key.public());
            self.one_time_kem.insert(key.id, key);
        }
        (ec, kem)
    }

    /// A bundle for this device as the relay would hand it out, taking the lowest-numbered
    /// one-time keys (for tests and for a local simulation of the relay).
    pub fn bundle(&self, identity: &PublicIdentity) -> Option<PreKeyBundle> {
        let kem_prekey = match self.one_time_kem.values().next() {
            Some(k) => k.public(),
            None => self.last_resort_kem_prekey()?,
        };
        Some(PreKeyBundle::new(
            *identity,
            self.signed_prekey()?,
            kem_prekey,
            self.one_time
                .iter()
                .next()
                .map(|(id, k)| OneTimePreKeyPublic {
                    id: *id,
                    key: *k.pair().public(),
                }),
        ))
    }

    pub(crate) fn signed_key(&self, id: u32) -> Result<&KeyPair, Error> {
        self.signed
            .iter()
            .find(|k| k.id == id)
            .map(|k| &k.key)
            .ok_or(Error::UnknownPreKey)
    }

    /// Finds a KEM prekey, refusing a replayed (last-resort key, base key) pair.
    pub(crate) fn kem_key(&self, id: u32, base_key: &PublicKey) -> Result<&KemKeyPair, Error> {
        if let Some(k) = self.one_time_kem.get(&id) {
            return Ok(&k.key);
        }
        let k = self
            .last_resort
            .iter()
            .find(|k| k.id == id)
            .ok_or(Error::UnknownPreKey)?;
        if self
            .seen_base_keys
            .iter()
            .any(|(kid, b)| *kid == id && b == base_key.as_bytes())
        {
            return Err(Error::ReplayedPreKeyMessage);
        }
        Ok(&k.key)
    }

    pub(crate) fn one_time_key(&self, id: u32) -> Result<&KeyPair, Error> {
        self.one_time
            .get(&id)
            .map(OneTimeKey::pair)
            .ok_or(Error::UnknownPreKey)
    }

    /// Deletes the one-time prekeys a session used and remembers its base key, once the
    /// session's first message has decrypted.
    pub fn consume(&mut self, used: &UsedPreKeys) {
        if let Some(id) = used.one_time_prekey_id {
            self.one_time.remove(&id);
        }
        if self.one_time_kem.remove(&used.kem_prekey_id).is_none() {
            if self.seen_base_keys.len() >= MAX_REMEMBERED_BASE_KEYS {
                self.seen_base_keys.pop_front();
            }
            self.seen_base_keys
                .push_back((used.kem_prekey_id, used.base_key.to_bytes()));
        }
    }

    /// Versioned encoding (holds private keys: for the encrypted local store only).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(PROTOCOL_VERSION);
        out.put_u32(self.next_id);
        out.put_len(self.signed.len());
        for k in &self.signed {
            out.put_u32(k.id);
            out.put_raw(&k.key.secret_bytes()[..]);
            out.put_raw(&k.signature.0);
            out.put_u64(k.created_at);
        }
        out.put_len(self.last_resort.len());
        for k in &self.last_resort {
            write_kem(&mut out, k);
        }
        out.put_len(self.one_time.len());
        for (id, k) in &self.one_time {
            out.put_u32(*id);
            out.put_raw(&k.secret[..]);
        }
        out.put_len(self.one_time_kem.len());
        for k in self.one_time_kem.values() {
            write_kem(&mut out, k);
        }
        out.put_len(self.seen_base_keys.len());
        for (id, base) in &self.seen_base_keys {
            out.put_u32(*id);
            out.put_raw(base);
        }
        out
    }

    /// Decodes a store.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version()?;
        let next_id = r.u32()?;
        let n = r.count(KEPT_ROTATED_KEYS, 108)?;
        let mut signed = VecDeque::with_capacity(n);
        for _ in 0..n {
            signed.push_back(SignedPreKey {
                id: r.u32()?,
                key: KeyPair::read(&mut r)?,
                signature: Signature::read(&mut r)?,
                created_at: r.u64()?,
            });
        }
        let n = r.count(KEPT_ROTATED_KEYS, 132)?;
        let mut last_resort = VecDeque::with_capacity(n);
        for _ in 0..n {
            last_resort.push_back(read_kem(&mut r, KemPreKeyKind::LastResort)?);
        }
        let n = r.count(MAX_ONE_TIME_PREKEYS, 36)?;
        let mut one_time = BTreeMap::new();
        for _ in 0..n {
            let id = r.u32()?;
            // Ids are written in increasing order; anything else is not our encoding.
            if one_time
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
            {
                return Err(DecodeError::InvalidValue);
            }
            one_time.insert(id, OneTimeKey::from_secret(r.secret::<32>()?));
        }
        let n = r.count(MAX_ONE_TIME_PREKEYS, 132)?;
        let mut one_time_kem = BTreeMap::new();
        for _ in 0..n {
            let k = read_kem(&mut r, KemPreKeyKind::OneTime)?;
            if one_time_kem
                .last_key_value()
                .is_some_and(|(last, _)| *last >= k.id)
            {
                return Err(DecodeError::InvalidValue);
            }
            one_time_kem.insert(k.id, k);
        }
        let n = r.count(MAX_REMEMBERED_BASE_KEYS, 36)?;
        let mut seen_base_keys = VecDeque::with_capacity(n);
        for _ in 0..n {
            seen_base_keys.push_back((r.u32()?, r.array()?));
        }
        r.finish()?;
        Ok(Self {
            signed,
            last_resort,
            one_time,
            one_time_kem,
            seen_base_keys,
            next_id,
        })
    }
}

fn write_kem(out: &mut Vec<u8>, k: &KemPreKey) {
    out.put_u32(k.id);
    out.put_raw(k.key.seed());
    out.put_raw(&k.signature.0);
}

fn read_kem(r: &mut Reader<'_>, kind: KemPreKeyKind) -> Result<KemPreKey, DecodeError> {
    Ok(KemPreKey {
        id: r.u32()?,
        kind,
        key: KemKeyPair::read(r)?,
        signature: Signature::read(r)?,
    })
}
