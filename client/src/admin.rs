//! Admin controls (docs/architecture.md §2, §5): each is an org log entry signed by this
//! device (or, to appoint or remove admins, by the org root key this device holds), checked
//! against the verified log before it is sent, and applied by every client when the log
//! reaches it. The CLI's `parley admin …` and the app's admin console call these.
//!
//! Also the views an admin (or anyone) reads from the verified log: a user's devices and the
//! audit trail, which is the whole log fetched again and verified from the genesis.

use std::sync::Arc;

use parley_crypto::fingerprint::SafetyNumber;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_crypto::recovery::RootKeyFile;
use parley_proto::org::{
    DeviceRecord, OrgBody, OrgEntry, OrgState, Policy, Profile, RevokeReason, UserRecord,
};
use parley_proto::{DeviceId, UserId};

use crate::enrol::save_log;
use crate::error::{Error, Result, TrustFailure};
use crate::messaging::Messenger;
use crate::orglog::VerifiedLog;

/// One entry of the audit trail, with who signed it as the log knew them then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log.
    pub seq: u64,
    /// When it was signed, seconds since the Unix epoch (the signer's clock, checked by the
    /// relay to within 10 minutes of its own).
    pub timestamp: u64,
    /// What it says.
    pub body: OrgBody,
    /// Who signed it.
    pub signer: Signer,
}

/// Who signed an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The org root key.
    Root,
    /// A device of a user.
    Device {
        /// The user.
        user: UserId,
        /// The device.
        device: DeviceId,
    },
    /// A one-time invite or link key (the device it added signed with it).
    InviteKey,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Root => f.write_str("the org root key"),
            Self::Device { user, device } => write!(f, "{user}.{device}"),
            Self::InviteKey => f.write_str("an invite key"),
        }
    }
}

/// A blocking task (the Argon2id derivation) that panicked or was cancelled.
fn task_failed() -> Error {
    Error::File {
        op: crate::error::FileOp::Task,
        kind: std::io::ErrorKind::Other,
    }
}

impl Messenger {
    /// Appends `body`, signed by this device's key or, for `AdminAdded`/`AdminRemoved`, by the
    /// org root key (which only the device that created the org holds, unless it was exported
    /// and removed). Refused here, before anything is sent, if the verified log says this
    /// device may not sign it.
    pub async fn admin_append(&self, body: OrgBody) -> Result<OrgEntry> {
        self.append_signed(body, None).await
    }

    /// [`Messenger::admin_append`] with the root key given (`root`, opened from its recovery
    /// file) rather than read from the store.
    async fn append_signed(
        &self,
        body: OrgBody,
        root: Option<&SigningKeyPair>,
    ) -> Result<OrgEntry> {
        let identity = self.identity();
        let mut tx = self.store().begin().await?;
        let stored_root = match root {
            Some(_) => None,
            None => tx.org_root().await?,
        };
        let state = self.stored_log(&mut tx).await?;
        tx.commit().await?;
        let needs_root = matches!(
            body,
            OrgBody::AdminAdded { .. } | OrgBody::AdminRemoved { .. }
        );
        let key: SigningKeyPair = match (needs_root, root.cloned().or(stored_root)) {
            (true, Some(root)) => root,
            (true, None) => return Err(Error::NoRootKey),
            (false, _) => identity.signing().clone(),
        };
        let mut log = VerifiedLog::from_state(state);
        let mut new = log.sync(self.relay()).await?;
        let own = matches!(
            &body,
            OrgBody::DeviceRevoked { user, .. } | OrgBody::InviteIssued { user, .. }
                if user.as_str() == self.user()
        );
        if !needs_root && !own && !log.state().is_admin_key(&key.public()) {
            return Err(Error::NotAdmin);
        }
        let appended = log
            .append(self.relay(), |s, now| {
                OrgEntry::after(&s.head(), body.clone(), &key, now)
            })
            .await;
        save_log(self.store(), &log).await?;
        self.forget_log_caches();
        let entry = appended?;
        // The contacts of the users it (and what came before it) names follow at once.
        new.push(entry.clone());
        let _ = self.follow_log(log.state(), &new).await?;
        tracing::info!(
            kind = entry.body.kind_name(),
            seq = entry.seq,
            "org log entry appended"
        );
        Ok(entry)
    }

    /// Revokes `user`'s `device`: the relay drops its credentials, queue and prekeys and
    /// closes its sockets; every client stops encrypting to it and rotates its group keys.
    /// An admin may revoke any device; a user may revoke their own other devices.
    pub async fn revoke_device(
        &self,
        user: &UserId,
        device: DeviceId,
        reason: RevokeReason,
    ) -> Result<OrgEntry> {
        self.admin_append(OrgBody::DeviceRevoked {
            user: user.clone(),
            device,
            reason,
        })
        .await
    }

