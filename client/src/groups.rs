//! Group conversations with sender keys (docs/architecture.md §3 "Groups: sender keys", §7).
//!
//! A group is kept by its members' clients, as Signal's first group design was: the relay
//! sees only pairwise envelopes and identical group envelopes, never a member list.
//!
//! - **Changes** (create, add, remove, rename) travel pairwise to every member as the group was
//!   before the change (so a removed member learns of it), the author's own other devices
//!   included. A new member gets the whole group instead (`Create` with name and members). A
//!   change is accepted only from a current member; a `Create` for an unknown group only from
//!   someone it lists. Any member may add or remove members (no group admins yet).
//! - **Messages** (text, files, edits, deletes, reactions, receipts) are encrypted once with
//!   this device's [`OwnSenderKey`] and the same ciphertext goes to every member device, all
//!   in one request (`POST /v1/messages`; a very large group's in a few). The
//!   key's distribution message goes pairwise, before the first message, to each member device
//!   that lacks it; the store remembers which devices (user, device, registration id) have it.
//! - **Rotation**: when a device that has this device's key is no longer among the members'
//!   devices — a member removed, a device gone from the directory or re-registered — the key
//!   is replaced (fresh chain and signing key) before the next group message and distributed
//!   only to the devices that remain. A removal also drops this device's key at once, on every
//!   member's device that applies it, so every remaining member rotates.
//! - **Receiving**: a group message is decrypted with the sender device's sender-key record
//!   and accepted only from a current member, and only while this user is a member: a removed
//!   member's later messages are dropped even if it kept a valid key.
//!
//! Limits: a member's message can arrive before the group's `Create` reaches this device when
//! they come from different members (the relay orders only per sender); it is then dropped as
//! "unknown group". Group changes are not yet ordered or signed by group admins.

use std::collections::BTreeSet;

use futures_util::StreamExt as _;

use parley_crypto::DeviceAddress;
use parley_crypto::keys::os_rng;
use parley_crypto::sender_key::{OwnSenderKey, SenderKeyDistributionMessage, SenderKeyMessage};
use parley_proto::api::{
    MAX_ENVELOPES_PER_SEND, MultiSendRequest, OutgoingEnvelope, RecipientEnvelopes,
};
use parley_proto::content::{Body, Content, GroupChange, GroupId, MessageId as ContentId};
use parley_proto::envelope::EnvelopeBody;
use parley_proto::ws::Envelope;
use parley_proto::{B64, UserId};

use crate::error::{Error, Missing, Rejection, Result};
use crate::messaging::{
    Messenger, Received, SEND_ATTEMPTS, Target, address, crypto_group, group_members, now_ms,
    rand16,
};
use crate::store::{
    ContactDevice, Conversation, ConversationKind, OutboxItem, SenderKeyShare, StoreTx,
};

/// A group as this device knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// Its id.
    pub id: GroupId,
    /// Its name.
    pub name: String,
    /// Its members (user ids, sorted).
    pub members: Vec<String>,
}

/// Pairwise sends in flight at once (sender-key distributions, one request per member).
const PARALLEL_SENDS: usize = 8;
/// Most bytes of envelope bodies in one group-message request (the relay's default body limit
/// is 8 MiB, and base64 adds a third).
const MAX_SEND_BYTES: usize = 4 * 1024 * 1024;

/// What became of a group message's envelopes.
#[derive(Default)]
struct Delivered {
    /// Members whose every device the relay has it for.
    users: Vec<String>,
    /// Some member's devices changed: distribute (or rotate) and encrypt again for the rest.
    changed: bool,
}

impl GroupInfo {
    /// The group a conversation is, if it is one.
    fn of(conversation: Conversation) -> Option<Self> {
        match conversation.kind {
            ConversationKind::Group { group, members } => Some(Self {
                id: GroupId(group.0),
                name: conversation.title,
                members,
            }),
            ConversationKind::Direct { .. } => None,
        }
    }
}

/// The group `group` as `tx` sees it.
async fn group_info(
    tx: &mut StoreTx<'_>,
    store: &crate::store::Store,
    group: &GroupId,
) -> Result<GroupInfo> {
    tx.conversation(&store.group_conversation_id(&crypto_group(group)))
        .await?
        .and_then(GroupInfo::of)
        .ok_or(Error::NoSuchGroup)
}

