//! Group messaging with sender keys (docs/architecture.md §3, "Groups: sender keys").
//!
//! This follows Signal's sender-key construction as libsignal implements it in
//! `rust/protocol/src/sender_keys.rs` (chain and record) and `group_cipher.rs` (encrypt,
//! decrypt, distribution). Each member device keeps, per group, an [`OwnSenderKey`]: a hash
//! chain plus an Ed25519 signing key. It sends a [`SenderKeyDistributionMessage`] (the chain's
//! current iteration and seed, and the signing public key) to every other member device over
//! the pairwise sessions, then encrypts each group message once, as a [`SenderKeyMessage`].
//! Each receiving device keeps a [`SenderKeyRecord`] per (group, sender device).
//!
//! # Chain
//!
//! A chain key is an iteration number and a 32-byte seed (libsignal's `SenderChainKey`):
//! message key seed = HMAC-SHA256(seed, 0x01), next seed = HMAC-SHA256(seed, 0x02). The
//! message is sealed with AES-256-GCM under the key and nonce that
//! [`AeadKey::derive`](crate::kdf::AeadKey::derive) takes from the message key seed with the
//! info string `Parley_SenderKey_Message_v1`.
//!
//! # Differences from libsignal
//!
//! - AES-256-GCM (as everywhere in this crate, docs/architecture.md §3) instead of AES-256-CBC.
//! - The associated data binds the protocol version, the group id, the sender's
//!   [`DeviceAddress`](crate::DeviceAddress), the chain id and the iteration, so a message
//!   cannot be moved to another group or attributed to another sender device.
//! - A distribution message for a chain id already held never replaces its signing key and
//!   never moves the chain backwards (libsignal replaces a state whose chain id matches but
//!   whose signing key does not).
//! - Decryption is transactional: it works on copies and commits only after the AEAD tag
//!   verifies, so a failed decrypt leaves the record byte-for-byte unchanged.
//!
//! Removing a member (or revoking a device) is handled by [`OwnSenderKey::rotate`]: every
//! remaining member device starts a fresh chain with a fresh signing key and distributes it
//! only to the devices that remain, so the removed device cannot read what follows.
//!
//! # Encodings
//!
//! All integers are big-endian (see [`crate::codec`]).
//!
//! ```text
//! distribution: version(1) group_id(32) chain_id(4) iteration(4) seed(32) signing_key(32)
//! message:      version(1) group_id(32) chain_id(4) iteration(4) len(4) ciphertext signature(64)
//! associated data of a message:
//!               version(1) group_id(32) sender address chain_id(4) iteration(4)
//! own key:      version(1) group_id(32) chain_id(4) iteration(4) seed(32) signing_seed(32)
//! record:       version(1) count(4) { chain_id(4) iteration(4) seed(32) signing_key(32)
//!                                     count(4) { iteration(4) message_key_seed(32) } }
//! ```

mod chain;
mod message;
mod own;
mod record;
#[cfg(test)]
mod tests;

use rand_core::CryptoRng;

pub use message::{SenderKeyDistributionMessage, SenderKeyMessage};
pub use own::OwnSenderKey;
pub use record::{DistributionOutcome, SenderKeyRecord};

/// Identifies a group: 32 bytes chosen at random by its creator. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct GroupId(pub [u8; 32]);

impl GroupId {
    /// A fresh random group id.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        Self(id)
    }
}