    /// Dismisses `user`: every device revoked and the user out of the directory, in one
    /// signed entry.
    pub async fn dismiss_user(&self, user: &UserId) -> Result<OrgEntry> {
        self.admin_append(OrgBody::UserDismissed { user: user.clone() })
            .await
    }

    /// Replaces `user`'s directory entry.
    pub async fn update_user(&self, user: &UserId, profile: Profile) -> Result<OrgEntry> {
        self.admin_append(OrgBody::UserUpdated {
            user: user.clone(),
            profile,
        })
        .await
    }

    /// Orders `user`'s `device` to wipe itself (docs/architecture.md §5.2): it obeys when it
    /// next reads the log and signs a receipt (`WipeDone`) that every client can verify.
    pub async fn order_wipe(&self, user: &UserId, device: DeviceId) -> Result<OrgEntry> {
        self.admin_append(OrgBody::WipeOrdered {
            user: user.clone(),
            device,
        })
        .await
    }

    /// Appoints `user` to post in the company channel beside the admins (`poster`), or ends
    /// the appointment.
    pub async fn set_poster(&self, user: &UserId, poster: bool) -> Result<OrgEntry> {
        self.admin_append(OrgBody::PosterSet {
            user: user.clone(),
            poster,
        })
        .await
    }

    /// Sets the org's policy.
    pub async fn set_policy(&self, policy: Policy) -> Result<OrgEntry> {
        self.admin_append(OrgBody::PolicySet { policy }).await
    }

    /// Makes `user` an admin, signed by the org root key: `root` (opened from its recovery
    /// file, [`Messenger::open_root_key`]) or else the one in this device's store.
    pub async fn appoint_admin(
        &self,
        user: &UserId,
        root: Option<&SigningKeyPair>,
    ) -> Result<OrgEntry> {
        self.append_signed(OrgBody::AdminAdded { user: user.clone() }, root)
            .await
    }

    /// Takes `user`'s admin rights away, signed by the org root key (as for
    /// [`Messenger::appoint_admin`]).
    pub async fn remove_admin(
        &self,
        user: &UserId,
        root: Option<&SigningKeyPair>,
    ) -> Result<OrgEntry> {
        self.append_signed(OrgBody::AdminRemoved { user: user.clone() }, root)
            .await
    }

    /// Seals the org root key this device holds into a recovery file under `passphrase`
    /// (Argon2id and AES-256-GCM, docs/architecture.md §2.1). The key stays in the store
    /// until [`Messenger::remove_root_key`].
    pub async fn export_root_key(&self, passphrase: &str) -> Result<RootKeyFile> {
        let mut tx = self.store().begin().await?;
        let root = tx.org_root().await?.ok_or(Error::NoRootKey)?;
        tx.commit().await?;
        let genesis = self.account.org_genesis_hash;
        let file = tokio::task::spawn_blocking({
            let passphrase = zeroize::Zeroizing::new(passphrase.to_owned());
            move || RootKeyFile::seal(&root.seed(), &genesis, &passphrase, &mut os_rng())
        })
        .await
        .map_err(|_| task_failed())??;
        Ok(file)
    }

    /// Opens a root key recovery file with `passphrase`, and checks that the key is this
    /// org's root key (the one the verified log's genesis names).
    pub async fn open_root_key(
        &self,
        file: &RootKeyFile,
        passphrase: &str,
    ) -> Result<SigningKeyPair> {
        if file.genesis_hash() != self.account.org_genesis_hash {
            return Err(Error::ForeignRootKey);
        }
        let seed = tokio::task::spawn_blocking({
            let file = file.clone();
            let passphrase = zeroize::Zeroizing::new(passphrase.to_owned());
            move || file.open(&passphrase)
        })
        .await
        .map_err(|_| task_failed())??;
        let root = SigningKeyPair::from_seed(&seed);
        if root.public() != *self.org().await?.root_key() {
            return Err(Error::ForeignRootKey);
        }
        Ok(root)
    }

    /// Puts the root key from a recovery file into this device's store (the device becomes
    /// one that can appoint admins without the file).
    pub async fn import_root_key(&self, file: &RootKeyFile, passphrase: &str) -> Result<()> {
        let root = self.open_root_key(file, passphrase).await?;
        let mut tx = self.store().begin().await?;
        tx.set_org_root(&root).await?;
        tx.commit().await?;
        tracing::info!("org root key imported");
        Ok(())
    }

