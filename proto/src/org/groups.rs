//! The groups the directory makes (docs/architecture.md §7): one per department and the
//! all-company channel. Their ids are derived from the org's genesis hash (and the folded
//! department name), and their members are whoever the verified log says, so every device
//! computes the same groups with no membership message sent: a user moved between
//! departments leaves one group and joins the other on every device as soon as the device
//! has the entry.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest as _, Sha256};

use super::OrgState;
use crate::content::GroupId;
use crate::ids::UserId;

/// A group the directory makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// Its id.
    pub id: GroupId,
    /// The department's name as the first of its members has it, or the org's name.
    pub name: String,
    /// Everyone in it (dismissed users never are).
    pub members: BTreeSet<UserId>,
    /// The all-company channel: only org admins post, everyone reads and reacts.
    pub announcements: bool,
}

/// The all-company channel of the org with this genesis hash.
pub fn company_group(genesis: &[u8; 32]) -> GroupId {
    derive(genesis, b"company", b"")
}

/// The group of `department` (its name trimmed and lowercased) in the org with this
/// genesis hash.
pub fn department_group(genesis: &[u8; 32], department: &str) -> GroupId {
    derive(genesis, b"department", fold(department).as_bytes())
}

fn fold(department: &str) -> String {
    department.trim().to_lowercase()
}

fn derive(genesis: &[u8; 32], kind: &[u8], name: &[u8]) -> GroupId {
    let mut h = Sha256::new();
    h.update(b"parley directory group v1");
    h.update(genesis);
    h.update((kind.len() as u64).to_be_bytes());
    h.update(kind);
    h.update(name);
    GroupId(h.finalize().into())
}

/// The groups `org`'s directory makes: the company channel (everyone not dismissed) and one
/// group per department that someone not dismissed is in.
pub fn directory_groups(org: &OrgState) -> Vec<DirectoryGroup> {
    let genesis = org.genesis_hash();
    let mut company = DirectoryGroup {
        id: company_group(&genesis),
        name: org.name().to_owned(),
        members: BTreeSet::new(),
        announcements: true,
    };
    let mut departments: BTreeMap<String, DirectoryGroup> = BTreeMap::new();
    for (user, record) in org.users() {
        if record.dismissed {
            continue;
        }
        company.members.insert(user.clone());
        let department = record.profile.department.trim();
        if department.is_empty() {
            continue;
        }
        departments
            .entry(fold(department))
            .or_insert_with(|| DirectoryGroup {
                id: department_group(&genesis, department),
                name: department.to_owned(),
                members: BTreeSet::new(),
                announcements: false,
            })
            .members
            .insert(user.clone());
    }
    std::iter::once(company)
        .chain(departments.into_values())
        .collect()
}

/// Whether `group` is one the directory of `org` makes (then nobody may change it by hand).
pub fn is_directory_group(org: &OrgState, group: &GroupId) -> bool {
    directory_groups(org).iter().any(|g| g.id == *group)
}
