//! Route and integration tests of the relay, each run on SQLite and on PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Backend, Device, Org, Storage, TestServer, drain, user};
use parley_client::relay::{Delivery, RelayError};
use parley_proto::api::{
    MAX_ENVELOPES_PER_SEND, MismatchedDevices, MultiSendRequest, OutgoingEnvelope, PreKeyUpload,
    RecipientEnvelopes, SendRequest, UserMismatch, UserStale,
};
use parley_proto::ws::{Envelope, ServerFrame};
use parley_proto::{B64, ErrorCode};
use reqwest::StatusCode;

/// Runs a scenario once on SQLite and once on a fresh PostgreSQL database.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await;
            }
        }
    )*};
}

both!(
    org_setup_once_with_the_token,
    invites_and_registration,
    credentials_are_checked,
    prekeys_upload_count_claim,
    concurrent_claims_never_share_a_key,
    send_checks_devices,
    send_to_several_users,
    live_and_queued_delivery,
    unacked_is_redelivered_and_acked_is_not,
    a_device_reads_only_its_own_queue,
    limits_and_bad_input,
    attachments_round_trip,
    expiry,
    ops_endpoints,
    graceful_shutdown_keeps_accepted_envelopes,
    a_full_window_loses_nothing,
    a_burst_of_ack_frames_is_all_written,
    acks_sent_before_a_reconnect_are_not_redelivered,
    a_large_group_commit_maps_ids_to_envelopes,
    small_group_commits_map_ids_to_envelopes,
    a_failed_group_commit_leaves_the_writer_usable,
    sends_over_the_socket,
    a_send_over_the_socket_is_stored_if_and_only_if_answered,
    pipelined_sends_on_many_sockets_are_all_answered,
    other_writes_go_through_while_the_writer_is_busy,
    acks_of_many_devices_commit_together,
);

async fn start(backend: Backend) -> (Storage, TestServer) {
    let storage = Storage::new(backend).await;
    let server = TestServer::start(storage.config()).await;
    (storage, server)
}

async fn finish(storage: Storage, server: TestServer) {
    server.stop().await.unwrap();
    storage.cleanup().await;
}

fn code(e: &RelayError) -> Option<ErrorCode> {
    e.body().map(|b| b.code)
}

fn env(device: &Device, body: &[u8]) -> OutgoingEnvelope {
    OutgoingEnvelope {
        device: device.device,
        registration_id: device.registration_id,
        body: B64(body.to_vec()),
    }
}

async fn send(from: &Device, to: &[&Device], body: &[u8]) -> Result<(), RelayError> {
    let req = SendRequest {
        messages: to.iter().map(|d| env(d, body)).collect(),
    };
    from.relay.send(&to[0].user, &req).await.map(|_| ())
}

/// Next envelope within 10 s, skipping `queue_empty`.
async fn next_envelope(ws: &mut Delivery) -> Envelope {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an envelope within 10 s")
            .expect("socket open")
            .expect("valid frame");
        match frame {
            ServerFrame::Envelope(e) => return e,
            ServerFrame::QueueEmpty => {}
            ServerFrame::Closing { reason } => panic!("closed: {reason}"),
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

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

    let org = Org::create(relay.clone()).await;
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
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    assert_eq!(alice.device, 1);

    // An invite works once, for its user only; a failed attempt does not burn it.
    let bob = user("bob");
    let code_b = org.invite(&bob, true).await;
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
        let d = org.link(&b1).await;
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
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
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

fn upload(n: usize, tag: u8) -> PreKeyUpload {
    PreKeyUpload {
        signed_prekey: Some(B64(vec![tag; 100])),
        last_resort_kem: Some(B64(vec![tag; 1700])),
        one_time: (0..n)
            .map(|i| B64(vec![tag, (i >> 8) as u8, i as u8]))
            .collect(),
        one_time_kem: (0..n)
            .map(|i| B64(vec![tag, (i >> 8) as u8, i as u8, 0]))
            .collect(),
        replace_one_time: false,
    }
}

async fn prekeys_upload_count_claim(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let bob2 = org.link(&bob).await;
    assert_eq!(
        code(
            &alice
                .relay
                .claim_prekeys(&bob.user, None)
                .await
                .unwrap_err()
        ),
        Some(ErrorCode::NotFound)
    );

    let c = bob.relay.upload_prekeys(&upload(2, 1)).await.unwrap();
    assert_eq!((c.one_time, c.one_time_kem), (2, 2));
    bob2.relay.upload_prekeys(&upload(1, 2)).await.unwrap();

    let all = alice.relay.claim_prekeys(&bob.user, None).await.unwrap();
    assert_eq!(all.devices.len(), 2);
    assert_eq!(all.devices[0].device, 1);
    assert_eq!(all.devices[0].one_time.as_ref().unwrap().0, vec![1, 0, 0]);
    assert_eq!(
        all.devices[0].identity.0,
        bob.identity.public().to_bytes().to_vec()
    );
    assert_eq!(
        all.devices[1].one_time_kem.as_ref().unwrap().0,
        vec![2, 0, 0, 0]
    );
    let one = alice.relay.claim_prekeys(&bob.user, Some(1)).await.unwrap();
    assert_eq!(one.devices.len(), 1);
    assert_eq!(one.devices[0].one_time.as_ref().unwrap().0, vec![1, 0, 1]);
    // None left: only the signed and last-resort keys.
    let last = alice.relay.claim_prekeys(&bob.user, Some(1)).await.unwrap();
    assert!(last.devices[0].one_time.is_none() && last.devices[0].one_time_kem.is_none());
    assert_eq!(last.devices[0].last_resort_kem.0, vec![1; 1700]);
    let c = bob.relay.prekey_count().await.unwrap();
    assert_eq!((c.one_time, c.one_time_kem), (0, 0));

    // At most 100 of each kind, per upload and in store; a refused upload changes nothing.
    bob.relay.upload_prekeys(&upload(100, 3)).await.unwrap();
    let e = bob.relay.upload_prekeys(&upload(1, 3)).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    let e = bob.relay.upload_prekeys(&upload(101, 3)).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    assert_eq!(bob.relay.prekey_count().await.unwrap().one_time, 100);
    let mut replace = upload(5, 4);
    replace.replace_one_time = true;
    assert_eq!(
        bob.relay.upload_prekeys(&replace).await.unwrap().one_time,
        5
    );
    let mut big = upload(0, 5);
    big.last_resort_kem = Some(B64(vec![0; 5000]));
    assert_eq!(
        code(&bob.relay.upload_prekeys(&big).await.unwrap_err()),
        Some(ErrorCode::TooLarge)
    );
    let mut empty = upload(0, 5);
    empty.one_time = vec![B64(Vec::new())];
    assert_eq!(
        code(&bob.relay.upload_prekeys(&empty).await.unwrap_err()),
        Some(ErrorCode::InvalidInput)
    );
    finish(storage, server).await;
}

async fn concurrent_claims_never_share_a_key(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let bob = org.join("bob").await;
    bob.relay.upload_prekeys(&upload(100, 1)).await.unwrap();
    let mut claimers = Vec::new();
    for i in 0..8 {
        claimers.push(org.join(&format!("claimer{i}")).await);
    }
    let mut tasks = Vec::new();
    for c in claimers {
        let target = bob.user.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..16 {
                let b = c.relay.claim_prekeys(&target, Some(1)).await.unwrap();
                got.push((
                    b.devices[0].one_time.clone(),
                    b.devices[0].one_time_kem.clone(),
                ));
            }
            got
        }));
    }
    let mut x = Vec::new();
    let mut kem = Vec::new();
    for t in tasks {
        for (a, b) in t.await.unwrap() {
            x.extend(a.map(|k| k.0));
            kem.extend(b.map(|k| k.0));
        }
    }
    // 128 claims for 100 keys of each kind: every key handed out exactly once.
    assert_eq!(x.len(), 100);
    assert_eq!(kem.len(), 100);
    assert_eq!(x.iter().collect::<BTreeSet<_>>().len(), 100);
    assert_eq!(kem.iter().collect::<BTreeSet<_>>().len(), 100);
    finish(storage, server).await;
}

