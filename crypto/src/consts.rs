//! Every limit and protocol constant in one place (docs/architecture.md §3).
//!
//! Limits are checked before anything is allocated from an untrusted length.

/// Version byte of every wire message and serialised state this crate writes.
pub const PROTOCOL_VERSION: u8 = 1;

/// Version byte of a serialised [`SessionRecord`](crate::session_record::SessionRecord).
/// Version 2 added the digest of the `PreKeyInit` that created each session; version 1
/// records (written with [`PROTOCOL_VERSION`]) are still read.
pub const SESSION_RECORD_VERSION: u8 = 2;

/// PQXDH info string (PQXDH spec §2.2, parameter `info`).
pub const PQXDH_INFO: &[u8] = b"Parley_CURVE25519_SHA-256_ML-KEM-1024";

/// Most message keys skipped in one receiving chain (Double Ratchet spec §3.2, `MAX_SKIP`).
pub const MAX_SKIP: u32 = 2_000;

/// Most skipped message keys stored per session in total; the oldest are evicted first.
pub const MAX_STORED_SKIPPED_KEYS: usize = 2_000;

/// Most receiving chains kept per session; the oldest is dropped first.
pub const MAX_RECEIVER_CHAINS: usize = 5;

/// Skipped message keys older than this (seconds) are deleted: 30 days.
pub const SKIPPED_KEY_MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;

/// Archived sessions kept per remote device beside the active one (Sesame §2.3).
pub const MAX_ARCHIVED_SESSIONS: usize = 5;

/// Most iterations a sender-key chain may be advanced by one message.
pub const MAX_SENDER_KEY_SKIP: u32 = 2_000;

/// Most skipped sender-key message keys stored per sender state.
pub const MAX_SENDER_KEY_STORED_KEYS: usize = 2_000;

/// Sender-key states kept per (group, sender device): the current one and older rotations.
pub const MAX_SENDER_KEY_STATES: usize = 5;

/// Largest plaintext a single session or group message may carry (bytes).
pub const MAX_PLAINTEXT_LEN: usize = 256 * 1024;

/// Largest encoded wire message accepted by any decoder (bytes).
pub const MAX_MESSAGE_LEN: usize = 512 * 1024;

/// Largest serialised session record / state accepted (bytes).
pub const MAX_STATE_LEN: usize = 4 * 1024 * 1024;

/// Most devices a user may have.
pub const MAX_DEVICES_PER_USER: usize = 10;

/// Longest user identifier, in bytes.
pub const MAX_USER_ID_LEN: usize = 128;

/// Most one-time prekeys (of each kind) a device holds. The relay keeps at most 100 of a
/// device's; the rest are ones peers claimed and have not used yet (their first message may
/// still be queued), kept until room is needed, oldest first.
pub const MAX_ONE_TIME_PREKEYS: usize = 1_000;

/// Most (last-resort KEM key, base key) pairs remembered to refuse PQXDH replays.
pub const MAX_REMEMBERED_BASE_KEYS: usize = 10_000;

/// Size of an X25519 or Ed25519 public key.
pub const KEY_LEN: usize = 32;

/// Size of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Size of an ML-KEM-1024 encapsulation key.
pub const KEM_PUBLIC_KEY_LEN: usize = 1568;

/// Size of an ML-KEM-1024 ciphertext.
pub const KEM_CIPHERTEXT_LEN: usize = 1568;

/// Plaintext bytes per attachment chunk.
pub const ATTACHMENT_CHUNK_LEN: usize = 64 * 1024;
