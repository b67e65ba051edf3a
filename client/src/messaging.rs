//! Messaging (DESIGN.md §3, §7): 1:1 and group conversations, the outbox, receiving, and
//! the effects of edits, deletes, reactions and receipts.
//!
//! A 1:1 message goes to every device of the recipient and to the sender's own other devices,
//! each through its own pairwise session (PQXDH from a claimed bundle the first time, then the
//! Double Ratchet). A group message is encrypted once under the sender's sender key and the
//! same ciphertext goes to every member device (see [`crate::groups`]). Envelope bodies are
//! tagged with their kind ([`parley_proto::envelope`]).
//!
//! Ordering rules that keep the cryptography safe and the history exact:
//! - The advanced session (or sender-key) state is committed to the store **before** the
//!   envelopes leave, so a crash or a failed send can never make a message key be used twice.
//! - A received envelope is decrypted, and the session, prekeys and the message's effects are
//!   stored in one transaction; only then is it acked. A repeated envelope (one whose message
//!   key is already used, or a new envelope with a known author and message id) is acked and
//!   ignored, so the app sees each message once. If the store or the relay fails meanwhile,
//!   nothing is kept and the envelope is not acked: it comes again.
//! - Every message goes through an outbox stored with it, so a message survives a restart
//!   and is retried with backoff until the relay has it. When one recipient fails, the
//!   recipients already served are saved with the item; after a crash the item goes to all
//!   of them again, and receivers ignore the repeat.
//!
//! Message rows are keyed by [`Store::message_row_id`] of (author, the author's message id),
//! so an edit, delete, reaction or receipt finds its target and one author cannot collide with
//! another's ids. Edits and deletes are accepted only from the target's author.
//!
//! Devices come from the directory cache ([`crate::directory`]), refreshed when the relay
//! reports a change.

use std::collections::BTreeSet;

use parley_crypto::DeviceAddress;
use parley_crypto::consts::MAX_ONE_TIME_PREKEYS;
use parley_crypto::identity::PublicIdentity;
use parley_crypto::keys::os_rng;
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::{
    KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic,
};
use parley_crypto::session_record::{LocalDevice, SessionRecord};
use parley_proto::api::{OutgoingEnvelope, PreKeyUpload, SendRequest};
use parley_proto::content::{
    AttachmentPointer, Body, Content, GroupChange, GroupId, MessageId as ContentId, MessageRef,
    ReceiptKind,
};
use parley_proto::envelope::EnvelopeBody;
use parley_proto::ws::Envelope;
use parley_proto::{B64, DeviceId, UserId};

use crate::enrol::relay_for;
use crate::error::{Error, Misbehaviour, Missing, Rejection, Result, TrustFailure};
use crate::relay::Relay;
use crate::store::{
    Account, ContactDevice, Conversation, ConversationId, ConversationKind, Message, MessageStatus,
    OutboxId, OutboxItem, Store, StoreTx,
};

/// Attempts at a send when the relay reports changed devices (409/410).
pub(crate) const SEND_ATTEMPTS: usize = 3;
/// One-time prekeys of a kind below which [`Messenger::upkeep`] refills.
pub const REFILL_BELOW: usize = 20;
/// How many one-time prekeys of each kind a refill brings the relay back to.
pub const REFILL_TO: usize = 100;
/// Age at which the signed and last-resort prekeys are rotated.
pub const ROTATE_AFTER_SECS: u64 = 7 * 24 * 60 * 60;
/// A time after every item's next attempt (the store keeps times as `i64`).
const EVERY_ITEM: u64 = 1 << 62;
/// Attempts at an outbox item before its message is marked failed.
pub const MAX_ATTEMPTS: u32 = 20;

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A 1:1 conversation.
    User(UserId),
    /// A group conversation.
    Group(GroupId),
}

/// Something another device (or another device of this user) said, as the application sees
/// it: a message, a file, an edit, a deletion, a reaction, a receipt, typing, or a group
/// change. Its effects are already stored when the application gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Author.
    pub from: UserId,
    /// Author's device.
    pub device: DeviceId,
    /// For a copy of one's own 1:1 message sent from another device: its recipient.
    pub sync_to: Option<UserId>,
    /// The group, for group conversations.
    pub group: Option<GroupId>,
    /// Author's message id.
    pub id: ContentId,
    /// Author's send time, ms.
    pub sent_at: u64,
    /// What it says.
    pub body: Body,
}

impl Received {
    /// The text of a text message, or the caption of a file.
    pub fn text(&self) -> Option<&str> {
        match &self.body {
            Body::Text { text, .. } => Some(text),
            Body::File { caption, .. } => caption.as_deref(),
            _ => None,
        }
    }

    /// The file of a file message (download it with [`crate::files::download`]).
    pub fn file(&self) -> Option<&AttachmentPointer> {
        match &self.body {
            Body::File { attachment, .. } => Some(attachment),
            _ => None,
        }
    }
}

