//! Enrolment (docs/architecture.md §2, §4): creating the org on the first admin's device, inviting, and
//! joining with an invite. Each ends with an account in the encrypted local store and the
//! device's prekeys on the relay.
//!
//! Every step is an org log entry (docs/architecture.md §2): the org's first entries are
//! signed by its root key; an invite is `UserAdded` and `InviteIssued` signed by an admin's
//! device; a link code is `InviteIssued` signed by a device of the same user; joining is a
//! `DeviceAdded` signed by the invite's one-time key, whose private half is the code in the
//! invite (the relay sees only the public half). A joining device verifies the whole log from
//! the genesis hash its invite carries before it registers, so a relay cannot enrol it into
//! another org, and keeps the verified log in its store.

use std::path::Path;

use parley_crypto::identity::{IdentityKeyPair, PublicIdentity};
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_crypto::prekeys::PreKeyStore;
use parley_proto::api::{CreateOrgRequest, NewDevice, PreKeyUpload};
use parley_proto::invite::{Invite, TlsPins};
use parley_proto::org::{OrgBody, OrgEntry, Profile, sha256};
use parley_proto::{B64, UserId};
use rand_core::Rng as _;
use zeroize::Zeroizing;

use crate::error::Missing;
use crate::orglog::{VerifiedLog, now_secs};
use crate::relay::{Credentials, Relay};
use crate::store::{Account, KeySource, Store};
use crate::{Error, Result};

/// One-time prekeys of each kind uploaded at enrolment.
pub const INITIAL_ONE_TIME_PREKEYS: usize = 50;
/// How long an invite stays valid.
pub const INVITE_VALIDITY_SECS: u64 = 7 * 24 * 60 * 60;
/// How long a device-link code stays valid.
pub const LINK_VALIDITY_SECS: u64 = 60 * 60;

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    os_rng().fill_bytes(&mut out);
    out
}

/// A new device's keys for registering with the relay: its identity, the secret it
/// authenticates with, its registration id and its store's remote secret (no prekeys).
pub struct DeviceKeys {
    /// The device identity.
    pub identity: IdentityKeyPair,
    /// The 32-byte secret the device authenticates with.
    pub secret: Zeroizing<Vec<u8>>,
    /// The random 14-bit registration id.
    pub registration_id: u32,
    /// The remote secret, half of the store key, which the relay keeps until revocation.
    pub remote_secret: Zeroizing<[u8; 32]>,
}

impl DeviceKeys {
    /// Fresh keys.
    pub fn generate() -> Self {
        Self {
            identity: IdentityKeyPair::generate(&mut os_rng()),
            secret: Zeroizing::new(random::<32>().to_vec()),
            registration_id: u32::from_be_bytes(random::<4>()) & 0x3fff,
            remote_secret: Zeroizing::new(random::<32>()),
        }
    }

    /// The device's secrets as a registration request carries them, with the token that will
    /// fetch the remote secret (its store's [`Store::unlock_token`]).
    pub fn new_device(&self, unlock_token: &[u8; 32]) -> NewDevice {
        NewDevice {
            secret: B64(self.secret.to_vec()),
            registration_id: self.registration_id,
            unlock_hash: B64(sha256(unlock_token).to_vec()),
            remote_secret: B64(self.remote_secret.to_vec()),
        }
    }

