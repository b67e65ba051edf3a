//! Who is in the org and which devices they have: the verified org log, and the contacts
//! cached from it (docs/architecture.md §2, §4).
//!
//! **The log decides.** A device is encrypted to, and a session accepted from it, only if the
//! verified org log lists it as added and not revoked, with the identity the log certifies.
//! The relay's device list (`GET /v1/users/{user}/devices`) is only a hint that narrows the
//! log's: a device the log lists and the relay does not (it was just revoked, or the relay
//! drops it) is left out; a device the relay lists and the log does not (a ghost inserted into
//! the relay's database), or lists with another identity, makes the send fail with a
//! [`TrustFailure`] and nothing is encrypted to it. The relay's list also carries the
//! registration ids that its 410 answers compare.
//!
//! **The cache.** Each colleague's contact holds the log's profile and the devices of the last
//! refresh (the log's ∩ the relay's). A send uses it without a round trip; the relay's 409
//! (missing or extra devices) or 410 makes the engine refresh it and retry, as Signal's
//! clients do, and an entry older than [`MAX_AGE_MS`] is refreshed before use. A refresh first
//! brings the verified log up to date. When the log changes (the relay announces it over the
//! delivery socket, or a refresh finds it), the contacts of the users it touches follow at
//! once: a revoked device leaves the cache, a new one marks the entry for a refresh.
//!
//! This user's own list is checked against the one the relay returns with every accepted send
//! ([`parley_proto::api::SendResponse::sender_devices`]): a user with one device sends no copy
//! to itself, so no 409 could tell it of a newly linked device.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parley_crypto::identity::PublicIdentity;
use parley_proto::org::{LogHead, OrgBody, OrgEntry, OrgState, RevokeReason};
use parley_proto::{DeviceId, UserId};

use crate::enrol::save_log;
use crate::error::{Error, Missing, Result, TrustFailure};
use crate::messaging::{Event, Messenger, now_ms};
use crate::orglog::VerifiedLog;
use crate::store::{Contact, ContactDevice, StoreTx};

/// Age after which a cached device list is fetched again before use.
pub const MAX_AGE_MS: u64 = 60 * 60 * 1000;

/// A cached device list young enough to use.
fn fresh(c: &Contact) -> bool {
    c.updated_at > 0 && now_ms().saturating_sub(c.updated_at) < MAX_AGE_MS
}

/// The devices of `user` as cached, if the cache is fresh (see [`Messenger::devices_of`]).
pub(crate) async fn cached_devices(
    tx: &mut StoreTx<'_>,
    user: &UserId,
) -> Result<Option<Vec<ContactDevice>>> {
    Ok(tx
        .contact(user.as_str())
        .await?
        .filter(fresh)
        .map(|c| c.devices))
}

/// The contact of `user` as the log has it, keeping the cached devices the log still lists
/// (and `None` if the log does not know the user). A device the log lists and the cache does
/// not marks the contact for a refresh.
fn contact_from_log(state: &OrgState, user: &UserId, cached: Option<Contact>) -> Option<Contact> {
    let record = state.user(user)?;
    let mut contact = cached.unwrap_or_else(|| Contact {
        user: user.to_string(),
        display_name: String::new(),
        email: String::new(),
        title: String::new(),
        department: String::new(),
        devices: Vec::new(),
        updated_at: 0,
    });
    let p = &record.profile;
    contact.display_name.clone_from(&p.display_name);
    contact.email.clone_from(&p.email);
    contact.title.clone_from(&p.title);
    contact.department.clone_from(&p.department);
    let active: BTreeMap<DeviceId, PublicIdentity> = if record.dismissed {
        BTreeMap::new()
    } else {
        record
            .active_devices()
            .map(|(n, d)| (n, d.identity))
            .collect()
    };
    contact.devices.retain_mut(|d| match active.get(&d.device) {
        Some(identity) => {
            d.identity = *identity;
            true
        }
        None => false,
    });
    if active.len() != contact.devices.len() {
        contact.updated_at = 0;
    }
    Some(contact)
}