async fn send_checks_devices(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let alice2 = org.link(&alice).await;
    let bob = org.join("bob").await;
    let bob2 = org.link(&bob).await;

    // Missing a device: 409 with the missing id.
    let e = send(&alice, &[&bob], b"x").await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::CONFLICT));
    let m = e.body().unwrap().mismatched.clone().unwrap();
    assert_eq!((m.missing, m.extra), (vec![2], vec![]));
    // An extra device.
    let mut req = SendRequest {
        messages: vec![env(&bob, b"x"), env(&bob2, b"x")],
    };
    req.messages.push(OutgoingEnvelope {
        device: 7,
        registration_id: 1,
        body: B64(b"x".to_vec()),
    });
    let e = alice.relay.send(&bob.user, &req).await.unwrap_err();
    assert_eq!(e.body().unwrap().mismatched.clone().unwrap().extra, vec![7]);
    // A stale registration id: 410.
    let mut req = SendRequest {
        messages: vec![env(&bob, b"x"), env(&bob2, b"x")],
    };
    req.messages[1].registration_id ^= 0x4000;
    let e = alice.relay.send(&bob.user, &req).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::GONE));
    assert_eq!(e.body().unwrap().stale.clone().unwrap(), vec![2]);
    // Unknown user: 404. Duplicate device: 400.
    let e = alice
        .relay
        .send(
            &user("nobody"),
            &SendRequest {
                messages: vec![env(&bob, b"x")],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NotFound));
    let dup = SendRequest {
        messages: vec![env(&bob, b"x"), env(&bob, b"x")],
    };
    assert_eq!(
        code(&alice.relay.send(&bob.user, &dup).await.unwrap_err()),
        Some(ErrorCode::InvalidInput)
    );
    // To one's own user: every other device, not the sender.
    send(&alice, &[&alice2], b"sync").await.unwrap();
    let e = send(&alice, &[&alice, &alice2], b"sync").await.unwrap_err();
    assert_eq!(e.body().unwrap().mismatched.clone().unwrap().extra, vec![1]);
    // Nothing of the refused requests was stored.
    send(&alice, &[&bob, &bob2], b"ok").await.unwrap();
    let mut ws = bob2.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(
        got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
        vec![b"ok".to_vec()]
    );
    assert_eq!(
        (got[0].source_user.as_str(), got[0].source_device),
        ("alice", 1)
    );
    // A device linked after the relay cached Bob's devices is expected at once.
    let bob3 = org.link(&bob).await;
    let e = send(&alice, &[&bob, &bob2], b"x").await.unwrap_err();
    let m = e.body().unwrap().mismatched.clone().unwrap();
    assert_eq!((m.missing, m.extra), (vec![3], vec![]));
    send(&alice, &[&bob, &bob2, &bob3], b"ok3").await.unwrap();
    finish(storage, server).await;
}

fn to(user: &str, devices: &[&Device], body: &[u8]) -> RecipientEnvelopes {
    RecipientEnvelopes {
        user: common::user(user),
        messages: devices.iter().map(|d| env(d, body)).collect(),
    }
}

async fn send_to_several_users(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let alice2 = org.link(&alice).await;
    let bob = org.join("bob").await;
    let bob2 = org.link(&bob).await;
    let carol = org.join("carol").await;
    let multi = |recipients| MultiSendRequest { recipients };

    // One request, every device of every user (and Alice's other device, not the sender).
    let ok = multi(vec![
        to("bob", &[&bob, &bob2], b"group 1"),
        to("carol", &[&carol], b"group 1"),
        to("alice", &[&alice2], b"group 1"),
    ]);
    let answer = alice.relay.send_multi(&ok).await.unwrap();
    assert_eq!(answer.sender_devices, vec![1, 2]);

    // Mismatches are reported for every user concerned; an unknown user's envelopes are extra.
    let e = alice
        .relay
        .send_multi(&multi(vec![
            to("bob", &[&bob], b"no"),
            to("carol", &[&carol], b"no"),
            to("nobody", &[&carol], b"no"),
        ]))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::CONFLICT));
    assert_eq!(code(&e), Some(ErrorCode::MismatchedDevices));
    assert_eq!(
        e.body().unwrap().mismatched_users.clone().unwrap(),
        vec![
            UserMismatch {
                user: user("bob"),
                devices: MismatchedDevices {
                    missing: vec![2],
                    extra: vec![]
                }
            },
            UserMismatch {
                user: user("nobody"),
                devices: MismatchedDevices {
                    missing: vec![],
                    extra: vec![1]
                }
            },
        ]
    );
    // A stale registration id: 410 naming the user and device.
    let mut stale = multi(vec![
        to("bob", &[&bob, &bob2], b"no"),
        to("carol", &[&carol], b"no"),
    ]);
    stale.recipients[1].messages[0].registration_id ^= 0x4000;
    let e = alice.relay.send_multi(&stale).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::GONE));
    assert_eq!(
        e.body().unwrap().stale_users.clone().unwrap(),
        vec![UserStale {
            user: user("carol"),
            stale: vec![1]
        }]
    );
    // Bad requests.
    let bad = [
        (multi(vec![]), ErrorCode::InvalidInput),
        (
            multi(vec![
                to("carol", &[&carol], b"no"),
                to("carol", &[&carol], b"no"),
            ]),
            ErrorCode::InvalidInput,
        ),
        (
            multi(vec![to("carol", &[], b"no")]),
            ErrorCode::InvalidInput,
        ),
        (
            multi(vec![to("carol", &[&carol], b"")]),
            ErrorCode::InvalidInput,
        ),
        (
            multi(vec![RecipientEnvelopes {
                user: user("carol"),
                messages: (0..=MAX_ENVELOPES_PER_SEND as u32)
                    .map(|d| OutgoingEnvelope {
                        device: d,
                        registration_id: 1,
                        body: B64(b"no".to_vec()),
                    })
                    .collect(),
            }]),
            ErrorCode::TooLarge,
        ),
    ];
    for (req, expected) in bad {
        let e = alice.relay.send_multi(&req).await.unwrap_err();
        assert_eq!(code(&e), Some(expected), "{e}");
    }

    // Only the accepted request was stored: each device got it once, the sender nothing.
    for d in [&bob, &bob2, &carol, &alice2] {
        let mut ws = d.relay.connect().await.unwrap();
        let got = drain(&mut ws, true).await;
        assert_eq!(
            got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
            vec![b"group 1".to_vec()],
            "{}.{}",
            d.user,
            d.device
        );
        assert_eq!(
            (got[0].source_user.as_str(), got[0].source_device),
            ("alice", 1)
        );
        ws.close().await;
    }
    let mut ws = alice.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    finish(storage, server).await;
}

