//! Messaging (docs/architecture.md §3, §7): 1:1 and group conversations, the outbox, receiving, and
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
//!
//! The path of a message through the submodules (docs/architecture.md §9):
//! `send` (store the message and its outbox item) → `outbox` (due items, retries) →
//! `pairwise` (a session per device, encrypt, commit, `POST`) or [`crate::groups`] (sender
//! keys) → the relay → `events` (the delivery socket) → `receive` (decrypt in one store
//! transaction) → `effects` (what the content does to the store) → [`Event`], then the ack.
//! `prekeys` keeps this device's prekeys on the relay; `history` reads a conversation back as
//! lines, `timeline` as structured rows and the conversation list, for the app.

mod disappearing;
mod effects;
mod events;
mod history;
mod notify;
mod outbox;
mod pairwise;
mod prekeys;
mod presence;
mod receive;
mod send;
mod status;
mod tasks;
mod timeline;

use parley_crypto::DeviceAddress;
use parley_crypto::keys::os_rng;
use parley_proto::content::{Body, GroupId};
use parley_proto::{DeviceId, UserId};

use crate::enrol::relay_for;
use crate::error::{Error, Result};
use crate::relay::Relay;
use crate::store::{Account, Conversation, ConversationId, ConversationKind, Store, StoreTx};

pub use disappearing::Disappearing;
pub(crate) use effects::stored_as_row;
pub use events::{Event, Events};
pub use history::{HistoryEntry, describe, duration, short_task_id};
pub use notify::{mentions, should_notify};
pub use outbox::{MAX_ATTEMPTS, MAX_BACKOFF_MS};
pub(crate) use pairwise::SEND_ATTEMPTS;
pub use prekeys::{REFILL_BELOW, REFILL_TO, ROTATE_AFTER_SECS};
pub use receive::Received;
pub(crate) use receive::finish;
pub use tasks::{DEFAULT_REMINDER_LEAD_SECS, NewTask};
pub use timeline::{ConversationSummary, TimelineItem, UNREAD_SCAN};

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A 1:1 conversation.
    User(UserId),
    /// A group conversation.
    Group(GroupId),
}

/// How far ahead of this device's clock another's may claim to be (ms): a claimed send time
/// later than that counts as that, where the latest claim wins (presence, timers).
pub(crate) const CLOCK_SLACK_MS: u64 = 60_000;

/// The system clock in milliseconds since the Unix epoch (0 if it is before it).
pub fn now_ms() -> u64 {
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
    !matches!(
        body,
        Body::Group(_) | Body::SenderKey { .. } | Body::Settings { .. }
    )
}

/// An enrolled account, ready to send and receive.
#[derive(Debug)]
pub struct Messenger {
    store: Store,
    pub(crate) account: Account,
    /// This device's identity, decoded once: it never changes, and decoding it derives two
    /// public keys and signs (three scalar multiplications) on every send and receive. The
    /// relay client holds its signing half for as long anyway.
    identity: parley_crypto::identity::IdentityKeyPair,
    relay: Relay,
    /// The last local timestamp given to a message (they increase strictly, so a
    /// conversation's order is the order in which this device stored its messages).
    last_stamp: std::sync::atomic::AtomicU64,
    /// Hashes of entries of this device's verified log that an older head named (log length
    /// → hash of its last entry), checked once against the relay (fork detection).
    pub(crate) past_heads: std::sync::Mutex<std::collections::HashMap<u64, [u8; 32]>>,
    /// The verified log head as this messenger last read it from the store: a received
    /// message whose head equals it needs no store read (fork detection's common case).
    pub(crate) own_head: std::sync::Mutex<Option<parley_proto::org::LogHead>>,
    /// The directory of the verified log, folded for search; dropped whenever this messenger
    /// stores a longer log ([`Messenger::search_directory`]).
    pub(crate) directory: std::sync::Mutex<Option<std::sync::Arc<crate::search::DirectoryIndex>>>,
    /// The org's policy and this user's role from the stored log, dropped with the directory.
    pub(crate) log_facts: std::sync::Mutex<Option<disappearing::LogFacts>>,
    /// The stored org state, decoded once per log head (`Messenger::stored_log`).
    pub(crate) org_cache: std::sync::Mutex<Option<std::sync::Arc<parley_proto::org::OrgState>>>,
    /// When expired messages were last deleted (ms; see [`Messenger::sweep_expired`]).
    pub(crate) last_sweep: std::sync::atomic::AtomicU64,
    /// When the next task reminder is due (ms; 0: not known, read the store).
    pub(crate) next_reminder: std::sync::atomic::AtomicU64,
}

