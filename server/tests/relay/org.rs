//! Creating the org with the setup token, invites, registration and device credentials.

use super::*;

both!(
    org_setup_once_with_the_token,
    invites_and_registration,
    credentials_are_checked,
);

async fn org_setup_once_with_the_token(backend: Backend) {
    let (storage, server) = start(backend).await;
    let relay = server.relay();
    assert!(!relay.health().await.unwrap().org);
    assert_eq!(
        code(&relay.org_log().await.unwrap_err()),
        Some(ErrorCode::NoOrg)
    );

    // A wrong token, a tampered genesis, an admin entry for another key: all refused.
    let root = parley_crypto::keys::SigningKeyPair::generate(&mut parley_crypto::keys::os_rng());
    let identity =
        parley_crypto::identity::IdentityKeyPair::generate(&mut parley_crypto::keys::os_rng());
    let (genesis, admin) = Org::entries(&root, &user("admin"), &identity);
    let good = parley_proto::api::CreateOrgRequest {
        setup_token: "wrong".into(),
        genesis: B64(genesis.to_bytes()),
        admin: B64(admin.to_bytes()),
        user: user("admin"),
        device: parley_proto::api::NewDevice {
            identity: B64(identity.public().to_bytes().to_vec()),
            secret: B64(vec![7; 32]),
            registration_id: 1,
        },
    };
    let e = relay.create_org(&good).await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(StatusCode::FORBIDDEN), Some(ErrorCode::Forbidden))
    );
    let mut bad = good.clone();
    bad.setup_token = common::SETUP_TOKEN.into();
    bad.genesis.0[20] ^= 1;
    assert_eq!(
        code(&relay.create_org(&bad).await.unwrap_err()),
        Some(ErrorCode::InvalidInput)
    );
    let mut bad = good.clone();
    bad.setup_token = common::SETUP_TOKEN.into();
    bad.genesis.0[0] = 9;
    assert_eq!(
        code(&relay.create_org(&bad).await.unwrap_err()),
        Some(ErrorCode::UnsupportedVersion)
    );
    let mut bad = good.clone();
    bad.setup_token = common::SETUP_TOKEN.into();
    bad.user = user("mallory");
    assert_eq!(
        code(&relay.create_org(&bad).await.unwrap_err()),
        Some(ErrorCode::InvalidInput)
    );

    let org = common::create_org(relay.clone()).await;
    assert!(relay.health().await.unwrap().org);
    let log = relay.org_log().await.unwrap();
    assert_eq!(log.genesis_hash.0, org.genesis.hash().to_vec());
    assert_eq!(log.entries.len(), 2);
    let g = parley_proto::org::OrgEntry::from_bytes(&log.entries[0].0).unwrap();
    let a = parley_proto::org::OrgEntry::from_bytes(&log.entries[1].0).unwrap();
    a.check_follows(&g, g.check_genesis().unwrap()).unwrap();

    // Once only, even with the right token.
    let mut again = good;
    again.setup_token = common::SETUP_TOKEN.into();
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
    let code_b = org.invite(&bob, true).await.unwrap();
    let e = org.register(&user("carol"), &code_b).await.err().unwrap();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(StatusCode::FORBIDDEN), Some(ErrorCode::InviteInvalid))
    );
    let b1 = org.register(&bob, &code_b).await.unwrap();
    let e = org.register(&bob, &code_b).await.err().unwrap();
    assert_eq!(code(&e), Some(ErrorCode::InviteInvalid));
    assert_eq!(b1.device, 1);

    // Only admins invite.
    let st = parley_proto::api::CreateInviteRequest {
        code_hash: B64(vec![1; 32]),
        user: user("dave"),
        new_user: true,
        expires_at: common::now_secs() + 60,
        signature: B64(alice.identity.sign(b"x").0.to_vec()),
    };
    let e = alice.relay.create_invite(&st).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Forbidden));
    // An admin's invite with a bad signature is refused.
    let e = org.admin.relay.create_invite(&st).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    // A new-user invite for an existing user is refused.
    let mut dup = st.clone();
    dup.user = user("alice");
    let e = org.admin.relay.create_invite(&dup).await.unwrap_err();
    assert!(matches!(
        code(&e),
        Some(ErrorCode::InvalidInput | ErrorCode::Conflict)
    ));

    // Linking further devices, up to ten.
    let mut devices = vec![b1.clone()];
    for n in 2..=10 {
        let d = org.link(&b1).await.unwrap();
        assert_eq!(d.device, n);
        devices.push(d);
    }
    let link = parley_server::random_bytes::<32>().unwrap().to_vec();
    let req = parley_proto::api::CreateLinkRequest {
        code_hash: B64(parley_proto::org::sha256(&link).to_vec()),
        expires_at: common::now_secs() + 60,
    };
    b1.relay.create_link(&req).await.unwrap();
    let e = org.register(&bob, &link).await.err().unwrap();
    assert_eq!(code(&e), Some(ErrorCode::TooManyDevices));
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
