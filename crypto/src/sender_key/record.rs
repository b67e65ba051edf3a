//! A receiving device's state for one (group, sender device) (libsignal `SenderKeyRecord`,
//! `SenderKeyState`, `process_sender_key_distribution_message` and `group_decrypt`).

use core::fmt;
use std::collections::VecDeque;

use zeroize::Zeroizing;

use super::GroupId;
use super::chain::{ChainSeed, MessageKeySeed, SenderChainKey, SkippedKey};
use super::message::{SenderKeyDistributionMessage, SenderKeyMessage, associated_data};
use crate::address::DeviceAddress;
use crate::codec::{Reader, Writer};
use crate::consts::{
    KEY_LEN, MAX_SENDER_KEY_SKIP, MAX_SENDER_KEY_STATES, MAX_SENDER_KEY_STORED_KEYS, MAX_STATE_LEN,
    PROTOCOL_VERSION,
};
use crate::error::{DecodeError, Error, Result};
use crate::keys::SigningPublicKey;

/// Encoded size of a receiving state without its skipped keys (including their count).
const STATE_MIN_LEN: usize = 4 + 4 + 32 + KEY_LEN + 4;
/// Encoded size of one stored skipped message key.
const SKIPPED_KEY_LEN: usize = 4 + 32;

/// What [`SenderKeyRecord::process_distribution`] did with a distribution message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DistributionOutcome {
    /// A new chain: stored as the newest state (the oldest may have been evicted).
    Added,
    /// A newer iteration of a chain already held, with the same signing key: the chain moved
    /// forward to it.
    Advanced,
    /// A chain already held at this or a later iteration, or with another signing key.
    Ignored,
}

/// One chain of a sender, as a receiver holds it (libsignal `SenderKeyState`).
#[derive(Clone)]
pub(super) struct SenderKeyState {
    pub(super) chain_id: u32,
    pub(super) chain: SenderChainKey,
    pub(super) signing_key: SigningPublicKey,
    /// Keys of skipped iterations, in increasing iteration order (so the front is the oldest).
    pub(super) skipped: VecDeque<SkippedKey>,
}

impl SenderKeyState {
    /// Appends keys of iterations above every stored one, evicting the oldest over the limit.
    fn store_skipped(&mut self, keys: Vec<SkippedKey>) {
        self.skipped.extend(keys);
        while self.skipped.len() > MAX_SENDER_KEY_STORED_KEYS {
            self.skipped.pop_front();
        }
    }

    /// Decrypts a message whose signature has been verified; changes `self` only on success.
    fn decrypt(
        &mut self,
        sender: &DeviceAddress,
        message: &SenderKeyMessage,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let aad = associated_data(&message.group_id, sender, self.chain_id, message.iteration);
        let Some(gap) = message.iteration.checked_sub(self.chain.iteration) else {
            // An earlier iteration: only a stored skipped key can open it, and only once.
            let index = self
                .skipped
                .binary_search_by_key(&message.iteration, |key| key.iteration)
                .map_err(|_| Error::DuplicateMessage)?;
            let key = self.skipped.get(index).ok_or(Error::DuplicateMessage)?;
            let plaintext = key.seed.aead_key().open(&aad, &message.ciphertext)?;
            self.skipped.remove(index);
            return Ok(plaintext);
        };
        if gap > MAX_SENDER_KEY_SKIP {
            return Err(Error::TooManySkipped);
        }
        let (chain, skipped) = self.chain.advance_to(message.iteration)?;
        let next = chain.next()?;
        let plaintext = chain
            .message_key_seed()
            .aead_key()
            .open(&aad, &message.ciphertext)?;
        self.chain = next;
        self.store_skipped(skipped);
        Ok(plaintext)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.put_u32(self.chain_id);
        out.put_u32(self.chain.iteration);
        out.put_raw(self.chain.seed.as_bytes());
        out.put_raw(self.signing_key.as_bytes());
        out.put_len(self.skipped.len());
        for key in &self.skipped {
            out.put_u32(key.iteration);
            out.put_raw(key.seed.as_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_id = r.u32()?;
        let chain = SenderChainKey {
            iteration: r.u32()?,
            seed: ChainSeed::read(r)?,
        };
        let signing_key = SigningPublicKey::read(r)?;
        let count = r.count(MAX_SENDER_KEY_STORED_KEYS, SKIPPED_KEY_LEN)?;
        let mut skipped = VecDeque::with_capacity(count);
        let mut previous: Option<u32> = None;
        for _ in 0..count {
            let iteration = r.u32()?;
            // Strictly increasing and below the chain: the order lookups and eviction rely on.
            if iteration >= chain.iteration || previous.is_some_and(|p| p >= iteration) {
                return Err(DecodeError::InvalidValue);
            }
            previous = Some(iteration);
            skipped.push_back(SkippedKey {
                iteration,
                seed: MessageKeySeed::read(r)?,
            });
        }
        Ok(Self {
            chain_id,
            chain,
            signing_key,
            skipped,
        })
    }

    fn encoded_len(&self) -> usize {
        STATE_MIN_LEN.saturating_add(self.skipped.len().saturating_mul(SKIPPED_KEY_LEN))
    }
}

impl fmt::Debug for SenderKeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            chain_id,
            chain,
            signing_key,
            skipped,
        } = self;
        f.debug_struct("SenderKeyState")
            .field("chain_id", chain_id)
            .field("chain", chain)
            .field("signing_key", signing_key)
            .field("skipped_keys", &skipped.len())
            .finish()
    }
}

