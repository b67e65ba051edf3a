//! The unlock record: what a store needs before it can be opened (docs/architecture.md §5.3).

use std::fmt;

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::error::DecodeError;
use parley_proto::invite::TlsPins;
use zeroize::Zeroizing;

use super::*;

/// Where the store's remote secret is kept, and a copy of it while the org's policy does not
/// require the relay to hand it out. Sealed under a key derived from the local key alone
/// (`meta.unlock`), so it can be read before the store key is known.
#[derive(Clone, PartialEq, Eq)]
pub struct Unlock {
    /// The relay's base URL.
    pub relay_url: String,
    /// The relay's TLS keys, when pinned.
    pub tls_pins: Option<TlsPins>,
    /// The remote secret, kept here while the policy allows opening the store offline.
    pub remote_secret: Option<Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for Unlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unlock")
            .field("keeps_remote_secret", &self.remote_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Unlock {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(RECORD_FORMAT);
        out.put_bytes(self.relay_url.as_bytes());
        put_option(&mut out, self.tls_pins.as_ref().map(|p| &p.primary[..]));
        match &self.remote_secret {
            Some(secret) => {
                out.put_u8(1);
                out.put_raw(&secret[..]);
            }
            None => out.put_u8(0),
        }
        // Trailing, so that a record written before backup pins reads as having none.
        put_backup_pin(&mut out, self.tls_pins.as_ref());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let relay_url = text(&mut r, MAX_TEXT)?;
        let primary = match r.bool()? {
            true => Some(r.array::<32>()?),
            false => None,
        };
        let remote_secret = match r.bool()? {
            true => Some(Zeroizing::new(r.array::<32>()?)),
            false => None,
        };
        let backup = take_backup_pin(&mut r)?;
        r.finish()?;
        Ok(Self {
            relay_url,
            tls_pins: pins(primary, backup)?,
            remote_secret,
        })
    }
}
