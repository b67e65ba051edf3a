//! Creating the org with the setup token, the org log (serving it, appending to it, who may
//! sign what), registration with invite and link keys, revocation and dismissal, and device
//! credentials.

use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_proto::api::{AppendRequest, CreateOrgRequest, NewDevice};
use parley_proto::org::{OrgBody, OrgEntry, OrgState, Profile, RevokeReason};

use super::*;

both!(
    org_setup_once_with_the_token,
    invites_and_registration,
    only_well_signed_entries_extend_the_log,
    revocation_and_dismissal_cut_devices_off,
    credentials_are_checked,
);

/// A change to a request.
type Tamper = dyn Fn(&mut CreateOrgRequest);

fn new_device() -> NewDevice {
    NewDevice {
        secret: B64(vec![7; 32]),
        registration_id: 1,
        unlock_hash: B64(vec![8; 32]),
        remote_secret: B64(vec![9; 32]),
    }
}

async fn org_setup_once_with_the_token(backend: Backend) {
    let (storage, server) = start(backend).await;
    let relay = server.relay();
    assert!(!relay.health().await.unwrap().org);
    assert_eq!(
        code(&relay.org_log(0).await.unwrap_err()),
        Some(ErrorCode::NoOrg)
    );

    // A wrong token, a tampered genesis, an unknown version, no device: all refused.
    let root = SigningKeyPair::generate(&mut os_rng());
    let identity = IdentityKeyPair::generate(&mut os_rng());
    let entries = Org::entries(&root, &user("admin"), &identity);
    let good = CreateOrgRequest {
        setup_token: "wrong".into(),
        entries: entries.iter().map(|e| B64(e.to_bytes())).collect(),
        device: new_device(),
    };
    let e = relay.create_org(&good).await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(StatusCode::FORBIDDEN), Some(ErrorCode::Forbidden))
    );
    let with_token = |f: &Tamper| {
        let mut r = good.clone();
        r.setup_token = common::SETUP_TOKEN.into();
        f(&mut r);
        r
    };
    let cases: [(&Tamper, ErrorCode); 4] = [
        (&|r| r.entries[0].0[20] ^= 1, ErrorCode::InvalidInput),
        (&|r| r.entries[0].0[0] = 9, ErrorCode::UnsupportedVersion),
        (&|r| drop(r.entries.pop()), ErrorCode::InvalidInput),
        // The admin entry signed by someone else than the root key.
        (
            &|r| {
                let g = OrgEntry::from_bytes(&r.entries[1].0).unwrap();
                let other = SigningKeyPair::generate(&mut os_rng());
                let forged = OrgEntry::after(
                    &OrgEntry::from_bytes(&r.entries[0].0).unwrap().head_after(),
                    g.body,
                    &other,
                    common::now_secs(),
                );
                r.entries[1] = B64(forged.to_bytes());
            },
            ErrorCode::OrgRefused,
        ),
    ];
    for (f, expected) in cases {
        let bad = with_token(f);
        assert_eq!(
            code(&relay.create_org(&bad).await.unwrap_err()),
            Some(expected)
        );
    }
    assert!(!relay.health().await.unwrap().org, "nothing was created");

    let org = common::create_org(relay.clone()).await;
    assert!(relay.health().await.unwrap().org);
    // Only a key the log knows reads it: not an anonymous client, nor an unknown key, nor a
    // device's proof from another time.
    let unauthorized =
        |e: parley_client::relay::RelayError| e.status() == Some(StatusCode::UNAUTHORIZED);
    assert!(unauthorized(relay.org_log(0).await.unwrap_err()));
    let stranger = SigningKeyPair::generate(&mut os_rng());
    assert!(unauthorized(
        relay.with_log_key(&stranger).org_log(0).await.unwrap_err()
    ));
    let client = reqwest::Client::new();
    let stale = parley_proto::org::log_proof(
        org.admin.identity.signing(),
        common::now_secs() - parley_proto::org::MAX_LOG_PROOF_SKEW_SECS - 5,
    );
    let answer = client
        .get(format!("{}/v1/org", server.url))
        .header(parley_proto::org::LOG_PROOF_HEADER, stale)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    // A device's key, the root key and an unexpired invite key do.
    let invite = org.invite(&user("erin"), true).await.unwrap();
    let invited = relay.with_log_key(&SigningKeyPair::from_seed(&invite));
    assert_eq!(invited.org_log(0).await.unwrap().len, 6);
    let relay = org.admin.relay.clone();
    let log = relay.org_log(0).await.unwrap();
    assert_eq!(org.relay.org_log(0).await.unwrap().entries, log.entries);
    let log = parley_proto::api::OrgLog {
        len: 4,
        entries: log.entries[..4].to_vec(),
        ..log
    };
    assert_eq!(log.genesis_hash.0, org.genesis.hash().to_vec());
    assert_eq!((log.len, log.entries.len()), (4, 4));
    let state = OrgState::verify(&log.entries, &org.genesis.hash()).unwrap();
    assert!(state.user(&user("admin")).unwrap().admin);
    // Incrementally.
    let tail = relay.org_log(2).await.unwrap();
    assert_eq!((tail.len, tail.entries.len()), (6, 4));
    assert_eq!(tail.entries[..2], log.entries[2..]);
    assert!(relay.org_log(9).await.unwrap().entries.is_empty());

    // Once only, even with the right token.
    let again = with_token(&|_| {});
    let e = relay.create_org(&again).await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(StatusCode::CONFLICT), Some(ErrorCode::Conflict))
    );
    finish(storage, server).await;
}

