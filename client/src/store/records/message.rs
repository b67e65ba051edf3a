//! Messages: the stored row of a message and its delivery status.

use parley_crypto::DeviceAddress;
use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::error::DecodeError;
use std::fmt;
use zeroize::Zeroizing;

use super::*;

/// Where a message is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum MessageStatus {
    /// Outgoing, waiting in the outbox.
    Sending,
    /// Outgoing, accepted by the relay.
    Sent,
    /// Outgoing, delivered to a recipient device.
    Delivered,
    /// Outgoing, read by a recipient.
    Read,
    /// Outgoing, given up on.
    Failed,
    /// Incoming, not yet seen by the user.
    Received,
    /// Incoming, seen by the user.
    Seen,
}

impl MessageStatus {
    fn to_u8(self) -> u8 {
        match self {
            Self::Sending => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Failed => 4,
            Self::Received => 5,
            Self::Seen => 6,
        }
    }

    fn from_u8(v: u8) -> Result<Self, DecodeError> {
        Ok(match v {
            0 => Self::Sending,
            1 => Self::Sent,
            2 => Self::Delivered,
            3 => Self::Read,
            4 => Self::Failed,
            5 => Self::Received,
            6 => Self::Seen,
            _ => return Err(DecodeError::InvalidValue),
        })
    }
}

/// A message of a conversation.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Its id (row key, plaintext).
    pub id: MessageId,
    /// Its conversation (plaintext column).
    pub conversation: ConversationId,
    /// True if this device's user sent it (plaintext column).
    pub outgoing: bool,
    /// Local time it was sent or received; orders the conversation (plaintext column).
    pub timestamp: u64,
    /// The sending device (own address for outgoing messages).
    pub sender: DeviceAddress,
    /// The time the sender claims to have sent it.
    pub sent_at: u64,
    /// The decrypted content, as the engine encodes it.
    pub body: Vec<u8>,
    /// Delivery state.
    pub status: MessageStatus,
    /// When it disappears (ms since the Unix epoch; plaintext column); `None`: never.
    pub expires_at: Option<u64>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("conversation", &self.conversation)
            .field("outgoing", &self.outgoing)
            .field("timestamp", &self.timestamp)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Message {
    /// The plaintext routing columns, as bound into the associated data.
    pub(crate) fn routing(
        conversation: &ConversationId,
        timestamp: u64,
        outgoing: bool,
        expires_at: Option<u64>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(49);
        out.put_raw(&conversation.0);
        out.put_u64(timestamp);
        out.put_u8(u8::from(outgoing));
        // Rows written before expiry existed have none, and the same associated data.
        if let Some(at) = expires_at {
            out.put_u64(at);
        }
        out
    }

    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.body.len().saturating_add(64)));
        out.put_u8(RECORD_FORMAT);
        self.sender.write(&mut out);
        out.put_u64(self.sent_at);
        out.put_bytes(&self.body);
        out.put_u8(self.status.to_u8());
        out
    }

    pub(crate) fn decode(
        id: MessageId,
        conversation: ConversationId,
        timestamp: u64,
        outgoing: bool,
        expires_at: Option<u64>,
        bytes: &[u8],
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let sender = DeviceAddress::read(&mut r)?;
        let sent_at = r.u64()?;
        let body = r.bytes(MAX_BLOB)?.to_vec();
        let status = MessageStatus::from_u8(r.u8()?)?;
        r.finish()?;
        Ok(Self {
            id,
            conversation,
            outgoing,
            timestamp,
            sender,
            sent_at,
            body,
            status,
            expires_at,
        })
    }
}
