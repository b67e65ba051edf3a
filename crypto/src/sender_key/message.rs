//! The two wire messages of sender keys (libsignal `SenderKeyDistributionMessage` and
//! `SenderKeyMessage`) and the associated data that binds a message to its group and sender.

use core::fmt;

use zeroize::Zeroizing;

use super::GroupId;
use super::chain::ChainSeed;
use crate::address::DeviceAddress;
use crate::codec::{Reader, Writer};
use crate::consts::{KEY_LEN, MAX_MESSAGE_LEN, MAX_PLAINTEXT_LEN, PROTOCOL_VERSION};
use crate::error::DecodeError;
use crate::keys::{Signature, SigningKeyPair, SigningPublicKey};

/// Size of the AES-GCM tag.
pub(super) const TAG_LEN: usize = 16;
/// Largest ciphertext a group message may carry.
pub(super) const MAX_CIPHERTEXT_LEN: usize = MAX_PLAINTEXT_LEN.saturating_add(TAG_LEN);
/// Encoded size of a distribution message.
pub(super) const DISTRIBUTION_LEN: usize = 1 + 32 + 4 + 4 + KEY_LEN + KEY_LEN;

/// Appends the header that every sender-key encoding (distribution message, group message,
/// own key) starts with: version, group id, chain id, iteration.
pub(super) fn write_header(out: &mut Vec<u8>, group_id: &GroupId, chain_id: u32, iteration: u32) {
    out.put_u8(PROTOCOL_VERSION);
    out.put_raw(&group_id.0);
    out.put_u32(chain_id);
    out.put_u32(iteration);
}

/// Reads what [`write_header`] writes, rejecting an unknown version: (group id, chain id,
/// iteration).
pub(super) fn read_header(r: &mut Reader<'_>) -> Result<(GroupId, u32, u32), DecodeError> {
    r.version()?;
    Ok((GroupId(r.array()?), r.u32()?, r.u32()?))
}

/// The AEAD associated data: the header with the sender's address after the group id.
pub(super) fn associated_data(
    group_id: &GroupId,
    sender: &DeviceAddress,
    chain_id: u32,
    iteration: u32,
) -> Vec<u8> {
    let mut aad = Vec::new();
    aad.put_u8(PROTOCOL_VERSION);
    aad.put_raw(&group_id.0);
    sender.write(&mut aad);
    aad.put_u32(chain_id);
    aad.put_u32(iteration);
    aad
}

/// A sender's chain, handed to each member device over a pairwise session (libsignal
/// `SenderKeyDistributionMessage`). It carries the chain seed: keep it inside encrypted
/// sessions and storage only.
#[derive(Clone)]
pub struct SenderKeyDistributionMessage {
    pub(super) group_id: GroupId,
    pub(super) chain_id: u32,
    pub(super) iteration: u32,
    pub(super) seed: ChainSeed,
    pub(super) signing_key: SigningPublicKey,
}

impl SenderKeyDistributionMessage {
    /// The group this chain is for.
    pub fn group_id(&self) -> &GroupId {
        &self.group_id
    }

    /// The chain's random identifier.
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The first iteration the receiver will be able to decrypt.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The key that signs every message of the chain.
    pub fn signing_key(&self) -> &SigningPublicKey {
        &self.signing_key
    }

    /// The encoding; zeroized on drop because it contains the chain seed.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(DISTRIBUTION_LEN));
        write_header(&mut out, &self.group_id, self.chain_id, self.iteration);
        out.put_raw(self.seed.as_bytes());
        out.put_raw(self.signing_key.as_bytes());
        out
    }

    /// Decodes untrusted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let (group_id, chain_id, iteration) = read_header(&mut r)?;
        let message = Self {
            group_id,
            chain_id,
            iteration,
            seed: ChainSeed::read(&mut r)?,
            signing_key: SigningPublicKey::read(&mut r)?,
        };
        r.finish()?;
        Ok(message)
    }
}

impl fmt::Debug for SenderKeyDistributionMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            group_id,
            chain_id,
            iteration,
            seed: _,
            signing_key,
        } = self;
        f.debug_struct("SenderKeyDistributionMessage")
            .field("group_id", group_id)
            .field("chain_id", chain_id)
            .field("iteration", iteration)
            .field("signing_key", signing_key)
            .finish_non_exhaustive()
    }
}

/// One encrypted group message (libsignal `SenderKeyMessage`), signed by the chain's signing
/// key over every byte before the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyMessage {
    pub(super) group_id: GroupId,
    pub(super) chain_id: u32,
    pub(super) iteration: u32,
    pub(super) ciphertext: Vec<u8>,
    pub(super) signature: Signature,
}

impl SenderKeyMessage {
    /// The group the message claims to be for (authenticated only once decrypted).
    pub fn group_id(&self) -> &GroupId {
        &self.group_id
    }

    /// The chain the message claims to come from.
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The message's position in its chain.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The bytes the signature covers: header and length-prefixed ciphertext.
    pub(super) fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ciphertext.len().saturating_add(64));
        write_header(&mut out, &self.group_id, self.chain_id, self.iteration);
        out.put_bytes(&self.ciphertext);
        out
    }

    /// Replaces the signature with `key`'s over the message as it is, so that the fuzz target
    /// reaches the checks after the signature (iteration, skipped keys, AEAD).
    pub(crate) fn sign_with(&mut self, key: &SigningKeyPair) {
        self.signature = key.sign(&self.signed_bytes());
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.put_raw(&self.signature.0);
        out
    }

    /// Decodes untrusted bytes. The signature is checked by [`SenderKeyRecord::decrypt`](super::SenderKeyRecord::decrypt).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLong);
        }
        let mut r = Reader::new(bytes);
        let (group_id, chain_id, iteration) = read_header(&mut r)?;
        let ciphertext = r.bytes(MAX_CIPHERTEXT_LEN)?;
        if ciphertext.len() < TAG_LEN {
            return Err(DecodeError::InvalidValue);
        }
        let signature = Signature::read(&mut r)?;
        r.finish()?;
        Ok(Self {
            group_id,
            chain_id,
            iteration,
            ciphertext: ciphertext.to_vec(),
            signature,
        })
    }
}

impl fmt::Debug for SenderKeyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            group_id,
            chain_id,
            iteration,
            ciphertext,
            signature: _,
        } = self;
        f.debug_struct("SenderKeyMessage")
            .field("group_id", group_id)
            .field("chain_id", chain_id)
            .field("iteration", iteration)
            .field("ciphertext_len", &ciphertext.len())
            .finish_non_exhaustive()
    }
}
