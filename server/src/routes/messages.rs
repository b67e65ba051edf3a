//! Sending: one request with one envelope per recipient device (DESIGN.md §4).
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
use axum::routing::put;
use axum::{Json, Router};
use parley_proto::api::{MismatchedDevices, SendRequest, SendResponse};
use parley_proto::{DeviceId, ErrorBody, ErrorCode, UserId};

use crate::auth::AuthDevice;
use crate::db::{NewEnvelope, on_db};
use crate::directory::ActiveDevice;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::writer::WriteOp;
use crate::{AppState, metrics, now_ms};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/messages/{user}", put(send))
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
    let limits = &state.config.limits;
    if req.messages.is_empty() {
        return Err(ApiError::invalid("no envelopes"));
    }
    let mut given: BTreeMap<DeviceId, (u32, usize)> = BTreeMap::new();
    for (i, m) in req.messages.iter().enumerate() {
        if m.body.as_bytes().is_empty() {
            return Err(ApiError::invalid("empty envelope"));
        }
        if m.body.as_bytes().len() > limits.max_envelope_bytes {
            return Err(ApiError::too_large(format!(
                "an envelope is over {} bytes",
                limits.max_envelope_bytes
            )));
        }
        if given.insert(m.device, (m.registration_id, i)).is_some() {
            return Err(ApiError::invalid("two envelopes for one device"));
        }
    }

    // The recipient's active devices and their queue lengths, from the cache (no statement
    // at all) or else from one query, which fills the cache.
    let devices = match state.directory.lookup(&user) {
        Some(d) => d,
        None => read_devices(&state, &user).await?,
    };
    if devices.is_empty() {
        return Err(ApiError::not_found("user"));
    }
    let mut expected: BTreeMap<DeviceId, (i64, i64)> = BTreeMap::new();
    let mut full = false;
    for d in &devices {
        if !(user == dev.user && d.device == dev.device) {
            expected.insert(d.device, (d.pk, d.registration_id));
            full |= d.queued >= limits.max_queue;
        }
    }
    let given_ids: BTreeSet<DeviceId> = given.keys().copied().collect();
    let expected_ids: BTreeSet<DeviceId> = expected.keys().copied().collect();
    let missing: Vec<DeviceId> = expected_ids.difference(&given_ids).copied().collect();
    let extra: Vec<DeviceId> = given_ids.difference(&expected_ids).copied().collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(ApiError::Mismatched(MismatchedDevices { missing, extra }));
    }
    let stale: Vec<DeviceId> = given
        .iter()
        .filter(|(d, (reg, _))| expected.get(d).is_some_and(|(_, r)| *r != i64::from(*reg)))
        .map(|(d, _)| *d)
        .collect();
    if !stale.is_empty() {
        return Err(ApiError::Stale(stale));
    }

    // Queue caps (approximate, see `crate::directory`).
    if full {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::QueueFull,
            "a recipient device's queue is full",
        ));
    }

    let now = now_ms();
    let ttl = i64::try_from(state.config.message_ttl.as_millis()).unwrap_or(i64::MAX);
    let source_device = i64::from(dev.device);
    let envelopes: Vec<NewEnvelope> = req
        .messages
        .into_iter()
        .filter_map(|m| {
            let (pk, _) = expected.get(&m.device)?;
            Some(NewEnvelope {
                device_pk: *pk,
                source_user: dev.user.as_str().to_owned(),
                source_device,
                server_ts: now,
                expires_at: now.saturating_add(ttl),
                body: m.body.into_inner(),
            })
        })
        .collect();
    let n = envelopes.len() as u64;
    state.writer.write(WriteOp::Insert(envelopes)).await?;
    metrics::ENVELOPES_STORED.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    let own = if user == dev.user {
        devices
    } else {
        match state.directory.lookup(&dev.user) {
            Some(d) => d,
            None => read_devices(&state, &dev.user).await?,
        }
    };
    Ok(Json(SendResponse {
        server_timestamp: u64::try_from(now).unwrap_or(0),
        sender_devices: own.iter().map(|d| d.device).collect(),
    }))
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
