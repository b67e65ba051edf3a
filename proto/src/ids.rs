//! User and device identifiers as the API spells them.

use serde::{Deserialize, Deserializer, Serialize};

/// Longest user id, in bytes.
pub const MAX_USER_ID_LEN: usize = 64;

/// A device number within its user: 1 for the first device, then the next free number.
pub type DeviceId = u32;

/// A user id: 1 to 64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
/// Chosen by the admin who invites the user (for instance `alice` or `j.smith`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
pub struct UserId(String);

/// Why a string is not a valid user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a user id is 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
)]
pub struct InvalidUserId;

impl UserId {
    /// Checks and wraps a user id.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidUserId> {
        let s = s.into();
        let valid_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if s.len() <= MAX_USER_ID_LEN && first_ok && s.chars().all(valid_char) {
            Ok(Self(s))
        } else {
            Err(InvalidUserId)
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for UserId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::str::FromStr for UserId {
    type Err = InvalidUserId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// The login of a device: `<user>.<device>`, as it appears before the `:` of HTTP basic
/// authentication (the password is the device secret, base64).
pub fn device_login(user: &UserId, device: DeviceId) -> String {
    format!("{user}.{device}")
}

/// Splits a `<user>.<device>` login.
pub fn parse_device_login(login: &str) -> Option<(UserId, DeviceId)> {
    let (user, device) = login.rsplit_once('.')?;
    let device: DeviceId = device.parse().ok()?;
    if device == 0 || device.to_string().len() != login.len() - user.len() - 1 {
        return None;
    }
    Some((UserId::new(user).ok()?, device))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        for ok in ["alice", "j.smith", "a", "x-1_2", &"a".repeat(64)] {
            assert!(UserId::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", ".a", "-a", "a b", "ä", "a/b", &"a".repeat(65)] {
            assert!(UserId::new(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<UserId>("\"Bob\"").is_err());
    }

    #[test]
    fn logins() {
        let alice = UserId::new("j.smith").ok();
        assert_eq!(parse_device_login("j.smith.3").map(|l| l.0), alice);
        assert_eq!(parse_device_login("j.smith.3").map(|l| l.1), Some(3));
        for bad in [
            "alice",
            "alice.0",
            "alice.+3",
            "alice.03",
            ".3",
            "alice.x",
            "alice.99999999999",
        ] {
            assert!(parse_device_login(bad).is_none(), "{bad}");
        }
    }
}
