//! The invite a newcomer receives out of band (docs/architecture.md §2, §4): where the relay is, how to
//! recognise it (the SHA-256 of its TLS public key and of a backup key, when it serves TLS), which org to expect
//! (the genesis hash, pinned for verifying the org log), who to enrol as, and the one-time
//! code. Link codes for a further device of the same user use the same format.
//!
//! Text form: `parley-invite:` followed by base64url (no padding) of
//! `version (1) || relay URL || pin count (1: 0, 1 or 2) || pins (32 each, the primary first)
//! || genesis hash (32) || user || new-user flag (1) || code (32)`, strings as `u32` length +
//! UTF-8. An invite written before backup pins (a pin flag of 0 or 1) reads the same.

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

/// The relay TLS keys a client accepts (docs/architecture.md §4.7), each the SHA-256 of a DER
/// SubjectPublicKeyInfo. The primary is the key the relay serves with; the backup, when there
/// is one, a key the operator keeps in reserve, so that the relay can move to it (a lost or
/// compromised primary key) without every device enrolling again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsPins {
    /// The key the relay serves with.
    pub primary: [u8; 32],
    /// A key kept in reserve.
    pub backup: Option<[u8; 32]>,
}

impl TlsPins {
    /// One pin, no backup.
    pub fn new(primary: [u8; 32]) -> Self {
        Self {
            primary,
            backup: None,
        }
    }

    /// Whether a key whose SubjectPublicKeyInfo hashes to `pin` is accepted. Not secret, but
    /// compared without an early exit anyway.
    pub fn accepts(&self, pin: &[u8; 32]) -> bool {
        let same = |a: &[u8; 32]| a.iter().zip(pin).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        same(&self.primary) | self.backup.as_ref().is_some_and(same)
    }

    /// Writes the count (0, 1 or 2) and the pins.
    pub fn put(pins: Option<&Self>, out: &mut Vec<u8>) {
        match pins {
            None => out.put_u8(0),
            Some(Self {
                primary,
                backup: None,
            }) => {
                out.put_u8(1);
                out.put_raw(primary);
            }
            Some(Self {
                primary,
                backup: Some(backup),
            }) => {
                out.put_u8(2);
                out.put_raw(primary);
                out.put_raw(backup);
            }
        }
    }

    /// Reads what [`TlsPins::put`] wrote.
    pub fn take(r: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
        Ok(match r.u8()? {
            0 => None,
            1 => Some(Self::new(r.array()?)),
            2 => Some(Self {
                primary: r.array()?,
                backup: Some(r.array()?),
            }),
            _ => return Err(DecodeError::InvalidValue),
        })
    }
}

/// An invite or device-link code with everything needed to use it.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    /// Relay base URL (`https://…`, or `http://` on loopback).
    pub relay: String,
    /// The relay's TLS keys, to pin.
    pub tls_pins: Option<TlsPins>,
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
            tls_pins,
            genesis_hash: _,
            user: _,
            new_user,
            code: _,
        } = self;
        f.debug_struct("Invite")
            .field("relay", relay)
            .field("pinned", &tls_pins.is_some())
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
        TlsPins::put(self.tls_pins.as_ref(), &mut out);
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
        let tls_pins = TlsPins::take(&mut r)?;
        let genesis_hash = r.array()?;
        let user = String::from_utf8(r.bytes(MAX_USER_ID_LEN)?.to_vec())
            .map_err(|_| DecodeError::InvalidValue)?;
        let user = UserId::new(user).map_err(|_| DecodeError::InvalidValue)?;
        let new_user = r.bool()?;
        let code = r.array()?;
        r.finish()?;
        Ok(Self {
            relay,
            tls_pins,
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
            tls_pins: Some(TlsPins {
                primary: [3; 32],
                backup: Some([4; 32]),
            }),
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
                tls_pins: None,
                new_user: false,
                ..sample()
            },
            Invite {
                tls_pins: Some(TlsPins::new([3; 32])),
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
        let mut three = bytes.clone();
        three[0] = INVITE_VERSION;
        let at = 1 + 4 + sample().relay.len();
        three[at] = 3;
        let three = format!("{INVITE_PREFIX}{}", URL_SAFE_NO_PAD.encode(&three));
        assert_eq!(
            Invite::from_text(&three),
            Err(InviteError::Decode(DecodeError::InvalidValue))
        );
    }

    #[test]
    fn pins_accept_the_primary_and_the_backup_only() {
        let one = TlsPins::new([3; 32]);
        assert!(one.accepts(&[3; 32]));
        assert!(!one.accepts(&[4; 32]));
        let two = sample().tls_pins.unwrap();
        assert!(two.accepts(&[3; 32]) && two.accepts(&[4; 32]));
        assert!(!two.accepts(&[5; 32]));
    }
}
