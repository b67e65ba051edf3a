//! `ApiError`: every way a request fails, mapped to a status code and a typed JSON body
//! ([`parley_proto::ErrorBody`]). 5xx bodies say only `{"code":"internal"}`; the cause is
//! logged (without request data).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parley_proto::api::{MismatchedDevices, UserMismatch, UserStale};
use parley_proto::{DeviceId, ErrorBody, ErrorCode};

use crate::metrics;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client error with a code and a message.
    #[error("{code:?}: {message}")]
    Client {
        /// HTTP status.
        status: StatusCode,
        /// Error code.
        code: ErrorCode,
        /// Explanation (no secrets, no user data).
        message: String,
    },
    /// 409: the envelopes do not match the recipient's devices.
    #[error("mismatched devices")]
    Mismatched(MismatchedDevices),
    /// 410: some recipient devices were re-registered.
    #[error("stale devices")]
    Stale(Vec<DeviceId>),
    /// 409 of a send to several users: whose envelopes do not match their devices.
    #[error("mismatched devices")]
    MismatchedUsers(Vec<UserMismatch>),
    /// 410 of a send to several users: whose devices were re-registered.
    #[error("stale devices")]
    StaleUsers(Vec<UserStale>),
    /// 429.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a request would pass.
        retry_after_secs: u64,
    },
    /// A storage failure or a bug.
    #[error("internal: {0}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A client error.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `invalid_input`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or wrong device credentials",
        )
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no such {what}"),
        )
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, message)
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }

    fn status_and_body(&self) -> (StatusCode, ErrorBody) {
        match self {
            Self::Client {
                status,
                code,
                message,
            } => (*status, ErrorBody::new(*code, message.clone())),
            Self::Mismatched(m) => {
                let mut body = ErrorBody::new(
                    ErrorCode::MismatchedDevices,
                    "the envelopes do not match the user's devices",
                );
                body.mismatched = Some(m.clone());
                (StatusCode::CONFLICT, body)
            }
            Self::Stale(devices) => {
                let mut body =
                    ErrorBody::new(ErrorCode::StaleDevices, "some devices were re-registered");
                body.stale = Some(devices.clone());
                (StatusCode::GONE, body)
            }
            Self::MismatchedUsers(users) => {
                let mut body = ErrorBody::new(
                    ErrorCode::MismatchedDevices,
                    "the envelopes do not match the users' devices",
                );
                body.mismatched_users = Some(users.clone());
                (StatusCode::CONFLICT, body)
            }
            Self::StaleUsers(users) => {
                let mut body =
                    ErrorBody::new(ErrorCode::StaleDevices, "some devices were re-registered");
                body.stale_users = Some(users.clone());
                (StatusCode::GONE, body)
            }
            Self::RateLimited { retry_after_secs } => {
                let mut body = ErrorBody::new(ErrorCode::RateLimited, "too many requests");
                body.retry_after_secs = Some(*retry_after_secs);
                (StatusCode::TOO_MANY_REQUESTS, body)
            }
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody::new(ErrorCode::Internal, ""),
            ),
        }
    }

    /// A body that is not the JSON expected (`serde_json`'s error).
    pub fn from_json(e: &serde_json::Error) -> Self {
        if e.is_data() {
            Self::wrong_json(e.to_string())
        } else {
            Self::not_json()
        }
    }

    /// Well-formed JSON that is not what was expected (`text`: the parser's words):
    /// `bad_base64` when a binary field is not base64, else `malformed_json`.
    fn wrong_json(text: String) -> Self {
        if text.contains(parley_proto::b64::BAD_BASE64) {
            Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadBase64,
                "a binary field is not valid base64",
            )
        } else {
            Self::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, text)
        }
    }

    /// A body that is not JSON at all.
    fn not_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedJson,
            "the body is not valid JSON",
        )
    }

    /// The status and body to answer with, counted in the metrics (and an internal error's
    /// cause logged), as every answer of this error is.
    pub fn answer(&self) -> (StatusCode, ErrorBody) {
        if let Self::Internal(e) = self {
            // The cause chain comes from storage and I/O; it holds no request data.
            tracing::error!(error = %format!("{e:#}"), "internal error");
        }
        let (status, body) = self.status_and_body();
        metrics::count_error(body.code);
        (status, body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.answer();
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs } = self
            && let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => Self::wrong_json(e.body_text()),
            JsonRejection::JsonSyntaxError(_) => Self::not_json(),
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::MalformedJson,
                "expected Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::too_large("the request body is over the limit")
            }
            other => Self::new(other.status(), ErrorCode::MalformedJson, other.body_text()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body extractor whose rejections are typed [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}
