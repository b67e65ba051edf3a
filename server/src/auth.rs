//! Device authentication: HTTP basic auth with login `<user>.<device>` and the device's
//! 32-byte secret (base64) as password. The relay stores only SHA-256 of the secret (a
//! 256-bit random value needs no slow hash), compares in constant time, and caches
//! verified credentials in memory until the device is revoked.
//!
//! The extractor also applies the per-device rate limit. Endpoints that take no device
//! credentials (reading the org log, registering, creating the org) use [`Unauthenticated`]
//! instead, which applies the per-address one.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use parley_proto::api::SECRET_LEN;
use parley_proto::ids::parse_device_login;
use parley_proto::org::sha256;
use parley_proto::{B64, DeviceId, UserId};
use subtle::ConstantTimeEq as _;

use crate::AppState;
use crate::db::on_db;
use crate::error::{ApiError, ApiResult};

/// An authenticated device.
#[derive(Clone, Debug)]
pub struct AuthDevice {
    /// Database row id.
    pub pk: i64,
    /// User.
    pub user: UserId,
    /// Device number.
    pub device: DeviceId,
    /// The device's Ed25519 signing key.
    pub signing_key: [u8; 32],
}

#[derive(Clone, Debug)]
struct Cached {
    pk: i64,
    secret_hash: [u8; 32],
    signing_key: [u8; 32],
}

/// Verified credentials, by (user, device).
#[derive(Debug, Default, Clone)]
pub struct AuthCache(Arc<Mutex<HashMap<(UserId, DeviceId), Cached>>>);

impl AuthCache {
    /// Forgets every device (after missed revocation notices).
    pub fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }

    /// Forgets a device (revocation).
    pub fn forget(&self, user: &UserId, device: DeviceId) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&(user.clone(), device));
        }
    }
}

/// Most cached credentials.
const MAX_CACHED: usize = 200_000;

fn parse_basic(parts: &Parts) -> Option<(UserId, DeviceId, [u8; SECRET_LEN])> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = B64::decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (login, secret) = text.split_once(':')?;
    let (user, device) = parse_device_login(login)?;
    let secret = <[u8; SECRET_LEN]>::try_from(B64::decode(secret).ok()?.as_slice()).ok()?;
    Some((user, device, secret))
}

/// The `Authorization` header value for a device.
pub fn basic_auth_header(user: &UserId, device: DeviceId, secret: &[u8]) -> String {
    let login = format!(
        "{}:{}",
        parley_proto::ids::device_login(user, device),
        B64::encode(secret)
    );
    format!("Basic {}", B64::encode(login.as_bytes()))
}

/// Checks credentials without rate limiting (used by the WebSocket upgrade as well).
pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<AuthDevice> {
    let (user, device, secret) = parse_basic(parts).ok_or_else(ApiError::unauthorized)?;
    let hash = sha256(&secret);
    let key = (user.clone(), device);
    let cached = state
        .auth_cache
        .0
        .lock()
        .ok()
        .and_then(|m| m.get(&key).cloned());
    let entry = match cached {
        Some(c) => c,
        None => {
            let row: Option<(i64, Vec<u8>, Vec<u8>)> = on_db!(&state.db, read, pool => {
                sqlx::query_as(
                    "SELECT pk, secret_hash, signing_key FROM devices
                     WHERE user_id = $1 AND device_id = $2 AND revoked_at IS NULL",
                )
                .bind(user.as_str())
                .bind(i64::from(device))
                .fetch_optional(pool)
                .await?
            });
            let (pk, secret_hash, signing_key) = row.ok_or_else(ApiError::unauthorized)?;
            let entry = Cached {
                pk,
                secret_hash: secret_hash
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("bad secret hash row"))?,
                signing_key: signing_key
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("bad signing key row"))?,
            };
            if bool::from(entry.secret_hash.ct_eq(&hash))
                && let Ok(mut m) = state.auth_cache.0.lock()
            {
                if m.len() >= MAX_CACHED {
                    m.clear();
                }
                m.insert(key, entry.clone());
            }
            entry
        }
    };
    if !bool::from(entry.secret_hash.ct_eq(&hash)) {
        return Err(ApiError::unauthorized());
    }
    Ok(AuthDevice {
        pk: entry.pk,
        user,
        device,
        signing_key: entry.signing_key,
    })
}

impl FromRequestParts<AppState> for AuthDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let device = authenticate(state, parts).await?;
        state
            .limiter
            .check(device.pk, Instant::now())
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
        Ok(device)
    }
}

/// A request to an endpoint that takes no device credentials, admitted by a rate limit: that
/// of its client's address ([`crate::ratelimit::ip_key`]), or, when it carries valid device
/// credentials, that of its device, so that the enrolled devices behind one address (an
/// office's NAT) do not share one bucket when they all read the org log at once. Without a
/// known address (the router served without `ConnectInfo`) all such requests share one
/// bucket. The address is never logged.
#[derive(Clone, Copy, Debug)]
pub struct Unauthenticated;

impl FromRequestParts<AppState> for Unauthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let now = Instant::now();
        let limited = |retry_after_secs| ApiError::RateLimited { retry_after_secs };
        if parts.headers.contains_key(AUTHORIZATION)
            && let Ok(device) = authenticate(state, parts).await
        {
            state.limiter.check(device.pk, now).map_err(limited)?;
            return Ok(Self);
        }
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        state
            .ip_limiter
            .check(crate::ratelimit::ip_key(ip), now)
            .map_err(limited)?;
        Ok(Self)
    }
}
