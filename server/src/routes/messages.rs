//! Sending: one request with one envelope per recipient device (docs/architecture.md §4), for
//! one user (`PUT /v1/messages/{user}`) or for several (`POST /v1/messages`: a group message in
//! one request instead of one per member).
//!
//! As Signal's server does, the relay answers 409 with the missing and extra device ids when
//! the envelopes do not cover exactly the recipient's active devices (leaving out the sending
//! device when writing to one's own user), and 410 with the stale ones when a device was
//! re-registered since the sender learnt its registration id. Nothing is stored unless the
//! whole request is accepted; then all its envelopes are stored in one transaction (group
//! commit, see [`crate::writer`]) before the answer.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json, Router};
use parley_proto::api::{
    MAX_ENVELOPES_PER_SEND, MismatchedDevices, MultiSendRequest, OutgoingEnvelope, SendRequest,
    SendResponse, UserMismatch, UserStale,
};
use parley_proto::{DeviceId, ErrorBody, ErrorCode, UserId};

use crate::auth::AuthDevice;
use crate::db::{NewEnvelope, on_db};
use crate::directory::ActiveDevice;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::writer::WriteOp;
use crate::{AppState, metrics, now_ms};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(send_multi))
        .route("/v1/messages/{user}", put(send))
}

/// Sends envelopes to every device of a user.
#[utoipa::path(put, path = "/v1/messages/{user}", tag = "messages", request_body = SendRequest,
    params(("user" = String, Path, description = "recipient user id")), security(("device" = [])),
    responses((status = 200, body = SendResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 410, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn send(
    State(state): State<AppState>,
    dev: AuthDevice,
    Path(user): Path<String>,
    ApiJson(req): ApiJson<SendRequest>,
) -> ApiResult<Json<SendResponse>> {
    let user = UserId::new(user).map_err(|e| ApiError::invalid(e.to_string()))?;
    if req.messages.is_empty() {
        return Err(ApiError::invalid("no envelopes"));
    }
    if req.messages.len() > MAX_ENVELOPES_PER_SEND {
        return Err(ApiError::too_large(format!(
            "over {MAX_ENVELOPES_PER_SEND} envelopes"
        )));
    }
    let devices = devices_of(&state, &user).await?;
    if devices.is_empty() {
        return Err(ApiError::not_found("user"));
    }
    let stamp = Stamp::now(&state, req.ttl_secs)?;
    let envelopes = match check(&state, &dev, &user, &devices, req.messages, &stamp)? {
        Ok(envelopes) => envelopes,
        Err(Refusal::Mismatched(m)) => return Err(ApiError::Mismatched(m)),
        Err(Refusal::Stale(stale)) => return Err(ApiError::Stale(stale)),
        Err(Refusal::QueueFull) => return Err(queue_full()),
    };
    let own = (user == dev.user).then_some(devices);
    let accepted = Accepted {
        envelopes,
        stamp,
        own,
    };
    Ok(Json(submit(&state, &dev, accepted).await?.await?))
}

/// Sends envelopes to several users at once (a group message): all are stored, or none.
#[utoipa::path(post, path = "/v1/messages", tag = "messages", request_body = MultiSendRequest,
    security(("device" = [])),
    responses((status = 200, body = SendResponse), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "mismatched_users names each user whose devices do not match"),
              (status = 410, body = ErrorBody, description = "stale_users names each user with re-registered devices"),
              (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn send_multi(
    State(state): State<AppState>,
    dev: AuthDevice,
    ApiJson(req): ApiJson<MultiSendRequest>,
) -> ApiResult<Json<SendResponse>> {
    let accepted = accept_multi(&state, &dev, req).await?;
    Ok(Json(submit(&state, &dev, accepted).await?.await?))
}

/// A send that passed every check: the rows to store.
pub(crate) struct Accepted {
    envelopes: Vec<NewEnvelope>,
    stamp: Stamp,
    /// The sender's own devices, when the request already looked them up.
    own: Option<Vec<ActiveDevice>>,
}

/// The checks of `POST /v1/messages` (also those of a send over the delivery socket).
pub(crate) async fn accept_multi(
    state: &AppState,
    dev: &AuthDevice,
    req: MultiSendRequest,
) -> ApiResult<Accepted> {
    if req.recipients.is_empty() {
        return Err(ApiError::invalid("no recipients"));
    }
    let total: usize = req.recipients.iter().map(|r| r.messages.len()).sum();
    if total > MAX_ENVELOPES_PER_SEND {
        return Err(ApiError::too_large(format!(
            "over {MAX_ENVELOPES_PER_SEND} envelopes"
        )));
    }
    let mut users = BTreeSet::new();
    for r in &req.recipients {
        if r.messages.is_empty() {
            return Err(ApiError::invalid("a recipient with no envelopes"));
        }
        if !users.insert(&r.user) {
            return Err(ApiError::invalid("a recipient named twice"));
        }
    }
    let stamp = Stamp::now(state, req.ttl_secs)?;
    let (mut envelopes, mut mismatched, mut stale, mut full) =
        (Vec::new(), Vec::new(), Vec::new(), false);
    let mut own = None;
    let mut unknown = 0u32;
    for r in req.recipients {
        // A user the relay does not know has no devices: its envelopes are all extra.
        let devices = devices_of(state, &r.user).await?;
        if devices.is_empty() {
            unknown += 1;
        }
        match check(state, dev, &r.user, &devices, r.messages, &stamp)? {
            Ok(e) => envelopes.extend(e),
            Err(Refusal::Mismatched(devices)) => mismatched.push(UserMismatch {
                user: r.user.clone(),
                devices,
            }),
            Err(Refusal::Stale(devices)) => stale.push(UserStale {
                user: r.user.clone(),
                stale: devices,
            }),
            Err(Refusal::QueueFull) => full = true,
        }
        if r.user == dev.user {
            own = Some(devices);
        }
    }
    // Unknown users are not cached, so each cost a read: the sender's rate limit pays for them.
    if unknown > 0 {
        state
            .limiter
            .charge(dev.pk, f64::from(unknown), std::time::Instant::now());
    }
    if !mismatched.is_empty() {
        return Err(ApiError::MismatchedUsers(mismatched));
    }
    if !stale.is_empty() {
        return Err(ApiError::StaleUsers(stale));
    }
    if full {
        return Err(queue_full());
    }
    Ok(Accepted {
        envelopes,
        stamp,
        own,
    })
}

/// Why one user's envelopes were refused.
enum Refusal {
    Mismatched(MismatchedDevices),
    Stale(Vec<DeviceId>),
    QueueFull,
}

/// The relay time given to a request's envelopes, and their expiry.
struct Stamp {
    now: i64,
    expires_at: i64,
}

impl Stamp {
    /// Now, and the expiry of the relay's message TTL or the request's `ttl_secs` if shorter
    /// (at least a second).
    fn now(state: &AppState, ttl_secs: Option<u64>) -> ApiResult<Self> {
        let now = now_ms();
        let mut ttl = i64::try_from(state.config.message_ttl.as_millis()).unwrap_or(i64::MAX);
        if let Some(secs) = ttl_secs {
            if secs == 0 {
                return Err(ApiError::invalid("ttl_secs must be at least 1"));
            }
            ttl = ttl.min(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX));
        }
        Ok(Self {
            now,
            expires_at: now.saturating_add(ttl),
        })
    }
}

fn queue_full() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::QueueFull,
        "a recipient device's queue is full",
    )
}

