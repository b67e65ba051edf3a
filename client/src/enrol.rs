//! Enrolment (docs/architecture.md §2, §4): creating the org on the first admin's device, inviting, and
//! joining with an invite. Each ends with an account in the encrypted local store and the
//! device's prekeys on the relay.
//!
//! A joining device checks the org log the relay serves against the genesis hash its invite
//! carries before it registers, so a relay cannot enrol it into another org.

use std::path::Path;

use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_crypto::prekeys::PreKeyStore;
use parley_proto::api::{
    CreateInviteRequest, CreateLinkRequest, CreateOrgRequest, NewDevice, PreKeyUpload,
    RegisterRequest,
};
use parley_proto::invite::Invite;
use parley_proto::org::{InviteStatement, OrgEntry, sha256, verify_log};
use parley_proto::{B64, UserId};
use rand_core::Rng as _;
use zeroize::Zeroizing;

use crate::error::Missing;
use crate::relay::{Credentials, Relay};
use crate::store::{Account, KeySource, Store};
use crate::{Error, Result};

/// One-time prekeys of each kind uploaded at enrolment.
pub const INITIAL_ONE_TIME_PREKEYS: usize = 50;
/// How long an invite stays valid.
pub const INVITE_VALIDITY_SECS: u64 = 7 * 24 * 60 * 60;
/// How long a device-link code stays valid.
pub const LINK_VALIDITY_SECS: u64 = 60 * 60;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    os_rng().fill_bytes(&mut out);
    out
}

/// A new device's keys for registering with the relay: its identity, the secret it
/// authenticates with and its registration id (no prekeys).
pub struct DeviceKeys {
    /// The device identity.
    pub identity: IdentityKeyPair,
    /// The 32-byte secret the device authenticates with.
    pub secret: Zeroizing<Vec<u8>>,
    /// The random 14-bit registration id.
    pub registration_id: u32,
}

impl DeviceKeys {
    /// Fresh keys.
    pub fn generate() -> Self {
        Self {
            identity: IdentityKeyPair::generate(&mut os_rng()),
            secret: Zeroizing::new(random::<32>().to_vec()),
            registration_id: u32::from_be_bytes(random::<4>()) & 0x3fff,
        }
    }

    /// The device as a registration request names it.
    pub fn new_device(&self) -> NewDevice {
        NewDevice {
            identity: B64(self.identity.public().to_bytes().to_vec()),
            secret: B64(self.secret.to_vec()),
            registration_id: self.registration_id,
        }
    }
}

/// A fresh device with its prekeys.
struct NewKeys {
    device: DeviceKeys,
    prekeys: PreKeyStore,
}

impl NewKeys {
    fn generate() -> Self {
        let device = DeviceKeys::generate();
        let prekeys = PreKeyStore::new(&device.identity, now_secs(), &mut os_rng());
        Self { device, prekeys }
    }
}

/// The relay client of an enrolled account.
pub fn relay_for(account: &Account) -> Result<Relay> {
    let user = UserId::new(account.user.clone())?;
    Ok(
        Relay::pinned(account.relay_url.clone(), account.relay_cert_fingerprint)?.with_credentials(
            Credentials {
                user,
                device: account.device,
                secret: account.credentials_secret.to_vec(),
            },
        ),
    )
}

/// Uploads a signed prekey, the last-resort KEM prekey and fresh one-time prekeys.
async fn publish_prekeys(relay: &Relay, keys: &mut NewKeys) -> Result<()> {
    let (ec, kem) = keys.prekeys.generate_one_time(
        &keys.device.identity,
        INITIAL_ONE_TIME_PREKEYS,
        &mut os_rng(),
    );
    let upload = PreKeyUpload {
        signed_prekey: keys.prekeys.signed_prekey().map(|k| B64(k.to_bytes())),
        last_resort_kem: keys
            .prekeys
            .last_resort_kem_prekey()
            .map(|k| B64(k.to_bytes())),
        one_time: ec.iter().map(|k| B64(k.to_bytes())).collect(),
        one_time_kem: kem.iter().map(|k| B64(k.to_bytes())).collect(),
        replace_one_time: true,
    };
    relay.upload_prekeys(&upload).await?;
    Ok(())
}

