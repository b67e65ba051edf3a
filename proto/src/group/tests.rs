//! Group authority: who may change a group, resolution in every arrival order, rebasing.

use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::os_rng;

use super::*;
use crate::org::{OrgBody, OrgEntry, Profile};

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

/// An org whose root key added `names` as users with device 1 each; their identities.
fn org(names: &[&str]) -> (OrgState, Vec<IdentityKeyPair>) {
    let root = SigningKeyPair::generate(&mut os_rng());
    let genesis = OrgEntry::genesis(&root, "Acme", 100);
    let mut state = OrgState::new(&genesis, &genesis.hash()).unwrap();
    let mut ids = Vec::new();
    let mut now = 100;
    for n in names {
        let identity = IdentityKeyPair::generate(&mut os_rng());
        for body in [
            OrgBody::UserAdded {
                user: user(n),
                profile: Profile::default(),
            },
            OrgBody::DeviceAdded {
                user: user(n),
                device: 1,
                identity: *identity.public(),
            },
        ] {
            now += 1;
            state
                .apply(&OrgEntry::after(&state.head(), body, &root, now))
                .unwrap();
        }
        ids.push(identity);
    }
    (state, ids)
}

struct Group {
    id: GroupId,
    org: OrgState,
    keys: Vec<IdentityKeyPair>,
    names: Vec<&'static str>,
    changes: Vec<SignedGroupChange>,
}

impl Group {
    fn new() -> Self {
        let names = vec!["alice", "bob", "carol", "dave"];
        let (org, keys) = org(&names);
        let mut g = Self {
            id: GroupId([7; 32]),
            org,
            keys,
            names,
            changes: Vec::new(),
        };
        let create = GroupChange::Create {
            name: "Ops".into(),
            members: vec![user("alice"), user("bob"), user("carol")],
        };
        let c = g.signed(0, 0, [0; 32], create);
        g.changes.push(c);
        g
    }

    /// `by` (an index into the names) signs `change` at `epoch` after `prev`.
    fn signed(
        &self,
        by: usize,
        epoch: u64,
        prev: [u8; 32],
        change: GroupChange,
    ) -> SignedGroupChange {
        let c = SignedGroupChange::sign(
            &self.id,
            epoch,
            prev,
            user(self.names[by]),
            1,
            change,
            self.keys[by].signing(),
        );
        c.verify(&self.id, &self.org).unwrap();
        c
    }

    fn state(&self) -> GroupState {
        resolve(&self.id, &self.changes).unwrap()
    }

    /// `by` makes `change` on the current head.
    fn change(&mut self, by: usize, change: GroupChange) -> SignedGroupChange {
        let s = self.state();
        let c = self.signed(by, s.epoch + 1, s.head, change);
        self.changes.push(c.clone());
        c
    }
}

fn names(set: &BTreeSet<UserId>) -> Vec<&str> {
    set.iter().map(UserId::as_str).collect()
}

#[test]
fn the_creator_is_admin_and_only_admins_change_the_group() {
    let mut g = Group::new();
    let s = g.state();
    assert_eq!(names(&s.admins), ["alice"]);
    assert_eq!(names(&s.members), ["alice", "bob", "carol"]);

    // Bob (a member, not an admin) cannot add, remove, rename or promote himself.
    for change in [
        GroupChange::Add {
            members: vec![user("dave")],
        },
        GroupChange::Remove {
            members: vec![user("carol")],
        },
        GroupChange::Rename {
            name: "Bob's".into(),
        },
        GroupChange::Promote {
            members: vec![user("bob")],
        },
    ] {
        g.change(1, change);
        assert_eq!(g.state(), s, "a non-admin's change is not applied");
        g.changes.pop();
    }
    // Alice promotes bob; now he can add dave.
    g.change(
        0,
        GroupChange::Promote {
            members: vec![user("bob")],
        },
    );
    g.change(
        1,
        GroupChange::Add {
            members: vec![user("dave")],
        },
    );
    let s = g.state();
    assert_eq!(names(&s.members), ["alice", "bob", "carol", "dave"]);
    assert_eq!(names(&s.admins), ["alice", "bob"]);
    assert_eq!(s.epoch, 2);

    // Anyone may leave; the last admins leaving make the smallest remaining id admin.
    g.change(
        2,
        GroupChange::Remove {
            members: vec![user("carol")],
        },
    );
    g.change(
        0,
        GroupChange::Remove {
            members: vec![user("alice")],
        },
    );
    g.change(
        1,
        GroupChange::Remove {
            members: vec![user("bob")],
        },
    );
    let s = g.state();
    assert_eq!(names(&s.members), ["dave"]);
    assert_eq!(names(&s.admins), ["dave"]);
    // The last admin cannot be demoted.
    let before = g.state();
    g.change(
        3,
        GroupChange::Demote {
            members: vec![user("dave")],
        },
    );
    assert_eq!(g.state(), before);
}