impl Messenger {
    /// Opens the messenger of the account in `store`, applying the org's offline limits
    /// (see [`Messenger::open_at`]) with the system clock.
    pub async fn new(store: Store) -> Result<Self> {
        Self::open_at(store, crate::orglog::now_secs()).await
    }

    /// Opens the messenger as if the time were `now` (seconds since the Unix epoch).
    ///
    /// The org's policy (docs/architecture.md §5.3) may limit how long a device goes without
    /// reaching the relay. Past the lock limit the device must reach the relay before
    /// anything is read (a failure closes the store: [`Error::OfflineLocked`]); past the wipe
    /// limit it wipes itself at once, with no word from the relay ([`Error::OfflineWiped`]).
    /// The limits are counted from the last time it read the org log, kept in its store.
    pub async fn open_at(store: Store, now: u64) -> Result<Self> {
        let mut tx = store.begin().await?;
        let account = tx.account().await?.ok_or(Error::NotEnrolled)?;
        let signed_out = tx.signed_out().await?;
        let org = tx.org_state().await?;
        let policy = org.as_ref().map(|s| *s.policy());
        let last = tx.last_contact().await?;
        tx.commit().await?;
        if signed_out {
            store.close().await;
            return Err(Error::DeviceRevoked(
                parley_proto::org::RevokeReason::Logout,
            ));
        }
        let away = last.map_or(0, |l| now.saturating_sub(l));
        let policy = policy.unwrap_or_default();
        if policy.offline_wipe_secs > 0 && away > policy.offline_wipe_secs {
            tracing::warn!(away, "offline for longer than the policy allows: wiping");
            crate::wipe::wipe_store(store).await?;
            return Err(Error::OfflineWiped);
        }
        let mut tx = store.begin().await?;
        let identity = tx
            .identity()
            .await?
            .ok_or(crate::error::Missing::Identity)?;
        tx.commit().await?;
        let relay = relay_for(&account, &identity)?;
        let m = Self {
            store,
            account,
            identity,
            relay,
            last_stamp: std::sync::atomic::AtomicU64::new(0),
            past_heads: std::sync::Mutex::default(),
            own_head: std::sync::Mutex::default(),
            directory: std::sync::Mutex::default(),
            log_facts: std::sync::Mutex::default(),
            org_cache: std::sync::Mutex::default(),
            last_sweep: std::sync::atomic::AtomicU64::new(0),
            next_reminder: std::sync::atomic::AtomicU64::new(0),
        };
        m.sweep_expired().await?;
        if let Some(org) = &org {
            // A device that just joined (or was offline when the log last changed) makes the
            // directory's groups it is in.
            let mut tx = m.store.begin().await?;
            let _ = m.follow_directory_groups(&mut tx, org).await?;
            tx.commit().await?;
        }
        if policy.offline_lock_secs > 0 && away > policy.offline_lock_secs {
            tracing::warn!(away, "offline for longer than the policy allows: locked");
            if let Err(e) = m.sync_org().await {
                m.close().await;
                return Err(if e.is_temporary() {
                    Error::OfflineLocked
                } else {
                    e
                });
            }
        }
        Ok(m)
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

    /// This device's number.
    pub fn device(&self) -> DeviceId {
        self.account.device
    }

    /// Closes the store.
    pub async fn close(self) {
        self.store.close().await;
    }

    /// This device's identity key pair.
    pub(crate) fn identity(&self) -> &parley_crypto::identity::IdentityKeyPair {
        &self.identity
    }

    pub(crate) fn me(&self) -> Result<DeviceAddress> {
        address(&self.account.user, self.account.device)
    }
}

/// The sender-key layer's id of a group.
pub(crate) fn crypto_group(group: &GroupId) -> parley_crypto::sender_key::GroupId {
    parley_crypto::sender_key::GroupId(group.0)
}

/// The members of a group conversation (none if it is unknown).
pub(crate) async fn group_members(
    tx: &mut StoreTx<'_>,
    conversation: &ConversationId,
) -> Result<Vec<String>> {
    Ok(group_record(tx, conversation).await?.0)
}

/// The members of a group conversation (none if it is unknown), and whether it is an
/// announcement channel: one read of its record.
pub(crate) async fn group_record(
    tx: &mut StoreTx<'_>,
    conversation: &ConversationId,
) -> Result<(Vec<String>, bool)> {
    Ok(match tx.conversation(conversation).await? {
        Some(Conversation {
            kind: ConversationKind::Group { members, .. },
            announcement,
            ..
        }) => (members, announcement),
        _ => (Vec::new(), false),
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
            notify: crate::store::NotifySettings::default(),
            timer: crate::store::Timer::default(),
            announcement: false,
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
