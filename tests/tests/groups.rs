//! A group of five users through a real `parley-server`: create, send, add a member, remove a
//! member. The removed member keeps its state and is fed an envelope sent after its removal:
//! it cannot decrypt it. Messages also reach the members' other devices. Only the group's
//! admins change it, and concurrent changes resolve the same everywhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use parley_client::messaging::Target;
use parley_e2e::{Backend, Device, Org, Server, contains, drain, receive, take_envelope, texts};
use parley_proto::content::{Body, GroupChange, GroupUpdate};
use parley_proto::group::SignedGroupChange;
use parley_proto::ws::ServerFrame;

const SECRET: &str = "group-secret-";

async fn group_history(d: &Device, group: &Target) -> Vec<String> {
    d.m.history(group, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect()
}

async fn five_users(backend: Backend) {
    let server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let mut others = Vec::new();
    for name in ["bob", "carol", "dave", "erin", "frank"] {
        others.push(org.invite(&alice, name).await);
    }
    let [bob, carol, dave, erin, frank] = <[Device; 5]>::try_from(others).ok().unwrap();
    let bob2 = org.link(&bob, 2).await;

    let members = [&bob, &carol, &dave, &erin].map(|d| d.user());
    let group = alice.m.create_group("Board", &members).await.unwrap();
    let target = Target::Group(group);
    for d in [&bob, &bob2, &carol, &dave, &erin] {
        let got = receive(&d.m, 1).await;
        assert!(
            matches!(&got[0].body, Body::Group(u) if matches!(u.last(),
                Some(GroupChange::Create { name, members }) if name == "Board" && members.len() == 5)),
            "{}: {got:?}",
            d.name
        );
        assert_eq!(d.m.group(&group).await.unwrap().members.len(), 5);
    }

    // Everyone writes once; everyone else (and bob's second device) reads it.
    let writers = [&alice, &bob, &carol, &dave, &erin];
    for (i, w) in writers.iter().enumerate() {
        w.m.send_text(&target, &format!("{SECRET}{i} by {}", w.name))
            .await
            .unwrap();
        for r in writers.iter().chain([&&bob2]) {
            if r.name != w.name {
                let got = receive(&r.m, 1).await;
                assert_eq!(texts(&got), [format!("{SECRET}{i} by {}", w.name)]);
                assert_eq!(got[0].group, Some(group));
            }
        }
    }
    // bob.2 also sees bob.1's own message (a sync copy under bob.1's sender key).
    assert_eq!(group_history(&bob2, &target).await.len(), 6);

    // Add frank: he gets the whole group; the others learn of him.
    alice.m.add_members(&group, &[frank.user()]).await.unwrap();
    let got = receive(&frank.m, 1).await;
    assert!(
        matches!(&got[0].body, Body::Group(u) if u.changes.len() == 2
            && matches!(u.last(), Some(GroupChange::Add { .. }))),
        "frank gets every change: {got:?}"
    );
    assert_eq!(frank.m.group(&group).await.unwrap().members.len(), 6);
    for d in [&bob, &bob2, &carol, &dave, &erin] {
        let got = receive(&d.m, 1).await;
        assert!(
            matches!(&got[0].body, Body::Group(u) if matches!(u.last(), Some(GroupChange::Add { .. })))
        );
    }
    frank
        .m
        .send_text(&target, &format!("{SECRET}hello from frank"))
        .await
        .unwrap();
    for d in [&alice, &bob, &bob2, &carol, &dave, &erin] {
        assert_eq!(
            texts(&receive(&d.m, 1).await),
            [format!("{SECRET}hello from frank")]
        );
    }

    // Remove erin. She learns of it; the others too.
    alice
        .m
        .remove_members(&group, &[erin.user()])
        .await
        .unwrap();
    for d in [&bob, &bob2, &carol, &dave, &erin, &frank] {
        let got = receive(&d.m, 1).await;
        assert!(
            matches!(&got[0].body, Body::Group(u) if matches!(u.last(), Some(GroupChange::Remove { .. }))),
            "{}",
            d.name
        );
    }
    assert!(
        !erin
            .m
            .group(&group)
            .await
            .unwrap()
            .members
            .contains(&"erin".to_owned())
    );

    // Bob writes after the removal: a new sender key, which erin never gets.
    bob.m
        .send_text(&target, &format!("{SECRET}after erin left"))
        .await
        .unwrap();
    // Take carol's copy off the relay (without acking it) and feed it to erin's engine.
    let env = take_envelope(&carol.m).await;
    assert!(
        erin.m.receive(&env).await.is_err(),
        "a removed member cannot read what follows"
    );
    assert!(drain(&erin.m).await.is_empty(), "nothing was sent to erin");
    assert!(
        !group_history(&erin, &target)
            .await
            .iter()
            .any(|t| t.contains("after erin left"))
    );
    for d in [&alice, &bob2, &carol, &dave, &frank] {
        assert_eq!(
            texts(&receive(&d.m, 1).await),
            [format!("{SECRET}after erin left")],
            "{}",
            d.name
        );
    }
    // erin can no longer write to the group.
    assert!(erin.m.send_text(&target, "still here?").await.is_err());

    // Carol links a device Dave's client has not seen. The relay refuses Dave's next group
    // message (one request for all members) naming carol; Dave's client refreshes her devices,
    // gives the new one the key and sends again. Every member gets the message once.
    let carol2 = org.link(&carol, 2).await;
    dave.m
        .send_text(&target, &format!("{SECRET}after carol linked"))
        .await
        .unwrap();
    for d in [&alice, &bob, &bob2, &carol, &frank] {
        assert_eq!(
            texts(&receive(&d.m, 1).await),
            [format!("{SECRET}after carol linked")],
            "{}",
            d.name
        );
    }
    // The new device has the key and the message on the relay (it does not know the group yet,
    // so its engine would drop the message).
    let mut ws = carol2.m.relay().connect().await.unwrap();
    let mut from_dave = Vec::new();
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match frame {
            ServerFrame::Envelope(env) if env.source_user.as_str() == "dave" => from_dave.push(env),
            ServerFrame::QueueEmpty => break,
            _ => {}
        }
    }
    ws.close().await;
    assert_eq!(from_dave.len(), 2, "the key, then the message");

    // Everyone else has the same history.
    let want = group_history(&alice, &target).await;
    assert_eq!(want.len(), 11, "{want:?}");
    for d in [&bob, &bob2, &carol, &dave] {
        assert_eq!(group_history(d, &target).await, want, "{}", d.name);
    }

    let relay_bytes = server.stored_bytes().await;
    assert!(!contains(&relay_bytes, SECRET.as_bytes()));
    assert!(
        !contains(&relay_bytes, b"Board"),
        "the group's name is not on the relay"
    );
    drop(org);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_users_sqlite() {
    five_users(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_users_postgres() {
    five_users(Backend::Postgres).await;
}

/// Group authority: only the group's admins change it, a hand-signed change from a member is
/// refused by the check that guards receiving, and two admins' concurrent changes end the same
/// on every device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_admins_and_concurrent_changes() {
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let dave = org.invite(&alice, "dave").await;
    let group = alice
        .m
        .create_group("Desk", &[bob.user(), carol.user()])
        .await
        .unwrap();
    let target = Target::Group(group);
    for d in [&bob, &carol] {
        receive(&d.m, 1).await;
        assert_eq!(d.m.group(&group).await.unwrap().admins, ["alice"]);
    }

    // Bob is a member, not an admin.
    let e = bob.m.add_members(&group, &[dave.user()]).await.unwrap_err();
    assert_eq!(e.code(), "not_group_admin");
    let e = bob.m.rename_group(&group, "Bob's").await.unwrap_err();
    assert_eq!(e.code(), "not_group_admin");
    // A change carol signs by hand, on the latest state: refused by the same check that
    // guards receiving, on her own device already.
    let info = carol.m.group(&group).await.unwrap();
    let mut tx = carol.m.store().begin().await.unwrap();
    let identity = tx.identity().await.unwrap().unwrap();
    let log = tx
        .group_log(&parley_crypto::sender_key::GroupId(group.0))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let state = parley_proto::group::resolve(&group, &log).unwrap();
    assert_eq!(state.epoch, info.epoch);
    let forged = SignedGroupChange::sign(
        &group,
        state.epoch + 1,
        state.head,
        carol.user(),
        carol.m.device(),
        GroupChange::Remove {
            members: vec![alice.user()],
        },
        identity.signing(),
    );
    let e = carol
        .m
        .send_body(
            &target,
            Body::Group(GroupUpdate {
                changes: vec![forged],
            }),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not an admin"), "{e}");
    assert_eq!(carol.m.group(&group).await.unwrap().members.len(), 3);

    // Alice makes bob an admin; he adds dave, who gets every change and resolves the group.
    alice.m.promote(&group, &[bob.user()]).await.unwrap();
    for d in [&bob, &carol] {
        receive(&d.m, 1).await;
    }
    bob.m.add_members(&group, &[dave.user()]).await.unwrap();
    for d in [&alice, &carol, &dave] {
        receive(&d.m, 1).await;
    }
    let info = dave.m.group(&group).await.unwrap();
    assert_eq!(info.members, ["alice", "bob", "carol", "dave"]);
    assert_eq!(info.admins, ["alice", "bob"]);

    // Alice and bob rename the group at once, each before hearing of the other's change.
    alice.m.rename_group(&group, "From alice").await.unwrap();
    bob.m.rename_group(&group, "From bob").await.unwrap();
    for d in [&alice, &bob] {
        receive(&d.m, 1).await;
    }
    for d in [&carol, &dave] {
        receive(&d.m, 2).await;
    }
    let want = alice.m.group(&group).await.unwrap();
    assert!(want.name == "From alice" || want.name == "From bob");
    for d in [&bob, &carol, &dave] {
        let got = d.m.group(&group).await.unwrap();
        assert_eq!(
            (&got.name, got.epoch),
            (&want.name, want.epoch),
            "{}",
            d.name
        );
    }
    // Messages still flow under the group as resolved.
    dave.m.send_text(&target, "settled").await.unwrap();
    for d in [&alice, &bob, &carol] {
        assert_eq!(texts(&receive(&d.m, 1).await), ["settled"]);
    }
    drop(org);
}

/// Two admins change a group at once in different ways (alice adds dave while bob makes carol
/// an admin): whichever change lost, its author's device makes it again on the winning head
/// as soon as it hears of the winner, so both hold on every device, at the same epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_of_different_kinds_both_hold() {
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let dave = org.invite(&alice, "dave").await;
    let group = alice
        .m
        .create_group("Desk", &[bob.user(), carol.user()])
        .await
        .unwrap();
    alice.m.promote(&group, &[bob.user()]).await.unwrap();
    for d in [&bob, &carol] {
        receive(&d.m, 2).await;
    }

    alice.m.add_members(&group, &[dave.user()]).await.unwrap();
    bob.m.promote(&group, &[carol.user()]).await.unwrap();
    let everyone = [&alice, &bob, &carol, &dave];
    let settled = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            for d in everyone {
                drain(&d.m).await;
            }
            let mut infos = Vec::new();
            for d in everyone {
                infos.push(d.m.group(&group).await.ok());
            }
            let done = infos.iter().all(|i| {
                i.as_ref().is_some_and(|i| {
                    i.members.iter().any(|m| m == "dave")
                        && i.admins.iter().any(|a| a == "carol")
                        && Some(i.epoch) == infos[0].as_ref().map(|f| f.epoch)
                })
            });
            if done {
                return infos;
            }
        }
    })
    .await
    .expect("both changes hold everywhere");
    let first = settled[0].as_ref().unwrap();
    assert_eq!(first.members, ["alice", "bob", "carol", "dave"]);
    assert_eq!(first.admins, ["alice", "bob", "carol"]);
    assert_eq!(
        first.epoch, 3,
        "create (0), promote, the winner, the one made again"
    );

    // The group works for the newcomer and the new admin alike.
    let target = Target::Group(group);
    carol.m.rename_group(&group, "Front desk").await.unwrap();
    dave.m.send_text(&target, "hello desk").await.unwrap();
    for d in [&alice, &bob, &carol] {
        assert!(texts(&drain(&d.m).await).contains(&"hello desk".to_owned()));
        assert_eq!(d.m.group(&group).await.unwrap().name, "Front desk");
    }
    drop(org);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newly_linked_device_knows_its_users_groups_at_once() {
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let group = alice
        .m
        .create_group("Audit", &[bob.user(), carol.user()])
        .await
        .unwrap();
    let audit = Target::Group(group);
    alice.m.send_text(&audit, "kick-off at 10").await.unwrap();
    for d in [&bob, &carol] {
        drain(&d.m).await;
    }

    // Bob links a laptop. His phone reads the log, sees the new device, and sends it the
    // group; the laptop shows the group and reads what is said in it from then on.
    let laptop = org.link(&bob, 2).await;
    bob.m.sync_org().await.unwrap();
    drain(&laptop.m).await;
    let info = laptop.m.group(&group).await.unwrap();
    assert_eq!(info.name, "Audit");
    assert_eq!(info.members, ["alice", "bob", "carol"]);
    alice.m.sync_org().await.unwrap();
    alice.m.send_text(&audit, "agenda attached").await.unwrap();
    carol.m.send_text(&audit, "thanks").await.unwrap();
    let got = texts(&drain(&laptop.m).await);
    assert!(got.iter().any(|t| t == "agenda attached"), "{got:?}");
    assert!(got.iter().any(|t| t == "thanks"), "{got:?}");
    // What the laptop sends to the group reaches everyone.
    laptop.m.send_text(&audit, "from my laptop").await.unwrap();
    for d in [&alice, &carol, &bob] {
        let got = texts(&drain(&d.m).await);
        assert!(
            got.iter().any(|t| t == "from my laptop"),
            "{}: {got:?}",
            d.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_an_announcement_channel_only_its_admins_post() {
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let group = alice
        .m
        .create_group("News", &[bob.user(), carol.user()])
        .await
        .unwrap();
    let news = Target::Group(group);
    for d in [&bob, &carol] {
        drain(&d.m).await;
    }
    let shown =
        async |d: &Device, text: &str| group_history(d, &news).await.iter().any(|t| t == text);
    assert_eq!(
        bob.m
            .set_announcement(&group, true)
            .await
            .unwrap_err()
            .code(),
        "not_group_admin"
    );
    alice.m.set_announcement(&group, true).await.unwrap();
    // Bob's device has not heard of it yet, so it sends; every receiver refuses the post.
    bob.m.send_text(&news, "me too").await.unwrap();
    for d in [&alice, &carol] {
        drain(&d.m).await;
        assert!(!shown(d, "me too").await, "{}", d.name);
    }
    drain(&bob.m).await;
    assert!(bob.m.group(&group).await.unwrap().announcement);
    assert_eq!(
        bob.m
            .send_text(&news, "and again")
            .await
            .unwrap_err()
            .code(),
        "not_a_poster"
    );
    let listed = bob.m.conversations().await.unwrap();
    assert!(
        listed.iter().any(|c| c.target == news && c.read_only),
        "{listed:?}"
    );
    alice.m.send_text(&news, "Release on Monday").await.unwrap();
    for d in [&bob, &carol] {
        drain(&d.m).await;
        assert!(shown(d, "Release on Monday").await, "{}", d.name);
    }
    // A new admin posts; turned off, everyone does.
    alice.m.promote(&group, &[bob.user()]).await.unwrap();
    drain(&bob.m).await;
    bob.m.send_text(&news, "QA signed off").await.unwrap();
    alice.m.set_announcement(&group, false).await.unwrap();
    drain(&carol.m).await;
    assert!(shown(&carol, "QA signed off").await);
    carol.m.send_text(&news, "thanks all").await.unwrap();
    drain(&alice.m).await;
    assert!(shown(&alice, "thanks all").await);
}
