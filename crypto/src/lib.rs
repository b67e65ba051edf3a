//! # parley-crypto
//!
//! Parley's end-to-end encryption, built on vetted primitive crates and following Signal's
//! published specifications (docs/architecture.md §3):
//!
//! - [`identity`]: device identities (Ed25519 signing key + signed X25519 identity key).
//! - [`prekeys`]: signed, last-resort and one-time prekeys; bundle verification.
//! - [`pqxdh`]: session setup per Signal's PQXDH specification (X25519 + ML-KEM-1024).
//! - [`session`]: the Double Ratchet (Signal's Double Ratchet specification §3, §5.2).
//! - [`session_record`]: Sesame-style active and archived sessions per remote device.
//! - [`sender_key`]: group messaging with sender keys.
//! - [`attachment`]: streaming chunked AEAD for files.
//! - [`fingerprint`]: safety numbers.
//!
//! Every wire message and persistent state has a versioned binary encoding ([`codec`]);
//! every decoder takes untrusted bytes and returns a typed [`Error`] rather than panicking.
//! Secrets zeroize on drop, are never printed by `Debug`, and nothing here implements
//! `serde::Serialize`. Randomness and time are parameters so that tests are deterministic.
#![forbid(unsafe_code)]

pub mod address;
pub mod attachment;
pub mod chain_key;
pub mod codec;
pub mod consts;
pub mod error;
pub mod fingerprint;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod identity;
pub mod kdf;
pub mod kem;
pub mod keys;
pub mod message;
pub mod pqxdh;
pub mod prekeys;
pub mod recovery;
pub mod root_key;
pub mod sender_key;
pub mod session;
pub mod session_record;

pub use address::DeviceAddress;
pub use error::{DecodeError, Error, Result};
