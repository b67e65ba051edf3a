//! The typed values the store keeps, and their record encodings.
//!
//! Each record encoding starts with a version byte ([`RECORD_FORMAT`]) and uses the crypto
//! crate's [`codec`](parley_crypto::codec) (big-endian integers, `u32`-length-prefixed byte
//! strings). Values that are columns of their row (ids, the conversation and timestamp of a
//! message, ...) are not repeated inside the record: the associated data binds them instead.
//! `Debug` of every type here prints ids, counters and states only: no names, user ids,
//! message bodies or secrets.

use std::fmt;

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::error::DecodeError;
use rand_core::Rng as _;

mod account;
mod attachment;
mod contact;
mod conversation;
mod message;
mod outbox;
pub(crate) mod presence;
mod sender_key;
mod unlock;

pub use account::Account;
pub use attachment::Attachment;
pub use contact::{Contact, ContactDevice};
pub use conversation::{Conversation, ConversationKind, NotifySettings, Timer};
pub use message::{Message, MessageStatus};
pub use outbox::OutboxItem;
pub use presence::{Presence, Status};
pub use sender_key::SenderKeyShare;
pub(crate) use sender_key::{decode_shares, encode_shares};
pub use unlock::Unlock;

/// Version byte of every record encoding in this file.
pub const RECORD_FORMAT: u8 = 1;

/// Longest text field (names, URLs, paths).
const MAX_TEXT: usize = 64 * 1024;
/// Longest binary field (message bodies, outbox payloads, credentials).
const MAX_BLOB: usize = 64 * 1024 * 1024;
/// Most items of a list (devices, members, recipients).
const MAX_ITEMS: usize = 100_000;

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                let mut id = [0u8; $len];
                parley_crypto::keys::os_rng().fill_bytes(&mut id);
                Self(id)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), parley_proto::hex::encode(self.0))
            }
        }
    };
}

random_id!(
    /// A message id: random, chosen by the device that stores the message.
    MessageId,
    16
);
random_id!(
    /// An outbox item id: random.
    OutboxId,
    16
);
random_id!(
    /// An attachment id: random.
    AttachmentId,
    16
);
random_id!(
    /// A conversation id: the keyed hash of the peer's user id or of the group id (see
    /// [`Store::direct_conversation_id`](super::Store::direct_conversation_id) and
    /// [`Store::group_conversation_id`](super::Store::group_conversation_id)), so it names
    /// nobody to a reader of the database.
    ConversationId,
    32
);

pub(super) fn format(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    match r.u8()? {
        RECORD_FORMAT => Ok(()),
        other => Err(DecodeError::UnknownVersion(other)),
    }
}

pub(super) fn text(r: &mut Reader<'_>, max: usize) -> Result<String, DecodeError> {
    let bytes = r.bytes(max)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidValue)
}

/// A presence byte, then the fixed-size value raw.
/// Writes the backup TLS pin that trails the account and unlock records (records written
/// before backup pins end without it).
pub(super) fn put_backup_pin(out: &mut Vec<u8>, pins: Option<&parley_proto::invite::TlsPins>) {
    put_option(out, pins.and_then(|p| p.backup.as_ref()).map(|b| &b[..]));
}

/// Reads what [`put_backup_pin`] wrote, or `None` at the end of an older record.
pub(super) fn take_backup_pin(r: &mut Reader<'_>) -> Result<Option<[u8; 32]>, DecodeError> {
    Ok(match r.remaining() > 0 && r.bool()? {
        true => Some(r.array::<32>()?),
        false => None,
    })
}

/// Pins read as a primary and a trailing backup: a backup without a primary is damage.
pub(super) fn pins(
    primary: Option<[u8; 32]>,
    backup: Option<[u8; 32]>,
) -> Result<Option<parley_proto::invite::TlsPins>, DecodeError> {
    match (primary, backup) {
        (Some(primary), backup) => Ok(Some(parley_proto::invite::TlsPins { primary, backup })),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(DecodeError::InvalidValue),
    }
}

pub(super) fn put_option(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => {
            out.put_u8(1);
            out.put_raw(v);
        }
        None => out.put_u8(0),
    }
}