#[test]
fn every_arrival_order_gives_the_same_group() {
    let mut g = Group::new();
    let base = g.state();
    // Alice promotes bob; then alice and bob change the group concurrently (same epoch,
    // same prev), and carol leaves after bob's change.
    g.change(
        0,
        GroupChange::Promote {
            members: vec![user("bob")],
        },
    );
    let head = g.state();
    let a = g.signed(
        0,
        head.epoch + 1,
        head.head,
        GroupChange::Rename { name: "A".into() },
    );
    let b = g.signed(
        1,
        head.epoch + 1,
        head.head,
        GroupChange::Rename { name: "B".into() },
    );
    let winner = if a.hash(&g.id) < b.hash(&g.id) {
        "A"
    } else {
        "B"
    };
    g.changes.push(a);
    g.changes.push(b);
    let s = g.state();
    assert_eq!(s.name, winner);
    g.change(
        2,
        GroupChange::Remove {
            members: vec![user("carol")],
        },
    );
    let want = g.state();
    assert_ne!(want, base);

    // All 120 orders of the five changes.
    let all = g.changes.clone();
    let mut order: Vec<usize> = (0..all.len()).collect();
    let mut seen = 0;
    permute(&mut order, 0, &mut |o| {
        let changes: Vec<SignedGroupChange> = o.iter().map(|&i| all[i].clone()).collect();
        assert_eq!(resolve(&g.id, &changes).unwrap(), want, "{o:?}");
        seen += 1;
    });
    assert_eq!(seen, 120);
}

/// Alice and bob (both admins) change the group at once from the same head; returns the
/// index (0 alice, 1 bob) of the one whose change lost.
fn concurrently(g: &mut Group, alice: GroupChange, bob: GroupChange) -> usize {
    let head = g.state();
    let a = g.signed(0, head.epoch + 1, head.head, alice);
    let b = g.signed(1, head.epoch + 1, head.head, bob);
    let loser = usize::from(a.hash(&g.id) < b.hash(&g.id));
    g.changes.push(a);
    g.changes.push(b);
    loser
}

fn redo_of(g: &Group, by: usize) -> Vec<GroupChange> {
    redo(&g.id, &g.changes, &user(g.names[by]), 1)
}

