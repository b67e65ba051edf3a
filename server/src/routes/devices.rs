//! Device registration by invite or link code, link codes, and device lists.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use parley_crypto::consts::MAX_DEVICES_PER_USER;
use parley_proto::api::{CreateLinkRequest, DeviceInfo, DeviceList, RegisterRequest, Registered};
use parley_proto::org::sha256;
use parley_proto::{B64, DeviceId, ErrorBody, ErrorCode, UserId};

use crate::auth::AuthDevice;
use crate::db::on_db;
use crate::directory::DEVICES_CHANNEL;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::routes::org::{check_new_device, insert_invite};
use crate::{AppState, now_ms, now_secs};

/// Longest a link code may stay valid.
pub const MAX_LINK_SECS: u64 = 24 * 60 * 60;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices", post(register))
        .route("/v1/devices/link", post(create_link))
        .route("/v1/users/{user}/devices", get(list_devices))
}

enum Refused {
    Invite,
    UserExists,
    NoUser,
    TooMany,
}

/// Redeems an invite or link code and registers the device.
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = RegisterRequest,
    responses((status = 201, body = Registered), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let signing_key = check_new_device(&req.device)?;
    let code_hash = sha256(req.code.as_bytes()).to_vec();
    let now = now_ms();
    let now_s = i64::try_from(now_secs()).unwrap_or(i64::MAX);
    let max = i64::try_from(MAX_DEVICES_PER_USER).unwrap_or(i64::MAX);
    let user = req.user.as_str();
    let is_postgres = state.db.is_postgres();
    let outcome: Result<i64, Refused> = on_db!(&state.db, write, pool => {{
        let mut tx = pool.begin().await?;
        let new_user: Option<i64> = sqlx::query_scalar(
            "DELETE FROM invites WHERE code_hash = $1 AND user_id = $2 AND expires_at > $3 RETURNING new_user",
        )
        .bind(code_hash).bind(user).bind(now_s).fetch_optional(&mut *tx).await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE user_id = $1")
            .bind(user).fetch_one(&mut *tx).await?;
        let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user).fetch_one(&mut *tx).await?;
        match (new_user, exists > 0) {
            (None, _) => Err(Refused::Invite),
            (Some(1), true) => Err(Refused::UserExists),
            (Some(0), false) => Err(Refused::NoUser),
            _ if active >= max => Err(Refused::TooMany),
            (Some(n), _) => {
                if n == 1 {
                    sqlx::query("INSERT INTO users (user_id, created_at) VALUES ($1, $2)")
                        .bind(user).bind(now).execute(&mut *tx).await?;
                }
                let device: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(device_id), 0) + 1 FROM devices WHERE user_id = $1",
                )
                .bind(user).fetch_one(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO devices (user_id, device_id, identity, signing_key, secret_hash, registration_id, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(user).bind(device).bind(req.device.identity.as_bytes().to_vec()).bind(signing_key.to_vec())
                .bind(sha256(req.device.secret.as_bytes()).to_vec()).bind(i64::from(req.device.registration_id))
                .bind(now)
                .execute(&mut *tx).await?;
                if is_postgres {
                    // Other nodes drop their cached device list when this commits.
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(DEVICES_CHANNEL).bind(user).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(device)
            }
        }
    }});
    // On refusal the transaction rolls back, so the code stays usable.
    let device = outcome.map_err(|r| match r {
        Refused::Invite => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InviteInvalid,
            "unknown, used or expired code",
        ),
        Refused::UserExists => ApiError::conflict("that user already exists"),
        Refused::NoUser => ApiError::not_found("user"),
        Refused::TooMany => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::TooManyDevices,
            format!("a user may have at most {MAX_DEVICES_PER_USER} devices"),
        ),
    })?;
    state.directory.devices_changed(&req.user);
    let device =
        DeviceId::try_from(device).map_err(|_| anyhow::anyhow!("device number out of range"))?;
    tracing::info!(device, "device registered");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            user: req.user,
            device,
        }),
    ))
}

/// Creates a one-time code with which a further device of the caller's user registers.
#[utoipa::path(post, path = "/v1/devices/link", tag = "devices", request_body = CreateLinkRequest,
    security(("device" = [])),
    responses((status = 201), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_link(
    State(state): State<AppState>,
    dev: AuthDevice,
    ApiJson(req): ApiJson<CreateLinkRequest>,
) -> ApiResult<StatusCode> {
    let code_hash: [u8; 32] = req
        .code_hash
        .as_bytes()
        .try_into()
        .map_err(|_| ApiError::invalid("code_hash must be 32 bytes"))?;
    let now = now_secs();
    if req.expires_at <= now || req.expires_at > now + MAX_LINK_SECS {
        return Err(ApiError::invalid(
            "expires_at must be within the next 24 hours",
        ));
    }
    insert_invite(
        &state.db,
        &code_hash,
        &dev.user,
        false,
        req.expires_at,
        dev.pk,
    )
    .await?;
    Ok(StatusCode::CREATED)
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