fn share(user: &str, device: &ContactDevice) -> SenderKeyShare {
    SenderKeyShare {
        user: user.to_owned(),
        device: device.device,
        registration_id: device.registration_id,
    }
}

impl Messenger {
    /// Creates a group named `name` with `members` (this user is added) and tells them.
    pub async fn create_group(&self, name: &str, members: &[UserId]) -> Result<GroupId> {
        let group = GroupId(parley_crypto::sender_key::GroupId::generate(&mut os_rng()).0);
        let mut list: BTreeSet<UserId> = members.iter().cloned().collect();
        list.insert(UserId::new(self.user())?);
        let mut tx = self.store().begin().await?;
        tx.set_conversation(&Conversation {
            id: self.store().group_conversation_id(&crypto_group(&group)),
            kind: ConversationKind::Group {
                group: crypto_group(&group),
                members: list.iter().map(ToString::to_string).collect(),
            },
            title: name.to_owned(),
            created_at: now_ms(),
            last_read: 0,
        })
        .await?;
        tx.commit().await?;
        let change = GroupChange::Create {
            name: name.to_owned(),
            members: list.into_iter().collect(),
        };
        self.send_body(&Target::Group(group), Body::Group(change))
            .await?;
        Ok(group)
    }

    /// Adds `members` to `group`: the members are told, and the new ones get the whole group
    /// (both queued in one transaction, so neither goes without the other).
    pub async fn add_members(&self, group: &GroupId, members: &[UserId]) -> Result<()> {
        let target = Target::Group(*group);
        let change = GroupChange::Add {
            members: members.to_vec(),
        };
        let mut tx = self.store().begin().await?;
        let (_, added) = self
            .queue(&mut tx, &target, Body::Group(change), None)
            .await?;
        let info = group_info(&mut tx, self.store(), group).await?;
        let create = GroupChange::Create {
            name: info.name,
            members: info
                .members
                .into_iter()
                .map(UserId::new)
                .collect::<Result<_, _>>()?,
        };
        let newcomers = members.iter().map(ToString::to_string).collect();
        let (_, whole) = self
            .queue(&mut tx, &target, Body::Group(create), Some(newcomers))
            .await?;
        tx.commit().await?;
        self.flush_outbox_for(&[added, whole]).await
    }

    /// Removes `members` from `group` (this user's own id leaves it). Every remaining member
    /// rotates its sender key before its next group message.
    pub async fn remove_members(&self, group: &GroupId, members: &[UserId]) -> Result<()> {
        let change = GroupChange::Remove {
            members: members.to_vec(),
        };
        self.send_body(&Target::Group(*group), Body::Group(change))
            .await
            .map(|_| ())
    }

    /// Renames `group`.
    pub async fn rename_group(&self, group: &GroupId, name: &str) -> Result<()> {
        let change = GroupChange::Rename {
            name: name.to_owned(),
        };
        self.send_body(&Target::Group(*group), Body::Group(change))
            .await
            .map(|_| ())
    }

    /// The groups this device knows, by name.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>> {
        let mut tx = self.store().begin().await?;
        let all = tx.conversations().await?;
        tx.commit().await?;
        let mut out: Vec<GroupInfo> = all.into_iter().filter_map(GroupInfo::of).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One group.
    pub async fn group(&self, group: &GroupId) -> Result<GroupInfo> {
        let mut tx = self.store().begin().await?;
        let info = group_info(&mut tx, self.store(), group).await;
        tx.commit().await?;
        info
    }

    /// Finds a group by its name, its id in hex, or a prefix of at least 6 hex digits of it.
    pub async fn find_group(&self, query: &str) -> Result<GroupId> {
        let groups = self.groups().await?;
        let by_name: Vec<&GroupInfo> = groups.iter().filter(|g| g.name == query).collect();
        let by_id: Vec<&GroupInfo> = groups
            .iter()
            .filter(|g| {
                query.len() >= 6
                    && parley_proto::hex::encode(g.id.0).starts_with(&query.to_lowercase())
            })
            .collect();
        match (by_name.as_slice(), by_id.as_slice()) {
            ([one], _) | ([], [one]) => Ok(one.id),
            ([], []) => Err(Error::NoSuchGroup),
            _ => Err(Error::AmbiguousGroup),
        }
    }

