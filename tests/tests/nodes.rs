//! Revocation across relay nodes: two `parley-server` processes share one PostgreSQL
//! database, as a deployment with several nodes runs them. An admin revokes a device through
//! one node while the device listens on the other: that node closes the device's socket and
//! refuses its credentials at once (the revocation's `NOTIFY`, not a cache expiry), and a
//! colleague who sends through that node reaches the user's other device only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use parley_client::Error;
use parley_client::enrol;
use parley_client::messaging::{Event, Target};
use parley_e2e::{Arg, Backend, Org, Server, profile, receive, texts};
use parley_proto::UserId;
use parley_proto::invite::Invite;
use parley_proto::org::RevokeReason;

/// The same invite or link code, pointing at another node's address.
fn at(node: &Server, text: &str) -> String {
    let mut invite = Invite::from_text(text).unwrap();
    invite.relay = node.url.clone();
    invite.to_text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_every_node_at_once() {
    let a = Server::start(Backend::Postgres).await;
    let b = a.another_node().await;
    let (org, alice) = Org::create(&a, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    // Carol and bob's laptop use node B; alice and bob's first device node A.
    let text = enrol::invite(
        alice.m.store(),
        &UserId::new("carol").unwrap(),
        profile("carol"),
        false,
    )
    .await
    .unwrap();
    let carol = org.join("carol.1", &at(&b, &text)).await;
    let link = enrol::link(bob.m.store()).await.unwrap();
    let laptop = org.join("bob.2", &at(&b, &link)).await;
    let to_bob = Target::User(UserId::new("bob").unwrap());

    // Both of bob's devices read carol's message; node B has checked the laptop's
    // credentials and holds its socket.
    carol.m.send_text(&to_bob, "to both").await.unwrap();
    assert_eq!(texts(&receive(&bob.m, 1).await), ["to both"]);
    assert_eq!(texts(&receive(&laptop.m, 1).await), ["to both"]);
    let mut events = laptop.m.events().await.unwrap();

    // Revoked through node A.
    alice
        .m
        .revoke_device(
            &UserId::new("bob").unwrap(),
            laptop.m.device(),
            RevokeReason::Lost,
        )
        .await
        .unwrap();

    // Node B closes the laptop's socket (a liveness bound, not a speed target)...
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.next().await {
                Some(Ok(Event::Message(m))) => panic!("a message after revocation: {m:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Some(e),
                None => return None,
            }
        }
    })
    .await
    .expect("node B closed the revoked device's socket");
    assert!(
        matches!(
            closed,
            None | Some(Error::ConnectionClosed | Error::DeviceRevoked(_))
        ),
        "{closed:?}"
    );
    drop(events);
    // ... and refuses its credentials: the laptop learns why from the log.
    let e = laptop.m.events().await.unwrap_err();
    assert!(
        matches!(e, Error::DeviceRevoked(RevokeReason::Lost)),
        "{e:?}"
    );
    let e = laptop
        .m
        .send_text(&Target::User(UserId::new("carol").unwrap()), "still here?")
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::DeviceRevoked(_) | Error::Refused(_)),
        "{e:?}"
    );

    // Carol, through node B, reaches bob's first device only; nothing waits for the laptop.
    carol.m.send_text(&to_bob, "after").await.unwrap();
    assert_eq!(texts(&receive(&bob.m, 1).await), ["after"]);
    let db = a.database().await;
    let queued = db
        .int(
            "SELECT COUNT(*) FROM envelopes e JOIN devices d ON d.pk = e.device_pk
             WHERE d.user_id = $1 AND d.device_id = $2",
            &[Arg::Text("bob"), Arg::Int(i64::from(laptop.m.device()))],
        )
        .await;
    assert_eq!(queued, 0, "nothing is queued for the revoked device");
    db.close().await;
    drop(b);
}
