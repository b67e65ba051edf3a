//! [`OrgState`]: the org as a verified log says it is, built one entry at a time.
//!
//! # Who may sign what
//!
//! | entry | signer |
//! |---|---|
//! | `OrgCreated` | the root key it names; entry 0 only |
//! | `AdminAdded`, `AdminRemoved` | the root key |
//! | `UserAdded`, `UserUpdated`, `UserDismissed`, `WipeOrdered`, `PolicySet`, `PosterSet` | an admin |
//! | `InviteIssued` | an admin (an invite), or an active device of the same user (a link) |
//! | `DeviceAdded` | an admin, or the unused, unexpired invite key issued for that user |
//! | `DeviceRevoked` | an admin, or an active device of the same user |
//! | `WipeDone` | the wiped device itself (even if revoked), for an order without a receipt |
//!
//! An admin is the root key, or the signing key of an active device of a user the log made an
//! admin and did not dismiss. Device numbers are never reused (each new one is one more than
//! the user's highest), a device signing key is never reused in the org, a dismissed user's id
//! is never given again, and timestamps never go back.

use std::collections::BTreeMap;

use parley_crypto::DecodeError;
use parley_crypto::codec::{Reader, Writer};
use parley_crypto::consts::MAX_DEVICES_PER_USER;
use parley_crypto::identity::PublicIdentity;
use parley_crypto::keys::SigningPublicKey;

use super::body::{MAX_ORG_NAME_LEN, Policy, Profile, RevokeReason, read_string, read_user};
use super::{MAX_INVITE_SECS, OrgBody, OrgEntry, OrgError};
use crate::ids::{DeviceId, UserId};

mod encoding;

/// A well-signed entry that breaks a rule of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rule {
    /// The entry names a user the log does not have.
    #[error("no such user")]
    UnknownUser,
    /// `UserAdded` for an id the log already has (or had).
    #[error("that user already exists")]
    UserExists,
    /// The user was dismissed.
    #[error("that user was dismissed")]
    Dismissed,
    /// `AdminAdded` for an admin.
    #[error("that user is already an admin")]
    AlreadyAdmin,
    /// `AdminRemoved` for a user who is not an admin.
    #[error("that user is not an admin")]
    NotAdmin,
    /// The entry names a device the user does not have (or no longer has).
    #[error("no such active device")]
    UnknownDevice,
    /// `DeviceAdded` whose number is not one more than the user's highest.
    #[error("the device number is not the next one")]
    DeviceNotNext,
    /// The user already has the most devices allowed.
    #[error("a user may have at most {MAX_DEVICES_PER_USER} devices")]
    TooManyDevices,
    /// A device or invite key the org has seen before.
    #[error("that key is already in use")]
    KeyReused,
    /// The invite or link key expired before the entry was signed.
    #[error("the invite has expired")]
    InviteExpired,
    /// The invite or link key was used.
    #[error("the invite was already used")]
    InviteUsed,
    /// An invite valid for longer than allowed, or already expired.
    #[error("an invite must expire within 30 days")]
    BadExpiry,
    /// A wipe is already ordered for that device and not yet done.
    #[error("a wipe of that device is already ordered")]
    WipePending,
    /// `WipeDone` for an order that does not exist or is done.
    #[error("no such pending wipe order")]
    NoWipeOrder,
    /// An entry dated before its predecessor.
    #[error("the entry is dated before the one it follows")]
    TimeWentBack,
}

/// Where a log stands: how many entries it has and the hash of the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHead {
    /// Number of entries (the next entry's `seq`).
    pub len: u64,
    /// Hash of the last entry.
    pub hash: [u8; 32],
}

/// A revocation, as the log recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Why.
    pub reason: RevokeReason,
    /// The entry that revoked it.
    pub seq: u64,
    /// When (the entry's timestamp).
    pub timestamp: u64,
}

/// A device the log added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Its identity, certified by the log.
    pub identity: PublicIdentity,
    /// The entry that added it.
    pub added_seq: u64,
    /// When (the entry's timestamp).
    pub added_at: u64,
    /// Set once revoked.
    pub revoked: Option<Revocation>,
}

impl DeviceRecord {
    /// Whether the device may still send and be sent to.
    pub fn is_active(&self) -> bool {
        self.revoked.is_none()
    }
}

