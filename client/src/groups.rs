//! Group conversations with sender keys (docs/architecture.md §3 "Groups: sender keys", §7).
//!
//! A group is kept by its members' clients, as Signal's first group design was: the relay
//! sees only pairwise envelopes and identical group envelopes, never a member list.
//!
//! - **Changes** (create, add, remove, rename, promote, demote) are signed by their author's
//!   device and chained: each names the group's epoch and the hash of the change before
//!   (`parley_proto::group`). Only the group's admins (the creator first) may make them; any
//!   member may leave. Every device keeps every well-signed change it received (the
//!   `group_logs` table) and resolves the group from them the same way, so concurrent changes
//!   end the same on every device whatever their arrival order. A change travels pairwise to
//!   every member as the group was before it (so a removed member learns of it), the author's
//!   own other devices included; a new member gets every change instead, and resolves the
//!   group itself.
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
//! "unknown group". A change that lost to a concurrent one is not applied anywhere; the device
//! that made it makes again, on the winning head, what the winners left open
//! ([`parley_proto::group::redo`]) as soon as it receives the change that beat it.

use std::collections::BTreeSet;

use futures_util::StreamExt as _;

use parley_crypto::DeviceAddress;
use parley_crypto::keys::os_rng;
use parley_crypto::sender_key::{OwnSenderKey, SenderKeyDistributionMessage, SenderKeyMessage};
use parley_proto::api::{
    MAX_ENVELOPES_PER_SEND, MultiSendRequest, OutgoingEnvelope, RecipientEnvelopes,
};
use parley_proto::content::{
    Body, Content, GroupChange, GroupId, GroupUpdate, MessageId as ContentId,
};
use parley_proto::envelope::EnvelopeBody;
use parley_proto::group::{MAX_GROUP_CHANGES, SignedGroupChange, redo, resolve};
use parley_proto::ws::Envelope;
use parley_proto::{B64, UserId};

