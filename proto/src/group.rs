//! Group authority (docs/architecture.md §3.4): who may change a group, and how every member's
//! device arrives at the same group whatever order the changes reach it in.
//!
//! A group is a hash chain of **signed changes**. Each names the group's epoch after it (the
//! `Create` is epoch 0) and the hash of the change before it (`prev`; zero for the `Create`),
//! and is signed by its author's device key as the org log certifies it:
//!
//! ```text
//! signed = "Parley_GroupChange_v1" || group id (32) || epoch (u64) || prev (32)
//!          || author (len-prefixed) || device (u32) || change
//! change = tag (u8) || its fields (len-prefixed strings, u32-counted lists)
//! hash   = SHA-256(signed || signature)
//! ```
//!
//! **Who may**: the creator is the first admin. Admins add, remove, rename, promote and
//! demote; any member may remove only themself (leave). The last admin leaving makes the
//! remaining member with the smallest user id admin, so a group always has one; demoting the
//! last admin is refused.
//!
//! **Resolution** ([`resolve`]): every device keeps every well-signed change it received for
//! the group. The group's state is the chain that starts at the `Create` with the smallest
//! hash and, at each epoch, takes of the changes that extend the current head (the right
//! `prev` and epoch) the one with the smallest hash whose author may make it. That is a
//! function of the set of changes alone, so devices that received the same changes agree,
//! whatever the arrival order; a change that lost to a concurrent one is not applied anywhere.
//!
//! **Rebasing** ([`redo`]): the device that signed a change that lost makes it again on the
//! winning head, as far as the winners left it meaningful. What the winning changes since
//! the lost one's epoch touched, they decide: a member they added, removed, promoted or
//! demoted, the name if they renamed, the announcement flag if they set it. The rest of the
//! lost change is made again, unless the group already shows it. So two admins who add
//! different people at once both see their people added, and two who rename at once see
//! one name, the same everywhere. A change made again that loses once more is made again in
//! turn; each round one change wins, and a change made again covers what it redoes, so the
//! rounds end.

use std::collections::{BTreeMap, BTreeSet};

use parley_crypto::codec::Writer as _;
use parley_crypto::keys::{Signature, SigningKeyPair};
use serde::{Deserialize, Serialize};

use crate::b64::B64;
use crate::content::{GroupChange, GroupId, MAX_ITEMS};
use crate::ids::{DeviceId, UserId};
use crate::org::{OrgState, sha256};

/// Most changes a device keeps for one group; a change beyond is refused.
pub const MAX_GROUP_CHANGES: usize = 4_096;

const DOMAIN: &[u8] = b"Parley_GroupChange_v1";

/// One change of a group, signed by its author's device (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedGroupChange {
    /// The group's epoch after this change.
    pub epoch: u64,
    /// Hash of the change before (32 zero bytes for the `Create`).
    pub prev: B64,
    /// Who made it.
    pub author: UserId,
    /// With which device.
    pub device: DeviceId,
    /// What it does.
    pub change: GroupChange,
    /// Ed25519 signature of the author's device over [`SignedGroupChange::signed_bytes`].
    pub signature: B64,
}

/// Why a change is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The signature does not verify with the key the org log certifies for the author's
    /// device, or the device is unknown.
    #[error("a group change whose signature does not verify")]
    BadSignature,
    /// Malformed: a `prev` that is not 32 bytes, a list over its limit, an empty change.
    #[error("a malformed group change")]
    Malformed,
    /// The group has more changes than a device keeps.
    #[error("the group has too many changes")]
    TooManyChanges,
}

/// A group as its chain of changes makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupState {
    /// Its name.
    pub name: String,
    /// Its members.
    pub members: BTreeSet<UserId>,
    /// Its admins (always members).
    pub admins: BTreeSet<UserId>,
    /// The epoch of the last change applied.
    pub epoch: u64,
    /// The hash of the last change applied: the next change's `prev`.
    pub head: [u8; 32],
    /// An announcement channel: only its admins post (members read and react).
    pub announcement: bool,
}

impl GroupState {
    /// Whether `author` may make `change` in this state.
    pub fn allows(&self, author: &UserId, change: &GroupChange) -> bool {
        let admin = self.admins.contains(author);
        match change {
            GroupChange::Create { .. } => false,
            GroupChange::Remove { members } if members.as_slice() == [author.clone()] => {
                self.members.contains(author)
            }
            GroupChange::Demote { members } => {
                admin && self.admins.iter().any(|a| !members.contains(a))
            }
            GroupChange::Add { .. }
            | GroupChange::Remove { .. }
            | GroupChange::Rename { .. }
            | GroupChange::Promote { .. }
            | GroupChange::Announce { .. } => admin,
        }
    }

    /// Whether `author` may post messages and files: anyone in a group, only its admins in
    /// an announcement channel.
    pub fn may_post(&self, author: &UserId) -> bool {
        !self.announcement || self.admins.contains(author)
    }

