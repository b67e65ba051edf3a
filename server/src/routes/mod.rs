//! HTTP routes, one module per resource, merged here.

pub mod attachments;
pub mod devices;
pub mod keys;
pub mod messages;
pub mod ops;
pub mod org;
pub mod ws;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::AppState;
use crate::error::ApiError;
use crate::metrics;

/// The whole API.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.limits.max_body_bytes;
    let api = Router::new()
        .merge(org::router())
        .merge(devices::router())
        .merge(keys::router())
        .merge(messages::router())
        .merge(ws::router())
        .layer(DefaultBodyLimit::max(max_body))
        // Attachments stream their bodies and enforce their own limit.
        .merge(attachments::router())
        .merge(ops::router())
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                parley_proto::ErrorCode::InvalidInput,
                "method not allowed on this route",
            )
        });
    api.layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Logs each request by its route template (never the path itself, which holds user ids, nor
/// headers, which hold credentials, nor the peer address).
async fn log_request(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = matched
        .as_ref()
        .map_or("<unmatched>", MatchedPath::as_str)
        .to_owned();
    let response = next.run(req).await;
    metrics::REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let status = response.status().as_u16();
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::warn!(%method, %route, status, micros, "request");
    } else if status >= 400 {
        tracing::info!(%method, %route, status, micros, "request");
    } else {
        tracing::debug!(%method, %route, status, micros, "request");
    }
    response
}
