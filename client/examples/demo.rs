//! A walk through Parley on a running relay: create the org, enrol Alice and Bob, publish
//! prekeys, and exchange end-to-end encrypted messages (PQXDH + Double Ratchet) through the
//! relay, which sees only ciphertext. Run by `./run.sh`, which starts the relay first.
//!
//! `cargo run -p parley-client --example demo -- <relay url> <setup token>`
#![allow(clippy::print_stdout, clippy::indexing_slicing)]

use anyhow::{Context as _, bail};
use parley_client::relay::{Credentials, Delivery, Relay};
use parley_crypto::DeviceAddress;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::{
    KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle, PreKeyStore, SignedPreKeyPublic,
};
use parley_crypto::session_record::{LocalDevice, SessionRecord};
use parley_proto::api::{
    CreateInviteRequest, CreateOrgRequest, NewDevice, OutgoingEnvelope, PreKeyUpload,
    RegisterRequest, SendRequest,
};
use parley_proto::org::{InviteStatement, OrgBody, OrgEntry, sha256};
use parley_proto::ws::ServerFrame;
use parley_proto::{B64, UserId};

struct Person {
    address: DeviceAddress,
    identity: IdentityKeyPair,
    prekeys: PreKeyStore,
    relay: Relay,
    sessions: std::collections::HashMap<DeviceAddress, SessionRecord>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random<const N: usize>() -> [u8; N] {
    use rand_core::Rng as _;
    let mut out = [0u8; N];
    os_rng().fill_bytes(&mut out);
    out
}

/// A new device's identity, registration request, secret and prekeys.
type DeviceParts = (IdentityKeyPair, NewDevice, Vec<u8>, PreKeyStore);

fn new_device(name: &str) -> anyhow::Result<DeviceParts> {
    let identity = IdentityKeyPair::generate(&mut os_rng());
    let prekeys = PreKeyStore::new(&identity, now(), &mut os_rng());
    let secret = random::<32>().to_vec();
    let nd = NewDevice {
        identity: B64(identity.public().to_bytes().to_vec()),
        secret: B64(secret.clone()),
        registration_id: u32::from_be_bytes(random::<4>()) & 0x3fff,
    };
    println!(
        "  {name}: new device identity, signing key {}…",
        hex(&identity.public().signing_key().to_bytes()[..8])
    );
    Ok((identity, nd, secret, prekeys))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Person {
    fn new(user: &UserId, relay: &Relay, parts: DeviceParts, device: u32) -> anyhow::Result<Self> {
        let (identity, _, secret, prekeys) = parts;
        Ok(Self {
            address: DeviceAddress::new(user.as_str(), device)?,
            identity,
            prekeys,
            relay: relay.with_credentials(Credentials {
                user: user.clone(),
                device,
                secret,
            }),
            sessions: Default::default(),
        })
    }

    async fn publish_prekeys(&mut self) -> anyhow::Result<()> {
        let (ec, kem) = self
            .prekeys
            .generate_one_time(&self.identity, 10, &mut os_rng());
        let upload = PreKeyUpload {
            signed_prekey: self.prekeys.signed_prekey().map(|k| B64(k.to_bytes())),
            last_resort_kem: self
                .prekeys
                .last_resort_kem_prekey()
                .map(|k| B64(k.to_bytes())),
            one_time: ec.iter().map(|k| B64(k.to_bytes())).collect(),
            one_time_kem: kem.iter().map(|k| B64(k.to_bytes())).collect(),
            replace_one_time: true,
        };
        let count = self.relay.upload_prekeys(&upload).await?;
        println!(
            "  {}: published prekeys ({} one-time X25519, {} one-time ML-KEM-1024)",
            self.address.user(),
            count.one_time,
            count.one_time_kem
        );
        Ok(())
    }

    async fn send(&mut self, to: &UserId, text: &str) -> anyhow::Result<()> {
        let devices = self.relay.devices(to).await?;
        let mut messages = Vec::new();
        for d in &devices.devices {
            let addr = DeviceAddress::new(to.as_str(), d.device)?;
            if !self.sessions.contains_key(&addr) {
                let bundles = self.relay.claim_prekeys(to, Some(d.device)).await?;
                let b = bundles.devices.first().context("no prekeys")?;
                let identity = parley_crypto::identity::PublicIdentity::from_bytes(&b.identity.0)?;
                let kem = match &b.one_time_kem {
                    Some(k) => KemPreKeyPublic::from_bytes(&k.0)?,
                    None => KemPreKeyPublic::from_bytes(&b.last_resort_kem.0)?,
                };
                let one_time = b
                    .one_time
                    .as_ref()
                    .map(|k| OneTimePreKeyPublic::from_bytes(&k.0))
                    .transpose()?;
                let bundle = PreKeyBundle::new(
                    identity,
                    SignedPreKeyPublic::from_bytes(&b.signed_prekey.0)?,
                    kem,
                    one_time,
                );
                let mut record = SessionRecord::new();
                record.initiate(&self.address, &addr, &self.identity, &bundle, &mut os_rng())?;
                println!(
                    "  {}: PQXDH session set up with {}.{} from its verified prekey bundle",
                    self.address.user(),
                    to,
                    d.device
                );
                self.sessions.insert(addr.clone(), record);
            }
            let record = self.sessions.get_mut(&addr).context("session")?;
            let wire = record.encrypt(text.as_bytes())?.to_bytes();
            messages.push(OutgoingEnvelope {
                device: d.device,
                registration_id: d.registration_id,
                body: B64(wire),
            });
        }
        let n = messages.iter().map(|m| m.body.0.len()).sum::<usize>();
        self.relay.send(to, &SendRequest { messages }).await?;
        println!(
            "  {} -> {}: {text:?} (the relay stores {n} bytes of ciphertext)",
            self.address.user(),
            to
        );
        Ok(())
    }

    async fn receive(&mut self, ws: &mut Delivery) -> anyhow::Result<String> {
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
                .await
                .context("no message within 10 s")?
                .context("socket closed")??;
            let env = match frame {
                ServerFrame::Envelope(e) => e,
                ServerFrame::QueueEmpty => continue,
                ServerFrame::Closing { reason } => bail!("closed: {reason}"),
            };
            let from = DeviceAddress::new(env.source_user.as_str(), env.source_device)?;
            let message = SessionMessage::from_bytes(&env.body.0)?;
            let record = self.sessions.entry(from.clone()).or_default();
            let local = LocalDevice {
                address: &self.address,
                identity: &self.identity,
                prekeys: &mut self.prekeys,
            };
            // A real client checks the sender's identity against the verified org log.
            let decrypted =
                record.decrypt(local, &from, &message, |_| true, now(), &mut os_rng())?;
            ws.ack(vec![env.id]).await?;
            let text = String::from_utf8_lossy(&decrypted.plaintext).into_owned();
            println!("  {} <- {}: {text:?}", self.address.user(), from.user());
            return Ok(text);
        }
    }
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
    let relay = Relay::new(url.clone());
    println!(
        "Relay at {url}: {:?}",
        relay.health().await.context("is parley-server running?")?
    );

    println!(
        "\n1. Alice creates the org (its root key stays on her device) and becomes its first admin"
    );
    let root = SigningKeyPair::generate(&mut os_rng());
    let alice_id = UserId::new("alice")?;
    let parts = new_device("alice")?;
    let genesis = OrgEntry::sign(
        0,
        [0; 32],
        now(),
        OrgBody::OrgCreated {
            root_key: root.public(),
            name: "Acme".into(),
        },
        root.public(),
        |m| root.sign(m),
    );
    let admin = OrgEntry::sign(
        1,
        genesis.hash(),
        now(),
        OrgBody::AdminAdded {
            user: alice_id.clone(),
            device: 1,
            signing_key: *parts.0.public().signing_key(),
        },
        root.public(),
        |m| root.sign(m),
    );
    relay
        .create_org(&CreateOrgRequest {
            setup_token: token,
            genesis: B64(genesis.to_bytes()),
            admin: B64(admin.to_bytes()),
            user: alice_id.clone(),
            device: parts.1.clone(),
        })
        .await?;
    println!("  org created; genesis hash {}", hex(&genesis.hash()));
    let mut alice = Person::new(&alice_id, &relay, parts, 1)?;

    println!("\n2. Alice invites Bob; the relay stores only the hash of the invite code");
    let bob_id = UserId::new("bob")?;
    let code = random::<32>();
    let st = InviteStatement {
        genesis_hash: genesis.hash(),
        code_hash: sha256(&code),
        user: bob_id.clone(),
        new_user: true,
        expires_at: now() + 3600,
    };
    let signature = B64(alice.identity.sign(&st.signed_bytes()).0.to_vec());
    alice
        .relay
        .create_invite(&CreateInviteRequest {
            code_hash: B64(st.code_hash.to_vec()),
            user: bob_id.clone(),
            new_user: true,
            expires_at: st.expires_at,
            signature,
        })
        .await?;
    let parts = new_device("bob")?;
    let reg = relay
        .register(&RegisterRequest {
            code: B64(code.to_vec()),
            user: bob_id.clone(),
            device: parts.1.clone(),
        })
        .await?;
    let mut bob = Person::new(&bob_id, &relay, parts, reg.device)?;
    println!("  bob joined as device {}", reg.device);

    println!("\n3. Both publish signed prekeys");
    alice.publish_prekeys().await?;
    bob.publish_prekeys().await?;

    println!("\n4. End-to-end encrypted messages through the relay");
    let mut bob_ws = bob.relay.connect().await?;
    let mut alice_ws = alice.relay.connect().await?;
    alice
        .send(&bob_id, "Hello Bob, the Q3 numbers are in the vault.")
        .await?;
    bob.receive(&mut bob_ws).await?;
    bob.send(&alice_id, "Thanks Alice, reading them now.")
        .await?;
    alice.receive(&mut alice_ws).await?;
    alice
        .send(&bob_id, "Every message moves the ratchet forward.")
        .await?;
    bob.receive(&mut bob_ws).await?;

    // Acks travel on the socket; give the last one a moment to commit.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    println!("\nDone: the relay relayed ciphertext only. Its metrics:");
    let metrics = reqwest_metrics(&url).await?;
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("parley_") && !l.contains("errors"))
    {
        println!("  {line}");
    }
    Ok(())
}

async fn reqwest_metrics(url: &str) -> anyhow::Result<String> {
    let body = reqwest::get(format!("{url}/metrics")).await?.text().await?;
    Ok(body)
}
