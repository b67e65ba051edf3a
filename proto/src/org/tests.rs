#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use parley_crypto::DecodeError;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};

use super::*;
use crate::ids::UserId;

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

fn profile(name: &str) -> Profile {
    Profile {
        display_name: name.into(),
        department: "Accounts".into(),
        ..Profile::default()
    }
}

/// An org with an admin (`admin`, device 1) and the log's entries so far.
struct Fixture {
    root: SigningKeyPair,
    admin: IdentityKeyPair,
    state: OrgState,
    entries: Vec<OrgEntry>,
    now: u64,
}

impl Fixture {
    fn new() -> Self {
        let root = SigningKeyPair::generate(&mut os_rng());
        let admin = IdentityKeyPair::generate(&mut os_rng());
        let genesis = OrgEntry::genesis(&root, "Acme", 100);
        let state = OrgState::new(&genesis, &genesis.hash()).unwrap();
        let mut f = Self {
            root,
            admin,
            state,
            entries: vec![genesis],
            now: 100,
        };
        let a = user("admin");
        f.append_by_root(OrgBody::UserAdded {
            user: a.clone(),
            profile: profile("Ada"),
        })
        .unwrap();
        f.append_by_root(OrgBody::AdminAdded { user: a.clone() })
            .unwrap();
        let identity = *f.admin.public();
        f.append_by_root(OrgBody::DeviceAdded {
            user: a,
            device: 1,
            identity,
        })
        .unwrap();
        f
    }

    fn entry(&mut self, body: OrgBody, key: &SigningKeyPair) -> OrgEntry {
        self.now += 1;
        OrgEntry::after(&self.state.head(), body, key, self.now)
    }

    fn append(&mut self, body: OrgBody, key: &SigningKeyPair) -> Result<(), OrgError> {
        let e = self.entry(body, key);
        // What goes over the wire is what is applied.
        let e = OrgEntry::from_bytes(&e.to_bytes())?;
        self.state.apply(&e)?;
        self.entries.push(e);
        Ok(())
    }

    fn append_by_root(&mut self, body: OrgBody) -> Result<(), OrgError> {
        let root = self.root.clone();
        self.append(body, &root)
    }

    fn append_by_admin(&mut self, body: OrgBody) -> Result<(), OrgError> {
        let key = self.admin.signing().clone();
        self.append(body, &key)
    }

    /// Invites `name` (a new user) and adds its first device with the invite key.
    fn join(&mut self, name: &str) -> IdentityKeyPair {
        let u = user(name);
        self.append_by_admin(OrgBody::UserAdded {
            user: u.clone(),
            profile: profile(name),
        })
        .unwrap();
        let invite = SigningKeyPair::generate(&mut os_rng());
        self.append_by_admin(OrgBody::InviteIssued {
            user: u.clone(),
            key: invite.public(),
            expires_at: self.now + 1000,
        })
        .unwrap();
        let device = IdentityKeyPair::generate(&mut os_rng());
        let body = OrgBody::DeviceAdded {
            user: u.clone(),
            device: self.state.next_device(&u),
            identity: *device.public(),
        };
        self.append(body, &invite).unwrap();
        device
    }

    fn encoded(&self) -> Vec<Vec<u8>> {
        self.entries.iter().map(OrgEntry::to_bytes).collect()
    }
}

#[test]
fn a_new_org_has_its_admin_and_the_admin_device() {
    let f = Fixture::new();
    let a = user("admin");
    let rec = f.state.user(&a).unwrap();
    assert!(rec.admin && !rec.dismissed);
    assert_eq!(rec.profile.display_name, "Ada");
    assert_eq!(
        rec.active_devices()
            .map(|(n, d)| (n, d.identity))
            .collect::<Vec<_>>(),
        vec![(1, *f.admin.public())]
    );
    assert!(f.state.is_admin_key(&f.admin.signing().public()));
    assert!(f.state.is_admin_key(&f.root.public()));
    assert_eq!(f.state.head().len, 4);
    assert_eq!(f.state.head().hash, f.entries[3].hash());
    // The whole log verifies from the pinned genesis, to the same state.
    let again = OrgState::verify(&f.encoded(), &f.entries[0].hash()).unwrap();
    assert_eq!(again, f.state);
    // Another org's genesis, a reordered log, an empty log: refused.
    assert_eq!(
        OrgState::verify(&f.encoded(), &[0; 32]),
        Err(OrgError::NotNext)
    );
    let mut swapped = f.encoded();
    swapped.swap(1, 2);
    assert!(OrgState::verify(&swapped, &f.entries[0].hash()).is_err());
    assert!(OrgState::verify(&Vec::<Vec<u8>>::new(), &f.entries[0].hash()).is_err());
}

