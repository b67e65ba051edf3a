//! The invite a newcomer receives out of band (docs/architecture.md §2, §4): where the relay is, how to
//! recognise it (the SHA-256 of its TLS certificate, when it serves TLS), which org to expect
//! (the genesis hash, pinned for verifying the org log), who to enrol as, and the one-time
//! code. Link codes for a further device of the same user use the same format.
//!
//! Text form: `parley-invite:` followed by base64url (no padding) of
//! `version (1) || relay URL || pin flag (1) [|| pin (32)] || genesis hash (32) || user ||
//! new-user flag (1) || code (32)`, strings as `u32` length + UTF-8.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parley_crypto::DecodeError;
use parley_crypto::codec::{Reader, Writer};

use crate::api::SECRET_LEN;
use crate::ids::{MAX_USER_ID_LEN, UserId};

/// Prefix of the text form.
pub const INVITE_PREFIX: &str = "parley-invite:";
const INVITE_VERSION: u8 = 1;
const MAX_URL_LEN: usize = 2048;

/// An invite or device-link code with everything needed to use it.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    /// Relay base URL (`https://…`, or `http://` on loopback).
    pub relay: String,
    /// SHA-256 of the relay's TLS public key (DER SubjectPublicKeyInfo), to pin.
    pub tls_pin: Option<[u8; 32]>,
    /// Hash of the org's genesis entry.
    pub genesis_hash: [u8; 32],
    /// The user to enrol as.
    pub user: UserId,
    /// True for a new user's first device; false to link a further device.
    pub new_user: bool,
    /// The one-time code (its SHA-256 is what the relay holds).
    pub code: [u8; SECRET_LEN],
}

impl core::fmt::Debug for Invite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            relay,
            tls_pin,
            genesis_hash: _,
            user: _,
            new_user,
            code: _,
        } = self;
        f.debug_struct("Invite")
            .field("relay", relay)
            .field("pinned", &tls_pin.is_some())
            .field("new_user", new_user)
            .finish_non_exhaustive()
    }
}

/// Why an invite could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// Not starting with `parley-invite:`.
    #[error("not a Parley invite (it starts with {INVITE_PREFIX})")]
    NotAnInvite,
    /// Not base64url.
    #[error("the invite is damaged (not base64url)")]
    Encoding,
    /// Bytes that are not an invite of a version we know.
    #[error("the invite is damaged: {0}")]
    Decode(#[from] DecodeError),
}

impl Invite {
    /// The text form.
    pub fn to_text(&self) -> String {
        let mut out = Vec::with_capacity(200);
        out.put_u8(INVITE_VERSION);
        out.put_bytes(self.relay.as_bytes());
        match &self.tls_pin {
            Some(pin) => {
                out.put_u8(1);
                out.put_raw(pin);
            }
            None => out.put_u8(0),
        }
        out.put_raw(&self.genesis_hash);
        out.put_bytes(self.user.as_str().as_bytes());
        out.put_u8(u8::from(self.new_user));
        out.put_raw(&self.code);
        format!("{INVITE_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Reads the text form (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, InviteError> {
        let body = text
            .trim()
            .strip_prefix(INVITE_PREFIX)
            .ok_or(InviteError::NotAnInvite)?;
        if body.len() > 4 * MAX_URL_LEN {
            return Err(DecodeError::TooLong.into());
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| InviteError::Encoding)?;
        let mut r = Reader::new(&bytes);
        match r.u8()? {
            INVITE_VERSION => {}
            v => return Err(DecodeError::UnknownVersion(v).into()),
        }
        let relay = String::from_utf8(r.bytes(MAX_URL_LEN)?.to_vec())
            .map_err(|_| DecodeError::InvalidValue)?;
        let tls_pin = if r.bool()? { Some(r.array()?) } else { None };
        let genesis_hash = r.array()?;
        let user = String::from_utf8(r.bytes(MAX_USER_ID_LEN)?.to_vec())
            .map_err(|_| DecodeError::InvalidValue)?;
        let user = UserId::new(user).map_err(|_| DecodeError::InvalidValue)?;
        let new_user = r.bool()?;
        let code = r.array()?;
        r.finish()?;
        Ok(Self {
            relay,
            tls_pin,
            genesis_hash,
            user,
            new_user,
            code,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample() -> Invite {
        Invite {
            relay: "https://chat.example.com:8787".into(),
            tls_pin: Some([3; 32]),
            genesis_hash: [1; 32],
            user: UserId::new("j.smith").unwrap(),
            new_user: true,
            code: [9; 32],
        }
    }

    #[test]
    fn round_trip_and_damage() {
        for inv in [
            sample(),
            Invite {
                tls_pin: None,
                new_user: false,
                ..sample()
            },
        ] {
            let text = inv.to_text();
            assert!(text.starts_with(INVITE_PREFIX));
            assert_eq!(Invite::from_text(&format!("  {text}\n")), Ok(inv));
        }
        let text = sample().to_text();
        assert_eq!(Invite::from_text("hello"), Err(InviteError::NotAnInvite));
        assert_eq!(
            Invite::from_text(&format!("{text}!")),
            Err(InviteError::Encoding)
        );
        assert!(Invite::from_text(&text[..text.len() - 4]).is_err());
        let mut bytes = URL_SAFE_NO_PAD
            .decode(&text[INVITE_PREFIX.len()..])
            .unwrap();
        bytes[0] = 2;
        let v2 = format!("{INVITE_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            Invite::from_text(&v2),
            Err(InviteError::Decode(DecodeError::UnknownVersion(2)))
        );
        assert!(!format!("{:?}", sample()).contains("j.smith"));
    }
}