/// The events a batch of new entries makes: a changed device set per user.
fn changes(entries: &[OrgEntry]) -> Vec<Event> {
    let mut by_user: BTreeMap<UserId, (Vec<DeviceId>, Vec<DeviceId>)> = BTreeMap::new();
    for e in entries {
        match &e.body {
            OrgBody::DeviceAdded { user, device, .. } => {
                by_user.entry(user.clone()).or_default().0.push(*device);
            }
            OrgBody::DeviceRevoked { user, device, .. } => {
                by_user.entry(user.clone()).or_default().1.push(*device);
            }
            OrgBody::UserDismissed { user } => {
                by_user.entry(user.clone()).or_default();
            }
            _ => {}
        }
    }
    by_user
        .into_iter()
        .map(|(user, (added, revoked))| Event::DevicesChanged {
            user,
            added,
            revoked,
        })
        .collect()
}

impl Messenger {
    /// The verified org log as stored.
    ///
    /// Decoded once per log head: the head is stored apart (a few bytes), and while it is the
    /// one of the state this messenger last decoded, that state is shared, not decoded again.
    /// A state read in a transaction that is then rolled back is keyed by its own head, so it
    /// is never taken for another.
    pub(crate) async fn stored_log(&self, tx: &mut StoreTx<'_>) -> Result<Arc<OrgState>> {
        let head = tx.org_head().await?.ok_or(Missing::OrgLog)?;
        let cached = self.org_cache.lock().ok().and_then(|c| c.clone());
        if let Some(state) = cached
            && state.head() == head
        {
            return Ok(state);
        }
        let state = Arc::new(tx.org_state().await?.ok_or(Missing::OrgLog)?);
        if let Ok(mut cache) = self.org_cache.lock() {
            *cache = Some(Arc::clone(&state));
        }
        Ok(state)
    }

    /// Brings the verified org log up to date from the relay, stores it, and updates the
    /// contacts of every user the new entries name. Returns an event per user whose devices
    /// changed. A relay that rolled the log back or rewrote it is a [`TrustFailure`].
    pub async fn sync_org(&self) -> Result<Vec<Event>> {
        let mut tx = self.store().begin().await?;
        let state = self.stored_log(&mut tx).await?;
        tx.commit().await?;
        let mut log = VerifiedLog::from_state(state);
        let new = log.sync(self.relay()).await?;
        // In touch with the relay: the offline limits count from now.
        let mut tx = self.store().begin().await?;
        tx.set_last_contact(crate::orglog::now_secs()).await?;
        tx.commit().await?;
        if new.is_empty() {
            // An order read before and not yet obeyed (the device stopped midway) still is.
            self.obey_wipe(log.state()).await?;
            return Ok(Vec::new());
        }
        save_log(self.store(), &log).await?;
        self.forget_log_caches();
        self.obey_wipe(log.state()).await?;
        let groups = self.follow_log(log.state(), &new).await?;
        tracing::debug!(entries = new.len(), "org log advanced");
        let mut events = changes(&new);
        if !groups.is_empty() {
            events.push(Event::DirectoryGroupsChanged { groups });
        }
        Ok(events)
    }

    /// Updates the contacts of every user `entries` name from `state` (which has them), and
    /// keeps or drops the store's copy of its remote secret as a new policy says.
    pub(crate) async fn follow_log(
        &self,
        state: &OrgState,
        entries: &[OrgEntry],
    ) -> Result<Vec<parley_proto::content::GroupId>> {
        if entries
            .iter()
            .any(|e| matches!(e.body, parley_proto::org::OrgBody::PolicySet { .. }))
        {
            crate::unlock::follow_policy(self.store(), &self.account, state).await?;
        }
        let users: BTreeSet<&UserId> = entries.iter().filter_map(|e| e.body.user()).collect();
        let mut tx = self.store().begin().await?;
        for user in users {
            let cached = tx.contact(user.as_str()).await?;
            if let Some(contact) = contact_from_log(state, user, cached) {
                tx.set_contact(&contact).await?;
            }
        }
        // The department groups and the company channel follow the directory.
        let mut groups = self.follow_directory_groups(&mut tx, state).await?;
        let items = self
            .groups_to_new_own_devices(&mut tx, state, entries)
            .await?;
        // Who may post in the company channel changed: its members' apps show it anew.
        let company = parley_proto::org::company_group(&self.account.org_genesis_hash);
        if entries
            .iter()
            .any(|e| matches!(e.body, parley_proto::org::OrgBody::PosterSet { .. }))
            && !groups.contains(&company)
        {
            groups.push(company);
        }
        tx.commit().await?;
        // Boxed: a send may read the log again, which comes back here (with nothing new).
        if !items.is_empty()
            && let Err(e) = Box::pin(self.flush_outbox_for(&items)).await
        {
            // Queued: the next flush sends them.
            tracing::debug!(code = e.code(), "groups not yet sent to the new device");
        }
        Ok(groups)
    }