/// Reads a sender's socket until `n` sends are answered (10 s at most per frame): request
/// number → the answer frame.
async fn answers(ws: &mut Delivery, n: usize) -> std::collections::BTreeMap<u64, ServerFrame> {
    let mut out = std::collections::BTreeMap::new();
    while out.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s")
            .expect("socket open")
            .expect("valid frame");
        match frame {
            ServerFrame::Sent { request, .. } | ServerFrame::SendFailed { request, .. } => {
                assert!(out.insert(request, frame).is_none(), "answered twice");
            }
            ServerFrame::QueueEmpty => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
    out
}

/// The status and error code of a refused send, as the client's error for it gives them.
fn refused(frame: &ServerFrame) -> (u16, ErrorCode) {
    match frame {
        ServerFrame::SendFailed { status, error, .. } => {
            let e = RelayError::refused(*status, error.clone());
            (e.status().unwrap().as_u16(), code(&e).unwrap())
        }
        other => panic!("not refused: {other:?}"),
    }
}

async fn sends_over_the_socket(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let alice2 = org.link(&alice).await;
    let bob = org.join("bob").await;
    let bob2 = org.link(&bob).await;
    let carol = org.join("carol").await;
    let multi = |recipients| MultiSendRequest { recipients };
    let mut ws = alice.relay.connect().await.unwrap();
    // 50 sends in flight at once, then a group message, a mismatched one, a stale one.
    for i in 1..=50u64 {
        let req = multi(vec![to("bob", &[&bob, &bob2], &i.to_be_bytes())]);
        ws.send(i, req).await.unwrap();
    }
    ws.send(
        51,
        multi(vec![
            to("bob", &[&bob, &bob2], b"group"),
            to("carol", &[&carol], b"group"),
        ]),
    )
    .await
    .unwrap();
    ws.send(52, multi(vec![to("bob", &[&bob], b"no")]))
        .await
        .unwrap();
    let mut stale = multi(vec![to("carol", &[&carol], b"no")]);
    stale.recipients[0].messages[0].registration_id ^= 0x4000;
    ws.send(53, stale).await.unwrap();
    // Frames a send cannot be read from are answered as the HTTP request would be.
    ws.send_raw(
        r#"{"type":"send","request":54,"recipients":[{"user":"bob","messages":[{"device":1,"registration_id":1,"body":"!!"}]}]}"#,
    )
    .await
    .unwrap();
    ws.send_raw(r#"{"type":"send","request":55}"#)
        .await
        .unwrap();
    ws.send(56, multi(vec![])).await.unwrap();
    // The socket is still open: one more send.
    ws.send(57, multi(vec![to("carol", &[&carol], b"last")]))
        .await
        .unwrap();
    let got = answers(&mut ws, 57).await;
    for i in (1..=51).chain([57]) {
        match &got[&i] {
            ServerFrame::Sent {
                sender_devices,
                server_timestamp,
                ..
            } => {
                assert_eq!(sender_devices, &vec![1, 2]);
                assert!(*server_timestamp > 0);
            }
            other => panic!("{i}: {other:?}"),
        }
    }
    assert_eq!(refused(&got[&52]), (409, ErrorCode::MismatchedDevices));
    let ServerFrame::SendFailed { error, .. } = &got[&52] else {
        unreachable!()
    };
    assert_eq!(
        error.mismatched_users.clone().unwrap(),
        vec![UserMismatch {
            user: user("bob"),
            devices: MismatchedDevices {
                missing: vec![2],
                extra: vec![]
            }
        }]
    );
    assert_eq!(refused(&got[&53]), (410, ErrorCode::StaleDevices));
    assert_eq!(refused(&got[&54]), (400, ErrorCode::BadBase64));
    assert_eq!(refused(&got[&55]), (400, ErrorCode::MalformedJson));
    assert_eq!(refused(&got[&56]), (400, ErrorCode::InvalidInput));
    // A frame over the request body limit (8 MiB) ends the socket unanswered, and nothing of
    // it is stored (checked below).
    let huge = format!(
        r#"{{"type":"send","request":58,"recipients":[{}]}}"#,
        " ".repeat(9 << 20)
    );
    let _ = ws.send_raw(&huge).await;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the socket ends within 10 s")
        {
            None | Some(Err(_)) => break,
            Some(Ok(ServerFrame::Sent { request, .. })) => panic!("{request} answered"),
            Some(Ok(_)) => {}
        }
    }

    // Stored in the order sent, and only what was accepted.
    let expected_bob: Vec<Vec<u8>> = (1..=50u64)
        .map(|i| i.to_be_bytes().to_vec())
        .chain([b"group".to_vec()])
        .collect();
    for (d, expected) in [
        (&bob, expected_bob.clone()),
        (&bob2, expected_bob),
        (&carol, vec![b"group".to_vec(), b"last".to_vec()]),
        (&alice2, vec![]),
    ] {
        let mut ws = d.relay.connect().await.unwrap();
        let got = drain(&mut ws, true).await;
        assert_eq!(
            got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
            expected,
            "{}.{}",
            d.user,
            d.device
        );
        ws.close().await;
    }
    finish(storage, server).await;

    // Each send costs a token of the rate limit, as a request does.
    let storage = Storage::new(backend).await;
    let mut config = storage.config();
    config.limits.rate_per_sec = 0.5;
    config.limits.rate_burst = 4.0;
    let server = TestServer::start(config).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let mut ws = alice.relay.connect().await.unwrap();
    for i in 1..=5u64 {
        ws.send(i, multi(vec![to("bob", &[&bob], b"x")]))
            .await
            .unwrap();
    }
    let got = answers(&mut ws, 5).await;
    let limited: Vec<&ServerFrame> = got
        .values()
        .filter(|f| matches!(f, ServerFrame::SendFailed { .. }))
        .collect();
    assert!(!limited.is_empty(), "{got:?}");
    for f in limited {
        assert_eq!(refused(f), (429, ErrorCode::RateLimited));
        let ServerFrame::SendFailed { error, .. } = f else {
            unreachable!()
        };
        assert!(error.retry_after_secs.unwrap() >= 1);
    }
    ws.close().await;
    finish(storage, server).await;
}

/// Many sockets, each with as many sends waiting for their commit as the relay takes, while
/// every send reads devices from the database (directory cache off): every send is answered
/// and stored. (A send waiting in a socket for its commit must hold no database connection:
/// the socket polls it only between frames, so such sends would starve the sockets' own reads
/// of the pool, and the relay would stop.)
async fn pipelined_sends_on_many_sockets_are_all_answered(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let bob = org.join("bob").await;
    let mut senders = Vec::new();
    for i in 0..24 {
        senders.push(org.join(&format!("s{i}")).await);
    }
    server.state.directory.set_enabled(false);
    let per = parley_server::routes::ws::MAX_PENDING_SENDS as u64;
    let mut tasks = Vec::new();
    for s in senders {
        let bob = bob.clone();
        tasks.push(tokio::spawn(async move {
            let mut ws = s.relay.connect().await.unwrap();
            for i in 1..=per {
                let req = MultiSendRequest {
                    recipients: vec![to("bob", &[&bob], &i.to_be_bytes())],
                };
                ws.send(i, req).await.unwrap();
            }
            let got = answers(&mut ws, per as usize).await;
            let stored = |f: &ServerFrame| matches!(f, ServerFrame::Sent { .. });
            assert!(got.values().all(stored), "{got:?}");
            ws.close().await;
        }));
    }
    for t in futures_util::future::join_all(tasks).await {
        t.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut ws, true).await.len(), 24 * per as usize);
    ws.close().await;
    finish(storage, server).await;
}

