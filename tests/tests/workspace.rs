//! The company workspace through a real relay: mentions carried as user ids, notification
//! settings that decide which messages notify and that sync, end-to-end encrypted, to the
//! user's other devices; an `@all` from someone who may not make one is dropped by every
//! receiver; disappearing messages; presence under the org policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use parley_client::messaging::{Event, Received, Target};
use parley_e2e::{Backend, Org, Server, drain, shown};
use parley_proto::content::{Body, NotifyLevel};

/// (text, mentioned, notify) of the texts among `got`.
fn flags(got: &[Received]) -> Vec<(String, bool, bool)> {
    got.iter()
        .filter_map(|r| Some((r.text()?.to_owned(), r.mentioned, r.notify)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_only_settings_notify_only_on_mentions_and_sync_to_other_devices() {
    let server = Server::start(Backend::Sqlite).await;
    // Alice is an org admin; Bob creates the group and so is its admin; Carol is a plain
    // member with two devices.
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let carol2 = org.link(&carol, 2).await;
    let group = bob
        .m
        .create_group("Ops", &[alice.user(), carol.user()])
        .await
        .unwrap();
    let ops = Target::Group(group);
    let to_bob = Target::User(bob.user());
    for d in [&alice, &carol, &carol2] {
        drain(&d.m).await;
    }

    // Carol, on her first device: Ops only on mentions, Bob never. Her second device gets
    // both, as encrypted messages from her own device.
    carol
        .m
        .set_notify(&ops, NotifyLevel::Mentions, 0)
        .await
        .unwrap();
    carol
        .m
        .set_notify(&to_bob, NotifyLevel::None, 0)
        .await
        .unwrap();
    let got = drain(&carol2.m).await;
    assert_eq!(
        got.iter()
            .filter(|r| matches!(r.body, Body::Settings { .. }))
            .count(),
        2
    );
    for d in [&carol, &carol2] {
        assert_eq!(
            d.m.notify_settings(&ops).await.unwrap().notify,
            NotifyLevel::Mentions,
            "{}",
            d.name
        );
        assert_eq!(
            d.m.notify_settings(&to_bob).await.unwrap().notify,
            NotifyLevel::None
        );
    }

    // Bob writes to Ops: a plain message, then one that mentions Carol, then @all (he is
    // the group's admin). Then Alice, an org admin, @all too.
    for text in [
        "deploy at 5",
        "@carol can you check the logs?",
        "@all freeze starts now",
    ] {
        let body = bob.m.text_body(&ops, text, None).await.unwrap();
        bob.m.send_body(&ops, body).await.unwrap();
    }
    let body = alice
        .m
        .text_body(&ops, "@all standup in 5", None)
        .await
        .unwrap();
    assert!(matches!(
        &body,
        Body::Text {
            mention_all: true,
            ..
        }
    ));
    alice.m.send_body(&ops, body).await.unwrap();
    let expected = vec![
        ("deploy at 5".to_owned(), false, false),
        ("@carol can you check the logs?".to_owned(), true, true),
        ("@all freeze starts now".to_owned(), true, true),
        ("@all standup in 5".to_owned(), true, true),
    ];
    for d in [&carol, &carol2] {
        assert_eq!(flags(&drain(&d.m).await), expected, "{}", d.name);
    }
    // Bob's 1:1 messages never notify Carol; Alice's do.
    bob.m
        .send_text(&Target::User(carol.user()), "ping")
        .await
        .unwrap();
    alice
        .m
        .send_text(&Target::User(carol.user()), "pong")
        .await
        .unwrap();
    let got = flags(&drain(&carol2.m).await);
    assert_eq!(
        got,
        [
            ("ping".to_owned(), false, false),
            ("pong".to_owned(), false, true)
        ]
    );

    // Carol, a plain member, cannot @all: her client does not mark it, and a marked one
    // (made by hand, as a modified client would) is dropped on receipt.
    let body = carol.m.text_body(&ops, "@all lunch?", None).await.unwrap();
    assert!(matches!(
        &body,
        Body::Text {
            mention_all: false,
            ..
        }
    ));
    bob.m
        .set_notify(&ops, NotifyLevel::Mentions, 0)
        .await
        .unwrap();
    let forged = Body::Text {
        text: "@all lunch?".into(),
        reply_to: None,
        mentions: vec![],
        mention_all: true,
    };
    carol.m.send_body(&ops, forged).await.unwrap();
    let got = flags(&drain(&bob.m).await);
    assert_eq!(
        got.last().unwrap(),
        &("@all lunch?".to_owned(), false, false)
    );

    // Muted from the second device for an hour: on the first, a mention no longer notifies;
    // unmuted, it does again.
    let hour_later = parley_client::messaging::now_ms() + 3_600_000;
    carol2
        .m
        .set_notify(&ops, NotifyLevel::Mentions, hour_later)
        .await
        .unwrap();
    drain(&carol.m).await;
    let body = bob.m.text_body(&ops, "@carol again", None).await.unwrap();
    bob.m.send_body(&ops, body).await.unwrap();
    assert_eq!(
        flags(&drain(&carol.m).await),
        [("@carol again".to_owned(), true, false)]
    );
    carol
        .m
        .set_notify(&ops, NotifyLevel::Mentions, 0)
        .await
        .unwrap();
    let body = bob
        .m
        .text_body(&ops, "@carol and again", None)
        .await
        .unwrap();
    bob.m.send_body(&ops, body).await.unwrap();
    // (Carol's second device also has her own "@all lunch?" and the muted mention.)
    assert_eq!(
        flags(&drain(&carol2.m).await).last().unwrap(),
        &("@carol and again".to_owned(), true, true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disappearing_messages_leave_every_store_even_one_offline_past_the_timer() {
    use parley_proto::org::Policy;
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let bob2 = org.link(&bob, 2).await; // stays offline until the end
    let carol = org.invite(&alice, "carol").await;
    let to_bob = Target::User(bob.user());
    let to_alice = Target::User(alice.user());

    // Alice turns on a 2-second timer in her chat with Bob; Bob's device follows it.
    alice.m.set_disappearing(&to_bob, 2).await.unwrap();
    drain(&bob.m).await;
    assert_eq!(bob.m.disappearing(&to_alice).await.unwrap().secs, 2);
    alice
        .m
        .send_text(&to_bob, "the code is 4711")
        .await
        .unwrap();
    let got = drain(&bob.m).await;
    assert_eq!(got.last().unwrap().text(), Some("the code is 4711"));
    assert!(
        shown(&bob, &to_alice)
            .await
            .contains(&"the code is 4711".to_owned())
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for (d, with) in [(&alice, &to_bob), (&bob, &to_alice)] {
        let texts = shown(d, with).await;
        assert!(
            !texts.iter().any(|t| t.contains("4711")),
            "{}: {texts:?}",
            d.name
        );
        assert!(
            texts.contains(&"[set messages to disappear after 2 seconds]".to_owned()),
            "the timer change stays: {texts:?}"
        );
    }
    // Bob's second device was offline past the timer: the message reaches it and is never
    // stored or shown (the timer message itself is).
    let got = drain(&bob2.m).await;
    assert!(
        got.iter().all(|r| r.text() != Some("the code is 4711")),
        "{got:?}"
    );
    assert!(
        !shown(&bob2, &to_alice)
            .await
            .iter()
            .any(|t| t.contains("4711"))
    );

    // In a group only an admin of the group (or an org admin) sets the timer; a forged one
    // from a plain member is refused by the check that guards receiving (`apply`), which
    // refuses it on her own device already, so nothing is sent.
    let group = alice
        .m
        .create_group("Board", &[bob.user(), carol.user()])
        .await
        .unwrap();
    let board = Target::Group(group);
    for d in [&bob, &carol] {
        drain(&d.m).await;
    }
    let e = carol.m.set_disappearing(&board, 60).await.unwrap_err();
    assert_eq!(e.code(), "not_group_admin");
    let e = carol
        .m
        .send_body(&board, Body::Timer { secs: 60 })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not an admin of the group"), "{e}");
    drain(&bob.m).await;
    assert_eq!(bob.m.disappearing(&board).await.unwrap().secs, 0);

    // The org's maximum: 3 seconds for every conversation, even one without a timer; no
    // conversation may ask for more.
    alice
        .m
        .set_policy(Policy {
            max_disappearing_secs: 3,
            ..Policy::default()
        })
        .await
        .unwrap();
    bob.m.sync_org().await.unwrap();
    let e = alice.m.set_disappearing(&board, 10).await.unwrap_err();
    assert_eq!(e.code(), "over_policy");
    assert_eq!(
        bob.m.disappearing(&board).await.unwrap().effective(),
        Some(3)
    );
    bob.m
        .send_text(&board, "board minutes attached")
        .await
        .unwrap();
    drain(&alice.m).await;
    drain(&carol.m).await;
    assert!(
        shown(&carol, &board)
            .await
            .contains(&"board minutes attached".to_owned())
    );
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    for d in [&alice, &bob, &carol] {
        assert!(
            !shown(d, &board)
                .await
                .contains(&"board minutes attached".to_owned()),
            "{}",
            d.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_end_to_end_and_nothing_leaves_a_device_with_the_policy_off() {
    use parley_proto::content::PresenceState;
    use parley_proto::org::Policy;
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await; // no conversation with Alice
    let to_bob = Target::User(bob.user());
    alice.m.send_text(&to_bob, "hi").await.unwrap();
    drain(&bob.m).await;

    // Shared by default: Alice tells the people she talks to (Bob, not Carol).
    assert_eq!(
        alice.m.set_presence(PresenceState::Online).await.unwrap(),
        1
    );
    let got = drain(&bob.m).await;
    assert!(matches!(
        got.last().unwrap().body,
        Body::Presence {
            state: PresenceState::Online,
            last_seen: Some(_)
        }
    ));
    let seen = bob.m.presence().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].user.as_str(), seen[0].state),
        ("alice", PresenceState::Online)
    );
    assert!(seen[0].last_seen.is_some());
    assert!(drain(&carol.m).await.is_empty());

    // Alice hides when she was last active.
    alice.m.set_hide_last_seen(true).await.unwrap();
    alice.m.set_presence(PresenceState::Away).await.unwrap();
    drain(&bob.m).await;
    let seen = bob.m.presence().await.unwrap();
    assert_eq!(
        (seen[0].state, seen[0].last_seen),
        (PresenceState::Away, None)
    );

    // The policy turns presence off: no presence and no typing leave Alice's device (the
    // relay's queues do not grow), and Bob shows none.
    alice
        .m
        .set_policy(Policy {
            presence: false,
            ..Policy::default()
        })
        .await
        .unwrap();
    bob.m.sync_org().await.unwrap();
    let db = server.database().await;
    let queued = db.int("SELECT COUNT(*) FROM envelopes", &[]).await;
    assert_eq!(
        alice.m.set_presence(PresenceState::Online).await.unwrap(),
        0
    );
    alice.m.typing(&bob.user(), true).await.unwrap();
    bob.m.typing(&alice.user(), true).await.unwrap();
    assert_eq!(db.int("SELECT COUNT(*) FROM envelopes", &[]).await, queued);
    assert!(bob.m.presence().await.unwrap().is_empty());
    // The relay keeps no presence of its own.
    assert_eq!(
        db.int(
            "SELECT COUNT(*) FROM sqlite_master WHERE sql LIKE '%presence%' OR name LIKE '%presence%'",
            &[]
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_groups_follow_the_directory_and_only_admins_post_to_the_company() {
    use parley_e2e::{profile, take_envelope};
    use parley_proto::org::{company_group, department_group};
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let erin = org.invite(&alice, "erin").await;
    let dave = org.invite(&alice, "dave").await;
    let department = |user: &str, name: &str| parley_proto::org::Profile {
        department: name.to_owned(),
        ..profile(user).unwrap()
    };
    for (user, name) in [
        ("bob", "Finance"),
        ("carol", "Finance"),
        ("erin", "Finance"),
        ("dave", "Sales"),
    ] {
        alice
            .m
            .update_user(
                &parley_proto::UserId::new(user).unwrap(),
                department(user, name),
            )
            .await
            .unwrap();
    }
    let everyone = [&alice, &bob, &carol, &erin, &dave];
    for d in everyone {
        d.m.sync_org().await.unwrap();
    }
    let genesis = alice.m.org().await.unwrap().genesis_hash();
    let finance = Target::Group(department_group(&genesis, "Finance"));
    let sales = Target::Group(department_group(&genesis, "sales")); // names fold
    let company = Target::Group(company_group(&genesis));
    let members = async |d: &parley_e2e::Device, t: &Target| -> Vec<String> {
        let Target::Group(g) = t else { unreachable!() };
        d.m.group(g).await.map(|g| g.members).unwrap_or_default()
    };
    // Nobody sent a membership change: every device made the groups from the log.
    for d in [&bob, &carol, &erin] {
        assert_eq!(
            members(d, &finance).await,
            ["bob", "carol", "erin"],
            "{}",
            d.name
        );
    }
    assert_eq!(members(&dave, &sales).await, ["dave"]);
    assert!(members(&dave, &finance).await.is_empty(), "not his");
    for d in everyone {
        assert_eq!(members(d, &company).await.len(), 5, "{}", d.name);
    }
    bob.m.send_text(&finance, "budget draft").await.unwrap();
    for d in [&carol, &erin] {
        let got = drain(&d.m).await;
        assert!(
            shown(d, &finance)
                .await
                .contains(&"budget draft".to_owned()),
            "{}: {got:?}",
            d.name
        );
    }
    let Target::Group(fin) = finance else {
        unreachable!()
    };
    let e = bob.m.add_members(&fin, &[dave.user()]).await.unwrap_err();
    assert_eq!(e.code(), "directory_group");

    // Carol moves to Sales: she leaves Finance and joins Sales on every device; the rest of
    // Finance rotates, so Carol, fed Erin's copy with her state intact, reads nothing.
    alice
        .m
        .update_user(&carol.user(), department("carol", "Sales"))
        .await
        .unwrap();
    for d in everyone {
        let events = d.m.sync_org().await.unwrap();
        if d.name.starts_with("bob") {
            let Target::Group(fin) = finance else {
                unreachable!()
            };
            assert!(
                events.iter().any(|e| matches!(e,
                    Event::DirectoryGroupsChanged { groups } if groups.contains(&fin))),
                "{events:?}"
            );
        }
    }
    assert_eq!(members(&bob, &finance).await, ["bob", "erin"]);
    assert_eq!(members(&carol, &finance).await, ["bob", "erin"], "she left");
    for d in [&carol, &dave] {
        assert_eq!(members(d, &sales).await, ["carol", "dave"], "{}", d.name);
    }
    bob.m.send_text(&finance, "after the move").await.unwrap();
    let env = take_envelope(&erin.m).await;
    assert!(
        carol.m.receive(&env).await.is_err(),
        "the leaver reads nothing"
    );
    assert!(
        drain(&erin.m)
            .await
            .iter()
            .any(|r| r.text() == Some("after the move"))
    );
    carol.m.send_text(&sales, "hello Sales").await.unwrap();
    assert!(
        drain(&dave.m)
            .await
            .iter()
            .any(|r| r.text() == Some("hello Sales"))
    );

    // The company channel: admins post, everyone reads and reacts; anyone else is refused.
    let e = bob.m.send_text(&company, "hi all").await.unwrap_err();
    assert_eq!(e.code(), "not_a_poster");
    let post = alice
        .m
        .send_text(&company, "Office closed Friday")
        .await
        .unwrap();
    for d in [&bob, &carol, &erin, &dave] {
        assert!(
            drain(&d.m)
                .await
                .iter()
                .any(|r| r.text() == Some("Office closed Friday")),
            "{}",
            d.name
        );
    }
    let target = parley_proto::content::MessageRef {
        author: alice.user(),
        id: post,
    };
    bob.m.react(&company, target, "👍", false).await.unwrap();

    // An appointed poster posts as the admins do; once the appointment ends he is refused
    // again. Nobody else changed anything: every device reads it from the signed log.
    alice.m.set_poster(&bob.user(), true).await.unwrap();
    bob.m.sync_org().await.unwrap();
    bob.m.send_text(&company, "Canteen menu").await.unwrap();
    for d in [&alice, &carol, &dave] {
        assert!(
            drain(&d.m)
                .await
                .iter()
                .any(|r| r.text() == Some("Canteen menu")),
            "{}",
            d.name
        );
    }
    alice.m.set_poster(&bob.user(), false).await.unwrap();
    // Bob's device has not read the log since, so it still thinks he may post: every
    // receiving device refuses the post by its own verified log.
    bob.m.send_text(&company, "stale post").await.unwrap();
    for d in [&alice, &carol, &dave] {
        let got = drain(&d.m).await;
        assert!(
            !got.iter().any(|r| r.text() == Some("stale post")),
            "{}",
            d.name
        );
        assert!(
            !shown(d, &company)
                .await
                .iter()
                .any(|t| t.contains("stale post")),
            "{}",
            d.name
        );
    }
    bob.m.sync_org().await.unwrap();
    let e = bob.m.send_text(&company, "one more").await.unwrap_err();
    assert_eq!(e.code(), "not_a_poster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_converges_on_every_device_whatever_the_delivery_order() {
    use parley_client::messaging::NewTask;
    use parley_client::tasks::{ReminderKind, TaskFilter};
    use parley_e2e::receive_reversed;
    use parley_proto::content::{TaskChange, TaskStatus};
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let dave = org.invite(&alice, "dave").await;
    let bob2 = org.link(&bob, 2).await;
    let group = alice
        .m
        .create_group("Ops", &[bob.user(), carol.user(), dave.user()])
        .await
        .unwrap();
    let ops = Target::Group(group);
    let everyone = [&alice, &bob, &bob2, &carol, &dave];
    // Everyone has everyone's sender key, so what follows can arrive in any order.
    for d in everyone {
        drain(&d.m).await;
    }
    for d in [&alice, &bob, &carol, &dave] {
        d.m.send_text(&ops, "here").await.unwrap();
    }
    for d in everyone {
        drain(&d.m).await;
    }

    // Alice creates a task for Bob; Bob hands it to Carol; Carol finishes it. Dave is away
    // all along and gets the three changes newest first.
    let deadline = parley_client::messaging::now_ms() + 86_400_000;
    let task = alice
        .m
        .create_task(
            &ops,
            NewTask {
                title: "Rotate the VPN certificate".into(),
                assignee: bob.user(),
                deadline: Some(deadline),
                description: Some("before Friday's audit".into()),
            },
        )
        .await
        .unwrap();
    let e = alice
        .m
        .change_task(
            &ops,
            task,
            TaskChange::Assign {
                assignee: parley_proto::UserId::new("erin").unwrap(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "assignee_not_member");
    let got = drain(&bob.m).await;
    assert!(got.iter().any(|r| r.mentioned && r.notify), "{got:?}");
    bob.m
        .change_task(
            &ops,
            task,
            TaskChange::Assign {
                assignee: carol.user(),
            },
        )
        .await
        .unwrap();
    drain(&carol.m).await;
    carol
        .m
        .change_task(
            &ops,
            task,
            TaskChange::Status {
                status: TaskStatus::Done,
            },
        )
        .await
        .unwrap();
    receive_reversed(&dave, 3).await;
    for d in [&alice, &bob, &bob2] {
        drain(&d.m).await;
    }
    let all = TaskFilter {
        done: true,
        ..TaskFilter::default()
    };
    let seen = alice.m.tasks(&all).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].assignee, carol.user());
    assert_eq!(seen[0].status, TaskStatus::Done);
    assert_eq!(seen[0].creator, alice.user());
    for d in everyone {
        assert_eq!(d.m.tasks(&all).await.unwrap(), seen, "{}", d.name);
        assert!(
            d.m.tasks(&TaskFilter::default()).await.unwrap().is_empty(),
            "done"
        );
    }

    // Bob and Carol move the deadline at once, each before seeing the other's: every device
    // keeps the same one.
    bob.m
        .change_task(
            &ops,
            task,
            TaskChange::Status {
                status: TaskStatus::Reopened,
            },
        )
        .await
        .unwrap();
    for d in everyone {
        drain(&d.m).await;
    }
    bob.m
        .change_task(&ops, task, TaskChange::Deadline { deadline: None })
        .await
        .unwrap();
    carol
        .m
        .change_task(
            &ops,
            task,
            TaskChange::Deadline {
                deadline: Some(deadline + 1),
            },
        )
        .await
        .unwrap();
    receive_reversed(&dave, 2).await;
    for d in [&alice, &bob, &bob2, &carol] {
        drain(&d.m).await;
    }
    let seen = alice.m.tasks(&all).await.unwrap();
    for d in everyone {
        assert_eq!(d.m.tasks(&all).await.unwrap(), seen, "{}", d.name);
    }
    let mine = TaskFilter {
        mine: true,
        ..TaskFilter::default()
    };
    assert_eq!(carol.m.tasks(&mine).await.unwrap().len(), 1);
    assert!(bob.m.tasks(&mine).await.unwrap().is_empty());
    let found = dave
        .m
        .find_task(&parley_proto::hex::encode(task.0)[..6])
        .await
        .unwrap();
    assert_eq!(found.id, task);

    // Reminders come from the assignee's own clock: near the deadline, then at it, once each.
    let soon = parley_client::messaging::now_ms() + 1_500;
    carol
        .m
        .change_task(
            &ops,
            task,
            TaskChange::Deadline {
                deadline: Some(soon),
            },
        )
        .await
        .unwrap();
    let fired = carol.m.take_task_reminders().await.unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].kind, ReminderKind::Soon);
    assert!(
        alice.m.take_task_reminders().await.unwrap().is_empty(),
        "not hers"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    let fired = carol.m.take_task_reminders().await.unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].kind, ReminderKind::Due);
    assert!(fired[0].task.overdue);
    assert!(carol.m.take_task_reminders().await.unwrap().is_empty());
    let overdue = TaskFilter {
        overdue: true,
        ..TaskFilter::default()
    };
    assert_eq!(carol.m.tasks(&overdue).await.unwrap().len(), 1);
    drop(org);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_text_reaches_the_people_one_talks_to_and_ones_own_devices() {
    use parley_client::messaging::now_ms;
    use parley_e2e::receive_reversed;
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let bob2 = org.link(&bob, 2).await;
    let carol = org.invite(&alice, "carol").await;
    let dave = org.invite(&alice, "dave").await;
    bob.m
        .send_text(&Target::User(alice.user()), "hi")
        .await
        .unwrap();
    bob.m.create_group("Ops", &[carol.user()]).await.unwrap();
    for d in [&alice, &bob2, &carol, &dave] {
        drain(&d.m).await;
    }
    let status_of = async |d: &parley_e2e::Device, user: &str| -> Option<String> {
        d.m.statuses()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.user == user)
            .map(|s| s.text)
    };

    let told = bob
        .m
        .set_status("On holiday, back on the 20th", Some(now_ms() + 60_000))
        .await
        .unwrap();
    assert_eq!(told, 2, "Alice and Carol");
    for d in [&alice, &bob2, &carol, &dave] {
        drain(&d.m).await;
    }
    for d in [&alice, &bob, &bob2, &carol] {
        assert_eq!(
            status_of(d, "bob").await.as_deref(),
            Some("On holiday, back on the 20th"),
            "{}",
            d.name
        );
    }
    assert_eq!(
        status_of(&dave, "bob").await,
        None,
        "no conversation with Bob"
    );
    // Nothing about Bob opened a 1:1 conversation on Carol's side: they share only a group.
    let chats = carol.m.conversations().await.unwrap();
    assert!(
        !chats.iter().any(|c| c.target == Target::User(bob.user())),
        "{chats:?}"
    );

    // The later status wins whatever the order; one past its time is not shown; a clear
    // clears.
    bob.m.set_status("In a workshop", None).await.unwrap();
    bob.m.set_status("Back at my desk", None).await.unwrap();
    receive_reversed(&carol, 2).await;
    assert_eq!(
        status_of(&carol, "bob").await.as_deref(),
        Some("Back at my desk")
    );
    bob.m
        .set_status("Stepping out", Some(now_ms() + 1_000))
        .await
        .unwrap();
    drain(&alice.m).await;
    assert_eq!(
        status_of(&alice, "bob").await.as_deref(),
        Some("Stepping out")
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(status_of(&alice, "bob").await, None, "its time is up");
    bob.m.set_status("", None).await.unwrap();
    drain(&bob2.m).await;
    assert_eq!(status_of(&bob2, "bob").await, None, "cleared");
    let long = "x".repeat(300);
    assert_eq!(
        bob.m.set_status(&long, None).await.unwrap_err().code(),
        "too_large"
    );
}
