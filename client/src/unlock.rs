//! Opening an account's store, with the remote secret the relay keeps (docs/architecture.md
//! §5.3).
//!
//! A store key is derived from the local key (OS keystore or key file) and a per-device
//! **remote secret**. The relay keeps the secret beside the device's row and hands it to
//! whoever shows the device's unlock token (derived from the local key), until the device
//! is revoked; revocation deletes it. While the org's policy does not require it, the store
//! keeps a copy of the secret in its unlock record (sealed under the local key), so it opens
//! offline. With the policy on ([`Policy::remote_secret`]), the copy is deleted as soon as
//! the device reads the policy, and every opening asks the relay: a copy of the disk taken
//! before a revocation is unreadable after it, even if the device never comes back online.
//!
//! [`Policy::remote_secret`]: parley_proto::org::Policy::remote_secret

use std::path::Path;

use parley_proto::B64;
use parley_proto::api::UnlockRequest;
use parley_proto::org::OrgState;

use crate::relay::Relay;
use crate::store::{Account, KeySource, Store, StoreError};
use crate::{Error, Result};

/// Opens the store of the account in `home`: with the remote secret it keeps, or else with
/// the one the relay hands out. [`Error::RelayRequired`] when the relay cannot be reached,
/// [`Error::RemoteSecretGone`] when it no longer has the secret (the device was revoked).
pub async fn open_store(home: &Path, key_source: KeySource) -> Result<Store> {
    let locked = Store::locked(home, key_source).await?;
    let Some(unlock) = locked.unlock() else {
        // An account whose enrolment stopped before it learnt its relay: no remote secret.
        return Ok(locked.open(None).await?);
    };
    if let Some(secret) = &unlock.remote_secret {
        let secret = **secret;
        return Ok(locked.open(Some(&secret)).await?);
    }
    let fetched = async {
        let relay = Relay::pinned(unlock.relay_url.clone(), unlock.tls_pins)?;
        let req = UnlockRequest {
            token: B64(locked.unlock_token().to_vec()),
        };
        Ok::<_, Error>(relay.unlock(&req).await?)
    }
    .await;
    let unlocked = match fetched {
        Ok(u) => u,
        Err(e) => {
            locked.close().await;
            return Err(match e {
                e if e.is_temporary() => Error::RelayRequired,
                e if e
                    .relay_error()
                    .and_then(|r| r.body())
                    .is_some_and(|b| b.code == parley_proto::ErrorCode::NotFound) =>
                {
                    Error::RemoteSecretGone
                }
                e => e,
            });
        }
    };
    let secret: [u8; 32] = match unlocked.remote_secret.as_bytes().try_into() {
        Ok(s) => s,
        Err(_) => {
            locked.close().await;
            return Err(Error::Store(StoreError::WrongKey));
        }
    };
    let secret = zeroize::Zeroizing::new(secret);
    Ok(locked.open(Some(&secret)).await?)
}

/// Makes the store keep a copy of its remote secret, or not, as the org's policy says.
pub(crate) async fn follow_policy(
    store: &Store,
    account: &Account,
    state: &OrgState,
) -> Result<()> {
    let keep = !state.policy().remote_secret;
    store
        .set_unlock(&account.relay_url, account.tls_pins, keep)
        .await?;
    if !keep {
        tracing::info!("the org requires the remote secret: this device no longer keeps a copy");
    }
    Ok(())
}
