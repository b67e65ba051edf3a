//! Org bootstrap (`POST /v1/org`, once, with the setup token), the org log (`GET /v1/org`)
//! and appending to it (`POST /v1/org/log`). docs/architecture.md §2 and §4; the checks and
//! effects of an entry are in [`crate::orglog`]. The first two take no device credentials and
//! are rate-limited per client address ([`Unauthenticated`]).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use parley_proto::api::{
    AppendRequest, Appended, CreateOrgRequest, MAX_LOG_PAGE, OrgLog, Registered,
};
use parley_proto::org::{LOG_PROOF_HEADER, check_log_proof, sha256};
use parley_proto::{B64, ErrorBody, ErrorCode};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::auth::{AuthDevice, Unauthenticated};
use crate::db::{Db, on_db};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::{AppState, orglog, random_bytes};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/org", post(create_org).get(org_log))
        .route("/v1/org/log", post(append))
        .route("/v1/org/receipts", post(receipt))
}

/// Stores the hash of the setup token while the org does not exist. Returns a freshly
/// generated token to show the operator when none is configured.
pub async fn prepare_setup_token(
    db: &Db,
    configured: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let orgs: i64 = on_db!(db, write, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM org").fetch_one(pool).await?
    });
    if orgs > 0 {
        return Ok(None);
    }
    let (token, fresh) = match configured {
        Some(t) => (t.to_owned(), false),
        None => (
            B64::encode(&random_bytes::<24>()?).replace(['+', '/'], "x"),
            true,
        ),
    };
    let hash = sha256(token.as_bytes()).to_vec();
    on_db!(db, write, pool => {
        sqlx::query(
            "INSERT INTO setup_token (id, token_hash) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash",
        )
        .bind(hash)
        .execute(pool)
        .await?;
    });
    Ok(fresh.then_some(token))
}

/// Creates the org and its first admin device.
#[utoipa::path(post, path = "/v1/org", tag = "org", request_body = CreateOrgRequest,
    responses((status = 201, body = Registered), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn create_org(
    State(state): State<AppState>,
    _limit: Unauthenticated,
    ApiJson(req): ApiJson<CreateOrgRequest>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    if req.entries.len() > MAX_CREATE_ENTRIES {
        return Err(ApiError::invalid("too many entries"));
    }
    let entries = req
        .entries
        .iter()
        .map(|b| orglog::decode(b.as_bytes()))
        .collect::<ApiResult<Vec<_>>>()?;
    let token_hash: Option<Vec<u8>> = on_db!(&state.db, write, pool => {
        sqlx::query_scalar("SELECT token_hash FROM setup_token WHERE id = 1").fetch_optional(pool).await?
    });
    let token_ok = token_hash
        .is_some_and(|h| bool::from(h.as_slice().ct_eq(&sha256(req.setup_token.as_bytes()))));
    let effects = orglog::create(&state, &entries, &req.device, token_ok).await?;
    let (user, device) = effects
        .registered
        .ok_or_else(|| ApiError::invalid("the first entries must add the first admin's device"))?;
    tracing::info!("org created");
    Ok((StatusCode::CREATED, Json(Registered { user, device })))
}

/// Most entries `POST /v1/org` takes (the genesis, the first admin's user, admin and device
/// entries, and room for a policy).
const MAX_CREATE_ENTRIES: usize = 8;

/// `?since=N`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Since {
    /// The first entry wanted (0 for the whole log).
    #[serde(default)]
    pub since: u64,
}