/// A user the log added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The directory entry.
    pub profile: Profile,
    /// Whether the user's devices sign as an admin.
    pub admin: bool,
    /// Whether the user was dismissed.
    pub dismissed: bool,
    /// Every device the user ever had, by number.
    pub devices: BTreeMap<DeviceId, DeviceRecord>,
}

impl UserRecord {
    /// The devices that are not revoked.
    pub fn active_devices(&self) -> impl Iterator<Item = (DeviceId, &DeviceRecord)> {
        self.devices
            .iter()
            .filter(|(_, d)| d.is_active())
            .map(|(n, d)| (*n, d))
    }
}

/// A remote wipe the log ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WipeOrder {
    /// The user.
    pub user: UserId,
    /// The device.
    pub device: DeviceId,
    /// The ordering entry (what the device's receipt names).
    pub seq: u64,
    /// The device's receipt (`WipeDone`), once in the log: its position and time.
    pub done: Option<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct InviteRecord {
    user: UserId,
    expires_at: u64,
    used: bool,
}

/// What the signer of an entry is to the log.
enum Signer<'a> {
    Root,
    Device { user: &'a UserId, admin: bool },
    Invite(&'a InviteRecord),
    Unknown,
}

impl Signer<'_> {
    fn is_admin(&self) -> bool {
        matches!(self, Self::Root | Self::Device { admin: true, .. })
    }

    fn is_device_of(&self, of: &UserId) -> bool {
        matches!(self, Self::Device { user, .. } if *user == of)
    }
}

/// The org as a verified log says it is. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgState {
    genesis_hash: [u8; 32],
    root_key: SigningPublicKey,
    name: String,
    head: LogHead,
    last_timestamp: u64,
    users: BTreeMap<UserId, UserRecord>,
    invites: BTreeMap<[u8; 32], InviteRecord>,
    /// Every device signing key the log ever added, and whose it is.
    device_keys: BTreeMap<[u8; 32], (UserId, DeviceId)>,
    policy: Policy,
    wipes: Vec<WipeOrder>,
    /// Users appointed to post in the company channel beside the admins.
    posters: std::collections::BTreeSet<UserId>,
}

const STATE_FORMAT: u8 = 1;

impl OrgState {
    /// The state after the genesis, which must hash to `pinned` (the org's identity, from an
    /// invite) and be a valid `OrgCreated`.
    pub fn new(genesis: &OrgEntry, pinned: &[u8; 32]) -> Result<Self, OrgError> {
        let hash = genesis.hash();
        if hash != *pinned {
            return Err(OrgError::NotNext);
        }
        let root_key = *genesis.check_genesis()?;
        let OrgBody::OrgCreated { name, .. } = &genesis.body else {
            return Err(OrgError::NotNext);
        };
        Ok(Self {
            genesis_hash: hash,
            root_key,
            name: name.clone(),
            head: LogHead { len: 1, hash },
            last_timestamp: genesis.timestamp,
            users: BTreeMap::new(),
            invites: BTreeMap::new(),
            device_keys: BTreeMap::new(),
            policy: Policy::default(),
            wipes: Vec::new(),
            posters: std::collections::BTreeSet::new(),
        })
    }

    /// Verifies a whole log from its encoded entries.
    pub fn verify(entries: &[impl AsRef<[u8]>], pinned: &[u8; 32]) -> Result<Self, OrgError> {
        let mut iter = entries.iter();
        let first = iter.next().ok_or(OrgError::NotNext)?;
        let mut state = Self::new(&OrgEntry::from_bytes(first.as_ref())?, pinned)?;
        for bytes in iter {
            state.apply(&OrgEntry::from_bytes(bytes.as_ref())?)?;
        }
        Ok(state)
    }

    /// Hash of the genesis: the org's identity.
    pub fn genesis_hash(&self) -> [u8; 32] {
        self.genesis_hash
    }

    /// The org root key.
    pub fn root_key(&self) -> &SigningPublicKey {
        &self.root_key
    }

    /// The org's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the log stands.
    pub fn head(&self) -> LogHead {
        self.head
    }

    /// The timestamp of the newest entry.
    pub fn last_timestamp(&self) -> u64 {
        self.last_timestamp
    }

