//! A member device's sending side for one group (libsignal `group_encrypt` and
//! `create_sender_key_distribution_message`).

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::GroupId;
use super::chain::{ChainSeed, SenderChainKey};
use super::message::{
    SenderKeyDistributionMessage, SenderKeyMessage, associated_data, read_header, write_header,
};
use crate::address::DeviceAddress;
use crate::codec::{Reader, Writer};
use crate::consts::{MAX_PLAINTEXT_LEN, SIGNATURE_LEN};
use crate::error::{DecodeError, Error, Result};
use crate::keys::{Signature, SigningKeyPair};

/// Encoded size of an [`OwnSenderKey`].
pub(super) const OWN_KEY_LEN: usize = 1 + 32 + 4 + 4 + 32 + 32;

/// This device's sending state for one group: a sender chain and its signing key.
pub struct OwnSenderKey {
    pub(super) group_id: GroupId,
    pub(super) chain_id: u32,
    pub(super) chain: SenderChainKey,
    pub(super) signing_key: SigningKeyPair,
}

impl OwnSenderKey {
    /// A fresh chain (random chain id and seed, iteration 0) and signing key for `group_id`.
    pub fn new(group_id: GroupId, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self {
            group_id,
            chain_id: rng.next_u32(),
            chain: SenderChainKey {
                iteration: 0,
                seed: ChainSeed::generate(rng),
            },
            signing_key: SigningKeyPair::generate(rng),
        }
    }

    /// The group this key sends to.
    pub fn group_id(&self) -> &GroupId {
        &self.group_id
    }

    /// The current chain's identifier.
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The iteration the next message will use.
    pub fn iteration(&self) -> u32 {
        self.chain.iteration
    }

    /// The distribution message for the chain at its current iteration, so a device that
    /// receives it cannot read any message sent before.
    pub fn distribution_message(&self) -> SenderKeyDistributionMessage {
        SenderKeyDistributionMessage {
            group_id: self.group_id,
            chain_id: self.chain_id,
            iteration: self.chain.iteration,
            seed: self.chain.seed.clone(),
            signing_key: self.signing_key.public(),
        }
    }

    /// Encrypts `plaintext` as the group message from `sender` (this device) and advances the
    /// chain. Returns the encoded [`SenderKeyMessage`].
    ///
    /// Fails with [`Error::PlaintextTooLong`] above [`MAX_PLAINTEXT_LEN`] and with
    /// [`Error::CounterExhausted`] once the chain reaches `u32::MAX` (rotate then).
    pub fn encrypt(&mut self, sender: &DeviceAddress, plaintext: &[u8]) -> Result<Vec<u8>> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::PlaintextTooLong);
        }
        let next = self.chain.next()?;
        let iteration = self.chain.iteration;
        let aad = associated_data(&self.group_id, sender, self.chain_id, iteration);
        let ciphertext = self
            .chain
            .message_key_seed()
            .aead_key()
            .seal(&aad, plaintext);
        let mut message = SenderKeyMessage {
            group_id: self.group_id,
            chain_id: self.chain_id,
            iteration,
            ciphertext,
            signature: Signature([0; SIGNATURE_LEN]),
        };
        message.signature = self.signing_key.sign(&message.signed_bytes());
        self.chain = next;
        Ok(message.to_bytes())
    }

    /// Replaces the chain (fresh chain id, seed and signing key, iteration 0). Call it when
    /// the group's device set changes, then send the new distribution message to the devices
    /// that remain: devices holding only the old one cannot read what follows.
    pub fn rotate(&mut self, rng: &mut (impl CryptoRng + ?Sized)) {
        let mut chain_id = rng.next_u32();
        while chain_id == self.chain_id {
            chain_id = rng.next_u32();
        }
        self.chain_id = chain_id;
        self.chain = SenderChainKey {
            iteration: 0,
            seed: ChainSeed::generate(rng),
        };
        self.signing_key = SigningKeyPair::generate(rng);
    }

    /// The versioned encoding for local storage; zeroized on drop.
    ///
    /// Store it again after every [`OwnSenderKey::encrypt`] before sending: restoring an older
    /// copy and encrypting again would reuse message keys. (For the same reason this type is
    /// not `Clone`.)
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(OWN_KEY_LEN));
        write_header(
            &mut out,
            &self.group_id,
            self.chain_id,
            self.chain.iteration,
        );
        out.put_raw(self.chain.seed.as_bytes());
        out.put_raw(&*self.signing_key.seed());
        out
    }

    /// Decodes stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let (group_id, chain_id, iteration) = read_header(&mut r)?;
        let key = Self {
            group_id,
            chain_id,
            chain: SenderChainKey {
                iteration,
                seed: ChainSeed::read(&mut r)?,
            },
            signing_key: SigningKeyPair::read(&mut r)?,
        };
        r.finish()?;
        Ok(key)
    }
}

impl fmt::Debug for OwnSenderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            group_id,
            chain_id,
            chain,
            signing_key,
        } = self;
        f.debug_struct("OwnSenderKey")
            .field("group_id", group_id)
            .field("chain_id", chain_id)
            .field("chain", chain)
            .field("signing_key", signing_key)
            .finish()
    }
}
