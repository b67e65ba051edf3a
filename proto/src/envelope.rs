//! The body of an envelope, as the two ends see it (the relay stores and forwards it blind).
//!
//! ```text
//! body = version:u8 (1) || kind:u8 || payload
//! kind 1: a pairwise Double Ratchet message (parley-crypto `SessionMessage`)
//! kind 2: a group message under the sender's sender key (parley-crypto `SenderKeyMessage`),
//!         the same bytes for every member device
//! ```
//!
//! The sender of either kind is the envelope's `source_user`/`source_device` as the relay
//! authenticated it; both payloads bind that address cryptographically (the session's
//! associated data, the sender key's signature and associated data), so a relay that lies
//! about the sender makes the envelope fail to decrypt.

/// Version byte of the envelope body.
pub const ENVELOPE_VERSION: u8 = 1;
const KIND_SESSION: u8 = 1;
const KIND_GROUP: u8 = 2;

/// A decoded envelope body, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeBody<'a> {
    /// A pairwise session message.
    Session(&'a [u8]),
    /// A sender-key group message.
    Group(&'a [u8]),
}

/// Why an envelope body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Shorter than its header.
    #[error("envelope body too short")]
    TooShort,
    /// A version this build does not know.
    #[error("envelope version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A kind this build does not know.
    #[error("envelope kind {0} is not supported")]
    UnknownKind(u8),
}

impl<'a> EnvelopeBody<'a> {
    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (kind, payload) = match self {
            Self::Session(p) => (KIND_SESSION, p),
            Self::Group(p) => (KIND_GROUP, p),
        };
        let mut out = Vec::with_capacity(payload.len().saturating_add(2));
        out.push(ENVELOPE_VERSION);
        out.push(kind);
        out.extend_from_slice(payload);
        out
    }

    /// Decodes `bytes`, checking the version and kind.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        let [version, kind, payload @ ..] = bytes else {
            return Err(EnvelopeError::TooShort);
        };
        if *version != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(*version));
        }
        match *kind {
            KIND_SESSION => Ok(Self::Session(payload)),
            KIND_GROUP => Ok(Self::Group(payload)),
            k => Err(EnvelopeError::UnknownKind(k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_the_unknown() {
        for body in [EnvelopeBody::Session(b"abc"), EnvelopeBody::Group(b"")] {
            assert_eq!(EnvelopeBody::from_bytes(&body.to_bytes()), Ok(body));
        }
        assert_eq!(EnvelopeBody::from_bytes(&[1]), Err(EnvelopeError::TooShort));
        assert_eq!(
            EnvelopeBody::from_bytes(&[2, 1, 0]),
            Err(EnvelopeError::UnsupportedVersion(2))
        );
        assert_eq!(
            EnvelopeBody::from_bytes(&[1, 9, 0]),
            Err(EnvelopeError::UnknownKind(9))
        );
    }
}
