//! The middleware that bounds every request and keeps every error JSON:
//! concurrency (refuse, don't queue), a deadline, and a last pass that turns
//! any non-JSON error (an extractor's rejection, an unknown route, a method
//! not allowed, a caught panic) into the API's error body.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// How much of a non-JSON error body is kept as the message.
const MAX_MESSAGE: usize = 300;

/// Refuses a request at once with 503 `overloaded` when
/// `limits.max_concurrent_requests` are in flight: a client can back off
/// and retry, where a queue would grow latency without bound.
pub(crate) async fn concurrency(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "more than limits.max_concurrent_requests = {} requests in flight; retry shortly",
                state.config.limits.max_concurrent_requests
            ),
        )
        .into_response();
    };
    next.run(request).await
}

/// Answers 503 `timeout` when a request takes longer than
/// `limits.request_timeout`. The handler's future is dropped; every write
/// path leaves the cache consistent at any await point (the tiered cache
/// removes a key it could not write everywhere).
pub(crate) async fn deadline(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.config.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than limits.request_timeout = {limit:?}"),
        )
        .into_response(),
    }
}

/// Records each request's duration and status for `/metrics`.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    // Label by namespace only when it is open: a label per name a client
    // invents would grow the metrics without bound.
    let namespace = request
        .uri()
        .path()
        .strip_prefix("/v1/")
        .and_then(|rest| rest.split('/').next())
        .filter(|ns| state.registry.get(ns).is_ok())
        .unwrap_or("")
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe_request(
        &namespace,
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Rewrites any error response that is not already JSON into the API's
/// error body, keeping its status and a short form of its text.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if status.is_server_error() || text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.trim().chars().take(MAX_MESSAGE).collect()
    };
    let mut rewritten = ApiError::new(status, ApiError::code_for(status), message).into_response();
    // Keep headers such as Allow (405) and WWW-Authenticate.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

/// The response to a handler that panicked: a 500 that says nothing of the
/// panic (it goes to the log).
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = detail, "a handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed; the cause is in its log",
    )
    .into_response()
}
