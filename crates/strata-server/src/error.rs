//! The one error type of the HTTP API: every failure becomes
//! `{"error": {"code", "message"}}` with the status that says what happened.
//! Messages are for the client; what went wrong inside (a tier's own error)
//! goes to the log, never into the response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure: a status, a stable machine-readable `code`, and a message
/// a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable, snake_case, documented in the OpenAPI description.
    pub code: &'static str,
    /// What was wrong, for the client.
    pub message: String,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: what kind of failure (`bad_request`,
    /// `unauthorized`, `forbidden`, `not_found`, `namespace_not_found`,
    /// `key_not_found`, `payload_too_large`, `timeout`, `overloaded`,
    /// `tier_unavailable`, `internal`, …).
    pub code: String,
    /// What was wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or names an unknown option.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 for a key no tier holds.
    pub fn key_not_found(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "key_not_found",
            format!("no entry for key {key:?}"),
        )
    }

    /// 413: a value, key or body over its limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 500 whose cause is logged, not shown: the client learns only that the
    /// server failed, and where to look (the server's log, by `context`).
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(context, %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the server failed while {context}; the cause is in its log"),
        )
    }

    /// The stable code for a status that no handler produced itself (an
    /// extractor's rejection, an unknown route, a method not allowed).
    pub fn code_for(status: StatusCode) -> &'static str {
        match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_server_error() => "internal",
            _ => "error",
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<strata::CacheError> for ApiError {
    fn from(error: strata::CacheError) -> Self {
        use strata::CacheError;
        match error {
            CacheError::TooLarge { size, limit } => Self::too_large(format!(
                "the stored entry would be {size} bytes, more than this namespace's limit of {limit}"
            )),
            CacheError::Pattern(e) => Self::bad_request(format!("invalid pattern: {e}")),
            CacheError::Memory(e) => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "not_stored",
                format!("the memory tier refused the entry: {e}"),
            ),
            CacheError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ),
            CacheError::Tier { tier, source } => {
                tracing::warn!(%tier, error = %source, "a tier failed a request");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "tier_unavailable",
                    format!("the {tier} tier could not complete the request; retry later"),
                )
            }
            other => Self::internal("storing the entry", &other),
        }
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