use crate::error::{Error, Missing, Rejection, Result};
use crate::messaging::{
    Messenger, Received, SEND_ATTEMPTS, Target, address, crypto_group, group_members, group_record,
    now_ms, rand16,
};
use crate::store::{
    ContactDevice, Conversation, ConversationKind, NotifySettings, OutboxItem, SenderKeyShare,
    StoreTx,
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
    /// Its admins (user ids, sorted).
    pub admins: Vec<String>,
    /// The epoch of its last change.
    pub epoch: u64,
    /// An announcement channel: only its admins post (the company channel: the org's admins
    /// and appointed posters).
    pub announcement: bool,
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

/// The group `group` as `tx` sees it: its conversation and its resolved changes.
async fn group_info(
    tx: &mut StoreTx<'_>,
    store: &crate::store::Store,
    group: &GroupId,
) -> Result<GroupInfo> {
    let conversation = tx
        .conversation(&store.group_conversation_id(&crypto_group(group)))
        .await?
        .ok_or(Error::NoSuchGroup)?;
    let ConversationKind::Group { members, .. } = conversation.kind else {
        return Err(Error::NoSuchGroup);
    };
    let state = resolve(group, &tx.group_log(&crypto_group(group)).await?);
    let admins = match &state {
        Some(s) => s.admins.iter().map(ToString::to_string).collect(),
        // A group the directory makes has no group admins: the org's admins act for it.
        None => match tx.org_state().await? {
            Some(org) => members
                .iter()
                .filter(|m| {
                    UserId::new(m.as_str())
                        .ok()
                        .and_then(|u| org.user(&u).map(|r| r.admin && !r.dismissed))
                        .unwrap_or(false)
                })
                .cloned()
                .collect(),
            None => Vec::new(),
        },
    };
    Ok(GroupInfo {
        id: *group,
        name: conversation.title,
        members,
        admins,
        epoch: state.as_ref().map_or(0, |s| s.epoch),
        announcement: conversation.announcement
            || tx
                .account()
                .await?
                .is_some_and(|a| parley_proto::org::company_group(&a.org_genesis_hash) == *group),
    })
}

fn share(user: &str, device: &ContactDevice) -> SenderKeyShare {
    SenderKeyShare {
        user: user.to_owned(),
        device: device.device,
        registration_id: device.registration_id,
    }
}

impl Messenger {
    /// Creates a group named `name` with `members` (this user is added, as its first admin)
    /// and tells them.
    pub async fn create_group(&self, name: &str, members: &[UserId]) -> Result<GroupId> {
        let group = GroupId(parley_crypto::sender_key::GroupId::generate(&mut os_rng()).0);
        let mut list: BTreeSet<UserId> = members.iter().cloned().collect();
        list.insert(UserId::new(self.user())?);
        let change = GroupChange::Create {
            name: name.to_owned(),
            members: list.iter().cloned().collect(),
        };
        let mut tx = self.store().begin().await?;
        let create = self.sign_change(&group, 0, [0; 32], change)?;
        tx.set_group_log(&crypto_group(&group), std::slice::from_ref(&create))
            .await?;
        tx.set_conversation(&Conversation {
            id: self.store().group_conversation_id(&crypto_group(&group)),
            kind: ConversationKind::Group {
                group: crypto_group(&group),
                members: list.iter().map(ToString::to_string).collect(),
            },
            title: name.to_owned(),
            created_at: now_ms(),
            last_read: 0,
            notify: NotifySettings::default(),
            timer: crate::store::Timer::default(),
            announcement: false,
        })
        .await?;
        tx.commit().await?;
        let update = GroupUpdate {
            changes: vec![create],
        };
        self.send_body(&Target::Group(group), Body::Group(update))
            .await?;
        Ok(group)
    }

    /// Signs `change` of `group` as this device.
    fn sign_change(
        &self,
        group: &GroupId,
        epoch: u64,
        prev: [u8; 32],
        change: GroupChange,
    ) -> Result<SignedGroupChange> {
        Ok(SignedGroupChange::sign(
            group,
            epoch,
            prev,
            UserId::new(self.user())?,
            self.device(),
            change,
            self.identity().signing(),
        ))
    }

    /// Makes `change` on the group's latest state, if this user may ([`Error::NotGroupAdmin`]
    /// otherwise): signs it, applies it here and sends it to the members as they were before
    /// it; members it adds get every change of the group instead (both queued in one
    /// transaction, so neither goes without the other).
    pub async fn change_group(&self, group: &GroupId, change: GroupChange) -> Result<()> {
        let target = Target::Group(*group);
        let g = crypto_group(group);
        let me = UserId::new(self.user())?;
        let mut tx = self.store().begin().await?;
        let org = self.stored_log(&mut tx).await?;
        if parley_proto::org::groups::is_directory_group(&org, group) {
            return Err(Error::DirectoryGroup);
        }
        let state = resolve(group, &tx.group_log(&g).await?).ok_or(Error::NoSuchGroup)?;
        if !state.members.contains(&me) {
            return Err(Error::NotAMember);
        }
        if !state.allows(&me, &change) {
            return Err(Error::NotGroupAdmin);
        }
        let signed = self.sign_change(group, state.epoch.saturating_add(1), state.head, change)?;
        let update = GroupUpdate {
            changes: vec![signed.clone()],
        };
        let (_, item) = self
            .queue(&mut tx, &target, Body::Group(update), None)
            .await?;
        let mut items = vec![item.id];
        if let GroupChange::Add { members } = &signed.change {
            let newcomers: Vec<String> = members
                .iter()
                .filter(|m| !state.members.contains(*m))
                .map(ToString::to_string)
                .collect();
            if !newcomers.is_empty() {
                let whole = GroupUpdate {
                    changes: tx.group_log(&g).await?,
                };
                let (_, item) = self
                    .queue(&mut tx, &target, Body::Group(whole), Some(newcomers))
                    .await?;
                items.push(item.id);
            }
        }
        tx.commit().await?;
        self.flush_outbox_for(&items).await
    }

    /// Adds `members` to `group` (an admin's device only).
    pub async fn add_members(&self, group: &GroupId, members: &[UserId]) -> Result<()> {
        let members = members.to_vec();
        self.change_group(group, GroupChange::Add { members }).await
    }

    /// Removes `members` from `group` (an admin's device; anyone may remove only their own id,
    /// leaving). Every remaining member rotates its sender key before its next group message.
    pub async fn remove_members(&self, group: &GroupId, members: &[UserId]) -> Result<()> {
        let members = members.to_vec();
        self.change_group(group, GroupChange::Remove { members })
            .await
    }

    /// Renames `group` (an admin's device only).
    pub async fn rename_group(&self, group: &GroupId, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.change_group(group, GroupChange::Rename { name }).await
    }

    /// Makes `members` admins of `group` (an admin's device only).
    pub async fn promote(&self, group: &GroupId, members: &[UserId]) -> Result<()> {
        let members = members.to_vec();
        self.change_group(group, GroupChange::Promote { members })
            .await
    }

    /// Makes `group` an announcement channel (`on`: only its admins post; members read and
    /// react), or an ordinary group again (an admin's device only).
    pub async fn set_announcement(&self, group: &GroupId, on: bool) -> Result<()> {
        self.change_group(group, GroupChange::Announce { on }).await
    }

    /// Makes admins of `group` plain members (an admin's device; the last admin stays).
    pub async fn demote(&self, group: &GroupId, members: &[UserId]) -> Result<()> {
        let members = members.to_vec();
        self.change_group(group, GroupChange::Demote { members })
            .await
    }

    /// The groups this device knows, by name.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>> {
        let mut tx = self.store().begin().await?;
        let mut out = Vec::new();
        for c in tx.conversations().await? {
            if let ConversationKind::Group { group, .. } = c.kind {
                out.push(group_info(&mut tx, self.store(), &GroupId(group.0)).await?);
            }
        }
        tx.commit().await?;
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

    /// Whether `author` is an org admin or an admin of `group`: who may mention everyone
    /// (`@all`) and set the group's disappearing-message timer.
    pub(crate) async fn is_admin_of_group_or_org(
        &self,
        tx: &mut StoreTx<'_>,
        group: &GroupId,
        author: &UserId,
    ) -> Result<bool> {
        if self
            .stored_log(tx)
            .await?
            .user(author)
            .is_some_and(|u| u.admin && !u.dismissed)
        {
            return Ok(true);
        }
        Ok(resolve(group, &tx.group_log(&crypto_group(group)).await?)
            .is_some_and(|s| s.admins.contains(author)))
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
        let (members, announcement) = group_record(tx, &conversation).await?;
        if members.is_empty() {
            return Err(Rejection::UnknownGroup.into());
        }
        if !members.iter().any(|m| m == author.as_str()) {
            return Err(Rejection::FromNonMember.into());
        }
        if !members.iter().any(|m| m == self.user()) {
            return Err(Rejection::LeftGroup.into());
        }
        if !self.may_post(tx, group, author, body, announcement).await? {
            return Err(Rejection::NotAPoster.into());
        }
        Ok(())
    }

    /// Applies group changes that `author` sent: each must verify against the org log; they
    /// join the changes this device holds, and the group is resolved from them all. A change
    /// that extends the group's latest state must be one its author may make, and a group this
    /// device does not know is taken only with this user and `author` among its members.
    pub(crate) async fn apply_group_change(
        &self,
        tx: &mut StoreTx<'_>,
        group: &GroupId,
        author: &UserId,
        update: &GroupUpdate,
    ) -> Result<()> {
        let g = crypto_group(group);
        let id = self.store().group_conversation_id(&g);
        let existing = tx.conversation(&id).await?;
        let created_at = match &existing {
            Some(Conversation {
                kind: ConversationKind::Group { .. },
                created_at,
                ..
            }) => *created_at,
            Some(_) => return Err(Rejection::NotAGroup.into()),
            None => now_ms(),
        };
        let org = self.stored_log(tx).await?;
        if parley_proto::org::groups::is_directory_group(&org, group) {
            return Err(Rejection::DirectoryGroup.into());
        }
        for c in &update.changes {
            c.verify(group, &org)
                .map_err(|_| Rejection::BadGroupChange)?;
        }
        let mut log = tx.group_log(&g).await?;
        let before = resolve(group, &log);
        if let (Some(state), [one]) = (&before, update.changes.as_slice())
            && one.epoch == state.epoch.saturating_add(1)
            && one.prev.as_bytes() == state.head
            && !state.allows(&one.author, &one.change)
        {
            return Err(Rejection::NotGroupAdmin.into());
        }
        let known: BTreeSet<[u8; 32]> = log.iter().map(|c| c.hash(group)).collect();
        for c in &update.changes {
            if !known.contains(&c.hash(group)) {
                log.push(c.clone());
            }
        }
        if log.len() > MAX_GROUP_CHANGES {
            return Err(Rejection::BadGroupChange.into());
        }
        let after = resolve(group, &log).ok_or(Rejection::UnknownGroup)?;
        let me = UserId::new(self.user())?;
        match &before {
            None if !(after.members.contains(&me) && after.members.contains(author)) => {
                return Err(Rejection::FromNonMember.into());
            }
            Some(b) if !b.members.contains(author) && !after.members.contains(author) => {
                return Err(Rejection::FromNonMember.into());
            }
            _ => {}
        }
        tx.set_group_log(&g, &log).await?;
        let removed: Vec<&UserId> = before
            .as_ref()
            .map(|b| b.members.difference(&after.members).collect())
            .unwrap_or_default();
        if !removed.is_empty() {
            rotate_after_removal(tx, &g, removed.iter().map(|u| u.as_str())).await?;
        }
        tx.set_conversation(&Conversation {
            id,
            kind: ConversationKind::Group {
                group: g,
                members: after.members.iter().map(ToString::to_string).collect(),
            },
            title: after.name,
            created_at,
            last_read: 0,
            notify: existing.as_ref().map(|c| c.notify).unwrap_or_default(),
            timer: existing.map(|c| c.timer).unwrap_or_default(),
            announcement: after.announcement,
        })
        .await?;
        Ok(())
    }

    /// Makes again what this device's group changes that lost to concurrent ones still mean
    /// (`parley_proto::group::redo`), once a received change has settled the group. A
    /// failure is logged, not returned: the receive it follows stands, and the next change
    /// received for the group works it out again.
    pub(crate) async fn redo_lost_changes(&self, group: &GroupId) {
        let result = async {
            let mut tx = self.store().begin().await?;
            let log = tx.group_log(&crypto_group(group)).await?;
            tx.commit().await?;
            let me = UserId::new(self.user())?;
            for change in redo(group, &log, &me, self.device()) {
                tracing::info!("making again a group change that lost to a concurrent one");
                self.change_group(group, change).await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(
                code = e.code(),
                "a group change that lost was not made again"
            );
        }
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
        self.refuse_revoked(&mut tx, &env.source_user, env.source_device)
            .await?;
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
        ttl_secs: Option<u64>,
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
                .send_multi(&MultiSendRequest {
                    recipients,
                    ttl_secs,
                })
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
                .send_group_envelopes(&item.recipients, &body, &shares, content.expires_in)
                .await?;
            item.recipients.retain(|r| !delivered.users.contains(r));
            if !delivered.changed {
                return Ok(());
            }
        }
        Err(Error::DevicesChanging)
    }
}

/// Members left `g`: every remaining member rotates. This device's key is dropped now (the
/// next group message starts a fresh chain for the devices that remain), and the keys of the
/// members who left are forgotten.
pub(crate) async fn rotate_after_removal<'a>(
    tx: &mut StoreTx<'_>,
    g: &parley_crypto::sender_key::GroupId,
    removed: impl Iterator<Item = &'a str>,
) -> Result<()> {
    tx.delete_own_sender_key(g).await?;
    tx.set_sender_key_shares(g, &[]).await?;
    for user in removed {
        if let Some(contact) = tx.contact(user).await? {
            for d in &contact.devices {
                tx.delete_sender_key(g, &address(user, d.device)?).await?;
            }
        }
    }
    Ok(())
}