async fn invites_and_registration(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    assert_eq!(alice.device, 1);

    // An invite works once, for its user only; a failed attempt does not burn it.
    let bob = user("bob");
    let carol = user("carol");
    org.append(
        OrgBody::UserAdded {
            user: carol.clone(),
            profile: Profile::default(),
        },
        org.admin.identity.signing(),
    )
    .await
    .unwrap();
    let code_b = org.invite(&bob, true).await.unwrap();
    let e = org.register(&carol, &code_b).await.err().unwrap();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(StatusCode::FORBIDDEN), Some(ErrorCode::OrgRefused))
    );
    let b1 = org.register(&bob, &code_b).await.unwrap();
    let e = org.register(&bob, &code_b).await.err().unwrap();
    assert_eq!(code(&e), Some(ErrorCode::InviteInvalid));
    assert_eq!(b1.device, 1);

    // Linking further devices, up to ten.
    let mut devices = vec![b1.clone()];
    for n in 2..=10 {
        let d = org.link(&b1).await.unwrap();
        assert_eq!(d.device, n);
        devices.push(d);
    }
    let e = org.link(&b1).await.err().unwrap();
    let e = e.downcast_ref::<RelayError>().unwrap();
    assert_eq!(code(e), Some(ErrorCode::TooManyDevices));
    let list = alice.relay.devices(&bob).await.unwrap();
    assert_eq!(
        list.devices.iter().map(|d| d.device).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        list.devices[0].identity.0,
        b1.identity.public().to_bytes().to_vec()
    );
    assert_eq!(
        code(&alice.relay.devices(&user("nobody")).await.unwrap_err()),
        Some(ErrorCode::NotFound)
    );
    finish(storage, server).await;
}

