//! Signed org records (docs/architecture.md §2): the first entries of the org log, and admin statements.
//!
//! An [`OrgEntry`] is a binary record: `version (1) || seq (u64) || prev_hash (32) ||
//! timestamp (u64, seconds) || body || signer (32) || signature (64)`, where the signature is
//! Ed25519 by `signer` over `"Parley_OrgEntry_v1" || every byte before the signature`. Its hash
//! (SHA-256 of the whole encoding) is what the next entry carries in `prev_hash`; the hash of
//! entry 0 (the genesis) is the org's identity, pinned by clients from their invite.
//!
//! This module has the bodies the relay needs to bootstrap an org ([`OrgBody::OrgCreated`],
//! signed by the root key itself, and [`OrgBody::AdminAdded`], signed by the root key) and the
//! admin-signed [`InviteStatement`]. The other entry kinds of the brief (device added/revoked,
//! user dismissed, wipe, policy) come with the org-log work; an unknown kind is a typed error.

use parley_crypto::codec::{Reader, Writer};
use parley_crypto::consts::SIGNATURE_LEN;
use parley_crypto::keys::{Signature, SigningKeyPair, SigningPublicKey};
use parley_crypto::{DecodeError, Error as CryptoError};
use sha2::{Digest, Sha256};

use crate::ids::{DeviceId, UserId};

/// Version byte of org records and statements.
pub const ORG_RECORD_VERSION: u8 = 1;
/// Longest org entry accepted, in bytes.
pub const MAX_ORG_ENTRY_LEN: usize = 16 * 1024;
/// Longest org name, in bytes.
pub const MAX_ORG_NAME_LEN: usize = 128;

const ENTRY_CONTEXT: &[u8] = b"Parley_OrgEntry_v1";
const INVITE_CONTEXT: &[u8] = b"Parley_Invite_v1";

/// Why an org record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    /// The bytes are not a record of a version we know.
    #[error("malformed org record: {0}")]
    Decode(#[from] DecodeError),
    /// The signature does not verify.
    #[error("bad signature on org record")]
    BadSignature,
    /// The record does not follow its predecessor (sequence number or hash).
    #[error("org record does not extend the log")]
    NotNext,
    /// The record is signed by a key that may not sign it.
    #[error("org record signed by a key without authority")]
    Unauthorized,
}

impl From<CryptoError> for OrgError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Decode(d) => Self::Decode(d),
            _ => Self::BadSignature,
        }
    }
}

/// What an org entry says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgBody {
    /// Entry 0: the org exists and this is its root key.
    OrgCreated {
        /// The org root key (Ed25519); the relay never holds its private half.
        root_key: SigningPublicKey,
        /// Display name.
        name: String,
    },
    /// A device's signing key may sign admin statements.
    AdminAdded {
        /// The admin user.
        user: UserId,
        /// The admin's device.
        device: DeviceId,
        /// That device's Ed25519 signing key.
        signing_key: SigningPublicKey,
    },
}

impl OrgBody {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::OrgCreated { root_key, name } => {
                out.put_u8(1);
                out.put_raw(root_key.as_bytes());
                out.put_bytes(name.as_bytes());
            }
            Self::AdminAdded {
                user,
                device,
                signing_key,
            } => {
                out.put_u8(2);
                out.put_bytes(user.as_str().as_bytes());
                out.put_u32(*device);
                out.put_raw(signing_key.as_bytes());
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            1 => {
                let root_key = SigningPublicKey::read(r)?;
                let name = read_string(r, MAX_ORG_NAME_LEN)?;
                Ok(Self::OrgCreated { root_key, name })
            }
            2 => {
                let user = read_user(r)?;
                let device = r.u32()?;
                let signing_key = SigningPublicKey::read(r)?;
                Ok(Self::AdminAdded {
                    user,
                    device,
                    signing_key,
                })
            }
            _ => Err(DecodeError::InvalidValue),
        }
    }
}

fn read_string(r: &mut Reader<'_>, max: usize) -> Result<String, DecodeError> {
    let bytes = r.bytes(max)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidValue)
}

