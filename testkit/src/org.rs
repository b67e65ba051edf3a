//! An org created on a relay through its HTTP API, as a client creates it (docs/architecture.md
//! §2, §4), and devices registered on it: new users invited by the admin device, further
//! devices through the link flow.
//!
//! The records are built by the library ([`first_entries`], [`OrgEntry::after`],
//! [`DeviceKeys`], [`VerifiedLog`]); what is left here is the calls. The devices have no
//! prekeys: whoever needs them uploads them.

use anyhow::Context as _;
use parley_client::enrol::{DeviceKeys, first_entries};
use parley_client::orglog::VerifiedLog;
use parley_client::relay::{Credentials, Relay, RelayError};
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_proto::api::{CreateOrgRequest, RegisterRequest};
use parley_proto::org::{OrgBody, OrgEntry, Profile};
use parley_proto::{B64, DeviceId, UserId};
use tokio::sync::Mutex;

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
            relay: relay
                .with_credentials(Credentials {
                    user: user.clone(),
                    device,
                    secret: keys.secret.clone(),
                })
                .with_log_key(keys.identity.signing()),
            identity: keys.identity,
            registration_id: keys.registration_id,
        }
    }
}

/// An org created on a relay, with its root key and its first admin device.
pub struct Org {
    /// A client of the relay without device credentials, reading the log with proofs by the
    /// root key.
    pub relay: Relay,
    /// The org root key.
    pub root: SigningKeyPair,
    /// Entry 0 of the org log.
    pub genesis: OrgEntry,
    /// The first admin: [`ADMIN`], device 1.
    pub admin: Device,
    /// The log as verified here; appends hold it, so they happen one at a time.
    log: Mutex<VerifiedLog>,
}

impl Org {
    /// The first entries of an org named [`ORG_NAME`] with `root`, whose first admin is
    /// `admin_user` with device 1 of `identity`, signed now.
    pub fn entries(
        root: &SigningKeyPair,
        admin_user: &UserId,
        identity: &IdentityKeyPair,
    ) -> Vec<OrgEntry> {
        let profile = Profile {
            display_name: admin_user.to_string(),
            ..Profile::default()
        };
        first_entries(
            root,
            ORG_NAME,
            admin_user,
            profile,
            identity.public(),
            now_secs(),
        )
    }

    /// Creates the org on a relay that has none yet, with the relay's setup token, a fresh
    /// root key and [`ADMIN`] as its first admin.
    pub async fn create(relay: Relay, setup_token: &str) -> anyhow::Result<Self> {
        let root = SigningKeyPair::generate(&mut os_rng());
        let user = UserId::new(ADMIN)?;
        let keys = DeviceKeys::generate();
        let entries = Self::entries(&root, &user, &keys.identity);
        let genesis = entries.first().context("no genesis")?.clone();
        let req = CreateOrgRequest {
            setup_token: setup_token.to_owned(),
            entries: entries.iter().map(|e| B64(e.to_bytes())).collect(),
            device: keys.storeless_device(),
        };
        let reg = relay.create_org(&req).await.context("creating the org")?;
        let relay = relay.with_log_key(&root);
        let admin = Device::registered(&relay, &user, reg.device, keys);
        let log = VerifiedLog::fetch(&relay, &genesis.hash())
            .await
            .context("verifying the org log")?;
        Ok(Self {
            relay,
            root,
            genesis,
            admin,
            log: Mutex::new(log),
        })
    }

    /// Appends `body`, signed by `key`, at the end of the log.
    pub async fn append(&self, body: OrgBody, key: &SigningKeyPair) -> anyhow::Result<OrgEntry> {
        let mut log = self.log.lock().await;
        log.sync(&self.relay).await.context("syncing the org log")?;
        let entry = log
            .append(&self.admin.relay, |s, now| {
                OrgEntry::after(&s.head(), body.clone(), key, now)
            })
            .await
            .context("appending to the org log")?;
        Ok(entry)
    }

    /// Has the admin device invite `user` (a new user, added to the directory first, or a
    /// further device of an existing one); returns the invite code (the seed of the invite
    /// key).
    pub async fn invite(&self, user: &UserId, new_user: bool) -> anyhow::Result<[u8; 32]> {
        let admin = self.admin.identity.signing();
        if new_user {
            let profile = Profile {
                display_name: user.to_string(),
                ..Profile::default()
            };
            let body = OrgBody::UserAdded {
                user: user.clone(),
                profile,
            };
            self.append(body, admin).await?;
        }
        self.issue(user, admin, INVITE_SECS).await
    }

    /// Has `key` (an admin's or a device of `user`) sign an `InviteIssued` for `user`.
    async fn issue(
        &self,
        user: &UserId,
        key: &SigningKeyPair,
        secs: u64,
    ) -> anyhow::Result<[u8; 32]> {
        let code = random_bytes::<32>()?;
        let body = OrgBody::InviteIssued {
            user: user.clone(),
            key: SigningKeyPair::from_seed(&code).public(),
            expires_at: now_secs() + secs,
        };
        self.append(body, key).await?;
        Ok(code)
    }

    /// Registers a new device of `user` with an invite or link code: a `DeviceAdded` entry
    /// signed by the code's key, at the end of the log.
    pub async fn register(&self, user: &UserId, code: &[u8; 32]) -> Result<Device, RelayError> {
        let keys = DeviceKeys::generate();
        let key = SigningKeyPair::from_seed(code);
        let mut log = self.log.lock().await;
        // A log that does not sync is the relay's fault here; the request below says how.
        let _ = log.sync(&self.relay).await;
        let body = OrgBody::DeviceAdded {
            user: user.clone(),
            device: log.state().next_device(user),
            identity: *keys.identity.public(),
        };
        let entry = OrgEntry::after(&log.state().head(), body, &key, now_secs());
        let req = RegisterRequest {
            entry: B64(entry.to_bytes()),
            device: keys.storeless_device(),
        };
        let reg = self.relay.register(&req).await?;
        let _ = log.sync(&self.relay).await;
        Ok(Device::registered(&self.relay, user, reg.device, keys))
    }

    /// Invites a new user `name` and registers its first device.
    pub async fn join(&self, name: &str) -> anyhow::Result<Device> {
        let user = UserId::new(name)?;
        let code = self.invite(&user, true).await?;
        self.register(&user, &code).await.context("registering")
    }

    /// Registers a further device of `d`'s user with a link code signed by `d`.
    pub async fn link(&self, d: &Device) -> anyhow::Result<Device> {
        let code = self.issue(&d.user, d.identity.signing(), LINK_SECS).await?;
        self.register(&d.user, &code)
            .await
            .context("registering a linked device")
    }
}