    /// When `entries` add a device of this user, queues for this user's other devices the
    /// whole signed chain of every group people made that this user is in, so a newly linked
    /// device knows its groups (and accepts their messages) at once; the directory's groups
    /// it makes itself from the log. Every existing device does it: the chains merge, so a
    /// repeat changes nothing. Returns the outbox items to flush once `tx` is committed.
    async fn groups_to_new_own_devices(
        &self,
        tx: &mut crate::store::StoreTx<'_>,
        state: &OrgState,
        entries: &[OrgEntry],
    ) -> Result<Vec<crate::store::OutboxId>> {
        use parley_proto::content::{Body, GroupId, GroupUpdate};
        let me = UserId::new(self.user())?;
        let linked = entries.iter().any(|e| {
            matches!(&e.body, OrgBody::DeviceAdded { user, device, .. }
                if *user == me && *device != self.device())
        });
        if !linked {
            return Ok(Vec::new());
        }
        let directory: BTreeSet<GroupId> = parley_proto::org::directory_groups(state)
            .into_iter()
            .map(|g| g.id)
            .collect();
        let mut items = Vec::new();
        for c in tx.conversations().await? {
            let crate::store::ConversationKind::Group { group, members } = c.kind else {
                continue;
            };
            let id = GroupId(group.0);
            if directory.contains(&id) || !members.iter().any(|m| m == me.as_str()) {
                continue;
            }
            let changes = tx.group_log(&group).await?;
            if changes.is_empty() {
                continue;
            }
            let body = Body::Group(GroupUpdate { changes });
            let target = crate::messaging::Target::Group(id);
            let (_, item) = self
                .queue(tx, &target, body, Some(vec![me.to_string()]))
                .await?;
            items.push(item.id);
        }
        Ok(items)
    }

    /// Explains a refusal of this device's credentials: if the verified org log (fetched
    /// without credentials) revoked this device, [`Error::DeviceRevoked`] with the reason;
    /// any other error is returned as it is.
    pub async fn explain(&self, e: Error) -> Error {
        if !e.relay_error().is_some_and(|r| r.is_unauthorized()) {
            return e;
        }
        match self.sync_org().await {
            Ok(_) => {}
            Err(wiped @ Error::Wiped { .. }) => return wiped,
            Err(_) => return e,
        }
        let Ok(user) = UserId::new(self.user()) else {
            return e;
        };
        let mut tx = match self.store().begin().await {
            Ok(tx) => tx,
            Err(_) => return e,
        };
        let state = self.stored_log(&mut tx).await;
        let _ = tx.commit().await;
        match state
            .ok()
            .and_then(|s| s.device(&user, self.account.device).copied())
        {
            Some(d) => match d.revoked {
                Some(r) => {
                    tracing::warn!(reason = r.reason.as_str(), "this device was revoked");
                    if r.reason == RevokeReason::Logout
                        && let Err(e) = self.sign_out().await
                    {
                        return e;
                    }
                    Error::DeviceRevoked(r.reason)
                }
                None => e,
            },
            None => e,
        }
    }

    /// Fork detection (docs/architecture.md §2): compares the log head a message's author had
    /// verified (`theirs`) with this device's. The same length with another hash, or an
    /// older head whose entry is not in this device's log, is [`TrustFailure::LogForked`];
    /// a longer log the relay does not serve here (after a sync) is
    /// [`TrustFailure::LogWithheld`]. An older head is looked up in the relay's log, which
    /// must chain to this device's verified head (else [`TrustFailure::LogRewritten`]);
    /// each such head is fetched once.
    pub async fn check_org_head(&self, theirs: &LogHead) -> Result<()> {
        // The common case: the author's head is this device's, as last read. (A stale copy
        // only sends the check to the store below, never to an alarm.)
        if self.own_head.lock().ok().and_then(|h| *h) == Some(*theirs) {
            return Ok(());
        }
        let mut ours = self.verified_head().await?;
        if theirs.len > ours.len {
            self.sync_org().await?;
            ours = self.verified_head().await?;
            if theirs.len > ours.len {
                return Err(TrustFailure::LogWithheld.into());
            }
        }
        let expected = if theirs.len == ours.len {
            ours.hash
        } else {
            self.past_head(theirs.len, &ours).await?
        };
        if expected == theirs.hash {
            Ok(())
        } else {
            Err(TrustFailure::LogForked.into())
        }
    }

