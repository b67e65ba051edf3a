//! Creating the org on a fresh relay and registering devices (invites from the admin device,
//! further devices through the link flow), as a client does.

use std::sync::Arc;

use anyhow::Context as _;
use parley_client::relay::{Credentials, Relay};
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_proto::api::{
    CreateInviteRequest, CreateLinkRequest, CreateOrgRequest, NewDevice, RegisterRequest,
};
use parley_proto::org::{InviteStatement, OrgBody, OrgEntry, sha256};
use parley_proto::{B64, DeviceId, UserId};
use tokio::sync::Semaphore;

use crate::random_bytes;

/// A registered device.
#[derive(Clone, Debug)]
pub struct Device {
    /// User.
    pub user: UserId,
    /// Device number.
    pub device: DeviceId,
    /// Registration id (echoed when sending to it).
    pub registration_id: u32,
    /// A client authenticated as this device.
    pub relay: Relay,
}

/// The org with its first admin device.
pub struct Org {
    relay: Relay,
    genesis_hash: [u8; 32],
    admin_identity: IdentityKeyPair,
    admin: Device,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_device() -> anyhow::Result<(NewDevice, Vec<u8>)> {
    let identity = IdentityKeyPair::generate(&mut os_rng());
    let secret = random_bytes::<32>()?.to_vec();
    let registration_id = u32::from_be_bytes(random_bytes::<4>()?) & 0x3fff;
    let nd = NewDevice {
        identity: B64(identity.public().to_bytes().to_vec()),
        secret: B64(secret.clone()),
        registration_id,
    };
    Ok((nd, secret))
}

impl Org {
    /// Creates the org with the setup token; the admin is `admin` device 1.
    pub async fn create(relay: Relay, setup_token: &str) -> anyhow::Result<Self> {
        let root = SigningKeyPair::generate(&mut os_rng());
        let admin_user = UserId::new("admin")?;
        let identity = IdentityKeyPair::generate(&mut os_rng());
        let secret = random_bytes::<32>()?.to_vec();
        let nd = NewDevice {
            identity: B64(identity.public().to_bytes().to_vec()),
            secret: B64(secret.clone()),
            registration_id: 1,
        };
        let body = OrgBody::OrgCreated {
            root_key: root.public(),
            name: "Loadgen".into(),
        };
        let genesis = OrgEntry::sign(0, [0; 32], now_secs(), body, root.public(), |m| {
            root.sign(m)
        });
        let body = OrgBody::AdminAdded {
            user: admin_user.clone(),
            device: 1,
            signing_key: *identity.public().signing_key(),
        };
        let admin_entry = OrgEntry::sign(1, genesis.hash(), now_secs(), body, root.public(), |m| {
            root.sign(m)
        });
        let req = CreateOrgRequest {
            setup_token: setup_token.to_owned(),
            genesis: B64(genesis.to_bytes()),
            admin: B64(admin_entry.to_bytes()),
            user: admin_user.clone(),
            device: nd.clone(),
        };
        let reg = relay.create_org(&req).await.context("creating the org")?;
        let admin = Device {
            user: admin_user.clone(),
            device: reg.device,
            registration_id: nd.registration_id,
            relay: relay.with_credentials(Credentials {
                user: admin_user,
                device: reg.device,
                secret,
            }),
        };
        Ok(Self {
            relay,
            genesis_hash: genesis.hash(),
            admin_identity: identity,
            admin,
        })
    }

    async fn register(&self, user: &UserId, code: &[u8]) -> anyhow::Result<Device> {
        let (nd, secret) = new_device()?;
        let req = RegisterRequest {
            code: B64(code.to_vec()),
            user: user.clone(),
            device: nd.clone(),
        };
        let reg = self.relay.register(&req).await.context("registering")?;
        Ok(Device {
            user: user.clone(),
            device: reg.device,
            registration_id: nd.registration_id,
            relay: self.relay.with_credentials(Credentials {
                user: user.clone(),
                device: reg.device,
                secret,
            }),
        })
    }

    /// Invites a new user (signed by the admin) and registers its first device.
    pub async fn join(&self, name: &str) -> anyhow::Result<Device> {
        let user = UserId::new(name)?;
        let code = random_bytes::<32>()?.to_vec();
        let st = InviteStatement {
            genesis_hash: self.genesis_hash,
            code_hash: sha256(&code),
            user: user.clone(),
            new_user: true,
            expires_at: now_secs() + 3600,
        };
        let sig = self.admin_identity.sign(&st.signed_bytes());
        let req = CreateInviteRequest {
            code_hash: B64(st.code_hash.to_vec()),
            user: user.clone(),
            new_user: true,
            expires_at: st.expires_at,
            signature: B64(sig.0.to_vec()),
        };
        self.admin
            .relay
            .create_invite(&req)
            .await
            .context("creating an invite")?;
        self.register(&user, &code).await
    }

    /// Registers a further device of `d`'s user with a link code created by `d`.
    pub async fn link(&self, d: &Device) -> anyhow::Result<Device> {
        let code = random_bytes::<32>()?.to_vec();
        let req = CreateLinkRequest {
            code_hash: B64(sha256(&code).to_vec()),
            expires_at: now_secs() + 600,
        };
        d.relay
            .create_link(&req)
            .await
            .context("creating a link code")?;
        self.register(&d.user, &code).await
    }
}

/// Registers `users` users named `{prefix}{i}` with `devices_per_user` devices each
/// (`parallel` registrations at a time). Returns them grouped by user.
pub async fn register_users(
    org: &Arc<Org>,
    prefix: &str,
    users: usize,
    devices_per_user: usize,
    parallel: usize,
) -> anyhow::Result<Vec<Vec<Device>>> {
    let sem = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = Vec::with_capacity(users);
    for i in 0..users {
        let org = org.clone();
        let sem = sem.clone();
        let name = format!("{prefix}{i}");
        tasks.push(tokio::spawn(async move {
            let mut devices = Vec::with_capacity(devices_per_user);
            let first = {
                let _permit = sem.acquire().await?;
                org.join(&name).await?
            };
            devices.push(first.clone());
            for _ in 1..devices_per_user {
                let _permit = sem.acquire().await?;
                devices.push(org.link(&first).await?);
            }
            anyhow::Ok(devices)
        }));
    }
    let mut out = Vec::with_capacity(users);
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}
