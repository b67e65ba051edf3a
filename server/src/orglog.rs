//! The relay's copy of the org log (docs/architecture.md §2): verified in memory, appended
//! to only after checking, and the source of the device rows, admin rights and revocations.
//!
//! The relay is not trusted with it (clients verify every entry themselves), but it refuses
//! garbage: an entry is appended only if [`OrgState::apply`] accepts it. Appends are
//! serialised: by the state's lock on one node, and by a row lock on the `org` row in
//! PostgreSQL across nodes; before checking an entry the node reads what other nodes
//! appended since (so its copy may lag between appends, never at one).
//!
//! The effects of an entry are written in the transaction that appends it: `UserAdded`
//! inserts the user, `DeviceAdded` the device (with the secret it registered with),
//! `DeviceRevoked`, `UserDismissed` and `WipeDone` mark devices revoked and delete their queues and
//! prekeys. After the commit this node drops the devices' cached credentials and device
//! lists, closes their sockets and tells every socket that the log advanced; on PostgreSQL
//! the same `NOTIFY`s, sent in the transaction, make every other node do the same.

use axum::http::StatusCode;
use parley_crypto::DecodeError;
use parley_proto::api::{NewDevice, SECRET_LEN};
use parley_proto::org::{OrgBody, OrgEntry, OrgError, OrgState, Rule, sha256};
use parley_proto::{DeviceId, ErrorCode, UserId};

use crate::db::{Db, on_db};
use crate::directory::DEVICES_CHANNEL;
use crate::error::{ApiError, ApiResult};
use crate::{AppState, now_ms, now_secs};

/// PostgreSQL channel on which nodes announce a revoked device (payload: `<pk> <user>.<device>`).
pub const REVOKED_CHANNEL: &str = "parley_revoked";
/// PostgreSQL channel on which nodes announce that the log grew (payload: its length).
pub const LOG_CHANNEL: &str = "parley_log";
/// How far an entry's timestamp may be from the relay's clock.
pub const MAX_CLOCK_SKEW_SECS: u64 = 10 * 60;

/// The relay's verified copy of the log (`None` until the org exists).
#[derive(Debug, Default)]
pub struct OrgLog {
    state: tokio::sync::Mutex<Option<OrgState>>,
}

/// A device revoked by an entry: what to close and forget once it committed.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// Row id.
    pub pk: i64,
    /// User.
    pub user: UserId,
    /// Device number.
    pub device: DeviceId,
}

/// What an appended entry changed, for the work after its commit.
#[derive(Debug, Default)]
pub struct Effects {
    /// Users whose device list changed.
    pub users: Vec<UserId>,
    /// Devices revoked.
    pub revoked: Vec<Revoked>,
    /// The device registered with the entry.
    pub registered: Option<(UserId, DeviceId)>,
    /// Revocations to write: a user's device, or all its devices.
    to_revoke: Vec<(UserId, Option<DeviceId>)>,
}

impl Effects {
    fn revoke(&mut self, user: &UserId, device: Option<DeviceId>) {
        self.to_revoke.push((user.clone(), device));
    }
}

impl OrgLog {
    /// Reads and verifies the stored log. A log that does not verify stops the relay: it
    /// would serve clients a log they refuse.
    pub async fn load(db: &Db) -> anyhow::Result<Self> {
        let genesis: Option<Vec<u8>> = on_db!(db, read, pool => {
            sqlx::query_scalar("SELECT genesis_hash FROM org WHERE id = 1").fetch_optional(pool).await?
        });
        let Some(genesis) = genesis else {
            return Ok(Self::default());
        };
        let pinned: [u8; 32] = genesis
            .try_into()
            .map_err(|_| anyhow::anyhow!("bad genesis hash row"))?;
        let entries: Vec<Vec<u8>> = on_db!(db, read, pool => {
            sqlx::query_scalar("SELECT entry FROM org_log ORDER BY seq").fetch_all(pool).await?
        });
        let state = OrgState::verify(&entries, &pinned).map_err(|e| {
            anyhow::anyhow!(
                "the stored org log does not verify ({e}); a log written by an older Parley \
                 cannot be upgraded: start this relay on a fresh data directory"
            )
        })?;
        Ok(Self {
            state: tokio::sync::Mutex::new(Some(state)),
        })
    }