    /// Checks that a group message (not a change) from `author` may be accepted: the group is
    /// known, `author` is a member, and so is this user.
    pub(crate) async fn check_group_sender(
        &self,
        tx: &mut StoreTx<'_>,
        group: &GroupId,
        author: &UserId,
        body: &Body,
    ) -> Result<()> {
        if matches!(body, Body::Group(_)) {
            return Ok(()); // checked by apply_group_change
        }
        let conversation = self.store().group_conversation_id(&crypto_group(group));
        let members = group_members(tx, &conversation).await?;
        if members.is_empty() {
            return Err(Rejection::UnknownGroup.into());
        }
        if !members.iter().any(|m| m == author.as_str()) {
            return Err(Rejection::FromNonMember.into());
        }
        if !members.iter().any(|m| m == self.user()) {
            return Err(Rejection::LeftGroup.into());
        }
        Ok(())
    }

    /// Applies a group change from `author`, if `author` may make it.
    pub(crate) async fn apply_group_change(
        &self,
        tx: &mut StoreTx<'_>,
        group: &GroupId,
        author: &UserId,
        change: &GroupChange,
    ) -> Result<()> {
        let g = crypto_group(group);
        let id = self.store().group_conversation_id(&g);
        let existing = tx.conversation(&id).await?;
        let (mut members, mut title, created_at) = match existing {
            Some(Conversation {
                kind: ConversationKind::Group { members, .. },
                title,
                created_at,
                ..
            }) => (members, title, created_at),
            Some(_) => return Err(Rejection::NotAGroup.into()),
            None => (Vec::new(), String::new(), now_ms()),
        };
        let is_member = members.iter().any(|m| m == author.as_str());
        let refuse = Err(Error::from(Rejection::FromNonMember));
        match change {
            GroupChange::Create {
                name,
                members: list,
            } => {
                let allowed = if members.is_empty() {
                    list.contains(author)
                } else {
                    is_member
                };
                if !allowed {
                    return refuse;
                }
                members = list.iter().map(ToString::to_string).collect();
                title.clone_from(name);
            }
            GroupChange::Add { members: new } => {
                if !is_member {
                    return refuse;
                }
                members.extend(new.iter().map(ToString::to_string));
            }
            GroupChange::Remove { members: gone } => {
                if !is_member {
                    return refuse;
                }
                members.retain(|m| !gone.iter().any(|g| g.as_str() == m));
                // Every remaining member rotates: this device's key is dropped now, and the
                // next group message starts a fresh chain for the devices that remain.
                tx.delete_own_sender_key(&g).await?;
                tx.set_sender_key_shares(&g, &[]).await?;
                for user in gone {
                    if let Some(contact) = tx.contact(user.as_str()).await? {
                        for d in &contact.devices {
                            tx.delete_sender_key(&g, &address(user.as_str(), d.device)?)
                                .await?;
                        }
                    }
                }
            }
            GroupChange::Rename { name } => {
                if !is_member {
                    return refuse;
                }
                title.clone_from(name);
            }
        }
        members.sort();
        members.dedup();
        tx.set_conversation(&Conversation {
            id,
            kind: ConversationKind::Group { group: g, members },
            title,
            created_at,
            last_read: 0,
        })
        .await?;
        Ok(())
    }

    /// Stores a sender-key distribution that `from` sent for `group`.
    pub(crate) async fn accept_distribution(
        &self,
        tx: &mut StoreTx<'_>,
        group: &GroupId,
        from: &DeviceAddress,
        bytes: &[u8],
    ) -> Result<()> {
        let distribution = SenderKeyDistributionMessage::from_bytes(bytes)
            .map_err(|_| Rejection::MalformedSenderKey)?;
        if distribution.group_id().0 != group.0 {
            return Err(Rejection::WrongGroup.into());
        }
        let g = crypto_group(group);
        let members = group_members(tx, &self.store().group_conversation_id(&g)).await?;
        if !members.is_empty() && !members.iter().any(|m| m == from.user()) {
            return Err(Rejection::FromNonMember.into());
        }
        let mut record = tx.sender_key(&g, from).await?.unwrap_or_default();
        record.process_distribution(&distribution);
        tx.set_sender_key(&g, from, &record).await?;
        Ok(())
    }