/// Checks one user's envelopes against the user's active `devices`: bad envelopes are an
/// error of the whole request; otherwise the rows to store, or why the user's envelopes are
/// refused. As Signal's server does: exactly one envelope per active device (leaving out the
/// sending device when writing to one's own user), with the registration ids the relay has.
fn check(
    state: &AppState,
    dev: &AuthDevice,
    user: &UserId,
    devices: &[ActiveDevice],
    messages: Vec<OutgoingEnvelope>,
    stamp: &Stamp,
) -> ApiResult<Result<Vec<NewEnvelope>, Refusal>> {
    let limits = &state.config.limits;
    let mut given: BTreeMap<DeviceId, u32> = BTreeMap::new();
    for m in &messages {
        if m.body.as_bytes().is_empty() {
            return Err(ApiError::invalid("empty envelope"));
        }
        if m.body.as_bytes().len() > limits.max_envelope_bytes {
            return Err(ApiError::too_large(format!(
                "an envelope is over {} bytes",
                limits.max_envelope_bytes
            )));
        }
        if given.insert(m.device, m.registration_id).is_some() {
            return Err(ApiError::invalid("two envelopes for one device"));
        }
    }
    let mut expected: BTreeMap<DeviceId, (i64, i64)> = BTreeMap::new();
    let mut full = false;
    for d in devices {
        if !(*user == dev.user && d.device == dev.device) {
            expected.insert(d.device, (d.pk, d.registration_id));
            full |= d.queued >= limits.max_queue;
        }
    }
    let missing: Vec<DeviceId> = expected
        .keys()
        .filter(|d| !given.contains_key(d))
        .copied()
        .collect();
    let extra: Vec<DeviceId> = given
        .keys()
        .filter(|d| !expected.contains_key(d))
        .copied()
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Ok(Err(Refusal::Mismatched(MismatchedDevices {
            missing,
            extra,
        })));
    }
    let stale: Vec<DeviceId> = given
        .iter()
        .filter(|(d, reg)| expected.get(d).is_some_and(|(_, r)| *r != i64::from(**reg)))
        .map(|(d, _)| *d)
        .collect();
    if !stale.is_empty() {
        return Ok(Err(Refusal::Stale(stale)));
    }
    // Queue caps (approximate, see `crate::directory`).
    if full {
        return Ok(Err(Refusal::QueueFull));
    }
    let source_device = i64::from(dev.device);
    Ok(Ok(messages
        .into_iter()
        .filter_map(|m| {
            let (pk, _) = expected.get(&m.device)?;
            Some(NewEnvelope {
                device_pk: *pk,
                source_user: dev.user.as_str().to_owned(),
                source_device,
                server_ts: stamp.now,
                expires_at: stamp.expires_at,
                body: m.body.into_inner(),
            })
        })
        .collect()))
}

