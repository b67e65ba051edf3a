//! The org log (docs/architecture.md §2): an append-only, hash-chained list of signed
//! entries that is the only source of who is in the org, which devices they have and who may
//! administer it.
//!
//! An [`OrgEntry`] is a binary record: `version (1) || seq (u64) || prev_hash (32) ||
//! timestamp (u64, seconds) || body || signer (32) || signature (64)`, where the signature is
//! Ed25519 by `signer` over `"Parley_OrgEntry_v2" || every byte before the signature`. Its hash
//! (SHA-256 of the whole encoding) is what the next entry carries in `prev_hash`; the hash of
//! entry 0 (the genesis) is the org's identity, pinned by clients from their invite.
//!
//! [`body`] has the entry kinds; [`OrgState`] applies entries one by one, checking that each
//! extends the log and is signed by a key the log itself authorised, and answers who and
//! which device. The relay keeps one to refuse garbage; every client keeps its own, verified
//! from the genesis it pinned, and trusts only that.

pub mod body;
pub mod groups;
pub mod state;

use parley_crypto::codec::{Reader, Writer};
use parley_crypto::consts::SIGNATURE_LEN;
use parley_crypto::keys::{Signature, SigningKeyPair, SigningPublicKey};
use parley_crypto::{DecodeError, Error as CryptoError};
use sha2::{Digest, Sha256};

pub use body::{OrgBody, Policy, Profile, RevokeReason};
pub use groups::{DirectoryGroup, company_group, department_group, directory_groups};
pub use state::{DeviceRecord, LogHead, OrgState, Revocation, Rule, UserRecord, WipeOrder};

/// Version byte of org records.
pub const ORG_RECORD_VERSION: u8 = 2;
/// Longest org entry accepted, in bytes.
pub const MAX_ORG_ENTRY_LEN: usize = 16 * 1024;
/// Longest an invite or link key may stay valid, in seconds.
pub const MAX_INVITE_SECS: u64 = 30 * 24 * 60 * 60;

const ENTRY_CONTEXT: &[u8] = b"Parley_OrgEntry_v2";

/// Why an org record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    /// The bytes are not a record of a version we know.
    #[error("malformed org record: {0}")]
    Decode(#[from] DecodeError),
    /// An entry kind this version does not know.
    #[error("the org log has an entry of a kind this version does not know ({0}): update Parley")]
    UnknownKind(u8),
    /// The signature does not verify.
    #[error("bad signature on org record")]
    BadSignature,
    /// The record does not follow its predecessor (sequence number or hash), or the log does
    /// not start with the pinned genesis.
    #[error("org record does not extend the log")]
    NotNext,
    /// The record is signed by a key that may not sign it.
    #[error("org record signed by a key without authority")]
    Unauthorized,
    /// The record is well signed but breaks a rule of the log.
    #[error("org record refused: {0}")]
    Refused(#[from] Rule),
}

impl From<CryptoError> for OrgError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Decode(d) => Self::Decode(d),
            _ => Self::BadSignature,
        }
    }
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

    /// The entry at the end of the log whose head is `head`, saying `body`, signed now-ish
    /// (`timestamp`) by `key`.
    pub fn after(head: &LogHead, body: OrgBody, key: &SigningKeyPair, timestamp: u64) -> Self {
        Self::sign(head.len, head.hash, timestamp, body, key.public(), |m| {
            key.sign(m)
        })
    }

    /// Where the log stands once this entry is appended.
    pub fn head_after(&self) -> LogHead {
        LogHead {
            len: self.seq.saturating_add(1),
            hash: self.hash(),
        }
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
    /// [`OrgState::apply`]).
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
}

/// SHA-256, as used for invite codes and device secrets.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The header that proves a reader of `GET /v1/org` holds a key the log knows
/// ([`OrgState::may_read`]): `<key>.<time>.<signature>`, the key and the signature in
/// unpadded URL-safe base64, the time in seconds since the Unix epoch, the signature over
/// `"Parley_LogRead_v1" || time (u64, big-endian)`.
pub const LOG_PROOF_HEADER: &str = "parley-log-proof";
/// How far a proof's time may be from the relay's clock.
pub const MAX_LOG_PROOF_SKEW_SECS: u64 = 300;

fn log_proof_message(time: u64) -> Vec<u8> {
    let mut m = b"Parley_LogRead_v1".to_vec();
    m.extend_from_slice(&time.to_be_bytes());
    m
}

/// A [`LOG_PROOF_HEADER`] value signed by `key` at `time`.
pub fn log_proof(key: &SigningKeyPair, time: u64) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signature = key.sign(&log_proof_message(time));
    format!(
        "{}.{time}.{}",
        b64.encode(key.public().as_bytes()),
        b64.encode(signature.0)
    )
}

/// Checks a [`LOG_PROOF_HEADER`] value at `now`: the key it proves, if the signature verifies
/// and its time is within [`MAX_LOG_PROOF_SKEW_SECS`].
pub fn check_log_proof(value: &str, now: u64) -> Option<SigningPublicKey> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if value.len() > 256 {
        return None;
    }
    let mut parts = value.split('.');
    let (key, time, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let key: [u8; 32] = b64.decode(key).ok()?.try_into().ok()?;
    let key = SigningPublicKey::from_bytes(&key).ok()?;
    let time: u64 = time.parse().ok()?;
    if time.abs_diff(now) > MAX_LOG_PROOF_SKEW_SECS {
        return None;
    }
    let sig: [u8; 64] = b64.decode(sig).ok()?.try_into().ok()?;
    key.verify(&log_proof_message(time), &Signature(sig)).ok()?;
    Some(key)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod proof_tests {
    use parley_crypto::keys::{SigningKeyPair, os_rng};

    use super::*;

    #[test]
    fn log_proofs_name_their_key_and_expire() {
        let key = SigningKeyPair::generate(&mut os_rng());
        let proof = log_proof(&key, 1_000);
        assert_eq!(check_log_proof(&proof, 1_100), Some(key.public()));
        assert_eq!(
            check_log_proof(&proof, 1_000 + MAX_LOG_PROOF_SKEW_SECS + 1),
            None
        );
        // Another time under the same signature, another key, junk: nothing.
        let moved = proof.replace(".1000.", ".1001.");
        assert_eq!(check_log_proof(&moved, 1_000), None);
        let other = SigningKeyPair::generate(&mut os_rng());
        let (_, rest) = proof.split_once('.').unwrap();
        use base64::Engine as _;
        let swapped = format!(
            "{}.{rest}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(other.public().as_bytes())
        );
        assert_eq!(check_log_proof(&swapped, 1_000), None);
        for junk in ["", "a.b.c", "..", &"x".repeat(300), &format!("{proof}.x")] {
            assert_eq!(check_log_proof(junk, 1_000), None, "{junk:.20}");
        }
    }
}

#[cfg(test)]
mod tests;
