//! The account record: who this device is and where its relay is.

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::consts::MAX_USER_ID_LEN;
use parley_crypto::error::DecodeError;
use parley_proto::invite::TlsPins;
use std::fmt;
use zeroize::Zeroizing;

use super::*;

/// This device's account: who it is and where its relay is.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Own user id.
    pub user: String,
    /// Own device number.
    pub device: u32,
    /// The device secret that authenticates this device to the relay.
    pub credentials_secret: Zeroizing<Vec<u8>>,
    /// The registration id given to the relay.
    pub registration_id: u32,
    /// The relay's base URL.
    pub relay_url: String,
    /// The relay's TLS keys (SHA-256 of each SubjectPublicKeyInfo), when the invite pinned them.
    pub tls_pins: Option<TlsPins>,
    /// Hash of the org log's genesis entry, pinned at enrolment.
    pub org_genesis_hash: [u8; 32],
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            user: _,
            device,
            credentials_secret: _,
            registration_id,
            relay_url: _,
            tls_pins: _,
            org_genesis_hash: _,
        } = self;
        f.debug_struct("Account")
            .field("device", device)
            .field("registration_id", registration_id)
            .finish_non_exhaustive()
    }
}

impl Account {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(RECORD_FORMAT);
        out.put_bytes(self.user.as_bytes());
        out.put_u32(self.device);
        out.put_bytes(&self.credentials_secret);
        out.put_u32(self.registration_id);
        out.put_bytes(self.relay_url.as_bytes());
        put_option(&mut out, self.tls_pins.as_ref().map(|p| &p.primary[..]));
        out.put_raw(&self.org_genesis_hash);
        // Trailing, so that an account saved before backup pins reads as having none.
        put_backup_pin(&mut out, self.tls_pins.as_ref());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let user = text(&mut r, MAX_USER_ID_LEN)?;
        let device = r.u32()?;
        let credentials_secret = Zeroizing::new(r.bytes(MAX_TEXT)?.to_vec());
        let registration_id = r.u32()?;
        let relay_url = text(&mut r, MAX_TEXT)?;
        let primary = match r.bool()? {
            true => Some(r.array::<32>()?),
            false => None,
        };
        let org_genesis_hash = r.array::<32>()?;
        let backup = take_backup_pin(&mut r)?;
        r.finish()?;
        let tls_pins = pins(primary, backup)?;
        Ok(Self {
            user,
            device,
            credentials_secret,
            registration_id,
            relay_url,
            tls_pins,
            org_genesis_hash,
        })
    }
}