/// Queues accepted envelopes for the next group commit (see [`crate::writer`]; sends queued
/// one after another commit in that order) and returns the wait for the commit, which yields
/// the answer: the relay time and the sender's own devices.
pub(crate) async fn submit(
    state: &AppState,
    dev: &AuthDevice,
    accepted: Accepted,
) -> ApiResult<impl Future<Output = ApiResult<SendResponse>> + use<>> {
    let Accepted {
        envelopes,
        stamp,
        own,
    } = accepted;
    let n = envelopes.len() as u64;
    // Read now, not after the commit: the wait returned below holds nothing but the commit's
    // answer (a socket polls it only between frames; a database connection held there would
    // be kept from every other request meanwhile).
    let own = match own {
        Some(d) => d,
        None => devices_of(state, &dev.user).await?,
    };
    let committed = state.writer.submit(WriteOp::Insert(envelopes)).await?;
    Ok(async move {
        committed.await?;
        metrics::ENVELOPES_STORED.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(SendResponse {
            server_timestamp: u64::try_from(stamp.now).unwrap_or(0),
            sender_devices: own.iter().map(|d| d.device).collect(),
        })
    })
}

/// A user's active devices with their queue lengths: from the cache (no statement at all), or
/// else from one query, which fills the cache.
async fn devices_of(state: &AppState, user: &UserId) -> ApiResult<Vec<ActiveDevice>> {
    match state.directory.lookup(user) {
        Some(d) => Ok(d),
        None => read_devices(state, user).await,
    }
}

/// Reads a user's active devices, each with its queue length (counted up to the cap), and
/// caches them.
async fn read_devices(state: &AppState, user: &UserId) -> ApiResult<Vec<ActiveDevice>> {
    let generation = state.directory.generation();
    let max_queue = i64::try_from(state.config.limits.max_queue).unwrap_or(i64::MAX);
    let rows: Vec<(i64, i64, i64, i64)> = on_db!(&state.db, read, pool => {
        sqlx::query_as(
            "SELECT d.device_id, d.pk, d.registration_id,
                    (SELECT COUNT(*) FROM (SELECT 1 FROM envelopes e WHERE e.device_pk = d.pk LIMIT $2) q)
             FROM devices d WHERE d.user_id = $1 AND d.revoked_at IS NULL",
        )
        .bind(user.as_str()).bind(max_queue).fetch_all(pool).await?
    });
    let devices = rows
        .into_iter()
        .map(|(device, pk, registration_id, queued)| {
            Ok(ActiveDevice {
                device: DeviceId::try_from(device)
                    .map_err(|_| anyhow::anyhow!("bad device row"))?,
                pk,
                registration_id,
                queued: u64::try_from(queued).unwrap_or(0),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    state.directory.fill(generation, user, &devices);
    Ok(devices)
}
