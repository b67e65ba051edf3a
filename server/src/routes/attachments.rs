//! Encrypted attachment blobs: streamed to and from files in the attachment folder, never
//! held whole in memory, capped in size, addressed by an unguessable id (128 random bits)
//! and deleted after the attachment TTL. The relay only ever sees ciphertext: the key and the
//! digest travel inside the end-to-end encrypted message.
//!
//! Each attachment records the device that uploaded it, and a device's unexpired attachments
//! may hold at most `attachment_quota_bytes` (docs/architecture.md §10): an upload that would
//! go over is refused with 413 `too_large` before its body is read when it declares its
//! length, as soon as it goes over while streaming otherwise, and in any case when it is
//! recorded — in one statement on SQLite's single write connection, under a lock on the
//! device's row on PostgreSQL — so concurrent uploads cannot together pass the quota.
//!
//! With several relay nodes the attachment folder must be shared storage.

use std::path::PathBuf;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt as _;
use parley_proto::ErrorBody;
use parley_proto::api::AttachmentCreated;
use parley_proto::content::is_attachment_id;
use tokio::io::AsyncWriteExt as _;

use crate::auth::AuthDevice;
use crate::db::on_db;
use crate::error::{ApiError, ApiResult};
use crate::{AppState, now_ms, random_bytes};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/attachments",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/attachments/{id}", get(download))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes a partial upload when dropped without `keep`.
struct PartFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Uploads an encrypted blob (any content type; the body is stored as is).
#[utoipa::path(post, path = "/v1/attachments", tag = "attachments", security(("device" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentCreated),
        (status = 413, body = ErrorBody, description = "over the size limit, or over the device's attachment quota")))]
pub async fn upload(
    State(state): State<AppState>,
    dev: AuthDevice,
    req: Request,
) -> ApiResult<Response> {
    let max = state.config.limits.max_attachment_bytes;
    let quota = state.config.limits.attachment_quota_bytes;
    let too_large = || ApiError::too_large(format!("an attachment may be at most {max} bytes"));
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    // What this device may still store; checked again when the upload is recorded.
    let room = quota.saturating_sub(stored_bytes(&state, dev.pk, now_ms()).await?);
    if declared.is_some_and(|n| n > room) {
        return Err(over_quota(quota));
    }
    let id = hex(&random_bytes::<16>()?);
    let part = PartFile {
        path: state
            .attachments_dir
            .join("incoming")
            .join(format!("{id}.part")),
        keep: false,
    };
    let mut file = tokio::fs::File::create(&part.path)
        .await
        .context("creating an attachment file")?;
    let mut size: u64 = 0;
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("the upload was interrupted"))?;
        size = size.saturating_add(chunk.len() as u64);
        if size > max {
            return Err(too_large());
        }
        if size > room {
            return Err(over_quota(quota));
        }
        file.write_all(&chunk)
            .await
            .context("writing an attachment")?;
    }
    if size == 0 {
        return Err(ApiError::invalid("empty attachment"));
    }
    file.sync_all().await.context("syncing an attachment")?;
    drop(file);
    let final_path = state.attachments_dir.join(&id);
    tokio::fs::rename(&part.path, &final_path)
        .await
        .context("storing an attachment")?;
    let mut part = part;
    part.keep = true;
    let now = now_ms();
    let expires = now
        .saturating_add(i64::try_from(state.config.attachment_ttl.as_millis()).unwrap_or(i64::MAX));
    let size_i = i64::try_from(size).unwrap_or(i64::MAX);
    let quota_i = i64::try_from(quota).unwrap_or(i64::MAX);
    let is_postgres = state.db.is_postgres();
    let stored: Result<bool, sqlx::Error> = on_db!(&state.db, write, pool => {
        async {
            let mut tx = pool.begin().await?;
            if is_postgres {
                // Serialises this device's uploads across connections and relay nodes.
                sqlx::query("SELECT pk FROM devices WHERE pk = $1 FOR UPDATE")
                    .bind(dev.pk).execute(&mut *tx).await?;
            }
            let inserted = sqlx::query(
                "INSERT INTO attachments (id, size, created_at, expires_at, device_pk)
                 SELECT $1, $2, $3, $4, $5
                 WHERE (SELECT COALESCE(SUM(size), 0) FROM attachments
                        WHERE device_pk = $5 AND expires_at > $3) + $2 <= $6",
            )
            .bind(&id).bind(size_i).bind(now).bind(expires).bind(dev.pk).bind(quota_i)
            .execute(&mut *tx).await?
            .rows_affected();
            tx.commit().await?;
            Ok(inserted == 1)
        }
        .await
    });
    match stored {
        Ok(true) => Ok((StatusCode::CREATED, Json(AttachmentCreated { id, size })).into_response()),
        Ok(false) => {
            let _ = tokio::fs::remove_file(&final_path).await;
            Err(over_quota(quota))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&final_path).await;
            Err(e.into())
        }
    }
}

/// 413 for an upload that would take the device's stored attachments over `quota` bytes.
fn over_quota(quota: u64) -> ApiError {
    ApiError::too_large(format!(
        "this device's stored attachments would exceed its quota of {quota} bytes; \
         they are deleted as they expire"
    ))
}

/// Bytes of the unexpired attachments that device `pk` uploaded.
async fn stored_bytes(state: &AppState, pk: i64, now: i64) -> ApiResult<u64> {
    let used: i64 = on_db!(&state.db, read, pool => {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments
             WHERE device_pk = $1 AND expires_at > $2",
        )
        .bind(pk).bind(now).fetch_one(pool).await?
    });
    Ok(u64::try_from(used).unwrap_or(0))
}

/// Downloads an encrypted blob.
#[utoipa::path(get, path = "/v1/attachments/{id}", tag = "attachments", security(("device" = [])),
    params(("id" = String, Path, description = "attachment id")),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    _dev: AuthDevice,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !is_attachment_id(&id) {
        return Err(ApiError::not_found("attachment"));
    }
    let now = now_ms();
    let size: Option<i64> = on_db!(&state.db, read, pool => {
        sqlx::query_scalar("SELECT size FROM attachments WHERE id = $1 AND expires_at > $2")
            .bind(&id).bind(now).fetch_optional(pool).await?
    });
    let size = size.ok_or_else(|| ApiError::not_found("attachment"))?;
    let file = match tokio::fs::File::open(state.attachments_dir.join(&id)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found("attachment"));
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context("opening an attachment")
                .into());
        }
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (CONTENT_LENGTH, size.to_string()),
        ],
        body,
    )
        .into_response())
}

/// Deletes expired attachments (rows, then files).
pub async fn expire(state: &AppState, now: i64) -> anyhow::Result<()> {
    let ids: Vec<String> = on_db!(&state.db, write, pool => {
        sqlx::query_scalar("DELETE FROM attachments WHERE expires_at <= $1 RETURNING id")
            .bind(now).fetch_all(pool).await?
    });
    for id in ids.iter().filter(|id| is_attachment_id(id)) {
        match tokio::fs::remove_file(state.attachments_dir.join(id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "removing an expired attachment"),
        }
    }
    Ok(())
}