    /// Decrypts a group envelope with the sender device's sender key and applies it.
    pub(crate) async fn receive_group(
        &self,
        env: &Envelope,
        bytes: &[u8],
    ) -> Result<Option<Received>> {
        let from = address(env.source_user.as_str(), env.source_device)?;
        let message =
            SenderKeyMessage::from_bytes(bytes).map_err(|_| Rejection::MalformedEnvelope)?;
        let g = *message.group_id();
        let mut tx = self.store().begin().await?;
        let mut record = tx
            .sender_key(&g, &from)
            .await?
            .ok_or(Rejection::NoSenderKey)?;
        let plaintext = match record.decrypt(&g, &from, bytes) {
            Ok(p) => p,
            Err(parley_crypto::Error::DuplicateMessage) => return Ok(None),
            Err(e) => return Err(Rejection::Undecryptable(e).into()),
        };
        tx.set_sender_key(&g, &from, &record).await?;
        let outcome = match Content::from_bytes(&plaintext) {
            Ok(c) if c.group.map(|x| x.0) == Some(g.0) => {
                self.receive_content(&mut tx, env, &from, c).await
            }
            Ok(_) => Err(Rejection::WrongGroup.into()),
            Err(_) => Err(Rejection::MalformedContent.into()),
        };
        crate::messaging::finish(tx, outcome).await
    }

    /// Sends one group envelope to every device of each of `users` that holds this device's
    /// current sender key (`shares`): all the members in one request (`POST /v1/messages`),
    /// or in as few as the relay's limits allow. A member with a device that lacks the key,
    /// or whose devices the relay reports changed, is left for the next round.
    async fn send_group_envelopes(
        &self,
        users: &[String],
        body: &B64,
        shares: &[SenderKeyShare],
    ) -> Result<Delivered> {
        let mut out = Delivered::default();
        let mut requests: Vec<Vec<RecipientEnvelopes>> = vec![Vec::new()];
        let (mut count, mut bytes) = (0usize, 0usize);
        // Read again: the distribution may have refreshed some lists.
        let all = self.recipient_devices_of(users).await?;
        for (user, devices) in &all {
            let uid = UserId::new(user.clone())?;
            if devices.iter().any(|d| !shares.contains(&share(user, d))) {
                out.changed = true;
                continue;
            }
            if devices.is_empty() {
                out.users.push(user.clone());
                continue;
            }
            let size = devices.len() * body.as_bytes().len();
            if count + devices.len() > MAX_ENVELOPES_PER_SEND || bytes + size > MAX_SEND_BYTES {
                requests.push(Vec::new());
                (count, bytes) = (0, 0);
            }
            (count, bytes) = (count + devices.len(), bytes + size);
            if let Some(request) = requests.last_mut() {
                request.push(RecipientEnvelopes {
                    user: uid,
                    messages: devices
                        .iter()
                        .map(|d| OutgoingEnvelope {
                            device: d.device,
                            registration_id: d.registration_id,
                            body: body.clone(),
                        })
                        .collect(),
                });
            }
        }
        for recipients in requests.into_iter().filter(|r| !r.is_empty()) {
            let names: Vec<String> = recipients
                .iter()
                .map(|r| r.user.as_str().to_owned())
                .collect();
            let e = match self
                .relay()
                .send_multi(&MultiSendRequest { recipients })
                .await
            {
                Ok(answer) => {
                    self.note_own_devices(&answer.sender_devices).await?;
                    out.users.extend(names);
                    continue;
                }
                Err(e) => e,
            };
            // Nothing of the request was stored. Refresh the devices of the members the relay
            // named (re-registered ones need new sessions for the distribution) and go round
            // again.
            let Some(b) = e
                .body()
                .filter(|b| b.mismatched_users.is_some() || b.stale_users.is_some())
            else {
                return Err(e.into());
            };
            let mut tx = self.store().begin().await?;
            for s in b.stale_users.iter().flatten() {
                for d in &s.stale {
                    tx.delete_session(&address(s.user.as_str(), *d)?).await?;
                }
            }
            tx.commit().await?;
            let named = b.mismatched_users.iter().flatten().map(|m| &m.user);
            for user in named.chain(b.stale_users.iter().flatten().map(|s| &s.user)) {
                self.recipient_devices(user, true).await?;
            }
            out.changed = true;
        }
        Ok(out)
    }

