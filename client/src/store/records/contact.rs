//! Contacts: the cached directory entry of a colleague and their devices.

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::consts::MAX_USER_ID_LEN;
use parley_crypto::error::DecodeError;
use parley_crypto::identity::{PUBLIC_IDENTITY_LEN, PublicIdentity};
use std::fmt;
use zeroize::Zeroizing;

use super::*;

/// A device of a contact, as the verified org log lists it.
#[derive(Clone, PartialEq, Eq)]
pub struct ContactDevice {
    /// Device number.
    pub device: u32,
    /// Registration id, echoed in envelopes to this device.
    pub registration_id: u32,
    /// The device's public identity.
    pub identity: PublicIdentity,
}

impl fmt::Debug for ContactDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            device,
            registration_id,
            identity: _,
        } = self;
        f.debug_struct("ContactDevice")
            .field("device", device)
            .field("registration_id", registration_id)
            .finish_non_exhaustive()
    }
}

/// A colleague from the directory, with their devices (a cache of the verified org log).
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// User id.
    pub user: String,
    /// Display name.
    pub display_name: String,
    /// Email address.
    pub email: String,
    /// Job title.
    pub title: String,
    /// Department.
    pub department: String,
    /// Devices the log lists as added and not revoked.
    pub devices: Vec<ContactDevice>,
    /// When this entry was last refreshed from the log.
    pub updated_at: u64,
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("devices", &self.devices)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl Contact {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(RECORD_FORMAT);
        out.put_bytes(self.user.as_bytes());
        out.put_bytes(self.display_name.as_bytes());
        out.put_bytes(self.email.as_bytes());
        out.put_bytes(self.title.as_bytes());
        out.put_bytes(self.department.as_bytes());
        out.put_len(self.devices.len());
        for d in &self.devices {
            out.put_u32(d.device);
            out.put_u32(d.registration_id);
            out.put_raw(&d.identity.to_bytes());
        }
        out.put_u64(self.updated_at);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let user = text(&mut r, MAX_USER_ID_LEN)?;
        let display_name = text(&mut r, MAX_TEXT)?;
        let email = text(&mut r, MAX_TEXT)?;
        let title = text(&mut r, MAX_TEXT)?;
        let department = text(&mut r, MAX_TEXT)?;
        let n = r.count(MAX_ITEMS, 8 + PUBLIC_IDENTITY_LEN)?;
        let mut devices = Vec::with_capacity(n);
        for _ in 0..n {
            let device = r.u32()?;
            let registration_id = r.u32()?;
            // Verified when it came from the org log; sealed since.
            let mut ir = Reader::new(r.take(PUBLIC_IDENTITY_LEN)?);
            let identity = PublicIdentity::read_verified_before(&mut ir)?;
            ir.finish()?;
            devices.push(ContactDevice {
                device,
                registration_id,
                identity,
            });
        }
        let updated_at = r.u64()?;
        r.finish()?;
        Ok(Self {
            user,
            display_name,
            email,
            title,
            department,
            devices,
            updated_at,
        })
    }
}