    /// How many entries the log has (0 before the org exists).
    pub async fn entries(&self) -> u64 {
        self.state.lock().await.as_ref().map_or(0, |s| s.head().len)
    }

    /// Runs `f` on the current state (this node's copy; see the module doc).
    pub async fn read<R>(&self, f: impl FnOnce(Option<&OrgState>) -> R) -> R {
        f(self.state.lock().await.as_ref())
    }

    /// Brings this node's copy up to date with entries other nodes appended, then runs `f`
    /// on it (for a check that failed on a copy that may be behind).
    pub async fn read_latest<R>(
        &self,
        db: &Db,
        f: impl FnOnce(Option<&OrgState>) -> R,
    ) -> anyhow::Result<R> {
        let mut guard = self.state.lock().await;
        if guard.is_none() {
            // The org may have been created on another node.
            drop(guard);
            let loaded = Self::load(db).await?;
            let mut guard = self.state.lock().await;
            if guard.is_none() {
                *guard = loaded.state.into_inner();
            }
            return Ok(f(guard.as_ref()));
        }
        if let Some(current) = guard.as_mut() {
            let since = i64::try_from(current.head().len).unwrap_or(i64::MAX);
            let newer: Vec<Vec<u8>> = on_db!(db, read, pool => {
                sqlx::query_scalar("SELECT entry FROM org_log WHERE seq >= $1 ORDER BY seq")
                    .bind(since).fetch_all(pool).await?
            });
            for bytes in newer {
                OrgEntry::from_bytes(&bytes)
                    .and_then(|e| current.apply(&e))
                    .map_err(|e| {
                        anyhow::anyhow!("an entry another node appended does not apply: {e}")
                    })?;
            }
        }
        Ok(f(guard.as_ref()))
    }
}

/// Maps a refused entry to the answer the client gets.
pub fn refused(e: &OrgError) -> ApiError {
    match e {
        OrgError::Decode(DecodeError::UnknownVersion(v)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedVersion,
            format!("unknown org record version {v}"),
        ),
        OrgError::NotNext => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::LogConflict,
            "the entry does not extend the org log: fetch the log and sign again",
        ),
        OrgError::Refused(Rule::TooManyDevices) => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::TooManyDevices,
            e.to_string(),
        ),
        OrgError::Refused(Rule::InviteUsed | Rule::InviteExpired) => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InviteInvalid,
            e.to_string(),
        ),
        OrgError::Unauthorized | OrgError::Refused(_) => {
            ApiError::new(StatusCode::FORBIDDEN, ErrorCode::OrgRefused, e.to_string())
        }
        OrgError::Decode(_) | OrgError::BadSignature | OrgError::UnknownKind(_) => {
            ApiError::invalid(format!("org entry: {e}"))
        }
    }
}

/// Decodes an entry from a request and checks its clock.
pub fn decode(bytes: &[u8]) -> ApiResult<OrgEntry> {
    let entry = OrgEntry::from_bytes(bytes).map_err(|e| refused(&e))?;
    if entry.timestamp.abs_diff(now_secs()) > MAX_CLOCK_SKEW_SECS {
        return Err(ApiError::invalid(
            "the entry's time is more than 10 minutes from the relay's clock",
        ));
    }
    Ok(entry)
}

/// Checks a device's secrets.
pub fn check_secret(device: &NewDevice) -> ApiResult<()> {
    if device.secret.as_bytes().len() != SECRET_LEN {
        return Err(ApiError::invalid("secret must be 32 bytes"));
    }
    if device.unlock_hash.as_bytes().len() != 32 || device.remote_secret.as_bytes().len() != 32 {
        return Err(ApiError::invalid(
            "unlock_hash and remote_secret must be 32 bytes",
        ));
    }
    Ok(())
}

