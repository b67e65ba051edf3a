//! Org bootstrap (`POST /v1/org`, once, with the setup token), the org log (`GET /v1/org`)
//! and admin-signed invites (`POST /v1/invites`). docs/architecture.md §2 and §4.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use parley_crypto::DecodeError;
use parley_crypto::identity::PublicIdentity;
use parley_proto::api::{
    CreateInviteRequest, CreateOrgRequest, NewDevice, OrgLog, Registered, SECRET_LEN,
};
use parley_proto::org::{InviteStatement, OrgBody, OrgEntry, OrgError, sha256};
use parley_proto::{B64, ErrorBody, ErrorCode};
use subtle::ConstantTimeEq as _;

use crate::auth::AuthDevice;
use crate::db::{Db, on_db};
use crate::directory::DEVICES_CHANNEL;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::{AppState, now_ms, now_secs, random_bytes};

/// Longest an invite may stay valid.
pub const MAX_INVITE_SECS: u64 = 30 * 24 * 60 * 60;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/org", post(create_org).get(org_log))
        .route("/v1/invites", post(create_invite))
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

/// Maps a refused org record to a 400.
fn bad_record(what: &str, e: &OrgError) -> ApiError {
    match e {
        OrgError::Decode(DecodeError::UnknownVersion(v)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedVersion,
            format!("{what}: unknown record version {v}"),
        ),
        other => ApiError::invalid(format!("{what}: {other}")),
    }
}

/// Checks a device registration's fields; returns the identity's signing key.
pub fn check_new_device(d: &NewDevice) -> ApiResult<[u8; 32]> {
    let identity = PublicIdentity::from_bytes(d.identity.as_bytes())
        .map_err(|e| ApiError::invalid(format!("identity: {e}")))?;
    if d.secret.as_bytes().len() != SECRET_LEN {
        return Err(ApiError::invalid("secret must be 32 bytes"));
    }
    Ok(identity.signing_key().to_bytes())
}

/// Creates the org and its first admin device.
#[utoipa::path(post, path = "/v1/org", tag = "org", request_body = CreateOrgRequest,
    responses((status = 201, body = Registered), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_org(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateOrgRequest>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let genesis =
        OrgEntry::from_bytes(req.genesis.as_bytes()).map_err(|e| bad_record("genesis", &e))?;
    let root_key = *genesis
        .check_genesis()
        .map_err(|e| bad_record("genesis", &e))?;
    let admin = OrgEntry::from_bytes(req.admin.as_bytes()).map_err(|e| bad_record("admin", &e))?;
    admin
        .check_follows(&genesis, &root_key)
        .map_err(|e| bad_record("admin", &e))?;
    let signing_key = check_new_device(&req.device)?;
    match &admin.body {
        OrgBody::AdminAdded {
            user,
            device: 1,
            signing_key: k,
        } if *user == req.user && k.to_bytes() == signing_key => {}
        _ => {
            return Err(ApiError::invalid(
                "the admin entry must name this user, device 1 and its signing key",
            ));
        }
    }

    let token_hash: Option<Vec<u8>> = on_db!(&state.db, write, pool => {
        sqlx::query_scalar("SELECT token_hash FROM setup_token WHERE id = 1").fetch_optional(pool).await?
    });
    let token_ok = token_hash
        .is_some_and(|h| bool::from(h.as_slice().ct_eq(&sha256(req.setup_token.as_bytes()))));

    let now = now_ms();
    let genesis_bytes = genesis.to_bytes();
    let admin_bytes = admin.to_bytes();
    let is_postgres = state.db.is_postgres();
    let created: bool = on_db!(&state.db, write, pool => {{
        let mut tx = pool.begin().await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org").fetch_one(&mut *tx).await?;
        if exists > 0 {
            false
        } else if !token_ok {
            return Err(ApiError::forbidden("wrong setup token"));
        } else {
            sqlx::query("INSERT INTO org (id, genesis_hash, root_key, created_at) VALUES (1, $1, $2, $3)")
                .bind(genesis.hash().to_vec()).bind(root_key.to_bytes().to_vec()).bind(now)
                .execute(&mut *tx).await?;
            for (seq, bytes, hash) in [(0i64, &genesis_bytes, genesis.hash()), (1, &admin_bytes, admin.hash())] {
                sqlx::query("INSERT INTO org_log (seq, entry, hash) VALUES ($1, $2, $3)")
                    .bind(seq).bind(bytes.clone()).bind(hash.to_vec())
                    .execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO admins (signing_key) VALUES ($1)")
                .bind(signing_key.to_vec()).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO users (user_id, created_at) VALUES ($1, $2)")
                .bind(req.user.as_str()).bind(now).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO devices (user_id, device_id, identity, signing_key, secret_hash, registration_id, created_at)
                 VALUES ($1, 1, $2, $3, $4, $5, $6)",
            )
            .bind(req.user.as_str()).bind(req.device.identity.as_bytes().to_vec()).bind(signing_key.to_vec())
            .bind(sha256(req.device.secret.as_bytes()).to_vec()).bind(i64::from(req.device.registration_id)).bind(now)
            .execute(&mut *tx).await?;
            sqlx::query("DELETE FROM setup_token").execute(&mut *tx).await?;
            if is_postgres {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(DEVICES_CHANNEL).bind(req.user.as_str()).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            true
        }
    }});
    if !created {
        return Err(ApiError::conflict("the org already exists"));
    }
    state.directory.devices_changed(&req.user);
    tracing::info!("org created");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            user: req.user,
            device: 1,
        }),
    ))
}

