//! Sending and receiving chains and message keys (Double Ratchet spec §2.2, §5.2):
//! `KDF_CK(ck)` gives the message key `HMAC-SHA256(ck, 0x01)` and the next chain key
//! `HMAC-SHA256(ck, 0x02)`. A message key is turned into an AES-256-GCM key and nonce by HKDF
//! ([`crate::kdf::AeadKey`]).

use core::fmt;

use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::kdf::{AeadKey, hmac};

const MESSAGE_KEY_SEED: &[u8] = &[0x01];
const CHAIN_KEY_SEED: &[u8] = &[0x02];
const MESSAGE_KEY_INFO: &[u8] = b"Parley_MessageKeys_v1";

/// A chain key and the index of the next message key it yields.
#[derive(Clone)]
pub struct ChainKey {
    key: Zeroizing<[u8; 32]>,
    index: u32,
}

impl ChainKey {
    /// A chain key at `index`.
    pub fn new(key: Zeroizing<[u8; 32]>, index: u32) -> Self {
        Self { key, index }
    }

    /// The index of the next message key.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The message key at the current index.
    pub fn message_key(&self) -> MessageKey {
        MessageKey {
            seed: hmac(&self.key[..], MESSAGE_KEY_SEED),
            index: self.index,
        }
    }

    /// The chain key one step on.
    pub fn next(&self) -> Result<ChainKey, Error> {
        let index = self.index.checked_add(1).ok_or(Error::CounterExhausted)?;
        Ok(ChainKey {
            key: hmac(&self.key[..], CHAIN_KEY_SEED),
            index,
        })
    }

    /// Advances to `target`, returning the skipped message keys (indices `self.index..target`),
    /// the message key at `target` and the chain key after it. The caller checks the skip limit
    /// before calling.
    pub fn skip_to(&self, target: u32) -> Result<(Vec<MessageKey>, MessageKey, ChainKey), Error> {
        let gap = target
            .checked_sub(self.index)
            .ok_or(Error::DuplicateMessage)?;
        let mut skipped = Vec::with_capacity(usize::try_from(gap).unwrap_or(0));
        let mut chain = self.clone();
        while chain.index < target {
            skipped.push(chain.message_key());
            chain = chain.next()?;
        }
        let key = chain.message_key();
        Ok((skipped, key, chain.next()?))
    }

    /// Appends the stored form.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_raw(&self.key[..]);
        out.put_u32(self.index);
    }

    /// Reads the stored form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            key: r.secret()?,
            index: r.u32()?,
        })
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { key: _, index } = self;
        f.debug_struct("ChainKey")
            .field("index", index)
            .finish_non_exhaustive()
    }
}

/// A single-use message key.
#[derive(Clone)]
pub struct MessageKey {
    seed: Zeroizing<[u8; 32]>,
    index: u32,
}

impl MessageKey {
    /// The chain index this key belongs to.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Encrypts one message; consumes the key.
    pub fn seal(self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        AeadKey::derive(&self.seed[..], MESSAGE_KEY_INFO).seal(aad, plaintext)
    }

    /// Decrypts one message. Borrowed, so a failure keeps the key for the genuine message.
    pub fn open(&self, aad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        AeadKey::derive(&self.seed[..], MESSAGE_KEY_INFO).open(aad, ciphertext)
    }

    /// The key bytes, for serialisation of skipped keys and for forward-secrecy tests.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.seed
    }

    /// Appends the stored form.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_raw(&self.seed[..]);
        out.put_u32(self.index);
    }

    /// Reads the stored form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            seed: r.secret()?,
            index: r.u32()?,
        })
    }
}

impl fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { seed: _, index } = self;
        f.debug_struct("MessageKey")
            .field("index", index)
            .finish_non_exhaustive()
    }
}
