//! 1:1 messaging (DESIGN.md §3, §7): a text goes to every device of the recipient and to the
//! sender's own other devices, each through its own pairwise session (PQXDH from a claimed
//! bundle the first time, then the Double Ratchet).
//!
//! Ordering rules that keep the cryptography safe and the history exact:
//! - The advanced session state is committed to the store **before** the envelopes leave, so
//!   a crash or a failed send can never make a message key be used twice.
//! - A received envelope is decrypted, and the session, prekeys and message are stored in one
//!   transaction; only then is it acked. A repeated envelope (same author message id) is
//!   acked and ignored, so the app sees each message once.
//!
//! - Every message goes through an outbox stored with it, so a message survives a restart
//!   and is retried with backoff until the relay has it.
//!
//! Not yet: groups, files, receipts; devices are taken from the
//! relay's device list, and a new peer identity is trusted when it matches that list — the
//! check against the verified org log comes with the org-log work (DESIGN.md §2).

use std::collections::BTreeSet;

use parley_crypto::DeviceAddress;
use parley_crypto::identity::PublicIdentity;
use parley_crypto::keys::os_rng;
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::{
    KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic,
};
use parley_crypto::session_record::{LocalDevice, SessionRecord};
use parley_proto::api::{OutgoingEnvelope, PreKeyUpload, SendRequest};
use parley_proto::content::{Body, Content, MessageId as ContentId};
use parley_proto::ws::Envelope;
use parley_proto::{B64, DeviceId, UserId};

use crate::enrol::{EnrolError, EnrolResult, relay_for};
use crate::relay::Relay;
use crate::store::{
    Account, Conversation, ConversationKind, Message, MessageId, MessageStatus, OutboxId,
    OutboxItem, Store, StoreTx,
};

/// Attempts at a send when the relay reports changed devices (409/410).
const SEND_ATTEMPTS: usize = 3;
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

/// A message as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Author.
    pub from: UserId,
    /// Author's device.
    pub device: DeviceId,
    /// For a copy of one's own message sent from another device: its recipient.
    pub sync_to: Option<UserId>,
    /// Author's message id.
    pub id: ContentId,
    /// Author's send time, ms.
    pub sent_at: u64,
    /// The text (for text messages; the caption of a file).
    pub text: Option<String>,
    /// The file, for file messages (download it with [`crate::files::download`]).
    pub file: Option<parley_proto::content::AttachmentPointer>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn address(user: &str, device: DeviceId) -> EnrolResult<DeviceAddress> {
    DeviceAddress::new(user, device).map_err(|_| EnrolError::State("invalid device address"))
}

/// An enrolled account, ready to send and receive.
#[derive(Debug)]
pub struct Messenger {
    store: Store,
    account: Account,
    relay: Relay,
}

impl Messenger {
    /// Opens the messenger of the account in `store`.
    pub async fn new(store: Store) -> EnrolResult<Self> {
        let mut tx = store.begin().await?;
        let account = tx
            .account()
            .await?
            .ok_or(EnrolError::State("this account is not enrolled"))?;
        tx.commit().await?;
        let relay = relay_for(&account)?;
        Ok(Self {
            store,
            account,
            relay,
        })
    }

    /// The account's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The relay client.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Closes the store.
    pub async fn close(self) {
        self.store.close().await;
    }

    fn me(&self) -> EnrolResult<DeviceAddress> {
        address(&self.account.user, self.account.device)
    }

