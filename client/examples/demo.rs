//! A walk through Parley on a running relay, using the client engine as every client does:
//! Alice creates the org, invites Bob, both publish prekeys, and they exchange end-to-end
//! encrypted messages (PQXDH + Double Ratchet) through the relay, which sees only ciphertext.
//! Each account is an encrypted store in a temporary folder. Run by `./run.sh`, which starts
//! the relay first.
//!
//! `cargo run -p parley-client --example demo -- <relay url> <setup token>`
#![allow(clippy::print_stdout)]

use anyhow::Context as _;
use parley_client::enrol;
use parley_client::messaging::{Event, Messenger, Target};
use parley_client::store::KeySource;
use parley_proto::UserId;

/// Waits for the next message and prints it.
async fn receive(name: &str, m: &Messenger) -> anyhow::Result<()> {
    let mut events = m.events().await?;
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .context("no message within 10 s")?
            .context("the relay closed the connection")??;
        if let Event::Message(msg) = event {
            let what = parley_client::messaging::describe(&msg.body).unwrap_or_default();
            match msg.group {
                Some(g) => println!(
                    "  {name} <- {} in #{}: {what:?}",
                    msg.from,
                    m.group(&g).await?.name
                ),
                None => println!("  {name} <- {}: {what:?}", msg.from),
            }
            events.close().await;
            return Ok(());
        }
    }
}

async fn send(name: &str, m: &Messenger, to: &UserId, text: &str) -> anyhow::Result<()> {
    m.send_text(&Target::User(to.clone()), text).await?;
    println!("  {name} -> {to}: {text:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8787".into());
    let token = args
        .next()
        .context("usage: demo <relay url> <setup token>")?;
    let health = parley_client::relay::Relay::new(url.clone()).health().await;
    println!(
        "Relay at {url}: {:?}",
        health.context("is parley-server running?")?
    );
    let dir = tempfile::tempdir()?;
    let keys = || KeySource::key_file_in(dir.path().join("keys"));
    let (alice_id, bob_id) = (UserId::new("alice")?, UserId::new("bob")?);

    println!(
        "\n1. Alice creates the org (its root key stays in her encrypted store) and becomes its first admin"
    );
    let home = dir.path().join("alice");
    let store = enrol::create_org(&home, keys(), &url, None, &token, &alice_id, "Acme").await?;
    let alice = Messenger::new(store).await?;
    println!(
        "  done; her store is {} (key file in {})",
        home.display(),
        dir.path().join("keys").display()
    );

    println!("\n2. Alice invites Bob; the relay stores only the hash of the invite code");
    let invite = enrol::invite(alice.store(), &bob_id, Some(profile("Bob")), false).await?;
    println!("  invite: {}…", invite.chars().take(40).collect::<String>());
    let bob = Messenger::new(enrol::join(&dir.path().join("bob"), keys(), &invite).await?).await?;
    println!(
        "  bob joined after checking the relay's org log against the invite; both published prekeys"
    );

    println!("\n3. End-to-end encrypted messages through the relay");
    send(
        "alice",
        &alice,
        &bob_id,
        "Hello Bob, the Q3 numbers are in the vault.",
    )
    .await?;
    receive("bob", &bob).await?;
    send("bob", &bob, &alice_id, "Thanks Alice, reading them now.").await?;
    receive("alice", &alice).await?;
    send(
        "alice",
        &alice,
        &bob_id,
        "Every message moves the ratchet forward.",
    )
    .await?;
    receive("bob", &bob).await?;

    println!(
        "\n4. A group: Alice invites Carol and creates #q3-review; each member's messages are encrypted once, under its sender key"
    );
    let carol_id = UserId::new("carol")?;
    let invite = enrol::invite(alice.store(), &carol_id, Some(profile("Carol")), false).await?;
    let carol =
        Messenger::new(enrol::join(&dir.path().join("carol"), keys(), &invite).await?).await?;
    let group = alice
        .create_group("q3-review", &[bob_id.clone(), carol_id.clone()])
        .await?;
    receive("bob", &bob).await?;
    receive("carol", &carol).await?;
    let text = "I'll present the numbers on Monday.";
    bob.send_text(&Target::Group(group), text).await?;
    println!("  bob -> #q3-review: {text:?}");
    receive("alice", &alice).await?;
    receive("carol", &carol).await?;

    // Acks travel on the socket; give the last one a moment to commit.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    println!("\nDone: the relay relayed ciphertext only. Its metrics:");
    let metrics = reqwest::get(format!("{url}/metrics")).await?.text().await?;
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("parley_") && !l.contains("errors"))
    {
        println!("  {line}");
    }
    Ok(())
}

/// A directory entry with a display name.
fn profile(name: &str) -> parley_proto::org::Profile {
    parley_proto::org::Profile {
        display_name: name.to_owned(),
        ..Default::default()
    }
}
