//! Dismissal through real relays and real engines, on SQLite and PostgreSQL: after
//! `UserDismissed`, the dismissed user's devices can neither fetch nor send, and a copy of a
//! dismissed device's state kept from before decrypts nothing sent afterwards, in 1:1 and in
//! groups (every remaining member rotates its sender key before its next group message).
//! What the dismissed device sent before, still queued for the others, is dropped once they
//! know of the dismissal, in 1:1 and in groups: the receive path refuses a revoked sender.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use parley_client::Error;
use parley_client::messaging::{Event, Messenger, Target};
use parley_e2e::{Backend, Org, Server, receive, take_envelope, texts};
use parley_proto::UserId;

/// Takes everything queued for `m`: each envelope must be dropped as coming from `from`'s
/// revoked device; returns how many were.
async fn revoked_sender_dropped(m: &Messenger, from: &UserId) -> usize {
    let mut events = m.events().await.unwrap();
    let mut dropped = 0;
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(60), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Event::Dropped { from: who, error } => {
                assert_eq!(&who, from);
                assert_eq!(error.code, "trust_failure");
                assert!(
                    error.message.contains("revoked device"),
                    "{}",
                    error.message
                );
                dropped += 1;
            }
            Event::CaughtUp => break,
            Event::Message(m) => panic!("shown: {m:?}"),
            _ => {}
        }
    }
    events.close().await;
    dropped
}

async fn dismissal(backend: Backend) {
    let server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let carol = org.invite(&alice, "carol").await;
    let carol_id = UserId::new(carol.m.user()).unwrap();
    let group = alice
        .m
        .create_group("Board", &[UserId::new("bob").unwrap(), carol_id.clone()])
        .await
        .unwrap();
    let to_group = Target::Group(group);
    let to_carol = Target::User(carol_id.clone());
    alice.m.send_text(&to_group, "before").await.unwrap();
    alice.m.send_text(&to_carol, "1:1 before").await.unwrap();
    receive(&bob.m, 2).await; // the group, and alice's message
    bob.m.send_text(&to_group, "bob before").await.unwrap();
    receive(&alice.m, 1).await;
    // The group, alice's two messages and bob's: carol holds both sender keys.
    assert_eq!(
        texts(&receive(&carol.m, 4).await),
        ["before", "1:1 before", "bob before"]
    );
    carol.m.send_text(&to_group, "carol before").await.unwrap();
    assert_eq!(texts(&receive(&alice.m, 1).await), ["carol before"]);
    assert_eq!(texts(&receive(&bob.m, 1).await), ["carol before"]);

    // Carol writes to the group and answers alice before her dismissal (under the sender key
    // they hold, and in the session alice started); nobody is listening.
    carol
        .m
        .send_text(&to_group, "group, sent before")
        .await
        .unwrap();
    carol
        .m
        .send_text(&Target::User(UserId::new("alice").unwrap()), "sent before")
        .await
        .unwrap();

    alice.m.dismiss_user(&carol_id).await.unwrap();

    // Alice and bob know of the dismissal before those messages reach them: they come from a
    // device the log has revoked, and are dropped rather than shown (as they would be from a
    // stolen device's keys that a relay let through).
    bob.m.sync_org().await.unwrap();
    assert_eq!(revoked_sender_dropped(&alice.m, &carol_id).await, 2);
    assert_eq!(revoked_sender_dropped(&bob.m, &carol_id).await, 1);

    // Carol's device can neither fetch nor send.
    let e = carol.m.events().await.unwrap_err();
    assert!(matches!(e, Error::DeviceRevoked(_)), "{e:?}");
    let e = carol
        .m
        .send_text(&Target::User(UserId::new("alice").unwrap()), "hello?")
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::DeviceRevoked(_) | Error::Refused(_)),
        "{e:?}"
    );

    // Nobody encrypts to her any more: a 1:1 message cannot be sent.
    let e = alice.m.send_text(&to_carol, "after").await.unwrap_err();
    assert_eq!(e.code(), "no_such_user", "{e:?}");

    // The group goes on; what is sent after comes under new sender keys, which carol's
    // kept state (her engine, with everything it had) cannot open.
    alice.m.send_text(&to_group, "after, alice").await.unwrap();
    bob.m.send_text(&to_group, "after, bob").await.unwrap();
    let env = take_envelope(&bob.m).await;
    let e = carol.m.receive(&env).await.unwrap_err();
    assert!(
        matches!(e, Error::Rejected(_)),
        "a dismissed member's state reads nothing sent afterwards: {e:?}"
    );
    assert_eq!(
        texts(&receive(&bob.m, 1).await),
        ["after, alice"],
        "bob reads it"
    );
    let env = take_envelope(&alice.m).await;
    assert!(carol.m.receive(&env).await.is_err());
    assert_eq!(texts(&receive(&alice.m, 1).await), ["after, bob"]);
}

parley_e2e::on_both_backends!(dismissal);
