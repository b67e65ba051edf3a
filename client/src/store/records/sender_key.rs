//! The list of devices this device's own sender key of a group went to.

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::consts::MAX_USER_ID_LEN;
use parley_crypto::error::DecodeError;
use zeroize::Zeroizing;

use super::*;

/// A device this device's own sender key of a group was distributed to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SenderKeyShare {
    /// The member.
    pub user: String,
    /// Its device.
    pub device: u32,
    /// The device's registration id when the key was sent (a re-registered device is a new
    /// device).
    pub registration_id: u32,
}

/// Encodes the devices a group's own sender key went to.
pub(crate) fn encode_shares(shares: &[SenderKeyShare]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    out.put_u8(RECORD_FORMAT);
    out.put_len(shares.len());
    for s in shares {
        out.put_bytes(s.user.as_bytes());
        out.put_u32(s.device);
        out.put_u32(s.registration_id);
    }
    out
}

/// Decodes what [`encode_shares`] wrote.
pub(crate) fn decode_shares(bytes: &[u8]) -> Result<Vec<SenderKeyShare>, DecodeError> {
    let mut r = Reader::new(bytes);
    format(&mut r)?;
    let n = r.count(MAX_ITEMS, 12)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(SenderKeyShare {
            user: text(&mut r, MAX_USER_ID_LEN)?,
            device: r.u32()?,
            registration_id: r.u32()?,
        });
    }
    r.finish()?;
    Ok(out)
}