fn read_user(r: &mut Reader<'_>) -> Result<UserId, DecodeError> {
    UserId::new(read_string(r, crate::ids::MAX_USER_ID_LEN)?).map_err(|_| DecodeError::InvalidValue)
}

/// A signed, hash-chained org log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgEntry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Hash of entry `seq - 1` (zeros for the genesis).
    pub prev_hash: [u8; 32],
    /// When it was signed, in seconds since the Unix epoch.
    pub timestamp: u64,
    /// What it says.
    pub body: OrgBody,
    /// Who signed it.
    pub signer: SigningPublicKey,
    signature: Signature,
}

impl OrgEntry {
    /// Signs a new entry with `sign` (the signer's Ed25519 key; `signer` is its public half).
    pub fn sign(
        seq: u64,
        prev_hash: [u8; 32],
        timestamp: u64,
        body: OrgBody,
        signer: SigningPublicKey,
        sign: impl FnOnce(&[u8]) -> Signature,
    ) -> Self {
        let unsigned = Self::unsigned_bytes(seq, &prev_hash, timestamp, &body, &signer);
        let signature = sign(&unsigned);
        Self {
            seq,
            prev_hash,
            timestamp,
            body,
            signer,
            signature,
        }
    }

    /// The genesis of a new org (entry 0, docs/architecture.md §2): `OrgCreated` with `root`'s
    /// public key and `name`, signed by `root` itself.
    pub fn genesis(root: &SigningKeyPair, name: &str, timestamp: u64) -> Self {
        let body = OrgBody::OrgCreated {
            root_key: root.public(),
            name: name.to_owned(),
        };
        Self::sign(0, [0; 32], timestamp, body, root.public(), |m| root.sign(m))
    }

    /// The entry after `prev` that makes `user`'s `device`, with the Ed25519 `signing_key`, an
    /// admin (`AdminAdded`), signed by the org root key `root`. A new org's first admin is the
    /// entry after the genesis, for device 1.
    pub fn admin_added(
        root: &SigningKeyPair,
        prev: &OrgEntry,
        user: UserId,
        device: DeviceId,
        signing_key: SigningPublicKey,
        timestamp: u64,
    ) -> Self {
        let body = OrgBody::AdminAdded {
            user,
            device,
            signing_key,
        };
        let seq = prev.seq.saturating_add(1);
        Self::sign(seq, prev.hash(), timestamp, body, root.public(), |m| {
            root.sign(m)
        })
    }

    fn unsigned_bytes(
        seq: u64,
        prev_hash: &[u8; 32],
        timestamp: u64,
        body: &OrgBody,
        signer: &SigningPublicKey,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.put_raw(ENTRY_CONTEXT);
        out.put_u8(ORG_RECORD_VERSION);
        out.put_u64(seq);
        out.put_raw(prev_hash);
        out.put_u64(timestamp);
        body.write(&mut out);
        out.put_raw(signer.as_bytes());
        out
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Self::unsigned_bytes(
            self.seq,
            &self.prev_hash,
            self.timestamp,
            &self.body,
            &self.signer,
        );
        out.drain(..ENTRY_CONTEXT.len());
        out.put_raw(&self.signature.0);
        out
    }

