//! Outbox items: content waiting to be encrypted and sent.

use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::consts::MAX_USER_ID_LEN;
use parley_crypto::error::DecodeError;
use std::fmt;
use zeroize::Zeroizing;

use super::*;

/// A pending send: content the engine will encrypt for the recipients' devices when it is
/// due (encrypting late lets a retry after a 409/410 use the repaired device list).
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Its id (row key).
    pub id: OutboxId,
    /// The conversation it belongs to.
    pub conversation: ConversationId,
    /// The stored message it sends, if any (receipts and sync messages have none).
    pub message: Option<MessageId>,
    /// Recipient user ids.
    pub recipients: Vec<String>,
    /// The plaintext content to encrypt and send.
    pub payload: Vec<u8>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Earliest time of the next attempt (plaintext column).
    pub next_attempt: u64,
    /// When it was queued.
    pub created_at: u64,
}

impl OutboxItem {
    /// A new item, due now.
    pub fn new(
        conversation: ConversationId,
        message: Option<MessageId>,
        recipients: Vec<String>,
        payload: Vec<u8>,
        now: u64,
    ) -> Self {
        Self {
            id: OutboxId::generate(),
            conversation,
            message,
            recipients,
            payload,
            attempts: 0,
            next_attempt: 0,
            created_at: now,
        }
    }
}

impl fmt::Debug for OutboxItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxItem")
            .field("id", &self.id)
            .field("message", &self.message)
            .field("attempts", &self.attempts)
            .field("next_attempt", &self.next_attempt)
            .finish_non_exhaustive()
    }
}

impl OutboxItem {
    pub(crate) fn routing(next_attempt: u64) -> Vec<u8> {
        next_attempt.to_be_bytes().to_vec()
    }

    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.payload.len().saturating_add(96)));
        out.put_u8(RECORD_FORMAT);
        out.put_raw(&self.conversation.0);
        put_option(&mut out, self.message.as_ref().map(|m| &m.0[..]));
        out.put_len(self.recipients.len());
        for r in &self.recipients {
            out.put_bytes(r.as_bytes());
        }
        out.put_bytes(&self.payload);
        out.put_u32(self.attempts);
        out.put_u64(self.created_at);
        out
    }

    pub(crate) fn decode(
        id: OutboxId,
        next_attempt: u64,
        bytes: &[u8],
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let conversation = ConversationId(r.array::<32>()?);
        let message = match r.bool()? {
            true => Some(MessageId(r.array::<16>()?)),
            false => None,
        };
        let n = r.count(MAX_ITEMS, 4)?;
        let mut recipients = Vec::with_capacity(n);
        for _ in 0..n {
            recipients.push(text(&mut r, MAX_USER_ID_LEN)?);
        }
        let payload = r.bytes(MAX_BLOB)?.to_vec();
        let attempts = r.u32()?;
        let created_at = r.u64()?;
        r.finish()?;
        Ok(Self {
            id,
            conversation,
            message,
            recipients,
            payload,
            attempts,
            next_attempt,
            created_at,
        })
    }
}
