//! Colleagues' presence as they last shared it, and this user's own choice to hide last seen;
//! status texts (this user's and colleagues').

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::consts::MAX_USER_ID_LEN;
use parley_crypto::error::DecodeError;
use parley_proto::content::PresenceState;
use zeroize::Zeroizing;

use super::*;

/// Most colleagues whose presence is kept.
pub const MAX_PRESENCE: usize = 100_000;

/// A colleague's presence as they last shared it. `Debug` leaves out whose it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Presence {
    /// Whose.
    pub user: String,
    /// Online, away or offline.
    pub state: PresenceState,
    /// When they were last active (ms), unless they hide it.
    pub last_seen: Option<u64>,
    /// When they said so (their clock, ms): a later one replaces it.
    pub at: u64,
}

/// A user's status text as they last set it. `Debug` shows the revision only.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Whose.
    pub user: String,
    /// The text (never empty: a cleared status is not kept).
    pub text: String,
    /// When it clears itself (ms).
    pub until: Option<u64>,
    /// The setter's revision: a higher one replaces it.
    pub revision: u64,
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence")
            .field("state", &self.state)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

fn state_byte(s: PresenceState) -> u8 {
    match s {
        PresenceState::Online => 0,
        PresenceState::Away => 1,
        PresenceState::Offline => 2,
    }
}

/// Encodes a presence list.
pub(crate) fn encode(list: &[Presence]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    out.put_u8(RECORD_FORMAT);
    out.put_len(list.len());
    for p in list {
        out.put_bytes(p.user.as_bytes());
        out.put_u8(state_byte(p.state));
        out.put_u64(p.last_seen.map_or(0, |t| t.saturating_add(1)));
        out.put_u64(p.at);
    }
    out
}

/// Decodes a presence list.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Presence>, DecodeError> {
    let mut r = Reader::new(bytes);
    format(&mut r)?;
    let n = r.count(MAX_PRESENCE, 21)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let user = text(&mut r, MAX_USER_ID_LEN)?;
        let state = match r.u8()? {
            0 => PresenceState::Online,
            1 => PresenceState::Away,
            2 => PresenceState::Offline,
            _ => return Err(DecodeError::InvalidValue),
        };
        let last_seen = r.u64()?.checked_sub(1);
        let at = r.u64()?;
        out.push(Presence {
            user,
            state,
            last_seen,
            at,
        });
    }
    r.finish()?;
    Ok(out)
}