    /// The current policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether `user` may post in the company channel: an admin or an appointed poster, not
    /// dismissed.
    pub fn may_post_to_company(&self, user: &UserId) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| !u.dismissed && (u.admin || self.posters.contains(user)))
    }

    /// The appointed posters of the company channel (admins post anyway).
    pub fn posters(&self) -> impl Iterator<Item = &UserId> {
        self.posters.iter()
    }

    /// A user, dismissed or not.
    pub fn user(&self, user: &UserId) -> Option<&UserRecord> {
        self.users.get(user)
    }

    /// Every user, by id.
    pub fn users(&self) -> impl Iterator<Item = (&UserId, &UserRecord)> {
        self.users.iter()
    }

    /// A device of a user, revoked or not.
    pub fn device(&self, user: &UserId, device: DeviceId) -> Option<&DeviceRecord> {
        self.users.get(user)?.devices.get(&device)
    }

    /// The active device with signing key `key`, if any.
    pub fn device_by_key(&self, key: &SigningPublicKey) -> Option<(&UserId, DeviceId)> {
        let (user, device) = self.device_keys.get(key.as_bytes())?;
        self.device(user, *device)
            .filter(|d| d.is_active())
            .map(|_| (user, *device))
    }

    /// The device, active or revoked, whose signing key is `key`.
    pub fn key_owner(&self, key: &SigningPublicKey) -> Option<(&UserId, DeviceId)> {
        self.device_keys
            .get(key.as_bytes())
            .map(|(user, device)| (user, *device))
    }

    /// Whether `key` may sign admin entries.
    pub fn is_admin_key(&self, key: &SigningPublicKey) -> bool {
        self.signer(key).is_admin()
    }

    /// The number the next device of `user` gets.
    pub fn next_device(&self, user: &UserId) -> DeviceId {
        self.users
            .get(user)
            .and_then(|u| u.devices.keys().next_back())
            .map_or(1, |n| n.saturating_add(1))
    }

    /// Whether `key` may read the log (`GET /v1/org`): the root key, a key of any device the
    /// log ever added (a revoked one must still learn why, and obey a wipe), or an invite or
    /// link key that has not expired (a newcomer reads the log before it joins).
    pub fn may_read(&self, key: &SigningPublicKey, now: u64) -> bool {
        *key == self.root_key
            || self.device_keys.contains_key(key.as_bytes())
            || self
                .invites
                .get(key.as_bytes())
                .is_some_and(|i| now < i.expires_at)
    }

    /// Whether `key` is an invite issued for `user` that is unused and not expired at `now`.
    pub fn invite_usable(&self, key: &SigningPublicKey, user: &UserId, now: u64) -> bool {
        self.invites
            .get(key.as_bytes())
            .is_some_and(|i| &i.user == user && !i.used && now < i.expires_at)
    }

    /// The wipes the log ordered, oldest first.
    pub fn wipe_orders(&self) -> &[WipeOrder] {
        &self.wipes
    }

    /// The order to wipe `user`'s `device` that has no receipt yet, if any.
    pub fn pending_wipe(&self, user: &UserId, device: DeviceId) -> Option<&WipeOrder> {
        self.wipes
            .iter()
            .find(|w| &w.user == user && w.device == device && w.done.is_none())
    }

    fn signer(&self, key: &SigningPublicKey) -> Signer<'_> {
        if *key == self.root_key {
            return Signer::Root;
        }
        if let Some((user, _)) = self.device_by_key(key) {
            let admin = self
                .users
                .get(user)
                .is_some_and(|u| u.admin && !u.dismissed);
            return Signer::Device { user, admin };
        }
        match self.invites.get(key.as_bytes()) {
            Some(invite) => Signer::Invite(invite),
            None => Signer::Unknown,
        }
    }

    fn live_user(&self, user: &UserId) -> Result<&UserRecord, Rule> {
        let u = self.users.get(user).ok_or(Rule::UnknownUser)?;
        if u.dismissed {
            return Err(Rule::Dismissed);
        }
        Ok(u)
    }

    fn live_user_mut(&mut self, user: &UserId) -> Result<&mut UserRecord, Rule> {
        let u = self.users.get_mut(user).ok_or(Rule::UnknownUser)?;
        if u.dismissed {
            return Err(Rule::Dismissed);
        }
        Ok(u)
    }

    /// Checks that `entry` extends the log and may be applied, without changing anything.
    pub fn check(&self, entry: &OrgEntry) -> Result<(), OrgError> {
        self.clone().apply(entry)
    }

    /// Applies the next entry: it must follow the head, be signed by a key with authority for
    /// its kind, and keep the log's rules. On error nothing changed.
    pub fn apply(&mut self, entry: &OrgEntry) -> Result<(), OrgError> {
        if entry.seq != self.head.len || entry.prev_hash != self.head.hash {
            return Err(OrgError::NotNext);
        }
        if entry.timestamp < self.last_timestamp {
            return Err(Rule::TimeWentBack.into());
        }
        let signer = self.signer(&entry.signer);
        let admin = signer.is_admin();
        let allowed = match &entry.body {
            OrgBody::OrgCreated { .. } => return Err(OrgError::NotNext),
            OrgBody::AdminAdded { .. } | OrgBody::AdminRemoved { .. } => {
                matches!(signer, Signer::Root)
            }
            OrgBody::UserAdded { .. }
            | OrgBody::UserUpdated { .. }
            | OrgBody::UserDismissed { .. }
            | OrgBody::WipeOrdered { .. }
            | OrgBody::PolicySet { .. }
            | OrgBody::PosterSet { .. } => admin,
            OrgBody::InviteIssued { user, .. } | OrgBody::DeviceRevoked { user, .. } => {
                admin || signer.is_device_of(user)
            }
            OrgBody::DeviceAdded { user, .. } => {
                admin || matches!(signer, Signer::Invite(i) if &i.user == user)
            }
            // The device's own key, revoked or not.
            OrgBody::WipeDone { user, device, .. } => {
                self.device_keys.get(entry.signer.as_bytes()) == Some(&(user.clone(), *device))
            }
        };
        if !allowed {
            return Err(OrgError::Unauthorized);
        }
        // Checks first (on `&self`), then changes: an error leaves the state as it was.
        self.check_rules(entry)?;
        self.change(entry);
        self.head = entry.head_after();
        self.last_timestamp = entry.timestamp;
        Ok(())
    }

    fn check_rules(&self, entry: &OrgEntry) -> Result<(), Rule> {
        match &entry.body {
            OrgBody::OrgCreated { .. } | OrgBody::PolicySet { .. } => Ok(()),
            OrgBody::AdminAdded { user } => match self.live_user(user)?.admin {
                true => Err(Rule::AlreadyAdmin),
                false => Ok(()),
            },
            OrgBody::AdminRemoved { user } => match self.live_user(user)?.admin {
                true => Ok(()),
                false => Err(Rule::NotAdmin),
            },
            OrgBody::UserAdded { user, .. } => match self.users.contains_key(user) {
                true => Err(Rule::UserExists),
                false => Ok(()),
            },
            OrgBody::UserUpdated { user, .. }
            | OrgBody::UserDismissed { user }
            | OrgBody::PosterSet { user, .. } => self.live_user(user).map(|_| ()),
            OrgBody::InviteIssued {
                user,
                key,
                expires_at,
            } => {
                self.live_user(user)?;
                if *expires_at <= entry.timestamp
                    || *expires_at > entry.timestamp.saturating_add(MAX_INVITE_SECS)
                {
                    return Err(Rule::BadExpiry);
                }
                self.fresh_key(key)
            }
            OrgBody::DeviceAdded {
                user,
                device,
                identity,
            } => {
                let u = self.live_user(user)?;
                if *device != self.next_device(user) {
                    return Err(Rule::DeviceNotNext);
                }
                if u.active_devices().count() >= MAX_DEVICES_PER_USER {
                    return Err(Rule::TooManyDevices);
                }
                if let Some(invite) = self.invites.get(entry.signer.as_bytes()) {
                    if invite.used {
                        return Err(Rule::InviteUsed);
                    }
                    if entry.timestamp >= invite.expires_at {
                        return Err(Rule::InviteExpired);
                    }
                }
                self.fresh_key(identity.signing_key())
            }
            OrgBody::DeviceRevoked { user, device, .. } => {
                match self.live_user(user)?.devices.get(device) {
                    Some(d) if d.is_active() => Ok(()),
                    _ => Err(Rule::UnknownDevice),
                }
            }
            // A lost device may be revoked first and wiped when it next reads the log.
            OrgBody::WipeOrdered { user, device } => match self.device(user, *device) {
                Some(_) if self.pending_wipe(user, *device).is_none() => Ok(()),
                Some(_) => Err(Rule::WipePending),
                None => Err(Rule::UnknownDevice),
            },
            OrgBody::WipeDone {
                user,
                device,
                order,
            } => match self.pending_wipe(user, *device) {
                Some(w) if w.seq == *order => Ok(()),
                _ => Err(Rule::NoWipeOrder),
            },
        }
    }

    /// A key the org has not seen as a device or invite key (nor the root key).
    fn fresh_key(&self, key: &SigningPublicKey) -> Result<(), Rule> {
        let seen = *key == self.root_key
            || self.device_keys.contains_key(key.as_bytes())
            || self.invites.contains_key(key.as_bytes());
        if seen { Err(Rule::KeyReused) } else { Ok(()) }
    }

    /// Applies a checked entry.
    fn change(&mut self, entry: &OrgEntry) {
        let revocation = |reason| Revocation {
            reason,
            seq: entry.seq,
            timestamp: entry.timestamp,
        };
        match &entry.body {
            OrgBody::OrgCreated { .. } => {}
            OrgBody::AdminAdded { user } | OrgBody::AdminRemoved { user } => {
                if let Ok(u) = self.live_user_mut(user) {
                    u.admin = matches!(entry.body, OrgBody::AdminAdded { .. });
                }
            }
            OrgBody::UserAdded { user, profile } => {
                self.users.insert(
                    user.clone(),
                    UserRecord {
                        profile: profile.clone(),
                        admin: false,
                        dismissed: false,
                        devices: BTreeMap::new(),
                    },
                );
            }
            OrgBody::UserUpdated { user, profile } => {
                if let Ok(u) = self.live_user_mut(user) {
                    u.profile = profile.clone();
                }
            }
            OrgBody::InviteIssued {
                user,
                key,
                expires_at,
            } => {
                self.invites.insert(
                    key.to_bytes(),
                    InviteRecord {
                        user: user.clone(),
                        expires_at: *expires_at,
                        used: false,
                    },
                );
            }
            OrgBody::DeviceAdded {
                user,
                device,
                identity,
            } => {
                if let Some(invite) = self.invites.get_mut(entry.signer.as_bytes()) {
                    invite.used = true;
                }
                self.device_keys
                    .insert(identity.signing_key().to_bytes(), (user.clone(), *device));
                if let Ok(u) = self.live_user_mut(user) {
                    u.devices.insert(
                        *device,
                        DeviceRecord {
                            identity: *identity,
                            added_seq: entry.seq,
                            added_at: entry.timestamp,
                            revoked: None,
                        },
                    );
                }
            }
            OrgBody::DeviceRevoked {
                user,
                device,
                reason,
            } => {
                if let Some(d) = self
                    .users
                    .get_mut(user)
                    .and_then(|u| u.devices.get_mut(device))
                {
                    d.revoked = Some(revocation(*reason));
                }
            }
            OrgBody::UserDismissed { user } => {
                self.posters.remove(user);
                if let Some(u) = self.users.get_mut(user) {
                    u.dismissed = true;
                    u.admin = false;
                    for d in u.devices.values_mut().filter(|d| d.is_active()) {
                        d.revoked = Some(revocation(RevokeReason::Dismissed));
                    }
                }
                for invite in self.invites.values_mut().filter(|i| &i.user == user) {
                    invite.used = true;
                }
            }
            OrgBody::WipeOrdered { user, device } => self.wipes.push(WipeOrder {
                user: user.clone(),
                device: *device,
                seq: entry.seq,
                done: None,
            }),
            OrgBody::WipeDone {
                user,
                device,
                order,
            } => {
                if let Some(w) = self.wipes.iter_mut().find(|w| w.seq == *order) {
                    w.done = Some((entry.seq, entry.timestamp));
                }
                if let Some(d) = self
                    .users
                    .get_mut(user)
                    .and_then(|u| u.devices.get_mut(device))
                    && d.revoked.is_none()
                {
                    d.revoked = Some(revocation(RevokeReason::Wiped));
                }
            }
            OrgBody::PolicySet { policy } => self.policy = *policy,
            OrgBody::PosterSet { user, poster } => {
                if *poster {
                    self.posters.insert(user.clone());
                } else {
                    self.posters.remove(user);
                }
            }
        }
    }
}
