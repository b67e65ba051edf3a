//! Operational endpoints: `/healthz`, `/metrics`, `/openapi.json`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use parley_proto::api::Health;

use crate::AppState;
use crate::db::on_db;
use crate::error::ApiResult;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

/// Liveness and readiness: answers only when the database does.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, body = Health), (status = 500, body = parley_proto::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let orgs: i64 = on_db!(&state.db, read, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM org").fetch_one(pool).await?
    });
    Ok(Json(Health {
        status: "ok".into(),
        org: orgs > 0,
    }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let queued: i64 = on_db!(&state.db, read, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM envelopes").fetch_one(pool).await?
    });
    crate::metrics::CONNECTIONS.store(
        u64::try_from(state.hub.len()).unwrap_or(0),
        std::sync::atomic::Ordering::Relaxed,
    );
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(queued),
    ))
}

/// This API's OpenAPI 3 document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, content_type = "application/json")))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