/// The org log from entry `since` on (at most [`MAX_LOG_PAGE`] entries), for clients to verify.
/// Only for a holder of a key the log knows, shown by the `parley-log-proof` header
/// (`parley_proto::org::LOG_PROOF_HEADER`): a device's key (revoked ones too: they must learn
/// why, and obey a wipe), an unexpired invite or link key, or the root key.
#[utoipa::path(get, path = "/v1/org", tag = "org", params(Since,
        ("parley-log-proof" = String, Header, description = "`<key>.<time>.<signature>`")),
    responses((status = 200, body = OrgLog), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn org_log(
    State(state): State<AppState>,
    _limit: Unauthenticated,
    headers: HeaderMap,
    Query(q): Query<Since>,
) -> ApiResult<Json<OrgLog>> {
    let now = crate::now_secs();
    let key = headers
        .get(LOG_PROOF_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| check_log_proof(v, now));
    let may = |s: Option<&parley_proto::org::OrgState>| match (s, &key) {
        (None, _) => None,
        (Some(s), Some(k)) => Some(s.may_read(k, now)),
        (Some(_), None) => Some(false),
    };
    let verdict = match state.org_log.read(may).await {
        Some(true) => Some(true),
        // This node's copy may be behind another node's appends.
        _ => state.org_log.read_latest(&state.db, may).await?,
    };
    match verdict {
        None => return Err(no_org()),
        Some(false) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "reading the org log needs a key it knows (parley-log-proof)",
            ));
        }
        Some(true) => {}
    }
    let genesis_hash: Option<Vec<u8>> = on_db!(&state.db, read, pool => {
        sqlx::query_scalar("SELECT genesis_hash FROM org WHERE id = 1").fetch_optional(pool).await?
    });
    let genesis_hash = genesis_hash.ok_or_else(no_org)?;
    let since = i64::try_from(q.since).map_err(|_| ApiError::invalid("since out of range"))?;
    let limit = i64::try_from(MAX_LOG_PAGE).unwrap_or(i64::MAX);
    let (len, entries): (i64, Vec<Vec<u8>>) = on_db!(&state.db, read, pool => {{
        let mut tx = pool.begin().await?;
        let len: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_log").fetch_one(&mut *tx).await?;
        let entries = sqlx::query_scalar("SELECT entry FROM org_log WHERE seq >= $1 ORDER BY seq LIMIT $2")
            .bind(since).bind(limit).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        (len, entries)
    }});
    Ok(Json(OrgLog {
        genesis_hash: genesis_hash.into(),
        len: u64::try_from(len).unwrap_or(0),
        entries: entries.into_iter().map(B64).collect(),
    }))
}

/// The error for a relay without an org.
pub fn no_org() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NoOrg,
        "the org has not been set up",
    )
}

/// Appends a signed entry to the org log: an admin statement, an invite or link key, a
/// device's own revocation. Devices are added by registering (`POST /v1/devices`).
#[utoipa::path(post, path = "/v1/org/log", tag = "org", request_body = AppendRequest,
    security(("device" = [])),
    responses((status = 201, body = Appended), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn append(
    State(state): State<AppState>,
    _dev: AuthDevice,
    ApiJson(req): ApiJson<AppendRequest>,
) -> ApiResult<(StatusCode, Json<Appended>)> {
    let entry = orglog::decode(req.entry.as_bytes())?;
    orglog::append(&state, &entry, None).await?;
    tracing::info!(
        kind = entry.body.kind_name(),
        seq = entry.seq,
        "org log entry appended"
    );
    Ok((StatusCode::CREATED, Json(Appended { seq: entry.seq })))
}

/// Appends a device's wipe receipt (`WipeDone`, signed by the wiped device itself). It needs
/// no credentials: a lost device may have been revoked before it read its wipe order, and
/// its receipt is still worth having. The entry's signature is the authentication.
#[utoipa::path(post, path = "/v1/org/receipts", tag = "org", request_body = AppendRequest,
    responses((status = 201, body = Appended), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    _limit: Unauthenticated,
    ApiJson(req): ApiJson<AppendRequest>,
) -> ApiResult<(StatusCode, Json<Appended>)> {
    let entry = orglog::decode(req.entry.as_bytes())?;
    if !matches!(entry.body, parley_proto::org::OrgBody::WipeDone { .. }) {
        return Err(ApiError::invalid("only wipe receipts go here"));
    }
    orglog::append(&state, &entry, None).await?;
    tracing::info!(seq = entry.seq, "wipe receipt appended");
    Ok((StatusCode::CREATED, Json(Appended { seq: entry.seq })))
}
