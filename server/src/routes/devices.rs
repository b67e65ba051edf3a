//! Device registration (a `DeviceAdded` entry signed by an invite or link key), the remote
//! secret a device needs to open its store (docs/architecture.md §5.3), and device lists.
//! The first two take no device credentials, so they are rate-limited per client address
//! ([`Unauthenticated`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use parley_proto::api::{
    DeviceInfo, DeviceList, RegisterRequest, Registered, UnlockRequest, Unlocked,
};
use parley_proto::org::sha256;
use parley_proto::{B64, DeviceId, ErrorBody, UserId};

use crate::auth::{AuthDevice, Unauthenticated};
use crate::db::on_db;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::{AppState, orglog};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices", post(register))
        .route("/v1/devices/unlock", post(unlock))
        .route("/v1/users/{user}/devices", get(list_devices))
}

/// Registers a device with its `DeviceAdded` entry, signed by an invite or link key issued
/// for its user (checked against the log, like every entry).
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = RegisterRequest,
    responses((status = 201, body = Registered), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    _limit: Unauthenticated,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let entry = orglog::decode(req.entry.as_bytes())?;
    let effects = orglog::append(&state, &entry, Some(&req.device)).await?;
    let (user, device) = effects
        .registered
        .ok_or_else(|| ApiError::invalid("not a DeviceAdded entry"))?;
    tracing::info!(device, "device registered");
    Ok((StatusCode::CREATED, Json(Registered { user, device })))
}

/// Hands a device its remote secret, to whoever shows the token whose hash the device
/// registered. A revoked device's secret is deleted: 404, and the store it kept stays closed.
#[utoipa::path(post, path = "/v1/devices/unlock", tag = "devices", request_body = UnlockRequest,
    responses((status = 200, body = Unlocked), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    _limit: Unauthenticated,
    ApiJson(req): ApiJson<UnlockRequest>,
) -> ApiResult<Json<Unlocked>> {
    if req.token.as_bytes().len() != 32 {
        return Err(ApiError::invalid("token must be 32 bytes"));
    }
    let hash = sha256(req.token.as_bytes()).to_vec();
    let secret: Option<Option<Vec<u8>>> = on_db!(&state.db, read, pool => {
        sqlx::query_scalar(
            "SELECT remote_secret FROM devices WHERE unlock_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash).fetch_optional(pool).await?
    });
    let secret = secret
        .flatten()
        .ok_or_else(|| ApiError::not_found("remote secret (the device is revoked or unknown)"))?;
    Ok(Json(Unlocked {
        remote_secret: B64(secret),
    }))
}

/// Lists a user's active devices.
#[utoipa::path(get, path = "/v1/users/{user}/devices", tag = "devices",
    params(("user" = String, Path, description = "user id")), security(("device" = [])),
    responses((status = 200, body = DeviceList), (status = 404, body = ErrorBody)))]
pub async fn list_devices(
    State(state): State<AppState>,
    _dev: AuthDevice,
    Path(user): Path<String>,
) -> ApiResult<Json<DeviceList>> {
    let user = UserId::new(user).map_err(|e| ApiError::invalid(e.to_string()))?;
    let rows: Vec<(i64, Vec<u8>, i64, i64)> = on_db!(&state.db, read, pool => {
        sqlx::query_as(
            "SELECT device_id, identity, registration_id, created_at FROM devices
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY device_id",
        )
        .bind(user.as_str()).fetch_all(pool).await?
    });
    if rows.is_empty() {
        return Err(ApiError::not_found("user"));
    }
    let devices = rows
        .into_iter()
        .map(|(device, identity, registration_id, created_at)| {
            Ok(DeviceInfo {
                device: DeviceId::try_from(device)
                    .map_err(|_| anyhow::anyhow!("bad device row"))?,
                identity: B64(identity),
                registration_id: u32::try_from(registration_id)
                    .map_err(|_| anyhow::anyhow!("bad device row"))?,
                created_at: u64::try_from(created_at / 1000).unwrap_or(0),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(DeviceList { user, devices }))
}