/// The org log: genesis hash and every entry, for clients to verify.
#[utoipa::path(get, path = "/v1/org", tag = "org",
    responses((status = 200, body = OrgLog), (status = 404, body = ErrorBody)))]
pub async fn org_log(State(state): State<AppState>) -> ApiResult<Json<OrgLog>> {
    let (genesis_hash, entries) = load_log(&state.db).await?;
    Ok(Json(OrgLog {
        genesis_hash: genesis_hash.into(),
        entries: entries.into_iter().map(B64).collect(),
    }))
}

async fn load_log(db: &Db) -> ApiResult<(Vec<u8>, Vec<Vec<u8>>)> {
    let genesis_hash: Option<Vec<u8>> = on_db!(db, read, pool => {
        sqlx::query_scalar("SELECT genesis_hash FROM org WHERE id = 1").fetch_optional(pool).await?
    });
    let genesis_hash = genesis_hash.ok_or_else(no_org)?;
    let entries: Vec<Vec<u8>> = on_db!(db, read, pool => {
        sqlx::query_scalar("SELECT entry FROM org_log ORDER BY seq").fetch_all(pool).await?
    });
    Ok((genesis_hash, entries))
}

fn no_org() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NoOrg,
        "the org has not been set up",
    )
}

/// Registers an admin-signed invite.
#[utoipa::path(post, path = "/v1/invites", tag = "org", request_body = CreateInviteRequest,
    security(("device" = [])),
    responses((status = 201), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_invite(
    State(state): State<AppState>,
    admin: AuthDevice,
    ApiJson(req): ApiJson<CreateInviteRequest>,
) -> ApiResult<StatusCode> {
    let is_admin: i64 = on_db!(&state.db, read, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM admins WHERE signing_key = $1")
            .bind(admin.signing_key.to_vec()).fetch_one(pool).await?
    });
    if is_admin == 0 {
        return Err(ApiError::forbidden("only an admin device may invite"));
    }
    let code_hash: [u8; 32] = req
        .code_hash
        .as_bytes()
        .try_into()
        .map_err(|_| ApiError::invalid("code_hash must be 32 bytes"))?;
    let now = now_secs();
    if req.expires_at <= now || req.expires_at > now + MAX_INVITE_SECS {
        return Err(ApiError::invalid("expires_at must be in the next 30 days"));
    }
    let genesis_hash: Option<Vec<u8>> = on_db!(&state.db, read, pool => {
        sqlx::query_scalar("SELECT genesis_hash FROM org WHERE id = 1").fetch_optional(pool).await?
    });
    let genesis_hash: [u8; 32] = genesis_hash
        .ok_or_else(no_org)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("bad genesis hash row"))?;
    let statement = InviteStatement {
        genesis_hash,
        code_hash,
        user: req.user.clone(),
        new_user: req.new_user,
        expires_at: req.expires_at,
    };
    let signer = parley_crypto::keys::SigningPublicKey::from_bytes(&admin.signing_key)
        .map_err(|e| anyhow::anyhow!("stored signing key: {e}"))?;
    statement
        .verify(&signer, req.signature.as_bytes())
        .map_err(|_| ApiError::invalid("the invite signature does not verify"))?;
    let user_exists: i64 = on_db!(&state.db, read, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE user_id = $1")
            .bind(req.user.as_str()).fetch_one(pool).await?
    });
    match (req.new_user, user_exists > 0) {
        (true, true) => return Err(ApiError::conflict("that user already exists")),
        (false, false) => return Err(ApiError::not_found("user")),
        _ => {}
    }
    insert_invite(
        &state.db,
        &code_hash,
        &req.user,
        req.new_user,
        req.expires_at,
        admin.pk,
    )
    .await?;
    Ok(StatusCode::CREATED)
}

/// Stores an invite or link code hash.
pub async fn insert_invite(
    db: &Db,
    code_hash: &[u8; 32],
    user: &parley_proto::UserId,
    new_user: bool,
    expires_at: u64,
    created_by: i64,
) -> ApiResult<()> {
    let expires =
        i64::try_from(expires_at).map_err(|_| ApiError::invalid("expires_at out of range"))?;
    let inserted = on_db!(db, write, pool => {
        sqlx::query(
            "INSERT INTO invites (code_hash, user_id, new_user, expires_at, created_by) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (code_hash) DO NOTHING",
        )
        .bind(code_hash.to_vec()).bind(user.as_str()).bind(i64::from(new_user)).bind(expires).bind(created_by)
        .execute(pool).await?.rows_affected()
    });
    if inserted == 0 {
        return Err(ApiError::conflict("that code is already registered"));
    }
    Ok(())
}