    async fn verified_head(&self) -> Result<LogHead> {
        let mut tx = self.store().begin().await?;
        let head = tx.org_head().await?.ok_or(Missing::OrgLog)?;
        tx.commit().await?;
        if let Ok(mut h) = self.own_head.lock() {
            *h = Some(head);
        }
        Ok(head)
    }

    /// The hash of the last entry of this device's log when it had `len` entries (`len` less
    /// than `ours.len`), from the relay's entries `len - 1 ..`, which must chain to `ours`.
    async fn past_head(&self, len: u64, ours: &LogHead) -> Result<[u8; 32]> {
        if let Some(hash) = self
            .past_heads
            .lock()
            .ok()
            .and_then(|m| m.get(&len).copied())
        {
            return Ok(hash);
        }
        let first = len.checked_sub(1).ok_or(TrustFailure::LogForked)?;
        let mut hashes = Vec::new();
        let mut prev: Option<[u8; 32]> = None;
        let mut next = first;
        while next < ours.len {
            let page = self.relay().org_log(next).await?;
            if page.entries.is_empty() {
                return Err(TrustFailure::LogRewritten.into());
            }
            for bytes in &page.entries {
                if next >= ours.len {
                    break;
                }
                let entry = OrgEntry::from_bytes(bytes.as_bytes())?;
                if entry.seq != next || prev.is_some_and(|p| p != entry.prev_hash) {
                    return Err(TrustFailure::LogRewritten.into());
                }
                let hash = entry.hash();
                hashes.push(hash);
                prev = Some(hash);
                next += 1;
            }
        }
        if prev != Some(ours.hash) {
            return Err(TrustFailure::LogRewritten.into());
        }
        let hash = *hashes.first().ok_or(TrustFailure::LogRewritten)?;
        if let Ok(mut m) = self.past_heads.lock() {
            if m.len() > 1024 {
                m.clear();
            }
            m.insert(len, hash);
        }
        Ok(hash)
    }

    /// Forced logout, on this device (docs/architecture.md §5.4): its keys and sessions are
    /// destroyed in one transaction, its history stays (sealed). It can come back only as a
    /// new device.
    pub(crate) async fn sign_out(&self) -> Result<()> {
        let mut tx = self.store().begin().await?;
        tx.sign_out().await?;
        tx.commit().await?;
        tracing::warn!("signed out by an administrator: keys and sessions destroyed");
        Ok(())
    }