    /// The registration of a device that keeps no store (a load generator's, a test's): a
    /// random unlock token nobody keeps.
    pub fn storeless_device(&self) -> NewDevice {
        self.new_device(&random::<32>())
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

/// The relay client of an enrolled account, reading the org log with proofs by its device's
/// signing key (`identity`).
pub fn relay_for(account: &Account, identity: &IdentityKeyPair) -> Result<Relay> {
    let user = UserId::new(account.user.clone())?;
    Ok(Relay::pinned(account.relay_url.clone(), account.tls_pins)?
        .with_credentials(Credentials {
            user,
            device: account.device,
            secret: account.credentials_secret.clone(),
        })
        .with_log_key(identity.signing()))
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

/// Saves a new account with its keys and verified log; the store must be new.
async fn save(
    store: &Store,
    account: &Account,
    keys: &NewKeys,
    log: &VerifiedLog,
    root: Option<&SigningKeyPair>,
) -> Result<()> {
    crate::unlock::follow_policy(store, account, log.state()).await?;
    let mut tx = store.begin().await?;
    tx.set_account(account).await?;
    tx.set_identity(&keys.device.identity).await?;
    tx.set_prekeys(&keys.prekeys).await?;
    tx.set_org_state(log.state()).await?;
    tx.set_last_contact(now_secs()).await?;
    if let Some(root) = root {
        tx.set_org_root(root).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The first entries of a new org's log, all signed by the root key: the genesis, the first
/// admin as a user and as an admin, and their device 1.
pub fn first_entries(
    root: &SigningKeyPair,
    org_name: &str,
    user: &UserId,
    profile: Profile,
    identity: &PublicIdentity,
    now: u64,
) -> Vec<OrgEntry> {
    let genesis = OrgEntry::genesis(root, org_name, now);
    let mut head = genesis.head_after();
    let mut entries = vec![genesis];
    for body in [
        OrgBody::UserAdded {
            user: user.clone(),
            profile,
        },
        OrgBody::AdminAdded { user: user.clone() },
        OrgBody::DeviceAdded {
            user: user.clone(),
            device: 1,
            identity: *identity,
        },
    ] {
        let entry = OrgEntry::after(&head, body, root, now);
        head = entry.head_after();
        entries.push(entry);
    }
    entries
}

/// Creates the org on a relay that has none yet, with this device as its first admin, and
/// the account in a new store at `home`. The org root key is generated here and kept only in
/// this device's store. With `tls_pins` (the SHA-256 of the relay's public key, which
/// `parley-server` prints, and of a backup key), the relay must present a certificate for one
/// of those keys, now and in every invite this org hands out.
pub async fn create_org(
    home: &Path,
    key_source: KeySource,
    relay_url: &str,
    tls_pins: Option<TlsPins>,
    setup_token: &str,
    user: &UserId,
    org_name: &str,
) -> Result<Store> {
    let relay = Relay::pinned(relay_url, tls_pins)?;
    let mut keys = NewKeys::generate();
    let root = SigningKeyPair::generate(&mut os_rng());
    let profile = Profile {
        display_name: user.to_string(),
        ..Profile::default()
    };
    let entries = first_entries(
        &root,
        org_name,
        user,
        profile,
        keys.device.identity.public(),
        now_secs(),
    );
    let genesis_hash = entries.first().map(OrgEntry::hash).unwrap_or_default();
    let store = Store::create(home, key_source, Some(&keys.device.remote_secret)).await?;
    let result = async {
        let req = CreateOrgRequest {
            setup_token: setup_token.to_owned(),
            entries: entries.iter().map(|e| B64(e.to_bytes())).collect(),
            device: keys.device.new_device(store.unlock_token()),
        };
        let reg = relay.create_org(&req).await?;
        let account = Account {
            user: user.to_string(),
            device: reg.device,
            credentials_secret: keys.device.secret.clone(),
            registration_id: keys.device.registration_id,
            relay_url: relay_url.to_owned(),
            tls_pins,
            org_genesis_hash: genesis_hash,
        };
        let relay = relay_for(&account, &keys.device.identity)?;
        let log = VerifiedLog::fetch(&relay, &genesis_hash).await?;
        publish_prekeys(&relay, &mut keys).await?;
        save(&store, &account, &keys, &log, Some(&root)).await
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

/// The account's verified org log, brought up to date from the relay and saved.
pub(crate) async fn synced_log(store: &Store, relay: &Relay) -> Result<VerifiedLog> {
    let mut tx = store.begin().await?;
    let state = tx.org_state().await?.ok_or(Missing::OrgLog)?;
    tx.commit().await?;
    let mut log = VerifiedLog::from_state(state);
    log.sync(relay).await?;
    save_log(store, &log).await?;
    Ok(log)
}

/// Saves a verified log over the stored one, unless the stored one is further along (another
/// process synced meanwhile).
pub(crate) async fn save_log(store: &Store, log: &VerifiedLog) -> Result<()> {
    let mut tx = store.begin().await?;
    let stored = tx.org_state().await?;
    if stored.is_none_or(|s| s.head().len < log.state().head().len) {
        tx.set_org_state(log.state()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A new one-time invite or link key: the seed goes out in the invite's text, the public half
/// into an `InviteIssued` entry.
fn invite_key() -> ([u8; 32], SigningKeyPair) {
    let seed = random::<32>();
    (seed, SigningKeyPair::from_seed(&seed))
}

/// Creates an invite (an admin's device only): for a new user with `profile` (`None`: a
/// further device of the existing `user`), as an admin if `admin` (that needs the org root
/// key, on the device that created the org). Writes `UserAdded` (and `AdminAdded`) and an
/// `InviteIssued` entry; the returned text goes to the newcomer out of band. The relay sees
/// only the invite key's public half.
pub async fn invite(
    store: &Store,
    user: &UserId,
    profile: Option<Profile>,
    admin: bool,
) -> Result<String> {
    let new_user = profile.is_some();
    let mut tx = store.begin().await?;
    let account = tx.account().await?.ok_or(Error::NotEnrolled)?;
    let identity = tx.identity().await?.ok_or(Missing::Identity)?;
    let root = tx.org_root().await?;
    tx.commit().await?;
    let relay = relay_for(&account, &identity)?;
    let mut log = synced_log(store, &relay).await?;
    if !log.state().is_admin_key(&identity.signing().public()) {
        return Err(Error::NotAdmin);
    }
    let root = match (admin, root) {
        (true, None) => return Err(Error::NoRootKey),
        (_, root) => root,
    };
    let key = identity.signing();
    let result = async {
        if let Some(profile) = profile {
            let body = OrgBody::UserAdded {
                user: user.clone(),
                profile,
            };
            log.append(&relay, |s, now| {
                OrgEntry::after(&s.head(), body.clone(), key, now)
            })
            .await?;
        }
        if let (true, Some(root)) = (admin, &root) {
            let body = OrgBody::AdminAdded { user: user.clone() };
            log.append(&relay, |s, now| {
                OrgEntry::after(&s.head(), body.clone(), root, now)
            })
            .await?;
        }
        let (code, invite) = invite_key();
        let body = OrgBody::InviteIssued {
            user: user.clone(),
            key: invite.public(),
            expires_at: now_secs() + INVITE_VALIDITY_SECS,
        };
        log.append(&relay, |s, now| {
            OrgEntry::after(&s.head(), body.clone(), key, now)
        })
        .await?;
        Ok::<_, Error>(code)
    }
    .await;
    save_log(store, &log).await?;
    let code = result?;
    let invite = Invite {
        relay: account.relay_url.clone(),
        tls_pins: account.tls_pins,
        genesis_hash: account.org_genesis_hash,
        user: user.clone(),
        new_user,
        code,
    };
    Ok(invite.to_text())
}

/// Creates a link code for a further device of this account's user (valid one hour): this
/// device signs an `InviteIssued` entry for its own user. The returned text is used with
/// [`join`] on the new device.
pub async fn link(store: &Store) -> Result<String> {
    let mut tx = store.begin().await?;
    let account = tx.account().await?.ok_or(Error::NotEnrolled)?;
    let identity = tx.identity().await?.ok_or(Missing::Identity)?;
    tx.commit().await?;
    let relay = relay_for(&account, &identity)?;
    let user = UserId::new(account.user.clone())?;
    let mut log = synced_log(store, &relay).await?;
    let (code, key) = invite_key();
    let body = OrgBody::InviteIssued {
        user: user.clone(),
        key: key.public(),
        expires_at: now_secs() + LINK_VALIDITY_SECS,
    };
    let appended = log
        .append(&relay, |s, now| {
            OrgEntry::after(&s.head(), body.clone(), identity.signing(), now)
        })
        .await;
    save_log(store, &log).await?;
    appended?;
    let invite = Invite {
        relay: account.relay_url.clone(),
        tls_pins: account.tls_pins,
        genesis_hash: account.org_genesis_hash,
        user,
        new_user: false,
        code,
    };
    Ok(invite.to_text())
}

/// What an invite or link code leads to, read from the relay's verified org log before
/// joining: the app shows it so that the person sees whom they join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitePreview {
    /// The org's name, from its verified log.
    pub org_name: String,
    /// The relay's address.
    pub relay: String,
    /// Whether the relay's TLS key is pinned by the invite.
    pub pinned: bool,
    /// The user the invite enrols.
    pub user: UserId,
    /// The user's directory entry (their display name, title, department), as an admin signed it.
    pub profile: Profile,
    /// True for a new user's first device; false to link a further device.
    pub new_user: bool,
}

/// Reads an invite or link code and the org log it pins, without joining: fails as
/// [`join`] would if the invite is damaged, the log does not verify, or the invite is no
/// longer usable.
pub async fn preview(invite_text: &str) -> Result<InvitePreview> {
    let invite = Invite::from_text(invite_text)?;
    let key = SigningKeyPair::from_seed(&invite.code);
    let relay = Relay::pinned(invite.relay.clone(), invite.tls_pins)?.with_log_key(&key);
    let log = VerifiedLog::fetch(&relay, &invite.genesis_hash).await?;
    let state = log.state();
    if !state.invite_usable(&key.public(), &invite.user, now_secs()) {
        return Err(Error::InviteUnusable);
    }
    Ok(InvitePreview {
        org_name: state.name().to_owned(),
        relay: invite.relay,
        pinned: invite.tls_pins.is_some(),
        profile: state
            .user(&invite.user)
            .map(|u| u.profile.clone())
            .unwrap_or_default(),
        user: invite.user,
        new_user: invite.new_user,
    })
}

/// Makes room for a new device in `home` when the account there is over (docs/architecture.md
/// §5.4): signed out by an administrator, revoked in its own verified log, unopenable because
/// the relay deleted its remote secret, or left by an enrolment that stopped. Its keys were
/// destroyed or refused already; what is left (the sealed history, kept files) is erased as a
/// wipe erases it, the key first. An account still in use stays, and joining is refused
/// ([`crate::store::StoreError::AlreadyExists`]). Called only once the invite has verified.
async fn clear_departed(home: &Path, key_source: &KeySource) -> Result<()> {
    if !Store::database_path(home).exists() {
        return Ok(());
    }
    let store = match crate::unlock::open_store(home, key_source.clone()).await {
        Ok(store) => store,
        Err(Error::RemoteSecretGone) => {
            tracing::info!("the signed-out account here no longer opens: erasing it");
            return crate::wipe::erase_at(home, key_source).await;
        }
        Err(e) => return Err(e),
    };
    let mut tx = store.begin().await?;
    let signed_out = tx.signed_out().await?;
    let over = match (tx.account().await?, tx.org_state().await?) {
        (Some(account), Some(state)) => UserId::new(account.user)
            .ok()
            .and_then(|user| state.device(&user, account.device).copied())
            .is_some_and(|d| d.revoked.is_some()),
        (Some(_), None) => false,
        // An enrolment that stopped before it saved its account: nothing to keep.
        (None, _) => true,
    };
    tx.commit().await?;
    if signed_out || over {
        tracing::info!("erasing the signed-out account here before joining as a new device");
        crate::wipe::wipe_store(store).await
    } else {
        store.close().await;
        Err(crate::store::StoreError::AlreadyExists.into())
    }
}

/// Joins with an invite or link code: verifies the relay's org log from the genesis the
/// invite pins, checks that the log holds the invite for this user, registers a new device
/// with a `DeviceAdded` entry signed by the invite key, publishes its prekeys and saves the
/// account in a new store at `home`.
pub async fn join(home: &Path, key_source: KeySource, invite_text: &str) -> Result<Store> {
    let invite = Invite::from_text(invite_text)?;
    let key = SigningKeyPair::from_seed(&invite.code);
    let relay = Relay::pinned(invite.relay.clone(), invite.tls_pins)?.with_log_key(&key);
    let mut log = VerifiedLog::fetch(&relay, &invite.genesis_hash).await?;
    if !log
        .state()
        .invite_usable(&key.public(), &invite.user, now_secs())
    {
        return Err(Error::InviteUnusable);
    }
    clear_departed(home, &key_source).await?;
    let mut keys = NewKeys::generate();
    let store = Store::create(home, key_source, Some(&keys.device.remote_secret)).await?;
    let result = async {
        let identity = *keys.device.identity.public();
        let user = invite.user.clone();
        let reg = log
            .register(
                &relay,
                &keys.device.new_device(store.unlock_token()),
                |s, now| {
                    let body = OrgBody::DeviceAdded {
                        user: user.clone(),
                        device: s.next_device(&user),
                        identity,
                    };
                    OrgEntry::after(&s.head(), body, &key, now)
                },
            )
            .await?;
        let account = Account {
            user: invite.user.to_string(),
            device: reg.device,
            credentials_secret: keys.device.secret.clone(),
            registration_id: keys.device.registration_id,
            relay_url: invite.relay.clone(),
            tls_pins: invite.tls_pins,
            org_genesis_hash: invite.genesis_hash,
        };
        publish_prekeys(&relay_for(&account, &keys.device.identity)?, &mut keys).await?;
        save(&store, &account, &keys, &log, None).await
    }
    .await;
    finish(store, result).await
}