    /// Deletes the org root key from this device's store, once it is kept elsewhere (a
    /// recovery file checked with `file` and `passphrase`, which must open to the same key):
    /// from then on appointing admins needs the file.
    pub async fn remove_root_key(&self, file: &RootKeyFile, passphrase: &str) -> Result<()> {
        let from_file = self.open_root_key(file, passphrase).await?;
        let mut tx = self.store().begin().await?;
        let stored = tx.org_root().await?.ok_or(Error::NoRootKey)?;
        if stored.public() != from_file.public() {
            return Err(Error::ForeignRootKey);
        }
        tx.delete_org_root().await?;
        tx.commit().await?;
        tracing::info!("org root key removed from this device");
        Ok(())
    }

    /// Whether this device's store holds the org root key.
    pub async fn holds_root_key(&self) -> Result<bool> {
        let mut tx = self.store().begin().await?;
        let root = tx.org_root().await?;
        tx.commit().await?;
        Ok(root.is_some())
    }

    /// The safety number between this user and `user` (docs/architecture.md §3): computed
    /// from both users' active device keys as the verified log lists them, so it changes
    /// whenever either adds or loses a device. Colleagues need not compare it (the log
    /// certifies their keys); it is there for those who want to check by hand.
    pub async fn safety_number(&self, user: &UserId) -> Result<SafetyNumber> {
        let org = self.org().await?;
        let keys = |u: &UserId| -> Result<Vec<_>> {
            let record = org
                .user(u)
                .filter(|r| !r.dismissed)
                .ok_or(Error::NoSuchUser)?;
            Ok(record
                .active_devices()
                .map(|(_, d)| *d.identity.signing_key())
                .collect())
        };
        let me = UserId::new(self.user())?;
        SafetyNumber::new(
            me.as_str().as_bytes(),
            &keys(&me)?,
            user.as_str().as_bytes(),
            &keys(user)?,
        )
        .map_err(|_| Error::NoSuchUser)
    }

    /// The verified log, brought up to date.
    pub async fn org(&self) -> Result<Arc<OrgState>> {
        self.sync_org().await?;
        self.verified_org().await
    }

    /// The verified log as this device last stored it, without asking the relay: for an
    /// application whose event stream brings it up to date whenever the relay says it grew.
    /// Decoded once per log head, then shared.
    pub async fn verified_org(&self) -> Result<Arc<OrgState>> {
        let mut tx = self.store().begin().await?;
        let state = self.stored_log(&mut tx).await?;
        tx.commit().await?;
        Ok(state)
    }

    /// `user`'s entry in the verified log (brought up to date): directory entry, role, and
    /// every device it ever had.
    pub async fn org_user(&self, user: &UserId) -> Result<UserRecord> {
        self.org()
            .await?
            .user(user)
            .cloned()
            .ok_or(Error::NoSuchUser)
    }

    /// `user`'s devices as the verified log lists them (revoked ones included, marked).
    pub async fn org_devices(&self, user: &UserId) -> Result<Vec<(DeviceId, DeviceRecord)>> {
        Ok(self.org_user(user).await?.devices.into_iter().collect())
    }

    /// The audit trail: the whole log fetched from the relay and verified again from the
    /// genesis this account pinned, each entry with its signer. A log that does not extend the
    /// one this device verified before is a [`TrustFailure`].
    pub async fn audit(&self) -> Result<Vec<AuditEntry>> {
        let mut tx = self.store().begin().await?;
        let known = self.stored_log(&mut tx).await?.head();
        tx.commit().await?;
        let pinned = self.account.org_genesis_hash;
        let mut entries = Vec::new();
        let mut state: Option<OrgState> = None;
        let mut since = 0;
        loop {
            let page = self.relay().org_log(since).await?;
            if page.len < known.len {
                return Err(TrustFailure::LogRollback.into());
            }
            if page.entries.is_empty() {
                break;
            }
            for bytes in &page.entries {
                let entry = OrgEntry::from_bytes(bytes.as_bytes())?;
                // The entry this device verified last must be the very same one.
                if entry.seq.saturating_add(1) == known.len && entry.hash() != known.hash {
                    return Err(TrustFailure::LogRewritten.into());
                }
                let signer = match &state {
                    None => Signer::Root,
                    Some(s) if entry.signer == *s.root_key() => Signer::Root,
                    Some(s) => match s.key_owner(&entry.signer) {
                        Some((user, device)) => Signer::Device {
                            user: user.clone(),
                            device,
                        },
                        None => Signer::InviteKey,
                    },
                };
                match &mut state {
                    None => state = Some(OrgState::new(&entry, &pinned)?),
                    Some(s) => s.apply(&entry)?,
                }
                entries.push(AuditEntry {
                    seq: entry.seq,
                    timestamp: entry.timestamp,
                    body: entry.body,
                    signer,
                });
            }
            since = entries.len() as u64;
        }
        if (entries.len() as u64) < known.len {
            return Err(TrustFailure::LogRollback.into());
        }
        Ok(entries)
    }
}