/// One line of a conversation's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its author.
    pub author: String,
    /// True when this user wrote it.
    pub outgoing: bool,
    /// The author's id of it (for replies, edits, reactions).
    pub id: ContentId,
    /// The author's send time, ms.
    pub sent_at: u64,
    /// Readable text: the message, `[file …]`, a reaction or a group change.
    pub text: String,
    /// Delivery state.
    pub status: MessageStatus,
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn address(user: &str, device: DeviceId) -> Result<DeviceAddress> {
    DeviceAddress::new(user, device)
        .map_err(|_| Error::InvalidUserId(parley_proto::ids::InvalidUserId))
}

/// Whether a body travels to a group under the sender's sender key (the rest of a group's
/// traffic — group changes and sender-key distributions — goes pairwise).
pub(crate) fn under_sender_key(body: &Body) -> bool {
    !matches!(body, Body::Group(_) | Body::SenderKey { .. })
}

/// An enrolled account, ready to send and receive.
#[derive(Debug)]
pub struct Messenger {
    store: Store,
    pub(crate) account: Account,
    relay: Relay,
    /// The last local timestamp given to a message (they increase strictly, so a
    /// conversation's order is the order in which this device stored its messages).
    last_stamp: std::sync::atomic::AtomicU64,
}

impl Messenger {
    /// Opens the messenger of the account in `store`.
    pub async fn new(store: Store) -> Result<Self> {
        let mut tx = store.begin().await?;
        let account = tx.account().await?.ok_or(Error::NotEnrolled)?;
        tx.commit().await?;
        let relay = relay_for(&account)?;
        Ok(Self {
            store,
            account,
            relay,
            last_stamp: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// A local timestamp (ms) later than every one given before by this messenger.
    fn stamp(&self) -> u64 {
        use std::sync::atomic::Ordering;
        let now = now_ms();
        let prev = self
            .last_stamp
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(now.max(last.saturating_add(1)))
            })
            .unwrap_or(now);
        now.max(prev.saturating_add(1))
    }

    /// The account's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The relay client.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// This device's user.
    pub fn user(&self) -> &str {
        &self.account.user
    }

    /// Closes the store.
    pub async fn close(self) {
        self.store.close().await;
    }

    pub(crate) fn me(&self) -> Result<DeviceAddress> {
        address(&self.account.user, self.account.device)
    }

    /// Sends a text to `to`. See [`Messenger::send_body`].
    pub async fn send_text(&self, to: &Target, text: &str) -> Result<ContentId> {
        let body = Body::Text {
            text: text.to_owned(),
            reply_to: None,
            mentions: vec![],
        };
        self.send_body(to, body).await
    }

    /// Encrypts the file at `path` with a fresh key (streamed, constant memory), uploads the
    /// ciphertext, and sends the pointer (id, key, digest) to `to` like a text message.
    /// `progress` gets (bytes done, total) during encryption and upload.
    pub async fn send_file(
        &self,
        to: &Target,
        path: &std::path::Path,
        caption: Option<String>,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<ContentId> {
        let pointer = crate::files::upload(&self.relay, path, progress).await?;
        let body = Body::File {
            attachment: pointer,
            caption,
            reply_to: None,
        };
        self.send_body(to, body).await
    }

    /// Edits one of this user's earlier messages in `to`.
    pub async fn edit(&self, to: &Target, id: ContentId, text: &str) -> Result<ContentId> {
        let target = MessageRef {
            author: UserId::new(self.account.user.clone())?,
            id,
        };
        let text = text.to_owned();
        self.send_body(to, Body::Edit { target, text }).await
    }

    /// Deletes one of this user's earlier messages in `to`, for everyone.
    pub async fn delete(&self, to: &Target, id: ContentId) -> Result<ContentId> {
        let target = MessageRef {
            author: UserId::new(self.account.user.clone())?,
            id,
        };
        self.send_body(to, Body::Delete { target }).await
    }

    /// Reacts to (or, with `remove`, takes back a reaction to) a message in `to`.
    pub async fn react(
        &self,
        to: &Target,
        target: MessageRef,
        emoji: &str,
        remove: bool,
    ) -> Result<ContentId> {
        let emoji = emoji.to_owned();
        let body = Body::Reaction {
            target,
            emoji,
            remove,
        };
        self.send_body(to, body).await
    }

    /// Tells the authors of `messages` (received in `to`) that they were read.
    pub async fn mark_read(&self, to: &Target, messages: Vec<ContentId>) -> Result<()> {
        for chunk in messages.chunks(parley_proto::content::MAX_ITEMS) {
            let body = Body::Receipt {
                receipt: ReceiptKind::Read,
                targets: chunk.to_vec(),
            };
            self.send_body(to, body).await?;
        }
        Ok(())
    }

    /// Tells `to` whether this user is typing. Not queued: sent now or never.
    pub async fn typing(&self, to: &UserId, started: bool) -> Result<()> {
        let content = Content::new(ContentId(rand16()), now_ms(), Body::Typing { started });
        self.send_content(to, &content).await.map(|_| ())
    }

    /// Stores `body` as a new outgoing message (applying its effect here first: an edit
    /// changes the stored text, a delete removes it, a group change changes the group) with
    /// its outbox item, then flushes the outbox. If the relay cannot take it now, the error is
    /// returned and the item stays queued: the next [`Messenger::flush_outbox`] retries it, and
    /// receivers ignore a repeat, so it is delivered exactly once.
    pub async fn send_body(&self, to: &Target, body: Body) -> Result<ContentId> {
        if let Target::User(user) = to
            && user.as_str() != self.account.user
        {
            // Refused only when the relay says the user has no device; when it cannot be
            // asked now, the message is queued.
            let none = match self.devices_of(user, false).await {
                Ok(d) if d.is_empty() => {
                    matches!(self.devices_of(user, true).await, Ok(d) if d.is_empty())
                }
                _ => false,
            };
            if none {
                return Err(Error::NoSuchUser);
            }
        }
        let mut tx = self.store.begin().await?;
        let (id, item) = self.queue(&mut tx, to, body, None).await?;
        tx.commit().await?;
        self.flush_outbox_for(&[item]).await?;
        Ok(id)
    }

    /// Flushes the outbox; an error is returned only if one of `items` failed (another
    /// item's failure does not fail this send).
    pub(crate) async fn flush_outbox_for(&self, items: &[OutboxId]) -> Result<()> {
        let (_, failures) = self.flush(true).await?;
        match failures.into_iter().find(|(id, _)| items.contains(id)) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// Queues `body` for `to` inside `tx`, after applying its effect here (storing its row,
    /// changing the group …). With `recipients`, it only goes to them and changes nothing here
    /// (how newcomers get the whole group). Returns the message id and the outbox item's id.
    pub(crate) async fn queue(
        &self,
        tx: &mut StoreTx<'_>,
        to: &Target,
        body: Body,
        recipients: Option<Vec<String>>,
    ) -> Result<(ContentId, OutboxId)> {
        let id = ContentId(rand16());
        let mut content = Content::new(id, now_ms(), body);
        if let Target::Group(group) = to {
            content.group = Some(*group);
        }
        content.validate().map_err(|_| Error::TooLarge)?;
        let (conversation, members) = match to {
            Target::User(user) => {
                let mut members = vec![user.to_string()];
                if user.as_str() != self.account.user {
                    members.push(self.account.user.clone());
                }
                (
                    direct_conversation(tx, &self.store, user.as_str()).await?,
                    members,
                )
            }
            Target::Group(group) => {
                let conversation = self.store.group_conversation_id(&crypto_group(group));
                // Everything goes to the members before it: a removed member learns of its
                // removal; an added one gets the whole group separately (`add_members`).
                let before = group_members(tx, &conversation).await?;
                if !before.contains(&self.account.user) {
                    return Err(Error::NotAMember);
                }
                (conversation, before)
            }
        };
        let (message, recipients) = match recipients {
            Some(only) => (None, only),
            None => {
                self.apply(tx, &self.me()?, &content, conversation).await?;
                let row = stored_as_row(&content.body)
                    .then(|| self.store.message_row_id(&self.account.user, &id.0));
                (row, members)
            }
        };
        let item = OutboxItem::new(
            conversation,
            message,
            recipients,
            content.to_bytes(),
            now_ms(),
        );
        tx.put_outbox(&item).await?;
        Ok((id, item.id))
    }

    /// Sends every due outbox item (with `now`, every item: the user asked for a retry);
    /// returns how many were sent. A failed item is kept with a later next attempt
    /// (exponential backoff up to five minutes) and the others are still tried; the first
    /// error is returned. After [`MAX_ATTEMPTS`] (at once for an item that cannot be decoded)
    /// its message is marked failed and the item dropped.
    pub async fn flush_outbox(&self, now: bool) -> Result<usize> {
        let (sent, failures) = self.flush(now).await?;
        match failures.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(sent),
        }
    }

    /// [`Messenger::flush_outbox`], returning how many items were sent and which failed why.
    async fn flush(&self, now: bool) -> Result<(usize, Vec<(OutboxId, Error)>)> {
        let mut sent = 0;
        let mut tx = self.store.begin().await?;
        let due = tx
            .due_outbox(if now { EVERY_ITEM } else { now_ms() }, 100)
            .await?;
        tx.commit().await?;
        let mut failures = Vec::new();
        for mut item in due {
            let result = match Content::from_bytes(&item.payload) {
                Ok(content) => match content.group {
                    Some(group) if under_sender_key(&content.body) => {
                        self.send_group_item(&mut item, &content, &group).await
                    }
                    _ => self.send_pairwise_item(&mut item, &content).await,
                },
                Err(_) => {
                    // Never sendable: fail it now rather than block the queue.
                    item.attempts = MAX_ATTEMPTS;
                    Err(Error::Store(crate::store::StoreError::Malformed {
                        table: "outbox",
                    }))
                }
            };
            let mut tx = self.store.begin().await?;
            if let Err(e) = result {
                item.attempts = item.attempts.saturating_add(1);
                if item.attempts >= MAX_ATTEMPTS {
                    tx.remove_outbox(&item.id).await?;
                    if let Some(m) = &item.message {
                        tx.set_message_status(m, MessageStatus::Failed).await?;
                    }
                } else {
                    let backoff = 1000u64 << item.attempts.min(8);
                    item.next_attempt = now_ms().saturating_add(backoff.min(300_000));
                    tx.put_outbox(&item).await?;
                }
                tx.commit().await?;
                // The other items are tried all the same.
                failures.push((item.id, e));
                continue;
            }
            tx.remove_outbox(&item.id).await?;
            if let Some(m) = &item.message {
                let status = tx.message(m).await?.map(|m| m.status);
                if status == Some(MessageStatus::Sending) {
                    tx.set_message_status(m, MessageStatus::Sent).await?;
                }
            }
            tx.commit().await?;
            sent += 1;
        }
        Ok((sent, failures))
    }

    /// Sends `content` pairwise to each remaining recipient of `item`.
    async fn send_pairwise_item(&self, item: &mut OutboxItem, content: &Content) -> Result<()> {
        let target = item.recipients.first().cloned().unwrap_or_default();
        while let Some(user) = item.recipients.first().cloned() {
            let mut copy = content.clone();
            if content.group.is_none() && user == self.account.user && target != user {
                copy.sync_to = Some(UserId::new(target.clone())?);
            }
            self.send_content(&UserId::new(user)?, &copy).await?;
            // Progress is kept in memory and saved with the item if a later recipient fails
            // (a crash resends to everyone; receivers ignore repeats).
            item.recipients.remove(0);
        }
        Ok(())
    }

    /// The devices of `user` this device sends to (all of them but itself).
    pub(crate) async fn recipient_devices(
        &self,
        user: &UserId,
        refresh: bool,
    ) -> Result<Vec<ContactDevice>> {
        let mut devices = self.devices_of(user, refresh).await?;
        self.leave_out_this_device(user.as_str(), &mut devices);
        Ok(devices)
    }

    /// Removes this device from a list of `user`'s devices (a device never sends to itself).
    pub(crate) fn leave_out_this_device(&self, user: &str, devices: &mut Vec<ContactDevice>) {
        if user == self.account.user {
            devices.retain(|d| d.device != self.account.device);
        }
    }

    /// Encrypts `content` pairwise for every current device of `user` (but this one) and
    /// sends it, repairing sessions and the device list when the relay says they changed.
    /// Returns the devices it went to.
    pub(crate) async fn send_content(
        &self,
        user: &UserId,
        content: &Content,
    ) -> Result<Vec<ContactDevice>> {
        let plaintext = content.to_bytes();
        let mut devices = self.recipient_devices(user, false).await?;
        let mut stale: BTreeSet<DeviceId> = BTreeSet::new();
        for _ in 0..SEND_ATTEMPTS {
            if devices.is_empty() {
                return Ok(devices); // e.g. no other device of one's own user
            }
            let mut messages = Vec::with_capacity(devices.len());
            // Encrypt and commit the advanced sessions before anything is sent.
            let mut tx = self.store.begin().await?;
            let ours = tx.identity().await?.ok_or(Missing::Identity)?;
            for d in &devices {
                let addr = address(user.as_str(), d.device)?;
                let mut record = match tx.session(&addr).await? {
                    Some(r) if !stale.contains(&d.device) => r,
                    _ => self.new_session(&ours, user, d, &addr).await?,
                };
                let wire = record.encrypt(&plaintext).map_err(Error::Crypto)?;
                tx.set_session(&addr, &record).await?;
                messages.push(OutgoingEnvelope {
                    device: d.device,
                    registration_id: d.registration_id,
                    body: B64(EnvelopeBody::Session(&wire.to_bytes()).to_bytes()),
                });
            }
            tx.commit().await?;
            match self.relay.send(user, &SendRequest { messages }).await {
                Ok(answer) => {
                    self.note_own_devices(&answer.sender_devices).await?;
                    return Ok(devices);
                }
                Err(e) => {
                    let Some(body) = e.body().cloned() else {
                        return Err(e.into());
                    };
                    if body.mismatched.is_none() && body.stale.is_none() {
                        return Err(e.into());
                    }
                    stale.extend(body.stale.iter().flatten().copied());
                    devices = self.recipient_devices(user, true).await?;
                }
            }
        }
        Err(Error::DevicesChanging)
    }

    /// Starts a session with one device from a bundle claimed from the relay. The bundle's
    /// identity must be the one the directory lists for the device.
    async fn new_session(
        &self,
        ours: &parley_crypto::identity::IdentityKeyPair,
        user: &UserId,
        device: &ContactDevice,
        addr: &DeviceAddress,
    ) -> Result<SessionRecord> {
        let bundles = self.relay.claim_prekeys(user, Some(device.device)).await?;
        let b = bundles.devices.first().ok_or(Misbehaviour::NoBundle)?;
        let identity =
            PublicIdentity::from_bytes(&b.identity.0).map_err(|_| Misbehaviour::MalformedBundle)?;
        if identity != device.identity {
            return Err(TrustFailure::BundleIdentityMismatch.into());
        }
        let kem = match &b.one_time_kem {
            Some(k) => KemPreKeyPublic::from_bytes(&k.0),
            None => KemPreKeyPublic::from_bytes(&b.last_resort_kem.0),
        }
        .map_err(|_| Misbehaviour::MalformedBundle)?;
        let one_time = match &b.one_time {
            Some(k) => Some(
                OneTimePreKeyPublic::from_bytes(&k.0).map_err(|_| Misbehaviour::MalformedBundle)?,
            ),
            None => None,
        };
        let signed = SignedPreKeyPublic::from_bytes(&b.signed_prekey.0)
            .map_err(|_| Misbehaviour::MalformedBundle)?;
        let bundle = PreKeyBundle::new(identity, signed, kem, one_time);
        let mut record = SessionRecord::new();
        record
            .initiate(&self.me()?, addr, ours, &bundle, &mut os_rng())
            .map_err(|_| TrustFailure::BundleSignature)?;
        Ok(record)
    }

    /// Keeps this device's prekeys on the relay healthy (DESIGN.md §4): rotates the signed and
    /// last-resort prekeys once they are a week old (the previous ones stay usable for a
    /// while, as the prekey store keeps two), and refills the one-time prekeys when fewer
    /// than [`REFILL_BELOW`] of a kind are left. The private halves are stored before the
    /// public ones are uploaded. Returns whether anything was uploaded.
    pub async fn upkeep(&self) -> Result<bool> {
        let count = self.relay.prekey_count().await?;
        let now = now_ms() / 1000;
        let mut tx = self.store.begin().await?;
        let identity = tx.identity().await?.ok_or(Missing::Identity)?;
        let mut prekeys = tx.prekeys().await?.ok_or(Missing::PreKeys)?;
        let rotate = prekeys
            .signed_prekey_created_at()
            .is_none_or(|t| now.saturating_sub(t) >= ROTATE_AFTER_SECS);
        let low =
            usize::try_from(count.one_time.min(count.one_time_kem)).unwrap_or(0) < REFILL_BELOW;
        if !rotate && !low {
            tx.commit().await?;
            return Ok(false);
        }
        if rotate {
            prekeys.rotate(&identity, now, &mut os_rng());
        }
        let (ec, kem) = if low {
            // Keys peers claimed but have not used yet stay here (their first message may still
            // be queued) until room is needed; then the oldest go first (the relay hands out
            // the oldest first, so those are claimed ones, claimed longest ago).
            let left = usize::try_from(count.one_time.max(count.one_time_kem)).unwrap_or(0);
            let new = REFILL_TO.saturating_sub(left);
            let (held_ec, held_kem) = prekeys.one_time_counts();
            let over = |held: usize| {
                held.saturating_add(new)
                    .saturating_sub(MAX_ONE_TIME_PREKEYS)
            };
            prekeys.forget_oldest_one_time(over(held_ec), over(held_kem));
            prekeys.generate_one_time(&identity, new, &mut os_rng())
        } else {
            (Vec::new(), Vec::new())
        };
        tx.set_prekeys(&prekeys).await?;
        tx.commit().await?;
        let upload = PreKeyUpload {
            signed_prekey: if rotate {
                prekeys.signed_prekey().map(|k| B64(k.to_bytes()))
            } else {
                None
            },
            last_resort_kem: if rotate {
                prekeys.last_resort_kem_prekey().map(|k| B64(k.to_bytes()))
            } else {
                None
            },
            one_time: ec.iter().map(|k| B64(k.to_bytes())).collect(),
            one_time_kem: kem.iter().map(|k| B64(k.to_bytes())).collect(),
            replace_one_time: false,
        };
        self.relay.upload_prekeys(&upload).await?;
        Ok(true)
    }

    /// Decrypts one delivered envelope and stores its effects. Returns `None` for a repeat or
    /// for content that carries nothing for the app; the caller acks in every `Ok` case.
    pub async fn receive(&self, env: &Envelope) -> Result<Option<Received>> {
        match EnvelopeBody::from_bytes(&env.body.0).map_err(|_| Rejection::MalformedEnvelope)? {
            EnvelopeBody::Session(bytes) => self.receive_session(env, bytes).await,
            EnvelopeBody::Group(bytes) => self.receive_group(env, bytes).await,
        }
    }

    async fn receive_session(&self, env: &Envelope, bytes: &[u8]) -> Result<Option<Received>> {
        let from = address(env.source_user.as_str(), env.source_device)?;
        let message =
            SessionMessage::from_bytes(bytes).map_err(|_| Rejection::MalformedEnvelope)?;
        // Only a prekey message can start a session, so only then is the sender's identity
        // needed: as the directory lists it.
        let listed = match &message {
            SessionMessage::PreKey(_) => {
                self.identity_of(&env.source_user, env.source_device)
                    .await?
            }
            SessionMessage::Ratchet(_) => None,
        };
        let mut tx = self.store.begin().await?;
        let me = self.me()?;
        let identity = tx.identity().await?.ok_or(Missing::Identity)?;
        let mut prekeys = tx.prekeys().await?.ok_or(Missing::PreKeys)?;
        let mut record = tx.session(&from).await?.unwrap_or_default();
        let local = LocalDevice {
            address: &me,
            identity: &identity,
            prekeys: &mut prekeys,
        };
        let trusted = |id: &PublicIdentity| listed.as_ref() == Some(id);
        let now = now_ms() / 1000;
        let decrypted = match record.decrypt(local, &from, &message, trusted, now, &mut os_rng()) {
            Ok(d) => d,
            // Delivered again after its effects were stored (a crash before the ack, or a
            // replay): nothing to do.
            Err(parley_crypto::Error::DuplicateMessage) => return Ok(None),
            Err(e) => return Err(Rejection::Undecryptable(e).into()),
        };
        tx.set_session(&from, &record).await?;
        if matches!(message, SessionMessage::PreKey(_)) {
            tx.set_prekeys(&prekeys).await?;
        }
        // From here on the advanced session is kept (its message key is gone) even when the
        // content is unusable.
        let outcome = match Content::from_bytes(&decrypted.plaintext) {
            Ok(content) => self.receive_content(&mut tx, env, &from, content).await,
            Err(_) => Err(Rejection::MalformedContent.into()),
        };
        finish(tx, outcome).await
    }

    /// Applies decrypted content (from either kind of envelope) inside `tx`.
    pub(crate) async fn receive_content(
        &self,
        tx: &mut StoreTx<'_>,
        env: &Envelope,
        from: &DeviceAddress,
        content: Content,
    ) -> Result<Option<Received>> {
        let author = &env.source_user;
        let own_copy = author.as_str() == self.account.user;
        let conversation = match (&content.group, &content.sync_to) {
            (Some(group), _) => self.store.group_conversation_id(&crypto_group(group)),
            (None, Some(to)) if own_copy => {
                direct_conversation(tx, &self.store, to.as_str()).await?
            }
            (None, _) => direct_conversation(tx, &self.store, author.as_str()).await?,
        };
        if let Some(group) = &content.group
            && !matches!(content.body, Body::SenderKey { .. })
        {
            self.check_group_sender(tx, group, author, &content.body)
                .await?;
        }
        let row = self.store.message_row_id(author.as_str(), &content.id.0);
        if tx.message(&row).await?.is_some() {
            return Ok(None);
        }
        if self
            .apply(tx, from, &content, conversation)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        Ok(Some(Received {
            from: author.clone(),
            device: env.source_device,
            sync_to: if own_copy { content.sync_to } else { None },
            group: content.group,
            id: content.id,
            sent_at: content.sent_at,
            body: content.body,
        }))
    }

    /// Stores what `content` from `author` does to `conversation` (a new row, an edit, a
    /// deletion, a receipt, a group change, a sender key). `None` when it has nothing to
    /// report to the application.
    async fn apply(
        &self,
        tx: &mut StoreTx<'_>,
        from: &DeviceAddress,
        content: &Content,
        conversation: ConversationId,
    ) -> Result<Option<()>> {
        let author = &UserId::new(from.user())?;
        let own = author.as_str() == self.account.user;
        match &content.body {
            Body::SenderKey {
                group,
                distribution,
            } => {
                self.accept_distribution(tx, group, from, &distribution.0)
                    .await?;
                return Ok(None);
            }
            Body::Typing { .. } => return Ok(Some(())),
            Body::Receipt { receipt, targets } => {
                let status = match receipt {
                    ReceiptKind::Delivered => MessageStatus::Delivered,
                    ReceiptKind::Read => MessageStatus::Read,
                };
                for t in targets {
                    // Receipts for this user's messages (from others), or this user's own
                    // receipts for others' messages synced from another device: ignored.
                    let row = self.store.message_row_id(&self.account.user, &t.0);
                    if let Some(m) = tx.message(&row).await?
                        && m.outgoing
                        && !own
                        && rank(m.status) < rank(status)
                    {
                        tx.set_message_status(&row, status).await?;
                    }
                }
                return Ok(Some(()));
            }
            Body::Edit { target, text } => {
                if target.author != *author {
                    return Err(Rejection::NotTheAuthor.into());
                }
                let row = self.store.message_row_id(author.as_str(), &target.id.0);
                if let Some(mut m) = tx.message(&row).await?
                    && let Ok(mut old) = Content::from_bytes(&m.body)
                    && let Body::Text { text: t, .. } = &mut old.body
                {
                    t.clone_from(text);
                    m.body = old.to_bytes();
                    tx.put_message(&m).await?;
                }
                return Ok(Some(()));
            }
            Body::Delete { target } => {
                if target.author != *author {
                    return Err(Rejection::NotTheAuthor.into());
                }
                // The row is replaced by a tombstone (the delete itself, shown as nothing), so a
                // copy of the message that arrives later — reordered by the relay, or resent by
                // the author's outbox — is taken for a repeat and ignored.
                let row = self.store.message_row_id(author.as_str(), &target.id.0);
                tx.delete_message(&row).await?;
                tx.put_message(&self.row(row, conversation, from, content, MessageStatus::Seen))
                    .await?;
                return Ok(Some(()));
            }
            Body::Group(change) => {
                let group = content.group.ok_or(Rejection::NotAGroup)?;
                self.apply_group_change(tx, &group, author, change).await?;
            }
            Body::Text { .. } | Body::File { .. } | Body::Reaction { .. } | Body::Unknown => {}
        }
        if stored_as_row(&content.body) {
            let status = if own && from.device() == self.account.device {
                MessageStatus::Sending
            } else if own {
                MessageStatus::Sent
            } else {
                MessageStatus::Received
            };
            let id = self.store.message_row_id(author.as_str(), &content.id.0);
            tx.put_message(&self.row(id, conversation, from, content, status))
                .await?;
        }
        Ok(Some(()))
    }

    /// The stored row of `content` from `from`, stamped now.
    fn row(
        &self,
        id: crate::store::MessageId,
        conversation: ConversationId,
        from: &DeviceAddress,
        content: &Content,
        status: MessageStatus,
    ) -> Message {
        Message {
            id,
            conversation,
            outgoing: from.user() == self.account.user,
            timestamp: self.stamp(),
            sender: from.clone(),
            sent_at: content.sent_at,
            body: content.to_bytes(),
            status,
        }
    }

    /// Connects to the relay and returns the stream of [`Event`]s for this device: each
    /// envelope is decrypted and stored, then acknowledged, then reported.
    pub async fn events(&self) -> Result<Events<'_>> {
        let ws = self.relay.connect().await?;
        Ok(Events {
            messenger: self,
            ws,
        })
    }

    /// The latest `limit` entries of the conversation with `with`, oldest first.
    pub async fn history(&self, with: &Target, limit: u32) -> Result<Vec<HistoryEntry>> {
        let id = match with {
            Target::User(peer) => self.store.direct_conversation_id(peer.as_str()),
            Target::Group(group) => self.store.group_conversation_id(&crypto_group(group)),
        };
        let mut tx = self.store.begin().await?;
        let mut messages = tx.messages(&id, None, limit).await?;
        tx.commit().await?;
        messages.sort_by_key(|m| m.timestamp);
        Ok(messages
            .into_iter()
            .filter_map(|m| {
                let content = Content::from_bytes(&m.body).ok()?;
                Some(HistoryEntry {
                    author: m.sender.user().to_owned(),
                    outgoing: m.outgoing,
                    id: content.id,
                    sent_at: content.sent_at,
                    text: describe(&content.body)?,
                    status: m.status,
                })
            })
            .collect())
    }
}

/// Ends a receive: on a store (or relay) failure everything is rolled back (the envelope is not acked
/// and comes again); otherwise the advanced session or sender key is committed even when the
/// content was refused, as its message key is used up.
pub(crate) async fn finish(
    tx: StoreTx<'_>,
    outcome: Result<Option<Received>>,
) -> Result<Option<Received>> {
    if outcome.as_ref().is_err_and(Error::is_local_or_relay) {
        drop(tx);
        return outcome;
    }
    tx.commit().await?;
    outcome
}

/// Whether a body is kept as a row of its conversation.
fn stored_as_row(body: &Body) -> bool {
    matches!(
        body,
        Body::Text { .. } | Body::File { .. } | Body::Reaction { .. } | Body::Group(_)
    )
}

/// Orders outgoing statuses so that a late "delivered" never overwrites "read".
fn rank(status: MessageStatus) -> u8 {
    match status {
        MessageStatus::Delivered => 2,
        MessageStatus::Read => 3,
        _ => 1,
    }
}

/// A readable line for a stored row.
pub fn describe(body: &Body) -> Option<String> {
    let list = |users: &[UserId]| {
        users
            .iter()
            .map(UserId::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(match body {
        Body::Text { text, .. } => text.clone(),
        Body::File {
            attachment,
            caption,
            ..
        } => {
            let name = attachment.file_name.clone().unwrap_or_default();
            let mut line = format!("[file {name} ({} bytes)]", attachment.size);
            if let Some(c) = caption {
                line.push(' ');
                line.push_str(c);
            }
            line
        }
        Body::Reaction {
            target,
            emoji,
            remove,
        } => {
            let verb = if *remove { "took back" } else { "reacted" };
            format!("[{verb} {emoji} to a message of {}]", target.author)
        }
        Body::Group(GroupChange::Create { name, members }) => {
            format!("[created the group \"{name}\" with {}]", list(members))
        }
        Body::Group(GroupChange::Add { members }) => format!("[added {}]", list(members)),
        Body::Group(GroupChange::Remove { members }) => format!("[removed {}]", list(members)),
        Body::Group(GroupChange::Rename { name }) => format!("[renamed the group \"{name}\"]"),
        _ => return None,
    })
}

/// The sender-key layer's id of a group.
pub(crate) fn crypto_group(group: &GroupId) -> parley_crypto::sender_key::GroupId {
    parley_crypto::sender_key::GroupId(group.0)
}

/// What happens to this device, as the CLI and the desktop app consume it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Something arrived and its effects are stored.
    Message(Box<Received>),
    /// Everything queued for this device while it was away has been received.
    CaughtUp,
    /// An envelope could not be decrypted or read and was dropped (it never will be).
    Dropped {
        /// Its sender.
        from: UserId,
        /// Why, as a code and a sentence.
        error: crate::ErrorInfo,
    },
}

/// The event stream of a connected device (see [`Messenger::events`]).
#[derive(Debug)]
pub struct Events<'a> {
    messenger: &'a Messenger,
    ws: crate::relay::Delivery,
}

impl Events<'_> {
    /// The next event; `None` when the connection ended without a word from the relay.
    ///
    /// An envelope is acknowledged only after what it carried is stored, so a crash means a
    /// redelivery (ignored as a repeat), never a loss. If the store or the relay fails, the
    /// error is returned and the envelope is not acknowledged.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        use parley_proto::ws::ServerFrame;
        loop {
            let frame = match self.ws.next().await? {
                Ok(f) => f,
                Err(e) => return Some(Err(e.into())),
            };
            let env = match frame {
                ServerFrame::Envelope(env) => env,
                ServerFrame::QueueEmpty => return Some(Ok(Event::CaughtUp)),
                ServerFrame::Closing { .. } => {
                    return Some(Err(Error::ConnectionClosed));
                }
                // Answers to sends over the socket, which this loop does not make.
                ServerFrame::Sent { .. } | ServerFrame::SendFailed { .. } => continue,
            };
            let event = match self.messenger.receive(&env).await {
                Ok(Some(msg)) => Some(Event::Message(Box::new(msg))),
                Ok(None) => None,
                // Not the envelope's fault (the store, or the relay when asked for the sender's
                // devices): not acked, so it comes again.
                Err(e) if e.is_local_or_relay() => return Some(Err(e)),
                Err(e) => Some(Event::Dropped {
                    from: env.source_user.clone(),
                    error: e.info(),
                }),
            };
            if let Err(e) = self.ws.ack(vec![env.id]).await {
                return Some(Err(e.into()));
            }
            if let Some(event) = event {
                return Some(Ok(event));
            }
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.ws.close().await;
    }
}

/// The members of a group conversation (none if it is unknown).
pub(crate) async fn group_members(
    tx: &mut StoreTx<'_>,
    conversation: &ConversationId,
) -> Result<Vec<String>> {
    Ok(match tx.conversation(conversation).await?.map(|c| c.kind) {
        Some(ConversationKind::Group { members, .. }) => members,
        _ => Vec::new(),
    })
}

/// The 1:1 conversation with `peer`, created if new.
async fn direct_conversation(
    tx: &mut StoreTx<'_>,
    store: &Store,
    peer: &str,
) -> Result<ConversationId> {
    let id = store.direct_conversation_id(peer);
    if tx.conversation(&id).await?.is_none() {
        tx.set_conversation(&Conversation {
            id,
            kind: ConversationKind::Direct {
                peer: peer.to_owned(),
            },
            title: String::new(),
            created_at: now_ms(),
            last_read: 0,
        })
        .await?;
    }
    Ok(id)
}

pub(crate) fn rand16() -> [u8; 16] {
    use rand_core::Rng as _;
    let mut out = [0u8; 16];
    os_rng().fill_bytes(&mut out);
    out
}
