//! The typed values the store keeps, and their record encodings.
//!
//! Each record encoding starts with a version byte ([`RECORD_FORMAT`]) and uses the crypto
//! crate's [`codec`](parley_crypto::codec) (big-endian integers, `u32`-length-prefixed byte
//! strings). Values that are columns of their row (ids, the conversation and timestamp of a
//! message, ...) are not repeated inside the record: the associated data binds them instead.
//! `Debug` of every type here prints ids, counters and states only: no names, user ids,
//! message bodies or secrets.

use std::fmt;

use parley_crypto::DeviceAddress;
use parley_crypto::attachment::{ATTACHMENT_KEY_LEN, AttachmentKey};
use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::consts::MAX_USER_ID_LEN;
use parley_crypto::error::DecodeError;
use parley_crypto::identity::{PUBLIC_IDENTITY_LEN, PublicIdentity};
use parley_crypto::sender_key::GroupId;
use rand_core::Rng as _;
use zeroize::Zeroizing;

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
                f.write_str(concat!(stringify!($name), "("))?;
                for b in &self.0 {
                    write!(f, "{b:02x}")?;
                }
                f.write_str(")")
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
    /// SHA-256 of the relay's TLS certificate, when the invite pinned one.
    pub relay_cert_fingerprint: Option<[u8; 32]>,
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
            relay_cert_fingerprint: _,
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
        put_option(
            &mut out,
            self.relay_cert_fingerprint.as_ref().map(|f| &f[..]),
        );
        out.put_raw(&self.org_genesis_hash);
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
        let relay_cert_fingerprint = match r.bool()? {
            true => Some(r.array::<32>()?),
            false => None,
        };
        let org_genesis_hash = r.array::<32>()?;
        r.finish()?;
        Ok(Self {
            user,
            device,
            credentials_secret,
            registration_id,
            relay_url,
            relay_cert_fingerprint,
            org_genesis_hash,
        })
    }
}

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
            let identity = PublicIdentity::from_bytes(r.take(PUBLIC_IDENTITY_LEN)?)
                .map_err(|_| DecodeError::InvalidKey)?;
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

/// Whom a conversation is with.
#[derive(Clone, PartialEq, Eq)]
pub enum ConversationKind {
    /// A 1:1 conversation.
    Direct {
        /// The other person's user id.
        peer: String,
    },
    /// A group.
    Group {
        /// The group id (its sender keys are kept under it).
        group: GroupId,
        /// Member user ids.
        members: Vec<String>,
    },
}

/// A 1:1 or group conversation.
#[derive(Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its id (a row key).
    pub id: ConversationId,
    /// Whom it is with.
    pub kind: ConversationKind,
    /// Title shown in the list (a group's name; empty for 1:1).
    pub title: String,
    /// When it was created.
    pub created_at: u64,
    /// Timestamp of the last message the user has seen.
    pub last_read: u64,
}

impl fmt::Debug for Conversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ConversationKind::Direct { .. } => "direct",
            ConversationKind::Group { .. } => "group",
        };
        f.debug_struct("Conversation")
            .field("id", &self.id)
            .field("kind", &kind)
            .field("created_at", &self.created_at)
            .field("last_read", &self.last_read)
            .finish_non_exhaustive()
    }
}

impl Conversation {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(RECORD_FORMAT);
        match &self.kind {
            ConversationKind::Direct { peer } => {
                out.put_u8(0);
                out.put_bytes(peer.as_bytes());
            }
            ConversationKind::Group { group, members } => {
                out.put_u8(1);
                out.put_raw(&group.0);
                out.put_len(members.len());
                for m in members {
                    out.put_bytes(m.as_bytes());
                }
            }
        }
        out.put_bytes(self.title.as_bytes());
        out.put_u64(self.created_at);
        out.put_u64(self.last_read);
        out
    }

    pub(crate) fn decode(id: ConversationId, bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let kind = match r.u8()? {
            0 => ConversationKind::Direct {
                peer: text(&mut r, MAX_USER_ID_LEN)?,
            },
            1 => {
                let group = GroupId(r.array::<32>()?);
                let n = r.count(MAX_ITEMS, 4)?;
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    members.push(text(&mut r, MAX_USER_ID_LEN)?);
                }
                ConversationKind::Group { group, members }
            }
            _ => return Err(DecodeError::InvalidValue),
        };
        let title = text(&mut r, MAX_TEXT)?;
        let created_at = r.u64()?;
        let last_read = r.u64()?;
        r.finish()?;
        Ok(Self {
            id,
            kind,
            title,
            created_at,
            last_read,
        })
    }
}

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
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(41);
        out.put_raw(&conversation.0);
        out.put_u64(timestamp);
        out.put_u8(u8::from(outgoing));
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
        })
    }
}

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

/// What a device knows of an attachment: enough to fetch, verify and decrypt it.
pub struct Attachment {
    /// Its id (row key).
    pub id: AttachmentId,
    /// The message that carries it (plaintext column).
    pub message: MessageId,
    /// The relay's id of the ciphertext.
    pub relay_id: String,
    /// The file key.
    pub key: AttachmentKey,
    /// SHA-256 of the ciphertext.
    pub digest: [u8; 32],
    /// Plaintext length.
    pub size: u64,
    /// MIME type.
    pub content_type: String,
    /// Original file name.
    pub file_name: String,
    /// Where the decrypted file is, once downloaded.
    pub local_path: Option<String>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("id", &self.id)
            .field("message", &self.message)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Attachment {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(RECORD_FORMAT);
        out.put_bytes(self.relay_id.as_bytes());
        out.put_raw(&self.key.to_bytes()[..]);
        out.put_raw(&self.digest);
        out.put_u64(self.size);
        out.put_bytes(self.content_type.as_bytes());
        out.put_bytes(self.file_name.as_bytes());
        match &self.local_path {
            Some(path) => {
                out.put_u8(1);
                out.put_bytes(path.as_bytes());
            }
            None => out.put_u8(0),
        }
        out
    }

    pub(crate) fn decode(
        id: AttachmentId,
        message: MessageId,
        bytes: &[u8],
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let relay_id = text(&mut r, MAX_TEXT)?;
        let key = AttachmentKey::from_bytes(&*r.secret::<ATTACHMENT_KEY_LEN>()?);
        let digest = r.array::<32>()?;
        let size = r.u64()?;
        let content_type = text(&mut r, MAX_TEXT)?;
        let file_name = text(&mut r, MAX_TEXT)?;
        let local_path = match r.bool()? {
            true => Some(text(&mut r, MAX_TEXT)?),
            false => None,
        };
        r.finish()?;
        Ok(Self {
            id,
            message,
            relay_id,
            key,
            digest,
            size,
            content_type,
            file_name,
            local_path,
        })
    }
}

fn format(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    match r.u8()? {
        RECORD_FORMAT => Ok(()),
        other => Err(DecodeError::UnknownVersion(other)),
    }
}

fn text(r: &mut Reader<'_>, max: usize) -> Result<String, DecodeError> {
    let bytes = r.bytes(max)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidValue)
}

/// A presence byte, then the fixed-size value raw.
fn put_option(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => {
            out.put_u8(1);
            out.put_raw(v);
        }
        None => out.put_u8(0),
    }
}
