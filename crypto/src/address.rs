//! Who a message is from and to: a user identifier and a device number.
//!
//! Addresses are bound into the associated data of every encrypted message (docs/architecture.md §3), so a
//! message delivered to the wrong device, or attributed to the wrong sender, fails to decrypt.

use core::fmt;

use crate::codec::{Reader, Writer};
use crate::consts::MAX_USER_ID_LEN;
use crate::error::DecodeError;

/// A device of a user: the unit that sessions and sender keys are kept for.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceAddress {
    user: String,
    device: u32,
}

impl DeviceAddress {
    /// An address; the user id must be 1..=[`MAX_USER_ID_LEN`] bytes of UTF-8.
    pub fn new(user: impl Into<String>, device: u32) -> Result<Self, DecodeError> {
        let user = user.into();
        if user.is_empty() || user.len() > MAX_USER_ID_LEN {
            return Err(DecodeError::InvalidValue);
        }
        Ok(Self { user, device })
    }

    /// The user identifier.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The device number.
    pub fn device(&self) -> u32 {
        self.device
    }

    /// Appends the encoding: length-prefixed user id, then the device number.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_bytes(self.user.as_bytes());
        out.put_u32(self.device);
    }

    /// Reads an address.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let user = r.bytes(MAX_USER_ID_LEN)?;
        let user = core::str::from_utf8(user).map_err(|_| DecodeError::InvalidValue)?;
        Self::new(user, r.u32()?)
    }
}

impl fmt::Debug for DeviceAddress {
    /// Prints only the device number: user identifiers stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceAddress(…, {})", self.device)
    }
}