#[test]
fn a_change_that_lost_is_made_again_where_the_winner_left_it_open() {
    let mut g = Group::new();
    g.change(
        0,
        GroupChange::Promote {
            members: vec![user("bob")],
        },
    );
    assert!(redo_of(&g, 0).is_empty() && redo_of(&g, 1).is_empty());

    // An add and a rename at once: the one that lost is made again, whole.
    let add = GroupChange::Add {
        members: vec![user("dave")],
    };
    let rename = GroupChange::Rename { name: "B".into() };
    let loser = concurrently(&mut g, add.clone(), rename.clone());
    let lost = if loser == 0 { &add } else { &rename };
    assert_eq!(redo_of(&g, loser), std::slice::from_ref(lost));
    assert!(
        redo_of(&g, 1 - loser).is_empty(),
        "the winner has nothing to redo"
    );
    // Only the device that signed it redoes it.
    assert!(redo(&g.id, &g.changes, &user(g.names[loser]), 2).is_empty());
    g.change(loser, lost.clone());
    let s = g.state();
    assert!(s.members.contains(&user("dave")) && s.name == "B");
    assert!(
        redo_of(&g, loser).is_empty(),
        "a change made again covers the one that lost"
    );

    // Two renames at once: the winner's name stands, nothing is made again.
    concurrently(
        &mut g,
        GroupChange::Rename { name: "A2".into() },
        GroupChange::Rename { name: "B2".into() },
    );
    assert!(redo_of(&g, 0).is_empty() && redo_of(&g, 1).is_empty());

    // Alice removes carol and dave while bob promotes dave: only the member the winner did
    // not touch is made again.
    let remove = GroupChange::Remove {
        members: vec![user("carol"), user("dave")],
    };
    let promote = GroupChange::Promote {
        members: vec![user("dave")],
    };
    let loser = concurrently(&mut g, remove, promote.clone());
    if loser == 0 {
        assert_eq!(
            redo_of(&g, 0),
            [GroupChange::Remove {
                members: vec![user("carol")]
            }]
        );
    } else {
        assert!(
            redo_of(&g, 1).is_empty(),
            "dave was removed: nothing to promote"
        );
    }

    // A lost change its author may no longer make is not made again.
    let mut g = Group::new();
    g.change(
        0,
        GroupChange::Promote {
            members: vec![user("bob")],
        },
    );
    let demote = GroupChange::Demote {
        members: vec![user("bob")],
    };
    let add = GroupChange::Add {
        members: vec![user("dave")],
    };
    if concurrently(&mut g, demote, add) == 1 {
        assert!(redo_of(&g, 1).is_empty(), "bob is no longer an admin");
    } else {
        assert_eq!(
            redo_of(&g, 0),
            [GroupChange::Demote {
                members: vec![user("bob")]
            }]
        );
    }
}

fn permute(v: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
    if k == v.len() {
        f(v);
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, f);
        v.swap(k, i);
    }
}

#[test]
fn forged_or_misplaced_changes_are_refused() {
    let g = Group::new();
    let s = g.state();
    // Signed by another key than the log certifies for the named device.
    let mut forged = g.signed(1, 1, s.head, GroupChange::Rename { name: "x".into() });
    forged.author = user("alice");
    assert_eq!(forged.verify(&g.id, &g.org), Err(GroupError::BadSignature));
    // Valid for another group only.
    let other = GroupId([8; 32]);
    let c = g.signed(0, 1, s.head, GroupChange::Rename { name: "x".into() });
    assert_eq!(c.verify(&other, &g.org), Err(GroupError::BadSignature));
    // A device the log does not know.
    let mut unknown = c.clone();
    unknown.device = 9;
    assert_eq!(unknown.verify(&g.id, &g.org), Err(GroupError::BadSignature));
    // A bad prev, an empty list.
    let mut bad = c.clone();
    bad.prev = B64(vec![0; 5]);
    assert_eq!(bad.verify(&g.id, &g.org), Err(GroupError::Malformed));
    let empty = g.signed_unchecked(0, 1, s.head, GroupChange::Add { members: vec![] });
    assert_eq!(empty.verify(&g.id, &g.org), Err(GroupError::Malformed));
    // A change at the wrong epoch or after an unknown head changes nothing.
    let mut changes = g.changes.clone();
    changes.push(g.signed(0, 5, s.head, GroupChange::Rename { name: "y".into() }));
    changes.push(g.signed(0, 1, [1; 32], GroupChange::Rename { name: "z".into() }));
    assert_eq!(resolve(&g.id, &changes).unwrap(), s);
    // Without a Create there is no group; a Create whose author is not in it is none.
    assert_eq!(resolve(&g.id, &[]), None);
    let stray = g.signed(
        3,
        0,
        [0; 32],
        GroupChange::Create {
            name: "Mine".into(),
            members: vec![user("alice")],
        },
    );
    assert_eq!(resolve(&g.id, &[stray]), None);
}

impl Group {
    fn signed_unchecked(
        &self,
        by: usize,
        epoch: u64,
        prev: [u8; 32],
        change: GroupChange,
    ) -> SignedGroupChange {
        SignedGroupChange::sign(
            &self.id,
            epoch,
            prev,
            user(self.names[by]),
            1,
            change,
            self.keys[by].signing(),
        )
    }
}