/// Saves a new account with its keys; the store must be new.
async fn save(
    store: &Store,
    account: &Account,
    keys: &NewKeys,
    root: Option<&SigningKeyPair>,
) -> Result<()> {
    let mut tx = store.begin().await?;
    tx.set_account(account).await?;
    tx.set_identity(&keys.device.identity).await?;
    tx.set_prekeys(&keys.prekeys).await?;
    if let Some(root) = root {
        tx.set_org_root(root).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Creates the org on a relay that has none yet, with this device as its first admin, and
/// the account in a new store at `home`. The org root key is generated here and kept only in
/// this device's store. With `tls_pin` (the SHA-256 of the relay's certificate, which
/// `parley-server` prints), the relay must present that certificate, now and in every
/// invite this org hands out.
pub async fn create_org(
    home: &Path,
    key_source: KeySource,
    relay_url: &str,
    tls_pin: Option<[u8; 32]>,
    setup_token: &str,
    user: &UserId,
    org_name: &str,
) -> Result<Store> {
    let relay = Relay::pinned(relay_url, tls_pin)?;
    let mut keys = NewKeys::generate();
    let root = SigningKeyPair::generate(&mut os_rng());
    let now = now_secs();
    let genesis = OrgEntry::genesis(&root, org_name, now);
    let signing_key = *keys.device.identity.public().signing_key();
    let admin = OrgEntry::admin_added(&root, &genesis, user.clone(), 1, signing_key, now);
    let store = Store::create(home, key_source, None).await?;
    let result = async {
        let req = CreateOrgRequest {
            setup_token: setup_token.to_owned(),
            genesis: B64(genesis.to_bytes()),
            admin: B64(admin.to_bytes()),
            user: user.clone(),
            device: keys.device.new_device(),
        };
        let reg = relay.create_org(&req).await?;
        let account = Account {
            user: user.to_string(),
            device: reg.device,
            credentials_secret: keys.device.secret.clone(),
            registration_id: keys.device.registration_id,
            relay_url: relay_url.to_owned(),
            relay_cert_fingerprint: tls_pin,
            org_genesis_hash: genesis.hash(),
        };
        publish_prekeys(&relay_for(&account)?, &mut keys).await?;
        save(&store, &account, &keys, Some(&root)).await
    }
    .await;
    finish(store, result).await
}

/// Wipes a store whose enrolment failed, so that `home` can be used again.
async fn finish(store: Store, result: Result<()>) -> Result<Store> {
    match result {
        Ok(()) => Ok(store),
        Err(e) => {
            let _ = store.wipe().await;
            Err(e)
        }
    }
}

/// Creates an invite for `user` (an admin's device only): the relay learns the hash of the
/// code; the returned text goes to the newcomer out of band.
pub async fn invite(store: &Store, user: &UserId, new_user: bool) -> Result<String> {
    let mut tx = store.begin().await?;
    let account = tx.account().await?.ok_or(Error::NotEnrolled)?;
    let identity = tx.identity().await?.ok_or(Missing::Identity)?;
    tx.commit().await?;
    let code = random::<32>();
    let statement = InviteStatement {
        genesis_hash: account.org_genesis_hash,
        code_hash: sha256(&code),
        user: user.clone(),
        new_user,
        expires_at: now_secs() + INVITE_VALIDITY_SECS,
    };
    let req = CreateInviteRequest::signed(&statement, identity.signing());
    relay_for(&account)?.create_invite(&req).await?;
    let invite = Invite {
        relay: account.relay_url.clone(),
        tls_pin: account.relay_cert_fingerprint,
        genesis_hash: account.org_genesis_hash,
        user: user.clone(),
        new_user,
        code,
    };
    Ok(invite.to_text())
}

/// Creates a link code for a further device of this account's user (valid one day); the
/// returned text is used with [`join`] on the new device.
pub async fn link(store: &Store) -> Result<String> {
    let mut tx = store.begin().await?;
    let account = tx.account().await?.ok_or(Error::NotEnrolled)?;
    tx.commit().await?;
    let code = random::<32>();
    let req = CreateLinkRequest {
        code_hash: B64(sha256(&code).to_vec()),
        expires_at: now_secs() + LINK_VALIDITY_SECS,
    };
    relay_for(&account)?.create_link(&req).await?;
    let invite = Invite {
        relay: account.relay_url.clone(),
        tls_pin: account.relay_cert_fingerprint,
        genesis_hash: account.org_genesis_hash,
        user: UserId::new(account.user.clone())?,
        new_user: false,
        code,
    };
    Ok(invite.to_text())
}

/// Joins with an invite: checks the relay's org log against the invite, registers a new
/// device, publishes its prekeys and saves the account in a new store at `home`.
pub async fn join(home: &Path, key_source: KeySource, invite_text: &str) -> Result<Store> {
    let invite = Invite::from_text(invite_text)?;
    let relay = Relay::pinned(invite.relay.clone(), invite.tls_pin)?;
    let log = relay.org_log().await?;
    let entries: Vec<Vec<u8>> = log.entries.into_iter().map(B64::into_inner).collect();
    verify_log(&entries, &invite.genesis_hash)?;
    let mut keys = NewKeys::generate();
    let store = Store::create(home, key_source, None).await?;
    let result = async {
        let req = RegisterRequest {
            code: B64(invite.code.to_vec()),
            user: invite.user.clone(),
            device: keys.device.new_device(),
        };
        let reg = relay.register(&req).await?;
        let account = Account {
            user: invite.user.to_string(),
            device: reg.device,
            credentials_secret: keys.device.secret.clone(),
            registration_id: keys.device.registration_id,
            relay_url: invite.relay.clone(),
            relay_cert_fingerprint: invite.tls_pin,
            org_genesis_hash: invite.genesis_hash,
        };
        publish_prekeys(&relay_for(&account)?, &mut keys).await?;
        save(&store, &account, &keys, None).await
    }
    .await;
    finish(store, result).await
}