/// Appends `entry` (with `device`'s secrets for a `DeviceAdded`, which only registration
/// carries), writes its effects and, after the commit, applies them to this node. Returns the
/// effects.
pub async fn append(
    state: &AppState,
    entry: &OrgEntry,
    device: Option<&NewDevice>,
) -> ApiResult<Effects> {
    match (&entry.body, device) {
        (OrgBody::DeviceAdded { .. }, Some(d)) => check_secret(d)?,
        (OrgBody::DeviceAdded { .. }, None) => {
            return Err(ApiError::invalid(
                "a device is added by registering it (POST /v1/devices)",
            ));
        }
        (_, Some(_)) => return Err(ApiError::invalid("not a DeviceAdded entry")),
        (_, None) => {}
    }
    commit(state, std::slice::from_ref(entry), device, None).await
}

/// Creates the org from its first entries (the genesis first), with the setup token's
/// verdict: once, and only with the right token.
pub async fn create(
    state: &AppState,
    entries: &[OrgEntry],
    device: &NewDevice,
    token_ok: bool,
) -> ApiResult<Effects> {
    check_secret(device)?;
    commit(state, entries, Some(device), Some(token_ok)).await
}

/// The one place entries are written: checks them against the log (brought up to date from
/// the database first), writes them and their effects in one transaction, then updates this
/// node. `create` carries the setup token's verdict when `entries` start a new org.
async fn commit(
    state: &AppState,
    entries: &[OrgEntry],
    device: Option<&NewDevice>,
    create: Option<bool>,
) -> ApiResult<Effects> {
    let mut guard = state.org_log.state.lock().await;
    if create.is_none() && guard.is_none() {
        return Err(crate::routes::org::no_org());
    }
    let is_postgres = state.db.is_postgres();
    let now = now_ms();
    let mut effects = Effects::default();
    let next: OrgState = on_db!(&state.db, write, pool => {{
        let mut tx = pool.begin().await?;
        let (mut next, to_apply) = match (create, guard.as_mut()) {
            (Some(token_ok), _) => {
                let genesis = entries.first().ok_or_else(|| ApiError::invalid("no genesis entry"))?;
                let root_key = *genesis.check_genesis().map_err(|e| refused(&e))?;
                let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org").fetch_one(&mut *tx).await?;
                if exists > 0 {
                    return Err(ApiError::conflict("the org already exists"));
                }
                if !token_ok {
                    return Err(ApiError::forbidden("wrong setup token"));
                }
                let next = OrgState::new(genesis, &genesis.hash()).map_err(|e| refused(&e))?;
                sqlx::query("INSERT INTO org (id, genesis_hash, root_key, created_at) VALUES (1, $1, $2, $3)")
                    .bind(genesis.hash().to_vec()).bind(root_key.to_bytes().to_vec()).bind(now)
                    .execute(&mut *tx).await?;
                sqlx::query("DELETE FROM setup_token").execute(&mut *tx).await?;
                sqlx::query("INSERT INTO org_log (seq, entry, hash) VALUES (0, $1, $2)")
                    .bind(genesis.to_bytes()).bind(genesis.hash().to_vec())
                    .execute(&mut *tx).await?;
                (next, entries.get(1..).unwrap_or_default())
            }
            (None, Some(current)) => {
                if is_postgres {
                    // Serialises appends across relay nodes.
                    sqlx::query("SELECT id FROM org WHERE id = 1 FOR UPDATE").execute(&mut *tx).await?;
                }
                let newer: Vec<Vec<u8>> =
                    sqlx::query_scalar("SELECT entry FROM org_log WHERE seq >= $1 ORDER BY seq")
                        .bind(i64::try_from(current.head().len).unwrap_or(i64::MAX))
                        .fetch_all(&mut *tx).await?;
                for bytes in newer {
                    OrgEntry::from_bytes(&bytes)
                        .and_then(|e| current.apply(&e))
                        .map_err(|e| anyhow::anyhow!("an entry another node appended does not apply: {e}"))?;
                }
                (current.clone(), entries)
            }
            (None, None) => return Err(crate::routes::org::no_org()),
        };
        for entry in to_apply {
            next.apply(entry).map_err(|e| refused(&e))?;
            let seq = i64::try_from(entry.seq).map_err(|_| ApiError::invalid("seq out of range"))?;
            sqlx::query("INSERT INTO org_log (seq, entry, hash) VALUES ($1, $2, $3)")
                .bind(seq).bind(entry.to_bytes()).bind(entry.hash().to_vec())
                .execute(&mut *tx).await?;
            match &entry.body {
                OrgBody::UserAdded { user, .. } => {
                    sqlx::query("INSERT INTO users (user_id, created_at) VALUES ($1, $2)")
                        .bind(user.as_str()).bind(now)
                        .execute(&mut *tx).await?;
                }
                OrgBody::DeviceAdded { user, device: number, identity } => {
                    let d = device.ok_or_else(|| ApiError::invalid("a device needs its secrets"))?;
                    if effects.registered.is_some() {
                        return Err(ApiError::invalid("one device at a time"));
                    }
                    sqlx::query(
                        "INSERT INTO devices (user_id, device_id, identity, signing_key, secret_hash, registration_id, created_at,
                                              unlock_hash, remote_secret)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(user.as_str()).bind(i64::from(*number))
                    .bind(identity.to_bytes().to_vec()).bind(identity.signing_key().to_bytes().to_vec())
                    .bind(sha256(d.secret.as_bytes()).to_vec()).bind(i64::from(d.registration_id)).bind(now)
                    .bind(d.unlock_hash.as_bytes().to_vec()).bind(d.remote_secret.as_bytes().to_vec())
                    .execute(&mut *tx).await?;
                    effects.users.push(user.clone());
                    effects.registered = Some((user.clone(), *number));
                }
                OrgBody::DeviceRevoked { user, device: number, .. }
                | OrgBody::WipeDone { user, device: number, .. } => {
                    effects.revoke(user, Some(*number));
                }
                OrgBody::UserDismissed { user } => effects.revoke(user, None),
                _ => {}
            }
        }
        // Revocations: mark the rows, delete remote secrets, queues and prekeys.
        for (user, number) in std::mem::take(&mut effects.to_revoke) {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "UPDATE devices SET revoked_at = $1, unlock_hash = NULL, remote_secret = NULL
                 WHERE user_id = $2 AND revoked_at IS NULL AND ($3 < 0 OR device_id = $3)
                 RETURNING pk, device_id",
            )
            .bind(now).bind(user.as_str()).bind(number.map_or(-1, i64::from))
            .fetch_all(&mut *tx).await?;
            for (pk, n) in rows {
                sqlx::query("DELETE FROM envelopes WHERE device_pk = $1").bind(pk).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM one_time_prekeys WHERE device_pk = $1").bind(pk).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM signed_prekeys WHERE device_pk = $1").bind(pk).execute(&mut *tx).await?;
                let device = DeviceId::try_from(n).map_err(|_| anyhow::anyhow!("bad device row"))?;
                effects.revoked.push(Revoked { pk, user: user.clone(), device });
            }
            if !effects.users.contains(&user) {
                effects.users.push(user);
            }
        }
        if create.is_some() && effects.registered.is_none() {
            return Err(ApiError::invalid("the first entries must add the first admin's device"));
        }
        if is_postgres {
            let mut notes = vec![(LOG_CHANNEL, next.head().len.to_string())];
            notes.extend(effects.users.iter().map(|u| (DEVICES_CHANNEL, u.to_string())));
            notes.extend(effects.revoked.iter().map(|r| {
                (REVOKED_CHANNEL, format!("{} {}", r.pk, parley_proto::ids::device_login(&r.user, r.device)))
            }));
            for (channel, payload) in notes {
                sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload)
                    .execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        next
    }});
    let len = next.head().len;
    *guard = Some(next);
    drop(guard);
    after_commit(state, &effects, len);
    Ok(effects)
}

/// This node's work once entries committed (or another node said they did).
pub(crate) fn after_commit(state: &AppState, effects: &Effects, len: u64) {
    for user in &effects.users {
        state.directory.devices_changed(user);
    }
    for r in &effects.revoked {
        revoked_here(state, r.pk, &r.user, r.device);
    }
    state.hub.log_advanced(len);
}

/// A device was revoked (here or on another node): forget its credentials, close its socket.
pub fn revoked_here(state: &AppState, pk: i64, user: &UserId, device: DeviceId) {
    state.auth_cache.forget(user, device);
    state.hub.close_device(pk, "this device was revoked");
    tracing::info!(device, "device revoked");
}
