//! Prekeys: upload, count, and claim (PQXDH spec §3.2, docs/architecture.md §4).
//!
//! A one-time prekey is claimed by a single `DELETE … RETURNING` of its row: on SQLite all
//! writes go through one connection, on PostgreSQL the row is picked `FOR UPDATE SKIP
//! LOCKED`; either way two concurrent claimers never get the same key. When none is left the
//! bundle carries only the signed prekey and the last-resort KEM prekey.
//!
//! The records are opaque to the relay (the client verifies their signatures against the
//! device identity); the relay checks only their sizes.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use parley_proto::api::{
    DeviceBundle, MAX_KEM_PREKEY_LEN, MAX_ONE_TIME_PREKEY_LEN, MAX_ONE_TIME_PREKEYS,
    MAX_SIGNED_PREKEY_LEN, PreKeyBundles, PreKeyCount, PreKeyUpload,
};
use parley_proto::{B64, DeviceId, ErrorBody, UserId};

use crate::AppState;
use crate::auth::AuthDevice;
use crate::db::{Db, KIND_KEM, KIND_X25519, on_db};
use crate::error::{ApiError, ApiJson, ApiResult};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", put(upload))
        .route("/v1/keys/count", get(count))
        .route("/v1/keys/{user}/{device}", get(claim))
}

fn check_len(what: &str, b: &B64, max: usize) -> ApiResult<()> {
    if b.as_bytes().is_empty() {
        return Err(ApiError::invalid(format!("{what} is empty")));
    }
    if b.as_bytes().len() > max {
        return Err(ApiError::too_large(format!("{what} is over {max} bytes")));
    }
    Ok(())
}

/// Uploads prekeys.
#[utoipa::path(put, path = "/v1/keys", tag = "keys", request_body = PreKeyUpload, security(("device" = [])),
    responses((status = 200, body = PreKeyCount), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    dev: AuthDevice,
    ApiJson(req): ApiJson<PreKeyUpload>,
) -> ApiResult<Json<PreKeyCount>> {
    if let Some(k) = &req.signed_prekey {
        check_len("signed_prekey", k, MAX_SIGNED_PREKEY_LEN)?;
    }
    if let Some(k) = &req.last_resort_kem {
        check_len("last_resort_kem", k, MAX_KEM_PREKEY_LEN)?;
    }
    if req.one_time.len() > MAX_ONE_TIME_PREKEYS || req.one_time_kem.len() > MAX_ONE_TIME_PREKEYS {
        return Err(ApiError::too_large(format!(
            "at most {MAX_ONE_TIME_PREKEYS} one-time prekeys of each kind"
        )));
    }
    for k in &req.one_time {
        check_len("one_time prekey", k, MAX_ONE_TIME_PREKEY_LEN)?;
    }
    for k in &req.one_time_kem {
        check_len("one_time_kem prekey", k, MAX_KEM_PREKEY_LEN)?;
    }
    let max = i64::try_from(MAX_ONE_TIME_PREKEYS).unwrap_or(i64::MAX);
    let counts: Option<(i64, i64)> = on_db!(&state.db, write, pool => {{
        let mut tx = pool.begin().await?;
        if req.replace_one_time {
            sqlx::query("DELETE FROM one_time_prekeys WHERE device_pk = $1").bind(dev.pk).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO signed_prekeys (device_pk) VALUES ($1) ON CONFLICT (device_pk) DO NOTHING")
            .bind(dev.pk).execute(&mut *tx).await?;
        if let Some(k) = &req.signed_prekey {
            sqlx::query("UPDATE signed_prekeys SET signed_prekey = $1 WHERE device_pk = $2")
                .bind(k.as_bytes().to_vec()).bind(dev.pk).execute(&mut *tx).await?;
        }
        if let Some(k) = &req.last_resort_kem {
            sqlx::query("UPDATE signed_prekeys SET last_resort_kem = $1 WHERE device_pk = $2")
                .bind(k.as_bytes().to_vec()).bind(dev.pk).execute(&mut *tx).await?;
        }
        for (kind, keys) in [(KIND_X25519, &req.one_time), (KIND_KEM, &req.one_time_kem)] {
            for k in keys {
                sqlx::query("INSERT INTO one_time_prekeys (device_pk, kind, prekey) VALUES ($1, $2, $3)")
                    .bind(dev.pk).bind(kind).bind(k.as_bytes().to_vec()).execute(&mut *tx).await?;
            }
        }
        let (x, kem): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN kind = 1 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN kind = 2 THEN 1 ELSE 0 END), 0)
             FROM one_time_prekeys WHERE device_pk = $1",
        )
        .bind(dev.pk).fetch_one(&mut *tx).await?;
        if x > max || kem > max {
            None // dropping the transaction rolls it back
        } else {
            tx.commit().await?;
            Some((x, kem))
        }
    }});
    let (x, kem) = counts.ok_or_else(|| {
        ApiError::too_large(format!(
            "the relay keeps at most {MAX_ONE_TIME_PREKEYS} one-time prekeys of each kind"
        ))
    })?;
    Ok(Json(PreKeyCount {
        one_time: to_u32(x),
        one_time_kem: to_u32(kem),
    }))
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// How many one-time prekeys are left.
#[utoipa::path(get, path = "/v1/keys/count", tag = "keys", security(("device" = [])),
    responses((status = 200, body = PreKeyCount)))]