    /// Applies `change` (allowed) as the change with hash `head`.
    fn apply(&mut self, change: &GroupChange, head: [u8; 32]) {
        match change {
            GroupChange::Create { .. } => {}
            GroupChange::Add { members } => self.members.extend(members.iter().cloned()),
            GroupChange::Remove { members } => {
                for m in members {
                    self.members.remove(m);
                    self.admins.remove(m);
                }
                if self.admins.is_empty()
                    && let Some(first) = self.members.first()
                {
                    self.admins.insert(first.clone());
                }
            }
            GroupChange::Rename { name } => name.clone_into(&mut self.name),
            GroupChange::Announce { on } => self.announcement = *on,
            GroupChange::Promote { members } => self.admins.extend(
                members
                    .iter()
                    .filter(|m| self.members.contains(*m))
                    .cloned(),
            ),
            GroupChange::Demote { members } => {
                for m in members {
                    self.admins.remove(m);
                }
            }
        }
        self.epoch = self.epoch.saturating_add(1);
        self.head = head;
    }
}

fn put_users(out: &mut Vec<u8>, users: &[UserId]) {
    out.put_len(users.len());
    for u in users {
        out.put_bytes(u.as_str().as_bytes());
    }
}

fn encode_change(out: &mut Vec<u8>, change: &GroupChange) {
    match change {
        GroupChange::Create { name, members } => {
            out.put_u8(0);
            out.put_bytes(name.as_bytes());
            put_users(out, members);
        }
        GroupChange::Add { members } => {
            out.put_u8(1);
            put_users(out, members);
        }
        GroupChange::Remove { members } => {
            out.put_u8(2);
            put_users(out, members);
        }
        GroupChange::Rename { name } => {
            out.put_u8(3);
            out.put_bytes(name.as_bytes());
        }
        GroupChange::Promote { members } => {
            out.put_u8(4);
            put_users(out, members);
        }
        GroupChange::Demote { members } => {
            out.put_u8(5);
            put_users(out, members);
        }
        GroupChange::Announce { on } => {
            out.put_u8(6);
            out.put_u8(u8::from(*on));
        }
    }
}

impl SignedGroupChange {
    /// Signs `change` for `group` at `epoch` after `prev`, as `author`'s device `device`.
    pub fn sign(
        group: &GroupId,
        epoch: u64,
        prev: [u8; 32],
        author: UserId,
        device: DeviceId,
        change: GroupChange,
        key: &SigningKeyPair,
    ) -> Self {
        let mut out = Self {
            epoch,
            prev: B64(prev.to_vec()),
            author,
            device,
            change,
            signature: B64(Vec::new()),
        };
        let signature = key.sign(&out.signed_bytes(group));
        out.signature = B64(signature.0.to_vec());
        out
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self, group: &GroupId) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.put_raw(DOMAIN);
        out.put_raw(&group.0);
        out.put_u64(self.epoch);
        out.put_bytes(self.prev.as_bytes());
        out.put_bytes(self.author.as_str().as_bytes());
        out.put_u32(self.device);
        encode_change(&mut out, &self.change);
        out
    }

    /// The change's hash (what the next change names as `prev`).
    pub fn hash(&self, group: &GroupId) -> [u8; 32] {
        let mut bytes = self.signed_bytes(group);
        bytes.extend_from_slice(self.signature.as_bytes());
        sha256(&bytes)
    }

    /// The `prev` hash as an array.
    fn prev(&self) -> Result<[u8; 32], GroupError> {
        self.prev
            .as_bytes()
            .try_into()
            .map_err(|_| GroupError::Malformed)
    }

    /// Checks the form and the signature against the key `org` certifies for the author's
    /// device (revoked devices' earlier changes still verify: they were made before).
    pub fn verify(&self, group: &GroupId, org: &OrgState) -> Result<(), GroupError> {
        self.prev()?;
        let lists = match &self.change {
            GroupChange::Create { members, .. }
            | GroupChange::Add { members }
            | GroupChange::Remove { members }
            | GroupChange::Promote { members }
            | GroupChange::Demote { members } => members.len(),
            GroupChange::Rename { .. } | GroupChange::Announce { .. } => 1,
        };
        if lists == 0 || lists > MAX_ITEMS {
            return Err(GroupError::Malformed);
        }
        let signature: [u8; 64] = self
            .signature
            .as_bytes()
            .try_into()
            .map_err(|_| GroupError::BadSignature)?;
        let device = org
            .device(&self.author, self.device)
            .ok_or(GroupError::BadSignature)?;
        device
            .identity
            .signing_key()
            .verify(&self.signed_bytes(group), &Signature(signature))
            .map_err(|_| GroupError::BadSignature)
    }
}

/// A change and its hash.
type Hashed<'a> = ([u8; 32], &'a SignedGroupChange);

/// The group `changes` make (see the [module docs](self)): `None` if there is no valid
/// `Create` among them. `changes` must all have been verified ([`SignedGroupChange::verify`]).
pub fn resolve(group: &GroupId, changes: &[SignedGroupChange]) -> Option<GroupState> {
    resolve_chain(group, changes).map(|(state, _)| state)
}