    /// The devices of `user`, from the cache unless there is none or `refresh` is set (then
    /// the log is brought up to date, the relay's list read, and the cache updated).
    pub(crate) async fn devices_of(
        &self,
        user: &UserId,
        refresh: bool,
    ) -> Result<Vec<ContactDevice>> {
        if !refresh {
            let mut tx = self.store().begin().await?;
            let cached = cached_devices(&mut tx, user).await?;
            tx.commit().await?;
            if let Some(devices) = cached {
                return Ok(devices);
            }
        }
        self.sync_org().await?;
        // A user the relay does not know (never enrolled, or dismissed) has no devices.
        let listed = match self.relay().devices(user).await {
            Ok(list) => list.devices,
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let mut tx = self.store().begin().await?;
        let state = self.stored_log(&mut tx).await?;
        let cached = tx.contact(user.as_str()).await?;
        let Some(mut contact) = contact_from_log(&state, user, cached) else {
            tx.commit().await?;
            return match listed.is_empty() {
                true => Ok(Vec::new()),
                false => Err(TrustFailure::UnlistedDevice.into()),
            };
        };
        let in_log: BTreeMap<DeviceId, PublicIdentity> = state
            .user(user)
            .filter(|u| !u.dismissed)
            .map(|u| u.active_devices().map(|(n, d)| (n, d.identity)).collect())
            .unwrap_or_default();
        let mut devices = Vec::with_capacity(listed.len());
        for d in listed {
            let Some(identity) = in_log.get(&d.device) else {
                tracing::warn!(
                    device = d.device,
                    "the relay lists a device the org log does not"
                );
                return Err(TrustFailure::UnlistedDevice.into());
            };
            if d.identity.as_bytes() != identity.to_bytes() {
                return Err(TrustFailure::IdentityChanged.into());
            }
            devices.push(ContactDevice {
                device: d.device,
                registration_id: d.registration_id,
                identity: *identity,
            });
        }
        contact.devices = devices.clone();
        contact.updated_at = now_ms().max(1);
        tx.set_contact(&contact).await?;
        tx.commit().await?;
        Ok(devices)
    }

    /// The devices of each of `users` (this device left out of its own user's): the cached
    /// lists read in one store transaction, refreshed only for those not cached or older than
    /// [`MAX_AGE_MS`]. For a group message, which needs every member's devices.
    pub(crate) async fn recipient_devices_of(
        &self,
        users: &[String],
    ) -> Result<BTreeMap<String, Vec<ContactDevice>>> {
        let mut cached = BTreeMap::new();
        let mut tx = self.store().begin().await?;
        for user in users {
            if let Some(c) = tx.contact(user).await?.filter(fresh) {
                cached.insert(user.clone(), c.devices);
            }
        }
        tx.commit().await?;
        let mut out = BTreeMap::new();
        for user in users {
            let mut devices = match cached.remove(user) {
                Some(d) => d,
                None => self.devices_of(&UserId::new(user.clone())?, true).await?,
            };
            self.leave_out_this_device(user, &mut devices);
            out.insert(user.clone(), devices);
        }
        Ok(out)
    }

    /// Takes note of this user's devices as the relay listed them in answer to a send: when
    /// they are not the cached ones (a device was linked or removed), or the cache is old,
    /// the cache is refreshed, so the next copy to this user's other devices reaches the new
    /// one. Returns this user's other devices as the cache now has them (`None` when the
    /// relay did not say): what a copy to them would be sent to.
    pub(crate) async fn note_own_devices(
        &self,
        listed: &[DeviceId],
    ) -> Result<Option<Vec<ContactDevice>>> {
        if listed.is_empty() {
            return Ok(None); // a relay that does not say
        }
        let me = UserId::new(self.user())?;
        let mut tx = self.store().begin().await?;
        let cached = tx.contact(me.as_str()).await?;
        tx.commit().await?;
        let mut devices = match cached.filter(fresh) {
            Some(c)
                if c.devices.iter().map(|d| d.device).collect::<BTreeSet<_>>()
                    == listed.iter().copied().collect() =>
            {
                c.devices
            }
            _ => self.devices_of(&me, true).await?,
        };
        self.leave_out_this_device(me.as_str(), &mut devices);
        Ok(Some(devices))
    }

    /// Refuses what comes from a device the verified log has revoked (a dismissed user's
    /// devices included): a stolen device's keys still make valid ciphertext, and a relay
    /// that does not refuse its credentials could deliver it. Read in the receive's own
    /// transaction; the decoded log is shared, so this is one read of its head.
    pub(crate) async fn refuse_revoked(
        &self,
        tx: &mut StoreTx<'_>,
        user: &UserId,
        device: DeviceId,
    ) -> Result<()> {
        let state = self.stored_log(tx).await?;
        match state.device(user, device) {
            Some(d) if !d.is_active() => Err(TrustFailure::RevokedDevice.into()),
            _ => Ok(()),
        }
    }

    /// The identity the verified log certifies for `user`'s `device`: from the contact cache,
    /// else from the stored verified log, else from the log brought up to date (once, only
    /// when the stored log does not list the device: a device added since). A device the log
    /// never added, or revoked, is a [`TrustFailure`].
    ///
    /// The stored log is as current as the cache (both follow every log entry this device
    /// has seen, and the relay announces new entries on the delivery socket), so asking the
    /// relay first would only add a round trip and a commit to each first contact's receive.
    pub(crate) async fn identity_of(
        &self,
        user: &UserId,
        device: DeviceId,
    ) -> Result<Option<PublicIdentity>> {
        let mut tx = self.store().begin().await?;
        let cached = tx.contact(user.as_str()).await?;
        if let Some(d) = cached
            .iter()
            .flat_map(|c| &c.devices)
            .find(|d| d.device == device)
        {
            tx.commit().await?;
            return Ok(Some(d.identity));
        }
        let mut state = self.stored_log(&mut tx).await?;
        tx.commit().await?;
        if state.device(user, device).is_none() {
            self.sync_org().await?;
            let mut tx = self.store().begin().await?;
            state = self.stored_log(&mut tx).await?;
            tx.commit().await?;
        }
        match state.device(user, device) {
            Some(d) if d.is_active() => Ok(Some(d.identity)),
            Some(_) => Err(Error::Trust(TrustFailure::RevokedDevice)),
            None => Err(Error::Trust(TrustFailure::UnlistedDevice)),
        }
    }
}