    /// Sends a text to `to` (every device), and a copy to this user's other devices. The
    /// message and an outbox item are stored first; the outbox is then flushed. If the relay
    /// cannot take it now, the error is returned and the item stays queued: the next
    /// [`Messenger::flush_outbox`] (any later `send` or `listen` of the CLI) retries it, and receivers
    /// ignore a repeat, so it is delivered exactly once.
    pub async fn send_text(&self, to: &UserId, text: &str) -> EnrolResult<ContentId> {
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
        to: &UserId,
        path: &std::path::Path,
        caption: Option<String>,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> EnrolResult<ContentId> {
        let pointer = crate::files::upload(&self.relay, path, progress).await?;
        let body = Body::File {
            attachment: pointer,
            caption,
            reply_to: None,
        };
        self.send_body(to, body).await
    }

    /// Stores `body` as a new outgoing message with its outbox item, then flushes the outbox.
    async fn send_body(&self, to: &UserId, body: Body) -> EnrolResult<ContentId> {
        let id = ContentId(rand16());
        let content = Content::new(id, now_ms(), body);
        let mut recipients = vec![to.to_string()];
        if to.as_str() != self.account.user {
            recipients.push(self.account.user.clone());
        }
        let mut tx = self.store.begin().await?;
        let conversation = conversation(&mut tx, &self.store, to.as_str()).await?;
        tx.put_message(&Message {
            id: MessageId(id.0),
            conversation,
            outgoing: true,
            timestamp: now_ms(),
            sender: self.me()?,
            sent_at: content.sent_at,
            body: content.to_bytes(),
            status: MessageStatus::Sending,
        })
        .await?;
        tx.put_outbox(&OutboxItem {
            id: OutboxId::generate(),
            conversation,
            message: Some(MessageId(id.0)),
            recipients,
            payload: content.to_bytes(),
            attempts: 0,
            next_attempt: 0,
            created_at: now_ms(),
        })
        .await?;
        tx.commit().await?;
        self.flush_outbox(true).await?;
        Ok(id)
    }

    /// Sends every due outbox item (with `now`, every item: the user asked for a retry);
    /// returns how many were sent. On a failure the item is kept with a later next attempt
    /// (exponential backoff up to five minutes) and the error is returned; after
    /// [`MAX_ATTEMPTS`] its message is marked failed and the item dropped.
    pub async fn flush_outbox(&self, now: bool) -> EnrolResult<usize> {
        let mut sent = 0;
        let mut tx = self.store.begin().await?;
        let due = tx
            .due_outbox(if now { EVERY_ITEM } else { now_ms() }, 100)
            .await?;
        tx.commit().await?;
        for mut item in due {
            let content = Content::from_bytes(&item.payload)
                .map_err(|_| EnrolError::State("malformed outbox item"))?;
            let target = item.recipients.first().cloned().unwrap_or_default();
            while let Some(user) = item.recipients.first().cloned() {
                let mut copy = content.clone();
                if user == self.account.user && target != self.account.user {
                    copy.sync_to = Some(UserId::new(target.clone())?);
                }
                if let Err(e) = self.send_content(&UserId::new(user)?, &copy).await {
                    let mut tx = self.store.begin().await?;
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
                    return Err(e);
                }
                // Progress is kept per recipient, so a retry does not resend what went out.
                item.recipients.remove(0);
                let mut tx = self.store.begin().await?;
                tx.put_outbox(&item).await?;
                tx.commit().await?;
            }
            let mut tx = self.store.begin().await?;
            tx.remove_outbox(&item.id).await?;
            if let Some(m) = &item.message {
                tx.set_message_status(m, MessageStatus::Sent).await?;
            }
            tx.commit().await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Encrypts `content` for every current device of `user` (but this one) and sends it,
    /// repairing sessions when the relay says the device list changed.
    async fn send_content(&self, user: &UserId, content: &Content) -> EnrolResult<()> {
        let me = self.me()?;
        let plaintext = content.to_bytes();
        let mut devices: BTreeSet<(DeviceId, u32)> = self
            .relay
            .devices(user)
            .await?
            .devices
            .iter()
            .filter(|d| !(user.as_str() == me.user() && d.device == me.device()))
            .map(|d| (d.device, d.registration_id))
            .collect();
        if devices.is_empty() {
            return Ok(()); // no other device of one's own user
        }
        let mut stale: BTreeSet<DeviceId> = BTreeSet::new();
        for _ in 0..SEND_ATTEMPTS {
            let mut messages = Vec::new();
            // Encrypt and commit the advanced sessions before anything is sent.
            let mut tx = self.store.begin().await?;
            let ours = tx
                .identity()
                .await?
                .ok_or(EnrolError::State("no identity"))?;
            for (device, registration_id) in &devices {
                let addr = address(user.as_str(), *device)?;
                let mut record = match tx.session(&addr).await? {
                    Some(r) if !stale.contains(device) => r,
                    _ => self.new_session(&ours, user, *device, &addr).await?,
                };
                let wire = record
                    .encrypt(&plaintext)
                    .map_err(|_| EnrolError::State("encryption failed"))?;
                tx.set_session(&addr, &record).await?;
                messages.push(OutgoingEnvelope {
                    device: *device,
                    registration_id: *registration_id,
                    body: B64(wire.to_bytes()),
                });
            }
            tx.commit().await?;
            match self.relay.send(user, &SendRequest { messages }).await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let Some(body) = e.body().cloned() else {
                        return Err(e.into());
                    };
                    if let Some(m) = &body.mismatched {
                        // Learn the current list (registration ids included) and retry.
                        let list = self.relay.devices(user).await?;
                        devices = list
                            .devices
                            .iter()
                            .filter(|d| !(user.as_str() == me.user() && d.device == me.device()))
                            .filter(|d| !m.extra.contains(&d.device))
                            .map(|d| (d.device, d.registration_id))
                            .collect();
                    } else if let Some(s) = &body.stale {
                        stale.extend(s.iter().copied());
                        let list = self.relay.devices(user).await?;
                        devices = list
                            .devices
                            .iter()
                            .filter(|d| devices.iter().any(|(x, _)| *x == d.device))
                            .map(|d| (d.device, d.registration_id))
                            .collect();
                    } else {
                        return Err(e.into());
                    }
                }
            }
        }
        Err(EnrolError::State(
            "the recipient's devices kept changing; try again",
        ))
    }

    /// Starts a session with one device from a bundle claimed from the relay.
    async fn new_session(
        &self,
        ours: &parley_crypto::identity::IdentityKeyPair,
        user: &UserId,
        device: DeviceId,
        addr: &DeviceAddress,
    ) -> EnrolResult<SessionRecord> {
        let bundles = self.relay.claim_prekeys(user, Some(device)).await?;
        let b = bundles
            .devices
            .first()
            .ok_or(EnrolError::State("the device has no prekeys"))?;
        let bad = |_| EnrolError::State("the relay served a malformed prekey bundle");
        let identity = PublicIdentity::from_bytes(&b.identity.0).map_err(bad)?;
        let kem = match &b.one_time_kem {
            Some(k) => KemPreKeyPublic::from_bytes(&k.0)
                .map_err(|_| EnrolError::State("malformed KEM prekey"))?,
            None => KemPreKeyPublic::from_bytes(&b.last_resort_kem.0)
                .map_err(|_| EnrolError::State("malformed KEM prekey"))?,
        };
        let one_time = match &b.one_time {
            Some(k) => Some(
                OneTimePreKeyPublic::from_bytes(&k.0)
                    .map_err(|_| EnrolError::State("malformed prekey"))?,
            ),
            None => None,
        };
        let signed = SignedPreKeyPublic::from_bytes(&b.signed_prekey.0)
            .map_err(|_| EnrolError::State("malformed signed prekey"))?;
        let bundle = PreKeyBundle::new(identity, signed, kem, one_time);
        let mut record = SessionRecord::new();
        record
            .initiate(&self.me()?, addr, ours, &bundle, &mut os_rng())
            .map_err(|_| EnrolError::State("the prekey bundle does not verify"))?;
        Ok(record)
    }

    /// Keeps this device's prekeys on the relay healthy (DESIGN.md §4): rotates the signed and
    /// last-resort prekeys once they are a week old (the previous ones stay usable for a
    /// while, as the prekey store keeps two), and refills the one-time prekeys when fewer
    /// than [`REFILL_BELOW`] of a kind are left. The private halves are stored before the
    /// public ones are uploaded. Returns whether anything was uploaded.
    pub async fn upkeep(&self) -> EnrolResult<bool> {
        let count = self.relay.prekey_count().await?;
        let now = now_ms() / 1000;
        let mut tx = self.store.begin().await?;
        let identity = tx
            .identity()
            .await?
            .ok_or(EnrolError::State("no identity"))?;
        let mut prekeys = tx.prekeys().await?.ok_or(EnrolError::State("no prekeys"))?;
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
            // Keys claimed from the relay but never used still sit here; the oldest go first
            // to make room (the relay hands out the oldest first, so those are the claimed ones).
            let (held_ec, held_kem) = prekeys.one_time_counts();
            let left_ec = usize::try_from(count.one_time).unwrap_or(0);
            let left_kem = usize::try_from(count.one_time_kem).unwrap_or(0);
            prekeys.forget_oldest_one_time(
                held_ec.saturating_sub(left_ec),
                held_kem.saturating_sub(left_kem),
            );
            let have = left_ec.max(left_kem);
            prekeys.generate_one_time(&identity, REFILL_TO.saturating_sub(have), &mut os_rng())
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

    /// Decrypts and stores one delivered envelope. Returns `None` for a repeat or for
    /// content that carries no message for the app; the caller acks in every `Ok` case.
    pub async fn receive(&self, env: &Envelope) -> EnrolResult<Option<Received>> {
        let from = address(env.source_user.as_str(), env.source_device)?;
        let message = SessionMessage::from_bytes(&env.body.0)
            .map_err(|_| EnrolError::State("malformed envelope"))?;
        // Only a prekey message can start a session, so only then is the sender's identity
        // needed: as the relay lists it (org-log verification: to come).
        let listed: Option<PublicIdentity> = match &message {
            SessionMessage::PreKey(_) => self
                .relay
                .devices(&env.source_user)
                .await
                .ok()
                .and_then(|l| {
                    l.devices
                        .into_iter()
                        .find(|d| d.device == env.source_device)
                })
                .and_then(|d| PublicIdentity::from_bytes(&d.identity.0).ok()),
            SessionMessage::Ratchet(_) => None,
        };
        let mut tx = self.store.begin().await?;
        let me = self.me()?;
        let identity = tx
            .identity()
            .await?
            .ok_or(EnrolError::State("no identity"))?;
        let mut prekeys = tx.prekeys().await?.ok_or(EnrolError::State("no prekeys"))?;
        let mut record = tx.session(&from).await?.unwrap_or_default();
        let local = LocalDevice {
            address: &me,
            identity: &identity,
            prekeys: &mut prekeys,
        };
        let trusted = |id: &PublicIdentity| listed.as_ref() == Some(id);
        let decrypted = record
            .decrypt(
                local,
                &from,
                &message,
                trusted,
                now_ms() / 1000,
                &mut os_rng(),
            )
            .map_err(|_| EnrolError::State("an envelope did not decrypt"))?;
        tx.set_session(&from, &record).await?;
        tx.set_prekeys(&prekeys).await?;
        let Ok(content) = Content::from_bytes(&decrypted.plaintext) else {
            // Keep the advanced session (its message key is gone) even though the content
            // is unusable.
            tx.commit().await?;
            return Err(EnrolError::State("malformed content"));
        };
        if tx.message(&MessageId(content.id.0)).await?.is_some() {
            tx.commit().await?;
            return Ok(None);
        }
        let own_copy = env.source_user.as_str() == self.account.user;
        let peer = match (&content.sync_to, own_copy) {
            (Some(to), true) => to.to_string(),
            _ => env.source_user.to_string(),
        };
        let conversation = conversation(&mut tx, &self.store, &peer).await?;
        tx.put_message(&Message {
            id: MessageId(content.id.0),
            conversation,
            outgoing: own_copy,
            timestamp: now_ms(),
            sender: from,
            sent_at: content.sent_at,
            body: content.to_bytes(),
            status: if own_copy {
                MessageStatus::Sent
            } else {
                MessageStatus::Received
            },
        })
        .await?;
        tx.commit().await?;
        let (text, file) = match &content.body {
            Body::Text { text, .. } => (Some(text.clone()), None),
            Body::File {
                attachment,
                caption,
                ..
            } => (caption.clone(), Some(attachment.clone())),
            _ => (None, None),
        };
        Ok(Some(Received {
            from: env.source_user.clone(),
            device: env.source_device,
            sync_to: if own_copy {
                content.sync_to.clone()
            } else {
                None
            },
            id: content.id,
            sent_at: content.sent_at,
            text,
            file,
        }))
    }

    /// Connects to the relay and returns the stream of [`Event`]s for this device: each
    /// envelope is decrypted and stored, then acknowledged, then reported.
    pub async fn events(&self) -> EnrolResult<Events<'_>> {
        let ws = self.relay.connect().await?;
        Ok(Events {
            messenger: self,
            ws,
        })
    }

    /// The 1:1 history with `peer`, oldest first.
    pub async fn history(&self, peer: &UserId, limit: u32) -> EnrolResult<Vec<(bool, String)>> {
        let mut tx = self.store.begin().await?;
        let id = self.store.direct_conversation_id(peer.as_str());
        let mut messages = tx.messages(&id, None, limit).await?;
        tx.commit().await?;
        messages.sort_by_key(|m| m.timestamp);
        Ok(messages
            .into_iter()
            .filter_map(|m| match Content::from_bytes(&m.body).ok()?.body {
                Body::Text { text, .. } => Some((m.outgoing, text)),
                Body::File { attachment, .. } => Some((
                    m.outgoing,
                    format!(
                        "[file {} ({} bytes)]",
                        attachment.file_name.unwrap_or_default(),
                        attachment.size
                    ),
                )),
                _ => None,
            })
            .collect())
    }
}

/// What happens to this device, as the CLI and the desktop app consume it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A message arrived and is stored.
    Message(Received),
    /// Everything queued for this device while it was away has been received.
    CaughtUp,
    /// An envelope could not be decrypted or read and was dropped (it never will be).
    Dropped {
        /// Its sender.
        from: UserId,
        /// Why.
        reason: String,
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
    /// redelivery (ignored as a repeat), never a loss. If the store fails, the error is
    /// returned and the envelope is not acknowledged.
    pub async fn next(&mut self) -> Option<EnrolResult<Event>> {
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
                    return Some(Err(EnrolError::State(
                        "the relay closed the connection (another connection of this device, or shutdown)",
                    )));
                }
            };
            let event = match self.messenger.receive(&env).await {
                Ok(Some(msg)) => Some(Event::Message(msg)),
                Ok(None) => None,
                Err(e @ EnrolError::Store(_)) => return Some(Err(e)),
                Err(e) => Some(Event::Dropped {
                    from: env.source_user.clone(),
                    reason: e.to_string(),
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

/// The 1:1 conversation with `peer`, created if new.
async fn conversation(
    tx: &mut StoreTx<'_>,
    store: &Store,
    peer: &str,
) -> EnrolResult<crate::store::ConversationId> {
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

fn rand16() -> [u8; 16] {
    use rand_core::Rng as _;
    let mut out = [0u8; 16];
    os_rng().fill_bytes(&mut out);
    out
}
