//! The `singletons` table: the account, the identity key pair, the org root key, the
//! verified org log and the prekey store, one sealed record each under a fixed name.

use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::SigningKeyPair;
use parley_crypto::prekeys::PreKeyStore;
use parley_proto::org::{LogHead, OrgState};
use zeroize::Zeroizing;

use error::{StoreError, StoreResult};
use records::Account;

use super::super::*;

impl StoreTx<'_> {
    /// This device's account, once enrolled.
    pub async fn account(&mut self) -> StoreResult<Option<Account>> {
        self.get_singleton_text("account")
            .await?
            .map(|b| Account::decode(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()
    }

    /// Stores the account.
    pub async fn set_account(&mut self, account: &Account) -> StoreResult<()> {
        self.put_singleton("account", &account.encode()).await
    }

    /// This device's identity key pair.
    pub async fn identity(&mut self) -> StoreResult<Option<IdentityKeyPair>> {
        self.get_singleton_text("identity")
            .await?
            .map(|b| IdentityKeyPair::from_bytes(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()
    }

    /// Stores the identity key pair.
    pub async fn set_identity(&mut self, identity: &IdentityKeyPair) -> StoreResult<()> {
        self.put_singleton("identity", &identity.to_bytes()).await
    }

    /// The org root key, on the device that created the org until it is exported to a
    /// recovery file and removed (docs/architecture.md §2.1), or on a device it was imported to.
    pub async fn org_root(&mut self) -> StoreResult<Option<SigningKeyPair>> {
        self.get_singleton_text("org_root")
            .await?
            .map(|b| {
                let seed: [u8; 32] = b.as_slice().try_into().map_err(malformed(T_SINGLETONS))?;
                Ok(SigningKeyPair::from_seed(&seed))
            })
            .transpose()
    }

    /// Stores the org root key.
    pub async fn set_org_root(&mut self, root: &SigningKeyPair) -> StoreResult<()> {
        self.put_singleton("org_root", &root.seed()[..]).await
    }

    /// Deletes the org root key (SQLite's `secure_delete` zeroes the freed row).
    pub async fn delete_org_root(&mut self) -> StoreResult<()> {
        sqlx::query("DELETE FROM singletons WHERE name = 'org_root'")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The org log as this device verified it (docs/architecture.md §2).
    pub async fn org_state(&mut self) -> StoreResult<Option<OrgState>> {
        self.get_singleton_text("org_state")
            .await?
            .map(|b| OrgState::from_bytes(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()
    }

    /// Stores the verified org log (and its head apart, for [`StoreTx::org_head`]).
    pub async fn set_org_state(&mut self, state: &OrgState) -> StoreResult<()> {
        let head = state.head();
        let mut bytes = head.len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&head.hash);
        self.put_singleton("org_head", &bytes).await?;
        self.put_singleton("org_state", &state.to_bytes()).await
    }

    /// The head of the verified org log, without decoding the whole log (every send carries
    /// it, every receive compares it).
    pub async fn org_head(&mut self) -> StoreResult<Option<LogHead>> {
        self.get_singleton_text("org_head")
            .await?
            .map(|b| {
                let (len, hash) = b.split_at_checked(8).ok_or(StoreError::Malformed {
                    table: T_SINGLETONS,
                })?;
                Ok(LogHead {
                    len: u64::from_be_bytes(len.try_into().map_err(malformed(T_SINGLETONS))?),
                    hash: hash.try_into().map_err(malformed(T_SINGLETONS))?,
                })
            })
            .transpose()
    }

    /// Forced logout (docs/architecture.md §5.4): destroys this device's identity key pair,
    /// prekeys, org root key, and every pairwise session and sender key (its own and its
    /// peers'), and marks the account signed out. The message history stays, sealed under
    /// the store key.
    pub async fn sign_out(&mut self) -> StoreResult<()> {
        for sql in [
            "DELETE FROM singletons WHERE name IN ('identity', 'prekeys', 'org_root')",
            "DELETE FROM sessions",
            "DELETE FROM sender_keys",
            "DELETE FROM own_sender_keys",
            "DELETE FROM outbox",
        ] {
            sqlx::query(sql).execute(&mut *self.tx).await?;
        }
        self.put_singleton("signed_out", b"1").await
    }

    /// Whether this device was signed out ([`StoreTx::sign_out`]).
    pub async fn signed_out(&mut self) -> StoreResult<bool> {
        Ok(self.get_singleton_text("signed_out").await?.is_some())
    }

    /// When this device last reached the relay (seconds since the Unix epoch), for the
    /// policy's offline limits.
    pub async fn last_contact(&mut self) -> StoreResult<Option<u64>> {
        self.get_singleton_text("last_contact")
            .await?
            .map(|b| {
                let bytes: [u8; 8] = b.as_slice().try_into().map_err(malformed(T_SINGLETONS))?;
                Ok(u64::from_be_bytes(bytes))
            })
            .transpose()
    }

    /// Records that this device reached the relay at `secs`.
    pub async fn set_last_contact(&mut self, secs: u64) -> StoreResult<()> {
        self.put_singleton("last_contact", &secs.to_be_bytes())
            .await
    }

    /// Colleagues' presence as they last shared it.
    pub async fn presence(&mut self) -> StoreResult<Vec<records::Presence>> {
        Ok(self
            .get_singleton_text("presence")
            .await?
            .map(|b| records::presence::decode(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()?
            .unwrap_or_default())
    }

    /// Stores colleagues' presence.
    pub async fn set_presence(&mut self, list: &[records::Presence]) -> StoreResult<()> {
        self.put_singleton("presence", &records::presence::encode(list))
            .await
    }

    /// Status texts: this user's and colleagues', as last set.
    pub async fn statuses(&mut self) -> StoreResult<Vec<records::Status>> {
        Ok(self
            .get_singleton_text("statuses")
            .await?
            .map(|b| serde_json::from_slice(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()?
            .unwrap_or_default())
    }

    /// Stores the status texts.
    pub async fn set_statuses(&mut self, list: &[records::Status]) -> StoreResult<()> {
        let bytes =
            Zeroizing::new(serde_json::to_vec(list).map_err(|_| StoreError::Malformed {
                table: T_SINGLETONS,
            })?);
        self.put_singleton("statuses", &bytes).await
    }

    /// Whether this user hides when it was last active.
    pub async fn hide_last_seen(&mut self) -> StoreResult<bool> {
        Ok(self
            .get_singleton_text("hide_last_seen")
            .await?
            .is_some_and(|b| b.as_slice() == b"1"))
    }

    /// Sets whether this user hides when it was last active.
    pub async fn set_hide_last_seen(&mut self, hide: bool) -> StoreResult<()> {
        self.put_singleton("hide_last_seen", if hide { b"1" } else { b"0" })
            .await
    }

    /// How long before a task's deadline this device reminds (seconds), if set.
    pub async fn task_reminder_lead(&mut self) -> StoreResult<Option<u64>> {
        self.get_singleton_text("task_reminder_lead")
            .await?
            .map(|b| {
                let bytes: [u8; 8] = b.as_slice().try_into().map_err(malformed(T_SINGLETONS))?;
                Ok(u64::from_be_bytes(bytes))
            })
            .transpose()
    }

    /// Sets how long before a task's deadline this device reminds (seconds; 0: only at it).
    pub async fn set_task_reminder_lead(&mut self, secs: u64) -> StoreResult<()> {
        self.put_singleton("task_reminder_lead", &secs.to_be_bytes())
            .await
    }

    /// This device's prekey store.
    pub async fn prekeys(&mut self) -> StoreResult<Option<PreKeyStore>> {
        self.get_singleton_text("prekeys")
            .await?
            .map(|b| PreKeyStore::from_bytes(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()
    }

    /// Stores the prekey store (after generating, rotating or consuming prekeys).
    pub async fn set_prekeys(&mut self, prekeys: &PreKeyStore) -> StoreResult<()> {
        self.put_singleton("prekeys", &prekeys.to_bytes()).await
    }

    async fn get_singleton_text(&mut self, name: &str) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT record FROM singletons WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *self.tx)
                .await?;
        sealed
            .map(|s| {
                self.store
                    .sealer
                    .open(T_SINGLETONS, name.as_bytes(), &[], &s)
            })
            .transpose()
    }
}