/// What a receiving device holds for one (group, sender device): up to
/// [`MAX_SENDER_KEY_STATES`] chains, newest first (libsignal `SenderKeyRecord`).
///
/// The record does not store the group or the sender: the caller keeps one record per
/// (group, sender device) and passes both to [`SenderKeyRecord::decrypt`].
#[derive(Clone, Default)]
pub struct SenderKeyRecord {
    pub(super) states: VecDeque<SenderKeyState>,
}

impl SenderKeyRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the record holds no chain (a distribution message is needed).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Stores the chain of a distribution message received over the pairwise session with the
    /// sender device this record is for.
    ///
    /// A new chain id becomes the newest state, evicting the oldest beyond
    /// [`MAX_SENDER_KEY_STATES`]. For a chain id already held, the message is ignored unless
    /// it has the same signing key and a later iteration; then the chain moves forward to that
    /// iteration, and when the gap is within [`MAX_SENDER_KEY_SKIP`] the keys in between are
    /// kept as skipped keys, so messages still in flight decrypt.
    pub fn process_distribution(
        &mut self,
        distribution: &SenderKeyDistributionMessage,
    ) -> DistributionOutcome {
        let existing = self
            .states
            .iter_mut()
            .find(|state| state.chain_id == distribution.chain_id);
        let Some(state) = existing else {
            self.states.push_front(SenderKeyState {
                chain_id: distribution.chain_id,
                chain: SenderChainKey {
                    iteration: distribution.iteration,
                    seed: distribution.seed.clone(),
                },
                signing_key: distribution.signing_key,
                skipped: VecDeque::new(),
            });
            self.states.truncate(MAX_SENDER_KEY_STATES);
            return DistributionOutcome::Added;
        };
        if state.signing_key != distribution.signing_key {
            return DistributionOutcome::Ignored;
        }
        let Some(gap) = distribution
            .iteration
            .checked_sub(state.chain.iteration)
            .filter(|gap| *gap > 0)
        else {
            return DistributionOutcome::Ignored;
        };
        if gap <= MAX_SENDER_KEY_SKIP
            && let Ok((_, skipped)) = state.chain.advance_to(distribution.iteration)
        {
            state.store_skipped(skipped);
        }
        state.chain = SenderChainKey {
            iteration: distribution.iteration,
            seed: distribution.seed.clone(),
        };
        DistributionOutcome::Advanced
    }

    /// Verifies and decrypts an encoded [`SenderKeyMessage`] that `sender` sent to `group_id`.
    ///
    /// Checks, in order: the encoding; that the message is for `group_id` and from a chain
    /// this record holds ([`Error::UnknownSenderKey`]); the signature
    /// ([`Error::BadSignature`]); the iteration ([`Error::DuplicateMessage`] for a used or
    /// evicted key, [`Error::TooManySkipped`] beyond [`MAX_SENDER_KEY_SKIP`], checked before
    /// any key is derived); then the AEAD ([`Error::DecryptFailed`]), whose associated data
    /// binds `group_id` and `sender`. The record changes only when all of these pass.
    pub fn decrypt(
        &mut self,
        group_id: &GroupId,
        sender: &DeviceAddress,
        bytes: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let message = SenderKeyMessage::from_bytes(bytes)?;
        if message.group_id != *group_id {
            return Err(Error::UnknownSenderKey);
        }
        let state = self
            .states
            .iter_mut()
            .find(|state| state.chain_id == message.chain_id)
            .ok_or(Error::UnknownSenderKey)?;
        state
            .signing_key
            .verify(&message.signed_bytes(), &message.signature)?;
        state.decrypt(sender, &message)
    }

    /// The versioned encoding for local storage; zeroized on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let len = self
            .states
            .iter()
            .fold(5usize, |len, state| len.saturating_add(state.encoded_len()));
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.put_u8(PROTOCOL_VERSION);
        out.put_len(self.states.len());
        for state in &self.states {
            state.write(&mut out);
        }
        out
    }

    /// Decodes stored bytes, rejecting duplicate chain ids and misordered skipped keys.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_STATE_LEN {
            return Err(DecodeError::TooLong);
        }
        let mut r = Reader::new(bytes);
        r.version()?;
        let count = r.count(MAX_SENDER_KEY_STATES, STATE_MIN_LEN)?;
        let mut states: VecDeque<SenderKeyState> = VecDeque::with_capacity(count);
        for _ in 0..count {
            let state = SenderKeyState::read(&mut r)?;
            if states.iter().any(|s| s.chain_id == state.chain_id) {
                return Err(DecodeError::InvalidValue);
            }
            states.push_back(state);
        }
        r.finish()?;
        Ok(Self { states })
    }
}

impl fmt::Debug for SenderKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { states } = self;
        f.debug_struct("SenderKeyRecord")
            .field("states", states)
            .finish()
    }
}