#[test]
fn the_state_encodes_and_decodes_to_itself() {
    let mut f = Fixture::new();
    let bob = f.join("bob");
    f.append_by_admin(OrgBody::PolicySet {
        policy: Policy {
            offline_lock_secs: 7,
            presence: true,
            ..Policy::default()
        },
    })
    .unwrap();
    f.join("carol");
    f.append(
        OrgBody::DeviceRevoked {
            user: user("bob"),
            device: 1,
            reason: RevokeReason::Lost,
        },
        &bob.signing().clone(),
    )
    .unwrap();
    f.append_by_admin(OrgBody::WipeOrdered {
        user: user("carol"),
        device: 1,
    })
    .unwrap();
    f.append_by_admin(OrgBody::PosterSet {
        user: user("carol"),
        poster: true,
    })
    .unwrap();
    let bytes = f.state.to_bytes();
    assert_eq!(OrgState::from_bytes(&bytes), Ok(f.state.clone()));
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(OrgState::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut v9 = bytes;
    v9[0] = 9;
    assert_eq!(
        OrgState::from_bytes(&v9),
        Err(OrgError::Decode(DecodeError::UnknownVersion(9)))
    );
}

#[test]
fn an_invite_key_adds_exactly_one_device_of_its_user_before_it_expires() {
    let mut f = Fixture::new();
    let bob = user("bob");
    f.append_by_admin(OrgBody::UserAdded {
        user: bob.clone(),
        profile: profile("Bob"),
    })
    .unwrap();
    f.append_by_admin(OrgBody::UserAdded {
        user: user("carol"),
        profile: profile("Carol"),
    })
    .unwrap();
    let invite = SigningKeyPair::generate(&mut os_rng());
    f.append_by_admin(OrgBody::InviteIssued {
        user: bob.clone(),
        key: invite.public(),
        expires_at: f.now + 10,
    })
    .unwrap();
    let added = |u: &UserId, device| OrgBody::DeviceAdded {
        user: u.clone(),
        device,
        identity: *IdentityKeyPair::generate(&mut os_rng()).public(),
    };
    // Not for another user; not with a number that is not the next; then once.
    assert_eq!(
        f.append(added(&user("carol"), 1), &invite),
        Err(OrgError::Unauthorized)
    );
    assert_eq!(
        f.append(added(&bob, 2), &invite),
        Err(Rule::DeviceNotNext.into())
    );
    f.append(added(&bob, 1), &invite).unwrap();
    assert_eq!(
        f.append(added(&bob, 2), &invite),
        Err(Rule::InviteUsed.into())
    );
    // An expired invite.
    let late = SigningKeyPair::generate(&mut os_rng());
    f.append_by_admin(OrgBody::InviteIssued {
        user: bob.clone(),
        key: late.public(),
        expires_at: f.now + 2,
    })
    .unwrap();
    f.now += 5;
    assert_eq!(
        f.append(added(&bob, 2), &late),
        Err(Rule::InviteExpired.into())
    );
    // Invites valid too long, or already expired, are refused; so is a reused key.
    for expires_at in [f.now, f.now + MAX_INVITE_SECS + 10] {
        let k = SigningKeyPair::generate(&mut os_rng());
        let body = OrgBody::InviteIssued {
            user: bob.clone(),
            key: k.public(),
            expires_at,
        };
        assert_eq!(f.append_by_admin(body), Err(Rule::BadExpiry.into()));
    }
    let body = OrgBody::InviteIssued {
        user: bob,
        key: invite.public(),
        expires_at: f.now + 100,
    };
    assert_eq!(f.append_by_admin(body), Err(Rule::KeyReused.into()));
}

#[test]
fn a_device_links_another_device_of_its_own_user_only() {
    let mut f = Fixture::new();
    let bob = f.join("bob");
    f.join("carol");
    let link = SigningKeyPair::generate(&mut os_rng());
    let issue = |u: &str, now: u64| OrgBody::InviteIssued {
        user: user(u),
        key: link.public(),
        expires_at: now + 100,
    };
    let bob_key = bob.signing().clone();
    assert_eq!(
        f.append(issue("carol", f.now), &bob_key),
        Err(OrgError::Unauthorized)
    );
    f.append(issue("bob", f.now), &bob_key).unwrap();
    let second = IdentityKeyPair::generate(&mut os_rng());
    f.append(
        OrgBody::DeviceAdded {
            user: user("bob"),
            device: 2,
            identity: *second.public(),
        },
        &link,
    )
    .unwrap();
    let rec = f.state.user(&user("bob")).unwrap();
    assert_eq!(rec.active_devices().count(), 2);
    assert_eq!(
        f.state.device_by_key(&second.signing().public()),
        Some((&user("bob"), 2))
    );
}

#[test]
fn admins_appoint_posters_of_the_company_channel_and_dismissal_ends_it() {
    let mut f = Fixture::new();
    let bob = f.join("bob");
    f.join("carol");
    let carol = user("carol");
    assert!(f.state.may_post_to_company(&user("admin")));
    assert!(!f.state.may_post_to_company(&carol));
    // A state stored before posters existed (no trailing list) reads as having none.
    let old = f.state.to_bytes();
    assert_eq!(
        OrgState::from_bytes(&old[..old.len() - 4]),
        Ok(f.state.clone())
    );
    let appoint = OrgBody::PosterSet {
        user: carol.clone(),
        poster: true,
    };
    assert_eq!(
        f.append(appoint.clone(), &bob.signing().clone()),
        Err(OrgError::Unauthorized)
    );
    f.append_by_admin(appoint).unwrap();
    assert!(f.state.may_post_to_company(&carol));
    assert_eq!(f.state.posters().collect::<Vec<_>>(), [&carol]);
    f.append_by_admin(OrgBody::UserDismissed {
        user: carol.clone(),
    })
    .unwrap();
    assert!(!f.state.may_post_to_company(&carol));
    assert_eq!(f.state.posters().count(), 0);
    assert!(
        f.append_by_admin(OrgBody::PosterSet {
            user: carol,
            poster: true,
        })
        .is_err(),
        "not for a dismissed user"
    );
}

#[test]
fn only_admins_administer_and_only_the_root_key_makes_admins() {
    let mut f = Fixture::new();
    let bob = f.join("bob");
    let bob_key = bob.signing().clone();
    let stranger = SigningKeyPair::generate(&mut os_rng());
    for key in [&bob_key, &stranger] {
        for body in [
            OrgBody::UserAdded {
                user: user("mallory"),
                profile: profile("M"),
            },
            OrgBody::UserDismissed {
                user: user("admin"),
            },
            OrgBody::WipeOrdered {
                user: user("admin"),
                device: 1,
            },
            OrgBody::PolicySet {
                policy: Policy::default(),
            },
            OrgBody::DeviceRevoked {
                user: user("admin"),
                device: 1,
                reason: RevokeReason::Lost,
            },
            // A ghost device, signed by anyone but an admin or an invite.
            OrgBody::DeviceAdded {
                user: user("bob"),
                device: 2,
                identity: *IdentityKeyPair::generate(&mut os_rng()).public(),
            },
        ] {
            assert_eq!(f.append(body, key), Err(OrgError::Unauthorized));
        }
    }
    // An admin's device may not appoint admins; the root key may.
    assert_eq!(
        f.append_by_admin(OrgBody::AdminAdded { user: user("bob") }),
        Err(OrgError::Unauthorized)
    );
    f.append_by_root(OrgBody::AdminAdded { user: user("bob") })
        .unwrap();
    assert!(f.state.is_admin_key(&bob_key.public()));
    f.append(
        OrgBody::UserAdded {
            user: user("dave"),
            profile: profile("Dave"),
        },
        &bob_key,
    )
    .unwrap();
    f.append_by_root(OrgBody::AdminRemoved { user: user("bob") })
        .unwrap();
    assert!(!f.state.is_admin_key(&bob_key.public()));
    assert_eq!(
        f.append_by_root(OrgBody::AdminRemoved { user: user("bob") }),
        Err(Rule::NotAdmin.into())
    );
}

#[test]
fn revoked_devices_and_dismissed_users_lose_every_power() {
    let mut f = Fixture::new();
    let bob = f.join("bob");
    let bob_key = bob.signing().clone();
    f.append_by_root(OrgBody::AdminAdded { user: user("bob") })
        .unwrap();
    f.append_by_admin(OrgBody::DeviceRevoked {
        user: user("bob"),
        device: 1,
        reason: RevokeReason::Logout,
    })
    .unwrap();
    let d = f.state.device(&user("bob"), 1).unwrap();
    assert_eq!(d.revoked.map(|r| r.reason), Some(RevokeReason::Logout));
    assert_eq!(f.state.device_by_key(&bob_key.public()), None);
    assert!(!f.state.is_admin_key(&bob_key.public()));
    let body = OrgBody::UserAdded {
        user: user("eve"),
        profile: profile("E"),
    };
    assert_eq!(f.append(body, &bob_key), Err(OrgError::Unauthorized));
    // Revoking twice is refused; a revoked key never comes back as a new device.
    let again = OrgBody::DeviceRevoked {
        user: user("bob"),
        device: 1,
        reason: RevokeReason::Lost,
    };
    assert_eq!(f.append_by_admin(again), Err(Rule::UnknownDevice.into()));
    let back = OrgBody::DeviceAdded {
        user: user("bob"),
        device: 2,
        identity: *bob.public(),
    };
    assert_eq!(f.append_by_admin(back), Err(Rule::KeyReused.into()));

    // Dismissal: every device revoked, invites void, the id never given again.
    let carol = f.join("carol");
    let invite = SigningKeyPair::generate(&mut os_rng());
    f.append_by_admin(OrgBody::InviteIssued {
        user: user("carol"),
        key: invite.public(),
        expires_at: f.now + 100,
    })
    .unwrap();
    f.append_by_admin(OrgBody::UserDismissed {
        user: user("carol"),
    })
    .unwrap();
    let rec = f.state.user(&user("carol")).unwrap();
    assert!(rec.dismissed && rec.active_devices().count() == 0);
    assert_eq!(
        rec.devices[&1].revoked.map(|r| r.reason),
        Some(RevokeReason::Dismissed)
    );
    assert_eq!(f.state.device_by_key(&carol.signing().public()), None);
    let rejoin = OrgBody::DeviceAdded {
        user: user("carol"),
        device: 2,
        identity: *IdentityKeyPair::generate(&mut os_rng()).public(),
    };
    assert_eq!(f.append(rejoin, &invite), Err(Rule::Dismissed.into()));
    let readd = OrgBody::UserAdded {
        user: user("carol"),
        profile: profile("C"),
    };
    assert_eq!(f.append_by_admin(readd), Err(Rule::UserExists.into()));
}

#[test]
fn entries_must_extend_the_head_in_order_and_in_time() {
    let mut f = Fixture::new();
    let body = OrgBody::PolicySet {
        policy: Policy::default(),
    };
    let key = f.admin.signing().clone();
    let head = f.state.head();
    let wrong_seq = OrgEntry::sign(
        head.len + 1,
        head.hash,
        f.now,
        body.clone(),
        key.public(),
        |m| key.sign(m),
    );
    let wrong_prev = OrgEntry::sign(head.len, [7; 32], f.now, body.clone(), key.public(), |m| {
        key.sign(m)
    });
    let back = OrgEntry::sign(
        head.len,
        head.hash,
        f.now - 1,
        body.clone(),
        key.public(),
        |m| key.sign(m),
    );
    let genesis_again = OrgEntry::after(&head, f.entries[0].body.clone(), &f.root, f.now);
    let before = f.state.clone();
    assert_eq!(f.state.check(&wrong_seq), Err(OrgError::NotNext));
    assert_eq!(f.state.apply(&wrong_prev), Err(OrgError::NotNext));
    assert_eq!(f.state.apply(&back), Err(Rule::TimeWentBack.into()));
    assert_eq!(f.state.apply(&genesis_again), Err(OrgError::NotNext));
    assert_eq!(f.state, before, "a refused entry changes nothing");
}

#[test]
fn every_changed_byte_is_refused_and_unknown_kinds_say_update() {
    let mut f = Fixture::new();
    f.join("bob");
    for e in &f.entries {
        let bytes = e.to_bytes();
        assert_eq!(OrgEntry::from_bytes(&bytes).as_ref(), Ok(e));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(OrgEntry::from_bytes(&bad).is_err(), "byte {i}");
        }
        assert!(OrgEntry::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            OrgEntry::from_bytes(&long),
            Err(OrgError::Decode(DecodeError::TrailingBytes))
        );
    }
    // A kind from a future version: its own error, whose message says to update.
    let mut future = f.entries[1].to_bytes();
    let kind_at = 1 + 8 + 32 + 8;
    future[kind_at] = 200;
    let err = OrgEntry::from_bytes(&future).unwrap_err();
    assert_eq!(err, OrgError::UnknownKind(200));
    assert!(err.to_string().contains("update Parley"));
    let mut v1 = f.entries[1].to_bytes();
    v1[0] = 1;
    assert_eq!(
        OrgEntry::from_bytes(&v1),
        Err(OrgError::Decode(DecodeError::UnknownVersion(1)))
    );
}

