//! A relay serving HTTPS with a self-signed certificate: the org is created with the
//! certificate's pin, invites carry it, and everything (API, delivery socket, files) goes
//! through TLS to exactly that certificate's key. A client whose invite pins another key
//! refuses the relay and keeps nothing; a certificate renewed with the same key keeps working,
//! so does one for the backup key the org pinned, and one for a key nobody pinned is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use parley_client::enrol;
use parley_client::messaging::Target;
use parley_e2e::{Org, Renewal, Server, profile, receive, texts};
use parley_proto::UserId;
use parley_proto::invite::{Invite, TlsPins};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_tls_end_to_end() {
    let mut server = Server::start_tls().await;
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let (org, alice) = Org::create(&server, "alice").await;
    let text = enrol::invite(
        alice.m.store(),
        &UserId::new("bob").unwrap(),
        profile("bob"),
        false,
    )
    .await
    .unwrap();
    let invite = Invite::from_text(&text).unwrap();
    assert_eq!(invite.tls_pins, server.pins, "the invite carries both pins");
    assert!(server.pins.unwrap().backup.is_some());

    // An invite altered to pin another certificate: the newcomer refuses the relay.
    let mut wrong = invite.clone();
    wrong.tls_pins = Some(TlsPins::new([7; 32]));
    let home = org.dir.path().join("mallory");
    let err = enrol::join(&home, org.keys(), &wrong.to_text())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach the relay"), "{err}");
    assert!(!parley_client::store::Store::database_path(&home).exists());

    let bob = org.join("bob.1", &text).await;
    alice
        .m
        .send_text(&Target::User(bob.user()), "over pinned TLS")
        .await
        .unwrap();
    assert_eq!(texts(&receive(&bob.m, 1).await), ["over pinned TLS"]);
    let file = org.dir.path().join("note.txt");
    std::fs::write(&file, b"file over TLS").unwrap();
    bob.m
        .send_file(&Target::User(alice.user()), &file, None, |_, _| {})
        .await
        .unwrap();
    let got = receive(&alice.m, 1).await;
    let saved = parley_client::files::download(
        alice.m.relay(),
        got[0].file().unwrap(),
        &org.dir.path().join("downloads"),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(saved).unwrap(), b"file over TLS");

    // The certificate is renewed with the same key: the pin still holds.
    server.renew_certificate(Renewal::SameKey);
    server.restart_in_place().await;
    alice
        .m
        .send_text(&Target::User(bob.user()), "after renewal")
        .await
        .unwrap();
    assert_eq!(texts(&receive(&bob.m, 1).await), ["after renewal"]);

    // The relay moves to the backup key: every device (the one that created the org and the
    // one that joined by invite) keeps working, and so does a device linked afterwards.
    server.renew_certificate(Renewal::BackupKey);
    server.restart_in_place().await;
    bob.m
        .send_text(&Target::User(alice.user()), "on the backup key")
        .await
        .unwrap();
    assert_eq!(texts(&receive(&alice.m, 1).await), ["on the backup key"]);
    let code = enrol::link(bob.m.store()).await.unwrap();
    assert_eq!(Invite::from_text(&code).unwrap().tls_pins, server.pins);
    let laptop = org.join("bob.2", &code).await;
    alice
        .m
        .send_text(&Target::User(bob.user()), "to both of bob's devices")
        .await
        .unwrap();
    assert_eq!(
        texts(&receive(&laptop.m, 1).await),
        ["to both of bob's devices"]
    );

    // A certificate for a key nobody pinned: refused, nothing sent.
    server.renew_certificate(Renewal::NewKey);
    server.restart_in_place().await;
    let err = alice
        .m
        .send_text(&Target::User(bob.user()), "to an impostor?")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach the relay"), "{err}");
}