/// Enrolment (which writes outside the group commit) goes through while the group-commit
/// writer always has requests waiting: it keeps its connection from one commit to the next
/// only for a while (on SQLite it is the only write connection; kept for as long as requests
/// keep coming, enrolment would wait out the pool's timeout and fail).
async fn other_writes_go_through_while_the_writer_is_busy(backend: Backend) {
    use parley_server::writer::{MAX_BATCH_ROWS, WriteOp};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let stop = Arc::new(AtomicBool::new(false));
    // More requests in flight than one transaction takes, each a real (if empty) delete.
    let mut tasks = Vec::new();
    for _ in 0..MAX_BATCH_ROWS + MAX_BATCH_ROWS / 4 {
        let (writer, stop) = (server.state.writer.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut commits = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let op = WriteOp::Ack {
                    device_pk: 0,
                    pushed: Vec::new(),
                    other: vec![i64::MAX],
                };
                writer.write(op).await.unwrap();
                commits += 1;
            }
            commits
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..3 {
        org.join(&format!("late{i}")).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut commits = 0;
    for t in tasks {
        commits += t.await.unwrap();
    }
    assert!(commits > MAX_BATCH_ROWS as u64, "the writer was kept busy");
    finish(storage, server).await;
}

/// A socket replaced while sends are in flight: every send it answered as stored was stored,
/// and none of the others.
async fn a_send_over_the_socket_is_stored_if_and_only_if_answered(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let mut ws = alice.relay.connect().await.unwrap();
    for i in 1..=300u64 {
        let req = MultiSendRequest {
            recipients: vec![to("bob", &[&bob], &i.to_be_bytes())],
        };
        ws.send(i, req).await.unwrap();
    }
    // A second socket of Alice's device replaces the first.
    let second = alice.relay.connect().await.unwrap();
    let mut sent = Vec::new();
    let mut closing = false;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the socket ends within 10 s")
    {
        match frame.unwrap() {
            ServerFrame::Sent { request, .. } => {
                assert!(!closing, "answered after the closing frame");
                sent.push(request);
            }
            ServerFrame::Closing { .. } => closing = true,
            ServerFrame::QueueEmpty => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(closing, "the relay said it closed the socket");
    second.close().await;
    let mut ws = bob.relay.connect().await.unwrap();
    let stored: Vec<u64> = drain(&mut ws, true)
        .await
        .iter()
        .map(|e| u64::from_be_bytes(e.body.0.as_slice().try_into().unwrap()))
        .collect();
    sent.sort_unstable();
    assert_eq!(stored, sent, "stored (in order) = answered");
    ws.close().await;
    finish(storage, server).await;
}

async fn live_and_queued_delivery(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    // Queued while offline, in order.
    for i in 0..50u32 {
        send(&alice, &[&bob], &i.to_be_bytes()).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(got.len(), 50);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.body.0, (i as u32).to_be_bytes().to_vec());
    }
    ws.ack(got.iter().map(|e| e.id).collect()).await.unwrap();
    // Live: pushed the moment it is stored.
    for i in 0..20u32 {
        send(&alice, &[&bob], &(1000 + i).to_be_bytes())
            .await
            .unwrap();
        let e = next_envelope(&mut ws).await;
        assert_eq!(e.body.0, (1000 + i).to_be_bytes().to_vec());
        ws.ack(vec![e.id]).await.unwrap();
    }
    // More than one window's worth, acked as they come.
    let n = parley_server::routes::ws::WINDOW as u32 * 2 + 10;
    let sender = alice.clone();
    let to = bob.clone();
    let sending = tokio::spawn(async move {
        for i in 0..n {
            send(&sender, &[&to], &i.to_be_bytes()).await.unwrap();
        }
    });
    for i in 0..n {
        let e = next_envelope(&mut ws).await;
        assert_eq!(e.body.0, i.to_be_bytes().to_vec(), "in order");
        ws.ack(vec![e.id]).await.unwrap();
    }
    sending.await.unwrap();
    ws.close().await;
    finish(storage, server).await;
}

/// Several senders at once while the device acks only when its window is full: envelopes
/// pile up beyond the window and the socket's mailbox; each arrives exactly once, and each
/// sender's in the order it sent them.
async fn a_full_window_loses_nothing(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let bob = org.join("bob").await;
    let window = parley_server::routes::ws::WINDOW;
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    let (senders, each) = (4u8, 300u32);
    let mut sending = Vec::new();
    for s in 0..senders {
        let from = org.join(&format!("s{s}")).await;
        let to = bob.clone();
        sending.push(tokio::spawn(async move {
            for i in 0..each {
                let mut body = vec![s];
                body.extend_from_slice(&i.to_be_bytes());
                send(&from, &[&to], &body).await.unwrap();
            }
        }));
    }
    let total = usize::from(senders) * each as usize;
    let mut ids = BTreeSet::new();
    let mut last: Vec<Option<u32>> = vec![None; usize::from(senders)];
    let mut unacked = Vec::new();
    while ids.len() < total {
        let e = next_envelope(&mut ws).await;
        assert!(ids.insert(e.id), "envelope {} pushed twice", e.id);
        let s = usize::from(e.body.0[0]);
        let i = u32::from_be_bytes(e.body.0[1..5].try_into().unwrap());
        assert!(
            last[s].is_none_or(|l| l < i),
            "sender {s}: {i} after {:?}",
            last[s]
        );
        last[s] = Some(i);
        unacked.push(e.id);
        // Ack only a full window (or the tail).
        if unacked.len() == window || ids.len() == total {
            ws.ack(std::mem::take(&mut unacked)).await.unwrap();
        }
    }
    for t in sending {
        t.await.unwrap();
    }
    // Nothing more is queued.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(ws);
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    finish(storage, server).await;
}

/// One group commit of 600 envelopes for two devices (on SQLite a script prepared for this
/// commit alone, with two INSERT statements): each envelope handed to a socket carries the id
/// its row got, and the ids follow the insert order.
async fn a_large_group_commit_maps_ids_to_envelopes(backend: Backend) {
    group_commits_map_ids_to_envelopes(backend, &[600]).await;
}

/// Three group commits of 150 envelopes, the later ones with the acks of the one before (on
/// SQLite a script kept prepared: three INSERTs of 64 rows, the last padded with rows it
/// leaves out, and a DELETE padded with ids that match nothing; the second and third commit
/// reuse it). As above, and nothing acked stays queued.
async fn small_group_commits_map_ids_to_envelopes(backend: Backend) {
    group_commits_map_ids_to_envelopes(backend, &[150, 150, 150]).await;
}

/// Writes one group commit of each size in `sizes` for the two devices of bob (alternating),
/// bodies numbered in insert order; checks that the rows' ids follow that order and that each
/// socket receives every envelope with the id of its row; acks them all.
async fn group_commits_map_ids_to_envelopes(backend: Backend, sizes: &[u32]) {
    use parley_server::db::NewEnvelope;
    use parley_server::writer::WriteOp;
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let bob2 = org.link(&bob).await;
    let mut ws1 = bob.relay.connect().await.unwrap();
    let mut ws2 = bob2.relay.connect().await.unwrap();
    assert!(drain(&mut ws1, false).await.is_empty());
    assert!(drain(&mut ws2, false).await.is_empty());
    let pks: Vec<i64> = parley_server::on_db!(&server.state.db, read, pool => {
        sqlx::query_scalar("SELECT pk FROM devices WHERE user_id = 'bob' ORDER BY device_id")
            .fetch_all(pool).await.unwrap()
    });
    let (mut numbered, mut last_id) = (0u32, 0i64);
    for &n in sizes {
        let now = parley_server::now_ms();
        let rows: Vec<NewEnvelope> = (numbered..numbered + n)
            .map(|i| NewEnvelope {
                device_pk: pks[(i % 2) as usize],
                source_user: alice.user.as_str().to_owned(),
                source_device: 1,
                server_ts: now,
                expires_at: now + 60_000,
                body: i.to_be_bytes().to_vec(),
            })
            .collect();
        server
            .state
            .writer
            .write(WriteOp::Insert(rows))
            .await
            .unwrap();
        let stored: Vec<(i64, Vec<u8>)> = parley_server::on_db!(&server.state.db, read, pool => {
            sqlx::query_as("SELECT id, body FROM envelopes WHERE id > $1 ORDER BY id")
                .bind(last_id).fetch_all(pool).await.unwrap()
        });
        assert_eq!(stored.len(), n as usize);
        // Ids follow the insert order.
        for (i, (_, body)) in (numbered..).zip(&stored) {
            assert_eq!(body, &i.to_be_bytes().to_vec());
        }
        last_id = stored.last().map_or(last_id, |(id, _)| *id);
        numbered += n;
        let stored: std::collections::BTreeMap<i64, Vec<u8>> = stored.into_iter().collect();
        // The first window of each socket comes from the writer's hand-over, not the database.
        let window = parley_server::routes::ws::WINDOW;
        for ws in [&mut ws1, &mut ws2] {
            let mut unacked = Vec::new();
            for _ in 0..n / 2 {
                let e = next_envelope(ws).await;
                assert_eq!(
                    stored.get(&e.id),
                    Some(&e.body.0),
                    "envelope {} has another's body",
                    e.id
                );
                unacked.push(e.id);
                if unacked.len() == window {
                    ws.ack(std::mem::take(&mut unacked)).await.unwrap();
                }
            }
            ws.ack(unacked).await.unwrap();
        }
    }
    // Every ack is written: nothing stays queued.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = parley_server::on_db!(&server.state.db, read, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM envelopes").fetch_one(pool).await.unwrap()
        });
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} acked envelopes still queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    finish(storage, server).await;
}

