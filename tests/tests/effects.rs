//! Edits, deletes, reactions and read receipts through a real relay; a delete that arrives
//! before its message; limits that refuse a message without blocking the outbox; a group with
//! a member the relay does not know.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use parley_client::messaging::Target;
use parley_client::store::MessageStatus;
use parley_e2e::{
    Backend, Device, Org, Server, receive, receive_reversed, shown as history, texts,
};
use parley_proto::UserId;
use parley_proto::content::{Body, MessageRef};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_deletes_reactions_and_receipts() {
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let to_bob = Target::User(bob.user());
    let to_alice = Target::User(alice.user());

    let first = alice.m.send_text(&to_bob, "lunch at 12?").await.unwrap();
    let second = alice.m.send_text(&to_bob, "typo here").await.unwrap();
    alice.m.edit(&to_bob, first, "lunch at 1?").await.unwrap();
    alice.m.delete(&to_bob, second).await.unwrap();
    let got = receive(&bob.m, 4).await;
    assert!(matches!(&got[2].body, Body::Edit { text, .. } if text == "lunch at 1?"));
    assert!(matches!(&got[3].body, Body::Delete { .. }));
    assert_eq!(history(&bob, &to_alice).await, ["lunch at 1?"]);
    assert_eq!(history(&alice, &to_bob).await, ["lunch at 1?"]);

    // Bob reacts and reads; Alice sees both.
    let target = MessageRef {
        author: alice.user(),
        id: first,
    };
    bob.m.react(&to_alice, target, "👍", false).await.unwrap();
    bob.m.mark_read(&to_alice, vec![first]).await.unwrap();
    assert_eq!(receive(&alice.m, 2).await.len(), 2);
    let entries = alice.m.history(&to_bob, 100).await.unwrap();
    assert_eq!(entries[0].status, MessageStatus::Read);
    assert_eq!(entries[1].text, "[reacted 👍 to a message of alice]");

    // Bob cannot edit Alice's message: the check that guards receiving (`apply`) refuses it
    // on his own device already, and nothing reaches Alice.
    let forged = Body::Edit {
        target: MessageRef {
            author: alice.user(),
            id: first,
        },
        text: "forged".into(),
        revision: 1,
    };
    let err = bob.m.send_body(&to_alice, forged).await.unwrap_err();
    assert!(err.to_string().contains("someone else's message"), "{err}");
    assert_eq!(
        bob.m.history(&to_alice, 100).await.unwrap()[0].text,
        "lunch at 1?",
        "and nothing changed on Bob's side either"
    );

    // A delete that the relay delivers before its message: the message never shows.
    let third = alice
        .m
        .send_text(&to_bob, "to be taken back")
        .await
        .unwrap();
    alice.m.delete(&to_bob, third).await.unwrap();
    receive_reversed(&bob, 2).await;
    assert_eq!(history(&bob, &to_alice).await[0], "lunch at 1?");
    assert!(
        !history(&bob, &to_alice)
            .await
            .iter()
            .any(|t| t.contains("taken back"))
    );

    // Over a limit: refused at once, and the outbox is not blocked.
    let long = "x".repeat(70 * 1024);
    let err = alice.m.send_text(&to_bob, &long).await.unwrap_err();
    assert!(err.to_string().contains("size limit"), "{err}");
    alice.m.send_text(&to_bob, "still works").await.unwrap();
    assert_eq!(texts(&receive(&bob.m, 1).await), ["still works"]);
    // A user nobody enrolled.
    let ghost = UserId::new("ghost").unwrap();
    let err = alice
        .m
        .send_text(&Target::User(ghost.clone()), "hi")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such user"), "{err}");

    // A group that lists a user the relay does not know still works for the others.
    let group = alice
        .m
        .create_group("Lunch", &[bob.user(), ghost])
        .await
        .unwrap();
    receive(&bob.m, 1).await;
    alice
        .m
        .send_text(&Target::Group(group), "table for two")
        .await
        .unwrap();
    assert_eq!(texts(&receive(&bob.m, 1).await), ["table for two"]);
    drop(org);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_edit_wins_whatever_the_order_and_stays_in_its_conversation() {
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let to_bob = Target::User(bob.user());
    let to_alice = Target::User(alice.user());
    let edited = async |d: &Device, with: &Target| {
        d.m.history(with, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.text, e.edited))
            .collect::<Vec<_>>()
    };

    // Two edits delivered newest first: the newer one stays.
    let first = alice.m.send_text(&to_bob, "v0").await.unwrap();
    receive(&bob.m, 1).await;
    alice.m.edit(&to_bob, first, "v1").await.unwrap();
    alice.m.edit(&to_bob, first, "v2").await.unwrap();
    receive_reversed(&bob, 2).await;
    assert_eq!(edited(&bob, &to_alice).await, [("v2".to_owned(), true)]);
    assert_eq!(edited(&alice, &to_bob).await, [("v2".to_owned(), true)]);

    // An edit delivered before its message: the message shows edited.
    let second = alice.m.send_text(&to_bob, "w0").await.unwrap();
    alice.m.edit(&to_bob, second, "w1").await.unwrap();
    receive_reversed(&bob, 2).await;
    assert_eq!(
        edited(&bob, &to_alice).await,
        [("v2".to_owned(), true), ("w1".to_owned(), true)]
    );

    // An edit or delete of a 1:1 message sent in a group is refused (on the author's own
    // device already, by the same check that guards receiving).
    let group = alice.m.create_group("Pair", &[bob.user()]).await.unwrap();
    receive(&bob.m, 1).await;
    let target = MessageRef {
        author: alice.user(),
        id: first,
    };
    for body in [
        Body::Edit {
            target: target.clone(),
            text: "moved".into(),
            revision: u64::MAX,
        },
        Body::Delete {
            target: target.clone(),
        },
    ] {
        let err = alice
            .m
            .send_body(&Target::Group(group), body)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("another conversation"), "{err}");
    }
    assert_eq!(edited(&alice, &to_bob).await[0], ("v2".to_owned(), true));
    drop(org);
}