    /// Sends group content under this device's sender key to each remaining recipient of
    /// `item`, distributing or rotating the key first as the module docs say.
    pub(crate) async fn send_group_item(
        &self,
        item: &mut OutboxItem,
        content: &Content,
        group: &GroupId,
    ) -> Result<()> {
        let g = crypto_group(group);
        let me = self.me()?;
        let plaintext = content.to_bytes();
        for _ in 0..SEND_ATTEMPTS {
            let mut tx = self.store().begin().await?;
            let members = group_members(&mut tx, &item.conversation).await?;
            tx.commit().await?;
            // Every device the key may be with: the members' current devices.
            let devices = self.recipient_devices_of(&members).await?;
            let current: BTreeSet<SenderKeyShare> = devices
                .iter()
                .flat_map(|(m, ds)| ds.iter().map(move |d| share(m, d)))
                .collect();
            let mut tx = self.store().begin().await?;
            let mut shares = tx.sender_key_shares(&g).await?;
            let key = match tx.own_sender_key(&g).await? {
                Some(k) if shares.iter().all(|s| current.contains(s)) => k,
                old => {
                    let key = match old {
                        Some(mut k) => {
                            k.rotate(&mut os_rng());
                            k
                        }
                        None => OwnSenderKey::new(g, &mut os_rng()),
                    };
                    shares.clear();
                    tx.set_own_sender_key(&key).await?;
                    tx.set_sender_key_shares(&g, &shares).await?;
                    key
                }
            };
            tx.commit().await?;

            // Distribute, pairwise, to the remaining recipients' devices that lack the key.
            item.recipients.retain(|r| members.contains(r));
            let lacking: Vec<String> = item
                .recipients
                .iter()
                .filter(|user| {
                    devices
                        .get(*user)
                        .is_some_and(|ds| ds.iter().any(|d| !shares.contains(&share(user, d))))
                })
                .cloned()
                .collect();
            if !lacking.is_empty() {
                let mut dist = Content::new(
                    ContentId(rand16()),
                    now_ms(),
                    Body::SenderKey {
                        group: *group,
                        distribution: B64(key.distribution_message().to_bytes().to_vec()),
                    },
                );
                dist.group = Some(*group);
                let outcomes: Vec<(String, Result<Vec<ContactDevice>>)> =
                    futures_util::stream::iter(lacking)
                        .map(|user| async {
                            let outcome = match UserId::new(user.clone()) {
                                Ok(uid) => self.send_content(&uid, &dist).await,
                                Err(e) => Err(e.into()),
                            };
                            (user, outcome)
                        })
                        .buffer_unordered(PARALLEL_SENDS)
                        .collect()
                        .await;
                let mut failure = None;
                let mut device_left = false;
                for (user, outcome) in outcomes {
                    match outcome {
                        Ok(sent_to) => {
                            let now: Vec<SenderKeyShare> =
                                sent_to.iter().map(|d| share(&user, d)).collect();
                            // A device that has the key and is gone from the list (the relay
                            // said so on this send) forces a rotation before anything is
                            // encrypted; shares only grow until then.
                            device_left |=
                                shares.iter().any(|s| s.user == user && !now.contains(s));
                            for s in now {
                                if !shares.contains(&s) {
                                    shares.push(s);
                                }
                            }
                        }
                        Err(e) => failure = Some(e),
                    }
                }
                let mut tx = self.store().begin().await?;
                tx.set_sender_key_shares(&g, &shares).await?;
                tx.commit().await?;
                if let Some(e) = failure {
                    return Err(e);
                }
                if device_left {
                    continue;
                }
            }

            // Encrypt once; commit the advanced chain before anything leaves.
            let mut tx = self.store().begin().await?;
            let mut key = tx.own_sender_key(&g).await?.ok_or(Missing::OwnSenderKey)?;
            let ciphertext = key.encrypt(&me, &plaintext).map_err(Error::Crypto)?;
            tx.set_own_sender_key(&key).await?;
            tx.commit().await?;
            let body = B64(EnvelopeBody::Group(&ciphertext).to_bytes());

            // One request for all the members (more only for a very large group).
            let delivered = self
                .send_group_envelopes(&item.recipients, &body, &shares)
                .await?;
            item.recipients.retain(|r| !delivered.users.contains(r));
            if !delivered.changed {
                return Ok(());
            }
        }
        Err(Error::DevicesChanging)
    }
}