/// A group commit that fails (here: the table is gone) answers its senders with an error and
/// leaves no transaction open: the next one commits.
async fn a_failed_group_commit_leaves_the_writer_usable(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    send(&alice, &[&bob], b"before").await.unwrap();
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes RENAME TO envelopes_away").execute(pool).await.unwrap();
    });
    let e = send(&alice, &[&bob], b"lost").await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes_away RENAME TO envelopes").execute(pool).await.unwrap();
    });
    send(&alice, &[&bob], b"after").await.unwrap();
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(
        got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
        vec![b"before".to_vec(), b"after".to_vec()]
    );
    finish(storage, server).await;
}

/// Acks naming ids their socket did not push (each deleted only with its device), from more
/// devices than SQLite takes terms in one expression, commit in one transaction, and delete
/// what they name.
async fn acks_of_many_devices_commit_together(backend: Backend) {
    use parley_server::writer::WriteOp;
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    for i in 0..3u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let rows: Vec<(i64, i64)> = parley_server::on_db!(&server.state.db, read, pool => {
        sqlx::query_as("SELECT device_pk, id FROM envelopes").fetch_all(pool).await.unwrap()
    });
    assert_eq!(rows.len(), 3);
    let mut commits = Vec::new();
    for i in 0..1_500i64 {
        // Devices that do not exist, naming ids that do not exist; then Bob's.
        let op = WriteOp::Ack {
            device_pk: 1_000_000 + i,
            pushed: Vec::new(),
            other: vec![i64::MAX - i],
        };
        commits.push(server.state.writer.submit(op).await.unwrap());
    }
    let op = WriteOp::Ack {
        device_pk: rows[0].0,
        pushed: Vec::new(),
        other: rows.iter().map(|r| r.1).collect(),
    };
    commits.push(server.state.writer.submit(op).await.unwrap());
    for c in commits {
        c.await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    ws.close().await;
    finish(storage, server).await;
}

/// Two relay nodes on one PostgreSQL database: an envelope stored by one node reaches a socket
/// held by the other (woken by `NOTIFY`), interleaved with envelopes stored by the socket's
/// own node, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_postgres_database() {
    let storage = Storage::new(Backend::Postgres).await;
    let a = TestServer::start(storage.config()).await;
    let org = Org::create(a.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let b = TestServer::start(storage.config()).await;
    let alice_on_b = parley_client::relay::Relay::new(b.url.clone())
        .with_credentials(alice.relay.credentials().unwrap().clone());
    let bob_on_b = parley_client::relay::Relay::new(b.url.clone())
        .with_credentials(bob.relay.credentials().unwrap().clone());
    let mut ws = bob_on_b.connect().await.unwrap();
    assert!(drain(&mut ws, false).await.is_empty());
    for i in 0..40u32 {
        let req = SendRequest {
            messages: vec![env(&bob, &i.to_be_bytes())],
        };
        // Even ones through node A (NOTIFY), odd ones through node B (its own writer).
        let via = if i % 2 == 0 {
            &alice.relay
        } else {
            &alice_on_b
        };
        via.send(&bob.user, &req).await.unwrap();
        let e = next_envelope(&mut ws).await;
        assert_eq!(e.body.0, i.to_be_bytes().to_vec());
        ws.ack(vec![e.id]).await.unwrap();
    }
    ws.close().await;
    b.stop().await.unwrap();
    a.stop().await.unwrap();
    storage.cleanup().await;
}

/// Two relay nodes on one PostgreSQL database: a device linked through node A is expected by
/// node B's next send as soon as A's `NOTIFY` arrived, although B had cached the user's devices
/// (the cache would otherwise keep them for `MAX_AGE`, 10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_linked_on_one_node_is_expected_on_another() {
    let storage = Storage::new(Backend::Postgres).await;
    let a = TestServer::start(storage.config()).await;
    let org = Org::create(a.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let b = TestServer::start(storage.config()).await;
    let alice_on_b = parley_client::relay::Relay::new(b.url.clone())
        .with_credentials(alice.relay.credentials().unwrap().clone());
    let one = |body: &[u8]| SendRequest {
        messages: vec![env(&bob, body)],
    };
    // B caches Bob's devices once its LISTEN connection is up.
    let start = std::time::Instant::now();
    while b.state.directory.lookup(&bob.user).is_none() {
        assert!(start.elapsed() < Duration::from_secs(5), "B never cached");
        alice_on_b.send(&bob.user, &one(b"warm")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bob2 = org.link(&bob).await;
    let start = std::time::Instant::now();
    loop {
        match alice_on_b.send(&bob.user, &one(b"x")).await {
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let m = e.body().unwrap().mismatched.clone().unwrap();
                assert_eq!((m.missing, m.extra), (vec![2], vec![]));
                break;
            }
            other => {
                other.unwrap();
                assert!(
                    start.elapsed() < Duration::from_secs(3),
                    "node B still accepts a send without Bob's new device"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let req = SendRequest {
        messages: vec![env(&bob, b"y"), env(&bob2, b"y")],
    };
    alice_on_b.send(&bob.user, &req).await.unwrap();
    b.stop().await.unwrap();
    a.stop().await.unwrap();
    storage.cleanup().await;
}

async fn unacked_is_redelivered_and_acked_is_not(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    for i in 0..10u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    ws.ack(got[..4].iter().map(|e| e.id).collect())
        .await
        .unwrap();
    // Wait for the ack to commit: a fresh socket replaces this one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(ws); // dropped connection, no close handshake
    let mut ws = bob.relay.connect().await.unwrap();
    let again = drain(&mut ws, false).await;
    assert_eq!(
        again.iter().map(|e| e.body.0[0]).collect::<Vec<_>>(),
        (4..10).collect::<Vec<u8>>()
    );
    assert_eq!(again[0].id, got[4].id);
    // A newer socket replaces an older one, which is told why.
    let mut ws2 = bob.relay.connect().await.unwrap();
    let closing = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(ServerFrame::Closing { reason })) => return reason,
                Some(Ok(_)) => {}
                _ => return String::new(),
            }
        }
    })
    .await
    .unwrap();
    assert!(closing.contains("replaced"), "{closing}");
    assert_eq!(drain(&mut ws2, false).await.len(), 6);
    finish(storage, server).await;
}

/// A socket writes one ack at a time and gathers the frames that arrive meanwhile into the
/// next write: a burst of single-id frames must all be written.
async fn a_burst_of_ack_frames_is_all_written(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    for i in 0..200u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(got.len(), 200);
    for e in &got {
        ws.ack(vec![e.id]).await.unwrap();
    }
    // Ids the socket never pushed (another device's, made up) delete nothing of anyone's.
    ws.ack(vec![got[0].id + 100_000, -1]).await.unwrap();
    // Every ack commits while the socket stays open (not only when it closes). Read from the
    // database: the `/metrics` counters are per process, shared by the tests running in it.
    let acked = async {
        loop {
            let left: i64 = parley_server::on_db!(&server.state.db, read, pool => {
                sqlx::query_scalar("SELECT COUNT(*) FROM envelopes").fetch_one(pool).await.unwrap()
            });
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), acked)
        .await
        .expect("all 200 acks committed within 10 s");
    ws.close().await;
    let mut ws = bob.relay.connect().await.unwrap();
    assert!(
        drain(&mut ws, false).await.is_empty(),
        "every ack was written"
    );
    ws.close().await;
    finish(storage, server).await;
}

/// A device that acks and reconnects is not sent again what it acked: its `close` returns
/// once the relay has written the acks; without a close, the new socket waits for the old one
/// to write the acks it received (here held up by a lock on the envelopes table).
async fn acks_sent_before_a_reconnect_are_not_redelivered(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    for round in 0..6u8 {
        for i in 0..100u8 {
            send(&alice, &[&bob], &[round, i]).await.unwrap();
        }
        let mut ws = bob.relay.connect().await.unwrap();
        let got = drain(&mut ws, false).await;
        assert_eq!(got.len(), 100, "round {round}");
        let replace = round % 2 == 1;
        let lock = if replace {
            Some(lock_envelopes(&storage).await)
        } else {
            None
        };
        for e in &got {
            ws.ack(vec![e.id]).await.unwrap();
        }
        if let Some(lock) = lock {
            // The relay reads the frames; their write waits for the lock.
            tokio::time::sleep(Duration::from_millis(200)).await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                drop(lock);
            });
        } else {
            ws.close().await;
        }
        let mut again = bob.relay.connect().await.unwrap();
        let pushed_again = drain(&mut again, false).await;
        assert!(
            pushed_again.is_empty(),
            "round {round} (replace: {replace}): {} acked envelopes pushed again",
            pushed_again.len()
        );
        again.close().await;
    }
    finish(storage, server).await;
}

