//! Wire formats of pairwise session messages.
//!
//! ```text
//! RatchetMessage = version:u8 || 0x01 || header || ciphertext_len:u32 || ciphertext
//! PreKeyMessage  = version:u8 || 0x02 || PreKeyInit || header || ciphertext_len:u32 || ciphertext
//! header         = ratchet_key[32] || previous_counter:u32 || counter:u32
//! ```
//! The header (Double Ratchet spec §3.4, `HEADER(dh_pair, pn, n)`) travels in the clear and is
//! authenticated as part of the associated data.

use crate::codec::{Reader, Writer};
use crate::consts::{MAX_MESSAGE_LEN, PROTOCOL_VERSION};
use crate::error::{DecodeError, Error};
use crate::keys::PublicKey;
use crate::pqxdh::PreKeyInit;

const TYPE_RATCHET: u8 = 1;
const TYPE_PREKEY: u8 = 2;

/// Length of an encoded [`RatchetHeader`].
pub const HEADER_LEN: usize = 40;

/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// The clear header of a ratchet message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatchetHeader {
    /// The sender's current ratchet public key.
    pub ratchet_key: PublicKey,
    /// Length of the sender's previous sending chain.
    pub previous_counter: u32,
    /// Index of this message in the sender's current chain.
    pub counter: u32,
}

impl RatchetHeader {
    /// The 40-byte encoding.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let (key, rest) = out.split_at_mut(32);
        key.copy_from_slice(self.ratchet_key.as_bytes());
        let (pn, n) = rest.split_at_mut(4);
        pn.copy_from_slice(&self.previous_counter.to_be_bytes());
        n.copy_from_slice(&self.counter.to_be_bytes());
        out
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            ratchet_key: PublicKey::read(r)?,
            previous_counter: r.u32()?,
            counter: r.u32()?,
        })
    }
}

/// A Double Ratchet message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatchetMessage {
    /// The clear header.
    pub header: RatchetHeader,
    /// AES-256-GCM ciphertext with tag.
    pub ciphertext: Vec<u8>,
}

impl RatchetMessage {
    fn write(&self, out: &mut Vec<u8>) {
        out.put_raw(&self.header.to_bytes());
        out.put_bytes(&self.ciphertext);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let header = RatchetHeader::read(r)?;
        let ciphertext = r.bytes(MAX_MESSAGE_LEN)?;
        if ciphertext.len() < TAG_LEN {
            return Err(DecodeError::Truncated);
        }
        Ok(Self {
            header,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

/// The first messages of a session, sent until the peer replies (Sesame §3.1, PQXDH §3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyMessage {
    /// What the responder needs to derive the shared secret.
    pub init: PreKeyInit,
    /// The ratchet message inside.
    pub message: RatchetMessage,
}

/// Any pairwise session message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionMessage {
    /// A message on an established session.
    Ratchet(RatchetMessage),
    /// A message that can also start a session.
    PreKey(Box<PreKeyMessage>),
}

impl SessionMessage {
    /// The versioned encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u8(PROTOCOL_VERSION);
        match self {
            Self::Ratchet(m) => {
                out.reserve(HEADER_LEN + 4 + m.ciphertext.len());
                out.put_u8(TYPE_RATCHET);
                m.write(&mut out);
            }
            Self::PreKey(p) => {
                out.put_u8(TYPE_PREKEY);
                p.init.write(&mut out);
                p.message.write(&mut out);
            }
        }
        out
    }

    /// Decodes untrusted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_MESSAGE_LEN + 4096 {
            return Err(DecodeError::TooLong.into());
        }
        let mut r = Reader::new(bytes);
        r.version()?;
        let msg = match r.u8()? {
            TYPE_RATCHET => Self::Ratchet(RatchetMessage::read(&mut r)?),
            TYPE_PREKEY => {
                let init = PreKeyInit::read(&mut r)?;
                let message = RatchetMessage::read(&mut r)?;
                Self::PreKey(Box::new(PreKeyMessage { init, message }))
            }
            _ => return Err(DecodeError::InvalidValue.into()),
        };
        r.finish()?;
        Ok(msg)
    }

    /// The ratchet message inside.
    pub fn ratchet_message(&self) -> &RatchetMessage {
        match self {
            Self::Ratchet(m) => m,
            Self::PreKey(p) => &p.message,
        }
    }
}