    /// Decodes an entry and checks its signature (not yet its place in a log: see
    /// [`OrgEntry::check_follows`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OrgError> {
        if bytes.len() > MAX_ORG_ENTRY_LEN {
            return Err(DecodeError::TooLong.into());
        }
        let mut r = Reader::new(bytes);
        match r.u8()? {
            ORG_RECORD_VERSION => {}
            v => return Err(DecodeError::UnknownVersion(v).into()),
        }
        let seq = r.u64()?;
        let prev_hash = r.array()?;
        let timestamp = r.u64()?;
        let body = OrgBody::read(&mut r)?;
        let signer = SigningPublicKey::read(&mut r)?;
        let signature = Signature(r.array::<SIGNATURE_LEN>()?);
        r.finish()?;
        let entry = Self {
            seq,
            prev_hash,
            timestamp,
            body,
            signer,
            signature,
        };
        let unsigned = Self::unsigned_bytes(seq, &prev_hash, timestamp, &entry.body, &entry.signer);
        entry
            .signer
            .verify(&unsigned, &entry.signature)
            .map_err(|_| OrgError::BadSignature)?;
        Ok(entry)
    }

    /// SHA-256 of the encoding.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Checks that this is a valid genesis: entry 0, `OrgCreated`, signed by its own root key.
    /// Returns the root key.
    pub fn check_genesis(&self) -> Result<&SigningPublicKey, OrgError> {
        match &self.body {
            OrgBody::OrgCreated { root_key, .. }
                if self.seq == 0 && self.prev_hash == [0; 32] && *root_key == self.signer =>
            {
                Ok(root_key)
            }
            OrgBody::OrgCreated { .. } => Err(OrgError::Unauthorized),
            _ => Err(OrgError::NotNext),
        }
    }

    /// Checks that this entry directly follows `prev` and that its signer may sign it, given
    /// the org's root key. (`AdminAdded` must be signed by the root key.)
    pub fn check_follows(
        &self,
        prev: &OrgEntry,
        root_key: &SigningPublicKey,
    ) -> Result<(), OrgError> {
        if prev.seq.checked_add(1) != Some(self.seq) || self.prev_hash != prev.hash() {
            return Err(OrgError::NotNext);
        }
        match &self.body {
            OrgBody::OrgCreated { .. } => Err(OrgError::NotNext),
            OrgBody::AdminAdded { .. } if self.signer == *root_key => Ok(()),
            OrgBody::AdminAdded { .. } => Err(OrgError::Unauthorized),
        }
    }
}

/// An org log as a client has verified it from the genesis hash it pinned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedLog {
    /// The org root key.
    pub root_key: SigningPublicKey,
    /// Signing keys of admin devices.
    pub admins: Vec<SigningPublicKey>,
    /// Hash of the newest entry (carried in messages for fork detection).
    pub head: [u8; 32],
    /// Number of entries.
    pub len: u64,
}

/// Verifies a whole log: the first entry must hash to `pinned_genesis` and be a valid genesis,
/// and every later entry must follow its predecessor and be signed by a key with authority.
pub fn verify_log(
    entries: &[impl AsRef<[u8]>],
    pinned_genesis: &[u8; 32],
) -> Result<VerifiedLog, OrgError> {
    let mut iter = entries.iter();
    let first = iter.next().ok_or(OrgError::NotNext)?;
    let genesis = OrgEntry::from_bytes(first.as_ref())?;
    if genesis.hash() != *pinned_genesis {
        return Err(OrgError::NotNext);
    }
    let root_key = *genesis.check_genesis()?;
    let mut log = VerifiedLog {
        root_key,
        admins: Vec::new(),
        head: genesis.hash(),
        len: 1,
    };
    let mut prev = genesis;
    for bytes in iter {
        let entry = OrgEntry::from_bytes(bytes.as_ref())?;
        entry.check_follows(&prev, &root_key)?;
        match &entry.body {
            OrgBody::AdminAdded { signing_key, .. } => log.admins.push(*signing_key),
            OrgBody::OrgCreated { .. } => return Err(OrgError::NotNext),
        }
        log.head = entry.hash();
        log.len += 1;
        prev = entry;
    }
    Ok(log)
}

