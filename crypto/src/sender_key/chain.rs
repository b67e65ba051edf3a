//! The sender chain (libsignal `SenderChainKey`) and the secrets it yields.
//!
//! message key seed = HMAC-SHA256(seed, 0x01); next seed = HMAC-SHA256(seed, 0x02). Seeds live
//! on the heap so that moving them copies no key bytes, and are zeroized on drop.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::codec::Reader;
use crate::error::{DecodeError, Error, Result};
use crate::kdf::{AeadKey, hmac};

/// HKDF info for the AEAD key and nonce of a group message.
const MESSAGE_INFO: &[u8] = b"Parley_SenderKey_Message_v1";
/// HMAC input deriving a message key seed from a chain seed (libsignal `MESSAGE_KEY_SEED`).
pub(super) const MESSAGE_KEY_SEED: [u8; 1] = [0x01];
/// HMAC input deriving the next chain seed (libsignal `CHAIN_KEY_SEED`).
pub(super) const CHAIN_KEY_SEED: [u8; 1] = [0x02];

/// The 32-byte seed of a sender chain: a secret on the heap, zeroized on drop.
pub(super) struct ChainSeed(Box<[u8; 32]>);

/// The 32-byte seed of one message key: a secret on the heap, zeroized on drop.
pub(super) struct MessageKeySeed(Box<[u8; 32]>);

macro_rules! secret_32 {
    ($name:ident) => {
        impl $name {
            /// Copies `bytes` onto the heap.
            pub(super) fn from_bytes(bytes: &[u8; 32]) -> Self {
                let mut boxed = Box::new([0u8; 32]);
                boxed.copy_from_slice(bytes);
                Self(boxed)
            }

            /// Reads 32 secret bytes straight onto the heap.
            pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let mut boxed = Box::new([0u8; 32]);
                boxed.copy_from_slice(r.take(32)?);
                Ok(Self(boxed))
            }

            /// The secret bytes.
            pub(super) fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl Clone for $name {
            fn clone(&self) -> Self {
                Self::from_bytes(&self.0)
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

secret_32!(ChainSeed);
secret_32!(MessageKeySeed);

impl ChainSeed {
    /// A fresh random seed.
    pub(super) fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut boxed = Box::new([0u8; 32]);
        rng.fill_bytes(boxed.as_mut_slice());
        Self(boxed)
    }
}

impl MessageKeySeed {
    /// The AES-256-GCM key and nonce of the message this seed belongs to.
    pub(super) fn aead_key(&self) -> AeadKey {
        AeadKey::derive(self.as_bytes(), MESSAGE_INFO)
    }
}

/// A position in a sender chain (libsignal `SenderChainKey`).
#[derive(Clone)]
pub(super) struct SenderChainKey {
    pub(super) iteration: u32,
    pub(super) seed: ChainSeed,
}

impl SenderChainKey {
    /// The message key seed of this iteration: HMAC-SHA256(seed, 0x01).
    pub(super) fn message_key_seed(&self) -> MessageKeySeed {
        MessageKeySeed::from_bytes(&hmac(self.seed.as_bytes(), &MESSAGE_KEY_SEED))
    }

    /// The chain key of the next iteration: HMAC-SHA256(seed, 0x02).
    pub(super) fn next(&self) -> Result<Self> {
        let iteration = self
            .iteration
            .checked_add(1)
            .ok_or(Error::CounterExhausted)?;
        let seed = ChainSeed::from_bytes(&hmac(self.seed.as_bytes(), &CHAIN_KEY_SEED));
        Ok(Self { iteration, seed })
    }

    /// The chain key at `target` and the message keys of every iteration from this one up to,
    /// not including, `target`. The caller bounds `target - self.iteration` beforehand.
    pub(super) fn advance_to(&self, target: u32) -> Result<(Self, Vec<SkippedKey>)> {
        let gap = target.saturating_sub(self.iteration);
        let mut skipped = Vec::with_capacity(usize::try_from(gap).unwrap_or(0));
        let mut chain = self.clone();
        while chain.iteration < target {
            skipped.push(SkippedKey {
                iteration: chain.iteration,
                seed: chain.message_key_seed(),
            });
            chain = chain.next()?;
        }
        Ok((chain, skipped))
    }
}

impl fmt::Debug for SenderChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { iteration, seed: _ } = self;
        f.debug_struct("SenderChainKey")
            .field("iteration", iteration)
            .finish_non_exhaustive()
    }
}

/// The message key of an iteration that was skipped over, kept for a late message.
pub(super) struct SkippedKey {
    pub(super) iteration: u32,
    pub(super) seed: MessageKeySeed,
}

impl Clone for SkippedKey {
    fn clone(&self) -> Self {
        Self {
            iteration: self.iteration,
            seed: self.seed.clone(),
        }
    }
}