async fn only_well_signed_entries_extend_the_log(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let log = org.relay.org_log(0).await.unwrap();
    let state = OrgState::verify(&log.entries, &org.genesis.hash()).unwrap();
    let head = state.head();
    let now = common::now_secs();
    let post = |entry: OrgEntry| {
        let relay = alice.relay.clone();
        async move {
            relay
                .append(&AppendRequest {
                    entry: B64(entry.to_bytes()),
                })
                .await
        }
    };
    let dave = OrgBody::UserAdded {
        user: user("dave"),
        profile: Profile::default(),
    };
    // A member may not add users; nor may a key the log never saw.
    for key in [
        alice.identity.signing().clone(),
        SigningKeyPair::generate(&mut os_rng()),
    ] {
        let e = post(OrgEntry::after(&head, dave.clone(), &key, now))
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), code(&e)),
            (Some(StatusCode::FORBIDDEN), Some(ErrorCode::OrgRefused))
        );
    }
    // A ghost device: a DeviceAdded that no invite or admin signed.
    let ghost = OrgBody::DeviceAdded {
        user: user("alice"),
        device: 2,
        identity: *IdentityKeyPair::generate(&mut os_rng()).public(),
    };
    let e = post(OrgEntry::after(&head, ghost, alice.identity.signing(), now))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput), "devices register");
    // A bad signature, a stale head, a clock far off.
    let admin = org.admin.identity.signing();
    let mut bytes = OrgEntry::after(&head, dave.clone(), admin, now).to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let e = alice
        .relay
        .append(&AppendRequest { entry: B64(bytes) })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    let stale = parley_proto::org::LogHead {
        len: head.len - 1,
        hash: head.hash,
    };
    let e = post(OrgEntry::after(&stale, dave.clone(), admin, now))
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(StatusCode::CONFLICT), Some(ErrorCode::LogConflict))
    );
    let e = post(OrgEntry::after(&head, dave.clone(), admin, now - 3600))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    // Unauthenticated appends are refused before anything else.
    let e = server
        .relay()
        .append(&AppendRequest {
            entry: B64(OrgEntry::after(&head, dave.clone(), admin, now).to_bytes()),
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    // Nothing of it reached the log; the admin's entry does.
    assert_eq!(org.relay.org_log(0).await.unwrap().len, head.len);
    post(OrgEntry::after(&head, dave, admin, now))
        .await
        .unwrap();
    let log = org.relay.org_log(0).await.unwrap();
    let state = OrgState::verify(&log.entries, &org.genesis.hash()).unwrap();
    assert!(state.user(&user("dave")).is_some());
    finish(storage, server).await;
}

async fn revocation_and_dismissal_cut_devices_off(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let bob2 = org.link(&bob).await.unwrap();
    // Something waits in bob2's queue, and bob2 listens.
    send(&alice, &[&bob, &bob2], b"before").await.unwrap();
    let mut ws = bob2.relay.connect().await.unwrap();

    // The log announces itself when the socket opens.
    let first = ws.next().await.unwrap();
    let first = first.map_err(|e| format!("{e:?}")).unwrap();
    assert!(
        matches!(first, ServerFrame::LogAdvanced { len } if len == org.relay.org_log(0).await.unwrap().len),
        "{first:?}"
    );
    let admin = org.admin.identity.signing();
    org.append(
        OrgBody::DeviceRevoked {
            user: bob.user.clone(),
            device: bob2.device,
            reason: RevokeReason::Lost,
        },
        admin,
    )
    .await
    .unwrap();

    // Its socket is closed with the reason, its credentials refused, its queue and prekeys
    // gone, and senders are told it no longer exists.
    let mut closed = None;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
    {
        if let Ok(ServerFrame::Closing { reason }) = frame {
            closed = Some(reason);
        }
    }
    assert_eq!(closed.as_deref(), Some("this device was revoked"));
    let e = bob2.relay.prekey_count().await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(bob2.relay.connect().await.is_err());
    // It still reads the log, to learn why (and to obey a wipe order).
    assert!(bob2.relay.org_log(0).await.is_ok());
    let listed = alice.relay.devices(&bob.user).await.unwrap();
    assert_eq!(
        listed.devices.iter().map(|d| d.device).collect::<Vec<_>>(),
        vec![bob.device]
    );
    let e = send(&alice, &[&bob, &bob2], b"after").await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::MismatchedDevices));
    let queued: i64 = parley_server::on_db!(&server.state.db, read, pool => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM envelopes e JOIN devices d ON d.pk = e.device_pk
             WHERE d.user_id = $1 AND d.device_id = $2",
        )
        .bind(bob2.user.as_str()).bind(i64::from(bob2.device))
        .fetch_one(pool).await.unwrap()
    });
    assert_eq!(queued, 0, "the revoked device's queue is deleted");

    // Dismissal: every device of the user, at once.
    org.append(
        OrgBody::UserDismissed {
            user: bob.user.clone(),
        },
        admin,
    )
    .await
    .unwrap();
    let e = bob.relay.prekey_count().await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(
        code(&alice.relay.devices(&bob.user).await.unwrap_err()),
        Some(ErrorCode::NotFound)
    );
    finish(storage, server).await;
}

async fn credentials_are_checked(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let mut creds = alice.relay.credentials().unwrap().clone();
    creds.secret[0] ^= 1;
    let wrong = server.relay().with_credentials(creds.clone());
    let e = wrong.prekey_count().await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (
            Some(StatusCode::UNAUTHORIZED),
            Some(ErrorCode::Unauthorized)
        )
    );
    assert!(wrong.connect().await.is_err());
    creds.secret[0] ^= 1;
    creds.device = 2;
    assert_eq!(
        code(
            &server
                .relay()
                .with_credentials(creds)
                .prekey_count()
                .await
                .unwrap_err()
        ),
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        code(&server.relay().prekey_count().await.unwrap_err()),
        Some(ErrorCode::Unauthorized)
    );
    // Malformed Authorization headers.
    for h in ["Basic", "Basic !!!", "Bearer x", "Basic YWxpY2UuMTp4"] {
        let r = reqwest::Client::new()
            .get(format!("{}/v1/keys/count", server.url))
            .header("authorization", h)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{h}");
    }
    assert!(alice.relay.prekey_count().await.is_ok());
    finish(storage, server).await;
}