/// An admin's signed statement that an invite exists: whoever holds the code whose SHA-256 is
/// `code_hash` may enrol as `user` until `expires_at`. Clients see these statements in the log
/// later; the relay checks the signature and that the signer is an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteStatement {
    /// Hash of the org's genesis entry (binds the statement to one org).
    pub genesis_hash: [u8; 32],
    /// SHA-256 of the invite code.
    pub code_hash: [u8; 32],
    /// The user this invite enrols.
    pub user: UserId,
    /// Whether the invite enrols a new user (false: a further device of an existing user).
    pub new_user: bool,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl InviteStatement {
    /// The bytes an admin signs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.put_raw(INVITE_CONTEXT);
        out.put_u8(ORG_RECORD_VERSION);
        out.put_raw(&self.genesis_hash);
        out.put_raw(&self.code_hash);
        out.put_bytes(self.user.as_str().as_bytes());
        out.put_u8(u8::from(self.new_user));
        out.put_u64(self.expires_at);
        out
    }

    /// Signs the statement with an admin device's signing key.
    pub fn sign(&self, admin: &SigningKeyPair) -> Signature {
        admin.sign(&self.signed_bytes())
    }

    /// Checks `signature` by `signer`.
    pub fn verify(&self, signer: &SigningPublicKey, signature: &[u8]) -> Result<(), OrgError> {
        let signature = Signature(
            <[u8; SIGNATURE_LEN]>::try_from(signature).map_err(|_| OrgError::BadSignature)?,
        );
        signer
            .verify(&self.signed_bytes(), &signature)
            .map_err(|_| OrgError::BadSignature)
    }
}