pub async fn count(State(state): State<AppState>, dev: AuthDevice) -> ApiResult<Json<PreKeyCount>> {
    let (x, kem): (i64, i64) = on_db!(&state.db, read, pool => {
        sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN kind = 1 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN kind = 2 THEN 1 ELSE 0 END), 0)
             FROM one_time_prekeys WHERE device_pk = $1",
        )
        .bind(dev.pk).fetch_one(pool).await?
    });
    Ok(Json(PreKeyCount {
        one_time: to_u32(x),
        one_time_kem: to_u32(kem),
    }))
}

/// Claims a prekey bundle for one device of a user, or for all of them (`*`).
#[utoipa::path(get, path = "/v1/keys/{user}/{device}", tag = "keys", security(("device" = [])),
    params(("user" = String, Path, description = "user id"),
           ("device" = String, Path, description = "device number, or * for every device")),
    responses((status = 200, body = PreKeyBundles), (status = 404, body = ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    _dev: AuthDevice,
    Path((user, device)): Path<(String, String)>,
) -> ApiResult<Json<PreKeyBundles>> {
    let user = UserId::new(user).map_err(|e| ApiError::invalid(e.to_string()))?;
    let device: Option<i64> = match device.as_str() {
        "*" => None,
        d => Some(
            d.parse::<DeviceId>()
                .map_err(|_| ApiError::invalid("device must be a number or *"))?
                .into(),
        ),
    };
    type Row = (i64, i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);
    let rows: Vec<Row> = on_db!(&state.db, read, pool => {
        sqlx::query_as(
            "SELECT d.pk, d.device_id, d.registration_id, d.identity, s.signed_prekey, s.last_resort_kem
             FROM devices d JOIN signed_prekeys s ON s.device_pk = d.pk
             WHERE d.user_id = $1 AND d.revoked_at IS NULL AND ($2 IS NULL OR d.device_id = $2)
               AND s.signed_prekey IS NOT NULL AND s.last_resort_kem IS NOT NULL
             ORDER BY d.device_id",
        )
        .bind(user.as_str()).bind(device).fetch_all(pool).await?
    });
    if rows.is_empty() {
        return Err(ApiError::not_found("device with prekeys"));
    }
    let mut devices = Vec::with_capacity(rows.len());
    for (pk, device_id, registration_id, identity, signed_prekey, last_resort_kem) in rows {
        devices.push(DeviceBundle {
            device: DeviceId::try_from(device_id).map_err(|_| anyhow::anyhow!("bad device row"))?,
            registration_id: u32::try_from(registration_id)
                .map_err(|_| anyhow::anyhow!("bad device row"))?,
            identity: B64(identity),
            signed_prekey: B64(signed_prekey),
            last_resort_kem: B64(last_resort_kem),
            one_time: claim_one(&state.db, pk, KIND_X25519).await?.map(B64),
            one_time_kem: claim_one(&state.db, pk, KIND_KEM).await?.map(B64),
        });
    }
    Ok(Json(PreKeyBundles { user, devices }))
}

/// Takes one one-time prekey of `kind` from the device, atomically.
pub async fn claim_one(db: &Db, device_pk: i64, kind: i64) -> ApiResult<Option<Vec<u8>>> {
    let key = match db {
        Db::Sqlite { write, .. } => {
            sqlx::query_scalar(
                "DELETE FROM one_time_prekeys WHERE id =
                   (SELECT id FROM one_time_prekeys WHERE device_pk = $1 AND kind = $2 ORDER BY id LIMIT 1)
                 RETURNING prekey",
            )
            .bind(device_pk)
            .bind(kind)
            .fetch_optional(write)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar(
                "DELETE FROM one_time_prekeys WHERE id =
                   (SELECT id FROM one_time_prekeys WHERE device_pk = $1 AND kind = $2 ORDER BY id LIMIT 1
                    FOR UPDATE SKIP LOCKED)
                 RETURNING prekey",
            )
            .bind(device_pk)
            .bind(kind)
            .fetch_optional(pool)
            .await?
        }
    };
    Ok(key)
}