#[test]
fn a_wipe_order_is_done_by_the_device_s_own_receipt_even_after_revocation() {
    let mut f = Fixture::new();
    let bob = f.join("bob");
    let other = f.join("carol");
    let order = |f: &mut Fixture| {
        f.append_by_admin(OrgBody::WipeOrdered {
            user: user("bob"),
            device: 1,
        })
    };
    order(&mut f).unwrap();
    let order_seq = f.state.head().len - 1;
    assert_eq!(order(&mut f), Err(Rule::WipePending.into()));
    // Lost: revoked before it could answer; it still reads the log and signs its receipt.
    f.append_by_admin(OrgBody::DeviceRevoked {
        user: user("bob"),
        device: 1,
        reason: RevokeReason::Lost,
    })
    .unwrap();
    let receipt = |order| OrgBody::WipeDone {
        user: user("bob"),
        device: 1,
        order,
    };
    assert_eq!(
        f.append(receipt(order_seq), &other.signing().clone()),
        Err(OrgError::Unauthorized)
    );
    assert_eq!(
        f.append(receipt(order_seq + 1), &bob.signing().clone()),
        Err(Rule::NoWipeOrder.into())
    );
    f.append(receipt(order_seq), &bob.signing().clone())
        .unwrap();
    let w = &f.state.wipe_orders()[0];
    assert_eq!(
        (w.seq, w.done.map(|d| d.0)),
        (order_seq, Some(f.state.head().len - 1))
    );
    assert_eq!(f.state.pending_wipe(&user("bob"), 1), None);
    assert_eq!(
        f.append(receipt(order_seq), &bob.signing().clone()),
        Err(Rule::NoWipeOrder.into())
    );
    // A receipt without a revocation revokes the device.
    f.append_by_admin(OrgBody::WipeOrdered {
        user: user("carol"),
        device: 1,
    })
    .unwrap();
    let carol_order = f.state.head().len - 1;
    f.append(
        OrgBody::WipeDone {
            user: user("carol"),
            device: 1,
            order: carol_order,
        },
        &other.signing().clone(),
    )
    .unwrap();
    let d = f.state.device(&user("carol"), 1).unwrap();
    assert_eq!(d.revoked.map(|r| r.reason), Some(RevokeReason::Wiped));
    assert_eq!(
        OrgState::from_bytes(&f.state.to_bytes()),
        Ok(f.state.clone())
    );
}