/// SHA-256, as used for invite codes and device secrets.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use parley_crypto::keys::{SigningKeyPair, os_rng};

    fn genesis(root: &SigningKeyPair) -> OrgEntry {
        OrgEntry::genesis(root, "Acme", 1)
    }

    #[test]
    fn the_constructors_build_a_valid_start_of_a_log() {
        let root = SigningKeyPair::generate(&mut os_rng());
        let admin = SigningKeyPair::generate(&mut os_rng());
        let g = OrgEntry::genesis(&root, "Acme", 7);
        assert_eq!(
            (g.seq, g.prev_hash, g.timestamp, &g.body, g.signer),
            (
                0,
                [0; 32],
                7,
                &OrgBody::OrgCreated {
                    root_key: root.public(),
                    name: "Acme".into()
                },
                root.public()
            )
        );
        assert_eq!(g.check_genesis(), Ok(&root.public()));
        let user = UserId::new("alice").unwrap_or_else(|_| unreachable!());
        let a = OrgEntry::admin_added(&root, &g, user.clone(), 1, admin.public(), 8);
        assert_eq!(
            (a.seq, a.prev_hash, a.timestamp, &a.body, a.signer),
            (
                1,
                g.hash(),
                8,
                &OrgBody::AdminAdded {
                    user,
                    device: 1,
                    signing_key: admin.public()
                },
                root.public()
            )
        );
        assert_eq!(a.check_follows(&g, &root.public()), Ok(()));
        // Both decode and verify as a log.
        let log = verify_log(&[g.to_bytes(), a.to_bytes()], &g.hash()).unwrap();
        assert_eq!(log.admins, vec![admin.public()]);
        assert_eq!(OrgEntry::from_bytes(&a.to_bytes()), Ok(a));
    }

    #[test]
    fn genesis_round_trip_and_checks() {
        let root = SigningKeyPair::generate(&mut os_rng());
        let g = genesis(&root);
        let bytes = g.to_bytes();
        let back = OrgEntry::from_bytes(&bytes);
        assert_eq!(back.as_ref().ok(), Some(&g));
        assert_eq!(back.ok().map(|e| e.hash()), Some(sha256(&bytes)));
        assert!(g.check_genesis().is_ok());

        // Every single-byte change is rejected (signature, or decode).
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            if let Some(b) = bad.get_mut(i) {
                *b ^= 1;
            }
            assert!(OrgEntry::from_bytes(&bad).is_err(), "byte {i}");
        }
        assert!(OrgEntry::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            OrgEntry::from_bytes(&long),
            Err(OrgError::Decode(DecodeError::TrailingBytes))
        );
        let mut v2 = bytes;
        v2[0] = 2;
        assert_eq!(
            OrgEntry::from_bytes(&v2),
            Err(OrgError::Decode(DecodeError::UnknownVersion(2)))
        );
    }

    #[test]
    fn genesis_signed_by_another_key_is_refused() {
        let root = SigningKeyPair::generate(&mut os_rng());
        let other = SigningKeyPair::generate(&mut os_rng());
        let body = OrgBody::OrgCreated {
            root_key: root.public(),
            name: "Acme".into(),
        };
        let g = OrgEntry::sign(0, [0; 32], 1, body, other.public(), |m| other.sign(m));
        assert_eq!(g.check_genesis(), Err(OrgError::Unauthorized));
    }

    #[test]
    fn admin_entry_must_follow_and_be_signed_by_root() {
        let root = SigningKeyPair::generate(&mut os_rng());
        let admin = SigningKeyPair::generate(&mut os_rng());
        let g = genesis(&root);
        let user = UserId::new("alice").unwrap_or_else(|_| unreachable!());
        let body = OrgBody::AdminAdded {
            user,
            device: 1,
            signing_key: admin.public(),
        };
        let ok = OrgEntry::sign(1, g.hash(), 2, body.clone(), root.public(), |m| {
            root.sign(m)
        });
        assert_eq!(ok.check_follows(&g, &root.public()), Ok(()));
        let by_admin = OrgEntry::sign(1, g.hash(), 2, body.clone(), admin.public(), |m| {
            admin.sign(m)
        });
        assert_eq!(
            by_admin.check_follows(&g, &root.public()),
            Err(OrgError::Unauthorized)
        );
        let wrong_prev =
            OrgEntry::sign(1, [9; 32], 2, body.clone(), root.public(), |m| root.sign(m));
        assert_eq!(
            wrong_prev.check_follows(&g, &root.public()),
            Err(OrgError::NotNext)
        );
        let wrong_seq = OrgEntry::sign(2, g.hash(), 2, body, root.public(), |m| root.sign(m));
        assert_eq!(
            wrong_seq.check_follows(&g, &root.public()),
            Err(OrgError::NotNext)
        );
    }

    #[test]
    fn verify_a_whole_log() {
        let root = SigningKeyPair::generate(&mut os_rng());
        let admin = SigningKeyPair::generate(&mut os_rng());
        let g = genesis(&root);
        let user = UserId::new("alice").unwrap_or_else(|_| unreachable!());
        let a = OrgEntry::admin_added(&root, &g, user, 1, admin.public(), 2);
        let entries = vec![g.to_bytes(), a.to_bytes()];
        let log = verify_log(&entries, &g.hash()).unwrap();
        assert_eq!(
            (log.root_key, log.admins.clone(), log.head, log.len),
            (root.public(), vec![admin.public()], a.hash(), 2)
        );
        // Another org's genesis, a reordered log, an empty log: refused.
        assert_eq!(verify_log(&entries, &[0; 32]), Err(OrgError::NotNext));
        assert!(verify_log(&[a.to_bytes(), g.to_bytes()], &g.hash()).is_err());
        assert!(verify_log(&Vec::<Vec<u8>>::new(), &g.hash()).is_err());
    }

    #[test]
    fn invite_statement_signature() {
        let admin = SigningKeyPair::generate(&mut os_rng());
        let user = UserId::new("bob").unwrap_or_else(|_| unreachable!());
        let s = InviteStatement {
            genesis_hash: [1; 32],
            code_hash: [2; 32],
            user,
            new_user: true,
            expires_at: 9,
        };
        let sig = s.sign(&admin);
        assert_eq!(sig, admin.sign(&s.signed_bytes()));
        assert_eq!(s.verify(&admin.public(), &sig.0), Ok(()));
        let req = crate::api::CreateInviteRequest::signed(&s, &admin);
        assert_eq!(
            (
                req.code_hash.as_bytes(),
                &req.user,
                req.new_user,
                req.expires_at
            ),
            (&[2; 32][..], &s.user, true, 9)
        );
        assert_eq!(s.verify(&admin.public(), req.signature.as_bytes()), Ok(()));
        let mut other = s.clone();
        other.expires_at = 10;
        assert_eq!(
            other.verify(&admin.public(), &sig.0),
            Err(OrgError::BadSignature)
        );
        assert_eq!(
            s.verify(&admin.public(), &sig.0[..10]),
            Err(OrgError::BadSignature)
        );
    }
}
