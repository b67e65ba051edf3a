//! A client's verified copy of the org log (docs/architecture.md §2) and the two ways to
//! change the log: appending a signed entry, and registering a device.
//!
//! [`VerifiedLog`] starts from the genesis hash the account pinned (from its invite) and
//! extends itself from the relay with `GET /v1/org?since=N`, checking every entry with
//! [`OrgState::apply`]. A relay that serves fewer entries than it served before is caught as
//! a rollback, and entries that do not extend what was verified as a rewrite; both are
//! [`TrustFailure`]s, and nothing of them is used.
//!
//! Appending is optimistic: the entry is signed at the verified head, and if another entry
//! got there first (`409 log_conflict`) the log is brought up to date and the entry signed
//! again, a few times.
//!
//! The engine keeps the state in its store ([`crate::store::StoreTx::org_state`]); tools
//! without a store (the test kit, the load generator) keep a `VerifiedLog` in memory.

use std::sync::Arc;

use parley_proto::api::{AppendRequest, NewDevice, RegisterRequest, Registered};
use parley_proto::org::{OrgEntry, OrgState};
use parley_proto::{B64, ErrorCode};

use crate::error::{Error, Result, TrustFailure};
use crate::relay::{Relay, RelayError};

/// How many times an entry is signed again after another one got to the log first.
pub const APPEND_ATTEMPTS: usize = 8;

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The org log as this client verified it. The state is shared with whoever handed it in
/// (the engine's decoded copy of its store) until an entry changes it, so bringing it up to
/// date when the relay has nothing new copies nothing.
#[derive(Clone, Debug)]
pub struct VerifiedLog {
    state: Arc<OrgState>,
}

impl VerifiedLog {
    /// Fetches the whole log and verifies it from `pinned` (the genesis hash of an invite).
    pub async fn fetch(relay: &Relay, pinned: &[u8; 32]) -> Result<Self> {
        let first = relay.org_log(0).await?;
        let genesis = first.entries.first().ok_or(TrustFailure::LogRewritten)?;
        let genesis = OrgEntry::from_bytes(genesis.as_bytes())?;
        let state = OrgState::new(&genesis, pinned).map_err(|_| TrustFailure::LogRewritten)?;
        let mut log = Self {
            state: Arc::new(state),
        };
        log.sync(relay).await?;
        Ok(log)
    }

    /// A log verified earlier (from the store).
    pub fn from_state(state: impl Into<Arc<OrgState>>) -> Self {
        Self {
            state: state.into(),
        }
    }

    /// The verified state.
    pub fn state(&self) -> &OrgState {
        &self.state
    }

    /// The verified state, owned.
    pub fn into_state(self) -> OrgState {
        Arc::unwrap_or_clone(self.state)
    }

    /// Fetches and verifies what the relay has beyond the verified head; returns the new
    /// entries (already applied).
    pub async fn sync(&mut self, relay: &Relay) -> Result<Vec<OrgEntry>> {
        let mut new = Vec::new();
        loop {
            let len = self.state.head().len;
            let page = relay.org_log(len).await?;
            if page.genesis_hash.as_bytes() != self.state.genesis_hash() {
                return Err(TrustFailure::LogRewritten.into());
            }
            if page.len < len {
                return Err(TrustFailure::LogRollback.into());
            }
            if page.entries.is_empty() {
                if page.len > len {
                    return Err(Error::RelayMisbehaved(
                        crate::error::Misbehaviour::MalformedAnswer,
                    ));
                }
                return Ok(new);
            }
            for bytes in &page.entries {
                let entry = OrgEntry::from_bytes(bytes.as_bytes())?;
                match Arc::make_mut(&mut self.state).apply(&entry) {
                    Ok(()) => new.push(entry),
                    Err(parley_proto::org::OrgError::NotNext) => {
                        return Err(TrustFailure::LogRewritten.into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            // Caught up with what the relay said it has: no need to ask again.
            if self.state.head().len >= page.len {
                return Ok(new);
            }
        }
    }

    /// Appends the entry `sign` makes for the state it is given (at its head, with the
    /// current time), bringing the log up to date and signing again when another entry got
    /// there first. Returns the appended entry, applied.
    pub async fn append(
        &mut self,
        relay: &Relay,
        sign: impl Fn(&OrgState, u64) -> OrgEntry,
    ) -> Result<OrgEntry> {
        self.post(relay, sign, false).await
    }

    /// Appends a wipe receipt (`WipeDone`) that `sign` makes, through the endpoint that needs
    /// no credentials (the device may be revoked already).
    pub async fn receipt(
        &mut self,
        relay: &Relay,
        sign: impl Fn(&OrgState, u64) -> OrgEntry,
    ) -> Result<OrgEntry> {
        self.post(relay, sign, true).await
    }

    async fn post(
        &mut self,
        relay: &Relay,
        sign: impl Fn(&OrgState, u64) -> OrgEntry,
        receipt: bool,
    ) -> Result<OrgEntry> {
        self.submit(relay, sign, |entry| async move {
            let req = AppendRequest {
                entry: B64(entry.to_bytes()),
            };
            match receipt {
                true => relay.post_receipt(&req).await,
                false => relay.append(&req).await,
            }
        })
        .await
    }

    /// Registers a device: `sign` makes its `DeviceAdded` entry for the state it is given.
    pub async fn register(
        &mut self,
        relay: &Relay,
        device: &NewDevice,
        sign: impl Fn(&OrgState, u64) -> OrgEntry,
    ) -> Result<Registered> {
        let entry = self
            .submit(relay, sign, |entry| {
                let req = RegisterRequest {
                    entry: B64(entry.to_bytes()),
                    device: device.clone(),
                };
                async move { relay.register(&req).await }
            })
            .await?;
        match entry.body {
            parley_proto::org::OrgBody::DeviceAdded { user, device, .. } => {
                Ok(Registered { user, device })
            }
            _ => Err(Error::RelayMisbehaved(
                crate::error::Misbehaviour::MalformedAnswer,
            )),
        }
    }

    async fn submit<T, F>(
        &mut self,
        relay: &Relay,
        sign: impl Fn(&OrgState, u64) -> OrgEntry,
        post: impl Fn(OrgEntry) -> F,
    ) -> Result<OrgEntry>
    where
        F: Future<Output = Result<T, RelayError>>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Never date an entry before the one it follows (clocks differ between devices).
            let entry = sign(&self.state, now_secs().max(self.state.last_timestamp()));
            // Checked here first: a refusal names the rule rather than a relay's 403.
            self.state.check(&entry)?;
            match post(entry.clone()).await {
                Ok(_) => {
                    Arc::make_mut(&mut self.state).apply(&entry)?;
                    return Ok(entry);
                }
                Err(e)
                    if e.body().map(|b| b.code) == Some(ErrorCode::LogConflict)
                        && attempts < APPEND_ATTEMPTS =>
                {
                    self.sync(relay).await?;
                }
                // (If the relay appended it and the answer was lost, the next sync finds it.)
                Err(e) => return Err(e.into()),
            }
        }
    }
}