/// Holds a lock that stops the relay from writing envelopes (not from reading them) until
/// dropped.
async fn lock_envelopes(storage: &Storage) -> Box<dyn std::any::Any + Send> {
    use sqlx::{Connection as _, Executor as _};
    match &storage.pg {
        Some(pg) => {
            let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();
            conn.execute("BEGIN; LOCK TABLE envelopes IN SHARE ROW EXCLUSIVE MODE")
                .await
                .unwrap();
            Box::new(conn)
        }
        None => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(storage.dir.path().join("parley.db"));
            let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            conn.execute("BEGIN IMMEDIATE").await.unwrap();
            Box::new(conn)
        }
    }
}

/// On PostgreSQL the relay vacuums the queue table itself after every `pg_vacuum_rows`
/// deleted envelopes (this machine's PostgreSQL runs with autovacuum off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_table_is_vacuumed_postgres() {
    let storage = Storage::new(Backend::Postgres).await;
    let mut config = storage.config();
    config.pg_vacuum_rows = 20;
    let server = TestServer::start(config).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let vacuums = || async {
        parley_server::on_db!(&server.state.db, read, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'envelopes'",
            )
            .fetch_one(pool).await.unwrap()
        })
    };
    let before = vacuums().await;
    for i in 0..30u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let mut ws = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut ws, true).await.len(), 30);
    ws.close().await;
    // Statistics reach the view within a second or so.
    let vacuumed = async {
        while vacuums().await <= before {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), vacuumed)
        .await
        .expect("the envelopes table vacuumed within 10 s");
    finish(storage, server).await;
}

