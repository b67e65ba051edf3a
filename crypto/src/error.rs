//! The error taxonomy of the crypto crate.
//!
//! Three families: the bytes are malformed ([`DecodeError`]), the peer or the relay
//! misbehaved (bad signature, replay, wrong recipient), or the message cannot be
//! decrypted. `Display` never contains plaintext, keys or identifiers. At the API edge a
//! caller may collapse every decrypt failure into one, with [`Error::is_decrypt_failure`].

/// Bytes that do not form a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("input truncated")]
    Truncated,
    /// Bytes remained after the value.
    #[error("trailing bytes after value")]
    TrailingBytes,
    /// The version byte names a version this build does not know.
    #[error("unknown version {0}")]
    UnknownVersion(u8),
    /// A length or count exceeds its limit.
    #[error("length over limit")]
    TooLong,
    /// A tag, flag or field holds a value outside its domain.
    #[error("invalid field value")]
    InvalidValue,
    /// A public key is malformed, non-canonical or of low order.
    #[error("invalid public key")]
    InvalidKey,
}

/// Every error of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Malformed bytes.
    #[error("malformed input: {0}")]
    Decode(#[from] DecodeError),
    /// A signature did not verify.
    #[error("invalid signature")]
    BadSignature,
    /// A Diffie-Hellman result was all zero (a low-order peer key).
    #[error("non-contributory key agreement")]
    NonContributory,
    /// A prekey message names a prekey this device does not have (used or never made).
    #[error("unknown prekey")]
    UnknownPreKey,
    /// A prekey message for a session this device holds (same base key) whose other
    /// `PreKeyInit` fields differ from those of the message that created the session, or for
    /// a session that no prekey message created.
    #[error("prekey message does not match its session")]
    PreKeyInitMismatch,
    /// A prekey message with an already seen (last-resort key, base key) pair.
    #[error("replayed prekey message")]
    ReplayedPreKeyMessage,
    /// The message was already decrypted, or its key was deleted.
    #[error("duplicate or expired message")]
    DuplicateMessage,
    /// The message would skip more keys than allowed.
    #[error("too many skipped messages")]
    TooManySkipped,
    /// Authentication of the ciphertext failed.
    #[error("decryption failed")]
    DecryptFailed,
    /// The message is addressed to another device.
    #[error("message addressed to another device")]
    WrongRecipient,
    /// There is no session with which to encrypt or decrypt.
    #[error("no session")]
    NoSession,
    /// A session cannot send yet (it has received no message from its peer).
    #[error("session cannot send yet")]
    CannotSend,
    /// A plaintext larger than [`crate::consts::MAX_PLAINTEXT_LEN`].
    #[error("plaintext too long")]
    PlaintextTooLong,
    /// A counter reached its maximum value.
    #[error("counter exhausted")]
    CounterExhausted,
    /// The sender's identity is not one the caller trusts (not in the org log).
    #[error("untrusted identity")]
    UntrustedIdentity,
    /// A group message from a sender-key chain this device does not hold: its distribution
    /// message has not arrived, the chain was rotated away, or the message is for another group.
    #[error("unknown sender key")]
    UnknownSenderKey,
}

impl Error {
    /// Whether this error means "the message could not be decrypted", for callers that must
    /// not reveal which check failed.
    pub fn is_decrypt_failure(&self) -> bool {
        !matches!(
            self,
            Error::NoSession | Error::CannotSend | Error::PlaintextTooLong
        )
    }
}

/// Shorthand result.
pub type Result<T, E = Error> = core::result::Result<T, E>;
