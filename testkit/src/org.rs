//! An org created on a relay through its HTTP API, as a client creates it (docs/architecture.md
//! §2, §4), and devices registered on it: new users invited by the admin device, further
//! devices through the link flow.
//!
//! The records are built by the library ([`OrgEntry::genesis`], [`OrgEntry::admin_added`],
//! [`CreateInviteRequest::signed`], [`DeviceKeys`]); what is left here is the calls. The
//! devices have no prekeys: whoever needs them uploads them.

use anyhow::Context as _;
use parley_client::enrol::DeviceKeys;
use parley_client::relay::{Credentials, Relay, RelayError};
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_proto::api::{
    CreateInviteRequest, CreateLinkRequest, CreateOrgRequest, RegisterRequest,
};
use parley_proto::org::{InviteStatement, OrgEntry, sha256};
use parley_proto::{B64, DeviceId, UserId};

use crate::{now_secs, random_bytes};

/// The name every org created here gets.
pub const ORG_NAME: &str = "Acme";
/// The first admin's user id.
pub const ADMIN: &str = "admin";
/// How long an invite made here stays valid.
pub const INVITE_SECS: u64 = 3600;
/// How long a link code made here stays valid.
pub const LINK_SECS: u64 = 600;

/// A registered device: its keys and a client authenticated as it.
#[derive(Clone, Debug)]
pub struct Device {
    /// User.
    pub user: UserId,
    /// Device number.
    pub device: DeviceId,
    /// Identity.
    pub identity: IdentityKeyPair,
    /// Registration id (echoed when sending to it).
    pub registration_id: u32,
    /// A client authenticated as this device.
    pub relay: Relay,
}

impl Device {
    fn registered(relay: &Relay, user: &UserId, device: DeviceId, keys: DeviceKeys) -> Self {
        Self {
            user: user.clone(),
            device,
            relay: relay.with_credentials(Credentials {
                user: user.clone(),
                device,
                secret: keys.secret.to_vec(),
            }),
            identity: keys.identity,
            registration_id: keys.registration_id,
        }
    }
}

/// An org created on a relay, with its root key and its first admin device.
pub struct Org {
    /// An unauthenticated client of the relay.
    pub relay: Relay,
    /// The org root key.
    pub root: SigningKeyPair,
    /// Entry 0 of the org log.
    pub genesis: OrgEntry,
    /// The first admin: [`ADMIN`], device 1.
    pub admin: Device,
}

impl Org {
    /// The genesis of an org named [`ORG_NAME`] with `root`, and the entry that makes
    /// `admin_user`'s device 1 with `identity` its first admin, both signed now.
    pub fn entries(
        root: &SigningKeyPair,
        admin_user: &UserId,
        identity: &IdentityKeyPair,
    ) -> (OrgEntry, OrgEntry) {
        let now = now_secs();
        let genesis = OrgEntry::genesis(root, ORG_NAME, now);
        let signing_key = *identity.public().signing_key();
        let admin = OrgEntry::admin_added(root, &genesis, admin_user.clone(), 1, signing_key, now);
        (genesis, admin)
    }

    /// Creates the org on a relay that has none yet, with the relay's setup token, a fresh
    /// root key and [`ADMIN`] as its first admin.
    pub async fn create(relay: Relay, setup_token: &str) -> anyhow::Result<Self> {
        let root = SigningKeyPair::generate(&mut os_rng());
        let user = UserId::new(ADMIN)?;
        let keys = DeviceKeys::generate();
        let (genesis, admin) = Self::entries(&root, &user, &keys.identity);
        let req = CreateOrgRequest {
            setup_token: setup_token.to_owned(),
            genesis: B64(genesis.to_bytes()),
            admin: B64(admin.to_bytes()),
            user: user.clone(),
            device: keys.new_device(),
        };
        let reg = relay.create_org(&req).await.context("creating the org")?;
        let admin = Device::registered(&relay, &user, reg.device, keys);
        Ok(Self {
            relay,
            root,
            genesis,
            admin,
        })
    }

    /// Has the admin device register an invite for `user` (a new user, or a further device of
    /// an existing one); returns its code.
    pub async fn invite(&self, user: &UserId, new_user: bool) -> anyhow::Result<Vec<u8>> {
        let code = random_bytes::<32>()?.to_vec();
        let statement = InviteStatement {
            genesis_hash: self.genesis.hash(),
            code_hash: sha256(&code),
            user: user.clone(),
            new_user,
            expires_at: now_secs() + INVITE_SECS,
        };
        let req = CreateInviteRequest::signed(&statement, self.admin.identity.signing());
        self.admin
            .relay
            .create_invite(&req)
            .await
            .context("creating an invite")?;
        Ok(code)
    }

    /// Registers a new device of `user` with an invite or link code.
    pub async fn register(&self, user: &UserId, code: &[u8]) -> Result<Device, RelayError> {
        let keys = DeviceKeys::generate();
        let req = RegisterRequest {
            code: B64(code.to_vec()),
            user: user.clone(),
            device: keys.new_device(),
        };
        let reg = self.relay.register(&req).await?;
        Ok(Device::registered(&self.relay, user, reg.device, keys))
    }

    /// Invites a new user `name` and registers its first device.
    pub async fn join(&self, name: &str) -> anyhow::Result<Device> {
        let user = UserId::new(name)?;
        let code = self.invite(&user, true).await?;
        self.register(&user, &code).await.context("registering")
    }

    /// Registers a further device of `d`'s user with a link code created by `d`.
    pub async fn link(&self, d: &Device) -> anyhow::Result<Device> {
        let code = random_bytes::<32>()?.to_vec();
        let req = CreateLinkRequest {
            code_hash: B64(sha256(&code).to_vec()),
            expires_at: now_secs() + LINK_SECS,
        };
        d.relay
            .create_link(&req)
            .await
            .context("creating a link code")?;
        self.register(&d.user, &code)
            .await
            .context("registering a linked device")
    }
}