async fn a_device_reads_only_its_own_queue(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let carol = org.join("carol").await;
    send(&alice, &[&bob], b"for bob").await.unwrap();
    send(&alice, &[&carol], b"for carol").await.unwrap();
    let mut wb = bob.relay.connect().await.unwrap();
    let mut wc = carol.relay.connect().await.unwrap();
    let b = drain(&mut wb, false).await;
    let c = drain(&mut wc, false).await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].body.0, b"for bob");
    assert_eq!(c[0].body.0, b"for carol");
    // Carol acks Bob's envelope id: it stays in Bob's queue.
    wc.ack(vec![b[0].id]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(wb);
    let mut wb = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut wb, false).await.len(), 1);
    finish(storage, server).await;
}

async fn limits_and_bad_input(backend: Backend) {
    let storage = Storage::new(backend).await;
    let mut config = storage.config();
    config.limits.max_envelope_bytes = 1000;
    config.limits.max_body_bytes = 10_000;
    config.limits.max_queue = 5;
    config.limits.max_attachment_bytes = 4096;
    let server = TestServer::start(config).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let auth = alice.relay.credentials().unwrap().clone();
    let header = {
        let login = format!("alice.1:{}", B64::encode(&auth.secret));
        format!("Basic {}", B64::encode(login.as_bytes()))
    };
    let http = reqwest::Client::new();
    let put = |body: String| {
        http.put(format!("{}/v1/messages/bob", server.url))
            .header("authorization", header.clone())
            .header("content-type", "application/json")
            .body(body)
    };
    let check = |r: reqwest::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(r.status(), status);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
    };
    check(
        put("{not json".into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    check(
        put("{}".into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let bad_b64 = r#"{"messages":[{"device":1,"registration_id":1,"body":"%%%"}]}"#;
    check(
        put(bad_b64.into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_base64",
    )
    .await;
    let unknown = r#"{"messages":[],"extra":1}"#;
    check(
        put(unknown.into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    check(
        put(r#"{"messages":[]}"#.into()).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    let huge = format!(
        r#"{{"messages":[{{"device":1,"registration_id":1,"body":"{}"}}]}}"#,
        "A".repeat(20_000)
    );
    check(
        put(huge).send().await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    let r = http
        .put(format!("{}/v1/messages/Not-A-User", server.url))
        .header("authorization", header.clone())
        .json(&SendRequest {
            messages: vec![env(&bob, b"x")],
        })
        .send()
        .await
        .unwrap();
    check(r, StatusCode::BAD_REQUEST, "invalid_input").await;
    let e = send(&alice, &[&bob], &[0; 1001]).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    let e = alice
        .relay
        .send(
            &bob.user,
            &SendRequest {
                messages: vec![OutgoingEnvelope {
                    device: 1,
                    registration_id: 1,
                    body: B64(vec![]),
                }],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    // Queue cap: five envelopes, then 429 queue_full; nothing already queued is lost.
    for i in 0..5u8 {
        send(&alice, &[&bob], &[i]).await.unwrap();
    }
    let e = send(&alice, &[&bob], b"overflow").await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (
            Some(StatusCode::TOO_MANY_REQUESTS),
            Some(ErrorCode::QueueFull)
        )
    );
    let mut ws = bob.relay.connect().await.unwrap();
    assert_eq!(drain(&mut ws, false).await.len(), 5);
    // A malformed WebSocket frame closes that socket only; the queue stays.
    ws.send_raw("{\"type\":\"nonsense\"}").await.unwrap();
    let reason = loop {
        match ws.next().await {
            Some(Ok(ServerFrame::Closing { reason })) => break reason,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(reason, "malformed frame");
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(got.len(), 5);
    // Acks make room again: two acked, two more accepted, then full again.
    ws.ack(vec![got[0].id, got[1].id]).await.unwrap();
    let start = std::time::Instant::now();
    while let Err(e) = send(&alice, &[&bob], b"after ack").await {
        assert_eq!(code(&e), Some(ErrorCode::QueueFull));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "acks made no room"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send(&alice, &[&bob], b"after ack").await.unwrap();
    let e = send(&alice, &[&bob], b"overflow").await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::QueueFull));
    // Attachments over the cap, declared or streamed.
    let e = alice
        .relay
        .upload_attachment(vec![0u8; 5000].into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    let stream =
        futures_util::stream::iter((0..5).map(|_| Ok::<_, std::io::Error>(vec![1u8; 1000])));
    let e = alice
        .relay
        .upload_attachment(reqwest::Body::wrap_stream(stream))
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    assert_eq!(
        std::fs::read_dir(storage.dir.path().join("attachments/incoming"))
            .unwrap()
            .count(),
        0
    );
    // Unknown routes.
    let r = http
        .get(format!("{}/v2/whatever", server.url))
        .send()
        .await
        .unwrap();
    check(r, StatusCode::NOT_FOUND, "not_found").await;
    server.stop().await.unwrap();

    // Rate limits: burst of 3, then 429 with Retry-After.
    let mut config = storage.config();
    config.limits.rate_per_sec = 0.5;
    config.limits.rate_burst = 3.0;
    let server = TestServer::start(config).await;
    let alice = server.relay().with_credentials(auth);
    for _ in 0..3 {
        alice.prekey_count().await.unwrap();
    }
    let e = alice.prekey_count().await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (
            Some(StatusCode::TOO_MANY_REQUESTS),
            Some(ErrorCode::RateLimited)
        )
    );
    assert!(e.body().unwrap().retry_after_secs.unwrap() >= 1);
    // Other devices are not affected.
    let bob_relay = server.relay().with_credentials(creds_of(&bob));
    bob_relay.prekey_count().await.unwrap();
    // Naming users the relay does not know costs a token each (each is a read).
    let ghosts = MultiSendRequest {
        recipients: (0..5)
            .map(|i| RecipientEnvelopes {
                user: user(&format!("ghost{i}")),
                messages: vec![env(&bob, b"x")],
            })
            .collect(),
    };
    let e = bob_relay.send_multi(&ghosts).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::MismatchedDevices));
    let e = bob_relay.prekey_count().await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::RateLimited));
    finish(storage, server).await;
}

fn creds_of(d: &Device) -> parley_client::relay::Credentials {
    d.relay.credentials().unwrap().clone()
}

async fn attachments_round_trip(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let chunks: Vec<Vec<u8>> = data.chunks(65_536).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let created = alice
        .relay
        .upload_attachment(reqwest::Body::wrap_stream(stream))
        .await
        .unwrap();
    assert_eq!(created.size, data.len() as u64);
    assert_eq!(created.id.len(), 32);
    let resp = bob.relay.download_attachment(&created.id).await.unwrap();
    assert_eq!(resp.content_length(), Some(data.len() as u64));
    assert!(resp.bytes().await.unwrap() == data);
    for bad in ["0".repeat(32), "nothex".into(), "../../parley.db".into()] {
        let e = bob.relay.download_attachment(&bad).await.unwrap_err();
        assert!(matches!(e.status(), Some(StatusCode::NOT_FOUND)), "{bad}");
    }
    assert_eq!(
        server
            .relay()
            .download_attachment(&created.id)
            .await
            .unwrap_err()
            .status(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let e = alice
        .relay
        .upload_attachment(Vec::new().into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::InvalidInput));
    finish(storage, server).await;
}

async fn expiry(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    send(&alice, &[&bob], b"old").await.unwrap();
    send(&alice, &[&bob], b"new").await.unwrap();
    let att = alice
        .relay
        .upload_attachment(vec![1u8; 100].into())
        .await
        .unwrap();
    // Age the first envelope and the attachment past their TTL.
    let past = parley_server::now_ms() - 1;
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("UPDATE envelopes SET expires_at = $1 WHERE id = (SELECT MIN(id) FROM envelopes)")
            .bind(past).execute(pool).await.unwrap();
        sqlx::query("UPDATE attachments SET expires_at = $1").bind(past).execute(pool).await.unwrap();
    });
    parley_server::expire(&server.state).await.unwrap();
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, false).await;
    assert_eq!(
        got.iter().map(|e| e.body.0.clone()).collect::<Vec<_>>(),
        vec![b"new".to_vec()]
    );
    assert_eq!(
        bob.relay
            .download_attachment(&att.id)
            .await
            .unwrap_err()
            .status(),
        Some(StatusCode::NOT_FOUND)
    );
    assert!(
        !storage
            .dir
            .path()
            .join("attachments")
            .join(&att.id)
            .exists()
    );
    finish(storage, server).await;
}

async fn ops_endpoints(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = Org::create(server.relay()).await;
    let bob = org.join("bob").await;
    let _ws = bob.relay.connect().await.unwrap();
    send(&org.admin, &[&bob], b"x").await.unwrap();
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "parley_connections",
        "parley_database_up 1",
        "parley_envelopes_queued",
        "parley_deliveries_total",
        "parley_errors_total{code=\"unauthorized\"}",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    // A database that cannot count the queue (here: its table is gone) still leaves the
    // counters readable, and says so.
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes RENAME TO envelopes_away").execute(pool).await.unwrap();
    });
    let answer = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let text = answer.text().await.unwrap();
    assert!(text.contains("parley_database_up 0"), "{text}");
    assert!(!text.contains("parley_envelopes_queued"), "{text}");
    assert!(text.contains("parley_deliveries_total"), "{text}");
    parley_server::on_db!(&server.state.db, write, pool => {
        sqlx::query("ALTER TABLE envelopes_away RENAME TO envelopes").execute(pool).await.unwrap();
    });
    let doc: serde_json::Value = reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/org",
        "/v1/invites",
        "/v1/devices",
        "/v1/keys/{user}/{device}",
        "/v1/messages/{user}",
        "/v1/ws",
        "/v1/attachments",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    finish(storage, server).await;
}

async fn graceful_shutdown_keeps_accepted_envelopes(backend: Backend) {
    let storage = Storage::new(backend).await;
    let server = TestServer::start(storage.config()).await;
    let org = Org::create(server.relay()).await;
    let alice = org.join("alice").await;
    let bob = org.join("bob").await;
    let ok = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for t in 0..4u32 {
        let (a, b, ok) = (alice.clone(), bob.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..1000u32 {
                match send(&a, &[&b], &(t * 10_000 + i).to_be_bytes()).await {
                    Ok(()) => {
                        ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop().await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let accepted = ok.load(std::sync::atomic::Ordering::SeqCst);
    assert!(accepted > 0);
    let server = TestServer::start(storage.config()).await;
    let bob = Device {
        relay: server.relay().with_credentials(creds_of(&bob)),
        ..bob
    };
    let mut ws = bob.relay.connect().await.unwrap();
    let got = drain(&mut ws, true).await;
    let distinct: BTreeSet<Vec<u8>> = got.iter().map(|e| e.body.0.clone()).collect();
    assert_eq!(
        got.len() as u32,
        accepted,
        "every accepted envelope survives the shutdown"
    );
    assert_eq!(distinct.len(), got.len(), "none twice");
    finish(storage, server).await;
}

/// With --tls-cert/--tls-key the relay speaks HTTPS (rustls) and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_when_configured() {
    let storage = Storage::new(Backend::Sqlite).await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (
        storage.dir.path().join("cert.pem"),
        storage.dir.path().join("key.pem"),
    );
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut config = storage.config();
    config.tls = Some((cert_path, key_path));
    let server = TestServer::start(config).await;
    let port = server.url.rsplit_once(':').unwrap().1.to_owned();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let health: serde_json::Value = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    // Plain HTTP to the TLS port fails; an untrusted certificate is refused by a client.
    let plain = reqwest::get(format!("http://localhost:{port}/healthz")).await;
    assert!(!plain.is_ok_and(|r| r.status().is_success()));
    assert!(
        reqwest::get(format!("https://localhost:{port}/healthz"))
            .await
            .is_err()
    );
    finish(storage, server).await;
}

/// Plain HTTP beyond loopback is refused unless explicitly allowed.
#[test]
fn plain_http_only_on_loopback() {
    let mut config = parley_server::Config::for_data_dir("/nonexistent");
    config.listen = "0.0.0.0:8787".parse().unwrap();
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("refusing plain HTTP")
    );
    config.allow_plain_http = true;
    assert!(config.validate().is_ok());
    config.database_url = Some("mysql://x".into());
    assert!(config.validate().is_err());
}
