//! Operational endpoints: `/healthz`, `/metrics`, `/openapi.json`.

use std::time::Duration;

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

/// How long a scrape waits for the database to count the queue (half of Prometheus's default
/// scrape timeout); past that, or on an error, the counters are served without it, so that a
/// stuck database does not take the metrics that would show it down with it.
const METRICS_DB_WAIT: Duration = Duration::from_secs(5);

/// Prometheus text format. Always answers: `parley_database_up` says whether the database
/// counted the queue for this scrape (and `parley_envelopes_queued` is then present).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let count = async {
        Ok::<i64, sqlx::Error>(on_db!(&state.db, read, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM envelopes").fetch_one(pool).await?
        }))
    };
    let queued = match tokio::time::timeout(METRICS_DB_WAIT, count).await {
        Ok(Ok(n)) => Some(n),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "/metrics: counting the queue failed");
            None
        }
        Err(_) => {
            tracing::warn!("/metrics: the database did not count the queue in time");
            None
        }
    };
    crate::metrics::CONNECTIONS.store(
        u64::try_from(state.hub.len()).unwrap_or(0),
        std::sync::atomic::Ordering::Relaxed,
    );
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(queued),
    )
}

/// This API's OpenAPI 3 document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, content_type = "application/json")))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