/// What the device `(author, device)` should make again of its changes that lost to
/// concurrent ones (see "Rebasing" in the [module docs](self)), in order, each allowed on
/// the group as the ones before it leave it. Empty when none of its changes lost.
pub fn redo(
    group: &GroupId,
    changes: &[SignedGroupChange],
    author: &UserId,
    device: DeviceId,
) -> Vec<GroupChange> {
    let Some((mut state, chain)) = resolve_chain(group, changes) else {
        return Vec::new();
    };
    let on_chain: BTreeSet<[u8; 32]> = chain.iter().map(|(hash, _)| *hash).collect();
    let mut lost: Vec<&SignedGroupChange> = changes
        .iter()
        .filter(|c| &c.author == author && c.device == device)
        .filter(|c| !matches!(c.change, GroupChange::Create { .. }))
        .filter(|c| !on_chain.contains(&c.hash(group)))
        .collect();
    lost.sort_by_key(|c| (c.epoch, c.hash(group)));
    let mut out: Vec<GroupChange> = Vec::new();
    for c in lost {
        let winners = chain.iter().filter(|(_, w)| w.epoch >= c.epoch);
        let mut touched: BTreeSet<&UserId> = BTreeSet::new();
        let (mut renamed, mut announced) = (false, false);
        for (_, w) in winners {
            match &w.change {
                GroupChange::Add { members }
                | GroupChange::Remove { members }
                | GroupChange::Promote { members }
                | GroupChange::Demote { members } => touched.extend(members.iter()),
                GroupChange::Rename { .. } => renamed = true,
                GroupChange::Announce { .. } => announced = true,
                GroupChange::Create { .. } => {}
            }
        }
        let untouched = |members: &[UserId], keep: &dyn Fn(&UserId) -> bool| -> Vec<UserId> {
            members
                .iter()
                .filter(|m| !touched.contains(m) && keep(m))
                .cloned()
                .collect()
        };
        let again = match &c.change {
            GroupChange::Create { .. } => None,
            GroupChange::Add { members } => {
                let members = untouched(members, &|m| !state.members.contains(m));
                (!members.is_empty()).then_some(GroupChange::Add { members })
            }
            GroupChange::Remove { members } => {
                let members = untouched(members, &|m| state.members.contains(m));
                (!members.is_empty()).then_some(GroupChange::Remove { members })
            }
            GroupChange::Promote { members } => {
                let members = untouched(members, &|m| {
                    state.members.contains(m) && !state.admins.contains(m)
                });
                (!members.is_empty()).then_some(GroupChange::Promote { members })
            }
            GroupChange::Demote { members } => {
                let members = untouched(members, &|m| state.admins.contains(m));
                (!members.is_empty()).then_some(GroupChange::Demote { members })
            }
            GroupChange::Rename { name } => (!renamed && &state.name != name)
                .then(|| GroupChange::Rename { name: name.clone() }),
            GroupChange::Announce { on } => (!announced && state.announcement != *on)
                .then_some(GroupChange::Announce { on: *on }),
        };
        if let Some(change) = again
            && state.allows(author, &change)
        {
            state.apply(&change, state.head);
            out.push(change);
        }
    }
    out
}

/// [`resolve`], and the chain of changes it applied (hash and change), from the `Create`.
fn resolve_chain<'a>(
    group: &GroupId,
    changes: &'a [SignedGroupChange],
) -> Option<(GroupState, Vec<Hashed<'a>>)> {
    // Children by (prev, epoch), each list ordered by hash.
    let mut children: BTreeMap<([u8; 32], u64), Vec<Hashed<'_>>> = BTreeMap::new();
    for c in changes {
        let Ok(prev) = c.prev() else { continue };
        children
            .entry((prev, c.epoch))
            .or_default()
            .push((c.hash(group), c));
    }
    for list in children.values_mut() {
        list.sort_by_key(|c| c.0);
        list.dedup_by(|a, b| a.0 == b.0);
    }
    let (mut state, create) =
        children
            .get(&([0; 32], 0))?
            .iter()
            .find_map(|&(hash, c)| match &c.change {
                GroupChange::Create { name, members } if members.contains(&c.author) => Some((
                    GroupState {
                        name: name.clone(),
                        members: members.iter().cloned().collect(),
                        admins: BTreeSet::from([c.author.clone()]),
                        epoch: 0,
                        head: hash,
                        announcement: false,
                    },
                    (hash, c),
                )),
                _ => None,
            })?;
    let mut chain = vec![create];
    loop {
        let next = children
            .get(&(state.head, state.epoch.saturating_add(1)))
            .and_then(|list| {
                list.iter()
                    .find(|(_, c)| state.allows(&c.author, &c.change))
            });
        match next {
            Some(&(hash, c)) => {
                state.apply(&c.change, hash);
                chain.push((hash, c));
            }
            None => return Some((state, chain)),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests;
