//! The company workspace through a real relay: mentions carried as user ids, notification
//! settings that decide which messages notify and that sync, end-to-end encrypted, to the
//! user's other devices; an `@all` from someone who may not make one is dropped by every
//! receiver.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use parley_client::messaging::{Received, Target};
use parley_e2e::{Backend, Org, Server, drain};
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