/// The conversation list and a conversation's structured rows, as the desktop app reads them:
/// unread counts fall to zero when the conversation is read and the author gets the receipt;
/// the most recently active conversation comes first; a page before a row's stamp holds the
/// older rows; an edit shows as the latest text with its revision, a delete as a tombstone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_list_and_timeline_as_the_app_reads_them() {
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let to_alice = Target::User(alice.user());
    let to_bob = Target::User(bob.user());

    let first = bob.m.send_text(&to_alice, "one").await.unwrap();
    let second = bob.m.send_text(&to_alice, "two").await.unwrap();
    bob.m.edit(&to_alice, first, "one, edited").await.unwrap();
    bob.m.delete(&to_alice, second).await.unwrap();
    bob.m.send_text(&to_alice, "three").await.unwrap();
    receive(&alice.m, 5).await;
    carol.m.send_text(&to_alice, "from carol").await.unwrap();
    receive(&alice.m, 1).await;

    let list = alice.m.conversations().await.unwrap();
    assert_eq!(
        list.len(),
        3,
        "carol, bob, and the company channel (no messages yet)"
    );
    assert!(
        list[2].last.is_none() && !list[2].read_only,
        "alice is an admin"
    );
    assert_eq!(list[0].target, Target::User(carol.user()), "latest first");
    assert_eq!(list[1].target, to_bob);
    assert_eq!(
        list[1].unread, 2,
        "the edited one and the third; not the deleted one"
    );
    assert!(
        matches!(&list[1].last.as_ref().unwrap().body, Body::Text { text, .. } if text == "three")
    );

    let rows = alice.m.timeline(&to_bob, None, 100).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(matches!(&rows[0].body, Body::Text { text, .. } if text == "one, edited"));
    assert!(rows[0].edited.is_some() && rows[2].edited.is_none());
    assert!(matches!(&rows[1].body, Body::Delete { .. }));
    let older = alice
        .m
        .timeline(&to_bob, Some(rows[2].stamp), 100)
        .await
        .unwrap();
    assert_eq!(older, rows[..2]);
    assert!(
        alice
            .m
            .timeline(&to_bob, Some(rows[0].stamp), 100)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(alice.m.read_conversation(&to_bob).await.unwrap(), 2);
    assert_eq!(alice.m.read_conversation(&to_bob).await.unwrap(), 0, "once");
    let list = alice.m.conversations().await.unwrap();
    assert_eq!((list[0].unread, list[1].unread), (1, 0));
    receive(&bob.m, 1).await;
    let mine = bob.m.timeline(&to_alice, None, 100).await.unwrap();
    assert_eq!(mine[0].status, MessageStatus::Read);
    assert_eq!(mine[2].status, MessageStatus::Read);
}
