//! The middleware that bounds every request, measures it and keeps every
//! error JSON (see [`guard`]), and the answer to a handler that panicked.

use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::namespace::{Namespace, Resolved};
use crate::state::AppState;

/// How much of a non-JSON error body is kept as the message.
const MAX_MESSAGE: usize = 300;

/// What the guard needs: the server's state, and the route templates to
/// label its metrics with.
#[derive(Clone)]
pub(crate) struct Guarded {
    pub(crate) state: AppState,
    pub(crate) templates: Arc<matchit::Router<&'static str>>,
}

/// Every request passes here once, outermost: one middleware rather than
/// four, because each `from_fn` layer boxes the rest of the request.
///
/// * **Concurrency**: refuses at once with 503 `overloaded` when
///   `limits.max_concurrent_requests` are in flight — a client can back
///   off and retry, where a queue would grow latency without bound.
/// * **Deadline**: 503 `timeout` past `limits.request_timeout`. The
///   handler's future is dropped; every write path leaves the cache
///   consistent at any await point (the tiered cache removes a key it
///   could not write everywhere).
/// * **JSON errors**: an error that is not JSON yet (an extractor's
///   rejection, an unknown route, a method not allowed) becomes the API's
///   error body.
/// * **Metrics**: duration and status, labelled by route and by namespace
///   when it is open (a label per name a client invents would grow the
///   metrics without bound).
pub(crate) async fn guard(
    State(Guarded { state, templates }): State<Guarded>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route: &'static str = templates
        .at(request.uri().path())
        .map_or("unmatched", |found| found.value);
    let method = request.method().clone();
    let namespace = request
        .uri()
        .path()
        .strip_prefix("/v1/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|ns| state.registry.get(ns).ok());
    if let Some(ns) = &namespace {
        // Saves the handler a second lookup (see `Resolved::namespace`).
        request
            .extensions_mut()
            .insert(Resolved::new(Arc::clone(ns)));
    }
    // A borrowed permit: no shared reference count to bump per request.
    let response = match state.in_flight.try_acquire() {
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "more than limits.max_concurrent_requests = {} requests in flight; retry shortly",
                state.config.limits.max_concurrent_requests
            ),
        )
        .into_response(),
        Ok(_permit) => {
            let limit = state.config.limits.request_timeout;
            match within(started + limit, next.run(request)).await {
                Some(response) => as_json_error(response).await,
                None => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    format!("the request took longer than limits.request_timeout = {limit:?}"),
                )
                .into_response(),
            }
        }
    };
    state.metrics.observe_request(
        namespace.as_deref().map_or("", Namespace::name),
        method.as_str(),
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `future`'s output, or `None` once `deadline` has passed.
///
/// The timer is armed only if the first poll does not finish: most reads
/// (memory hits) answer at once, and registering and cancelling a timer
/// costs about as much as the read itself. A first poll cannot be
/// interrupted by a timer either way.
async fn within<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(output) => Some(output),
        Poll::Pending => tokio::time::timeout_at(deadline.into(), future).await.ok(),
    }
}

/// `response`, or, when it is an error that is not already JSON, the API's
/// error body with its status and a short form of its text.
async fn as_json_error(response: Response) -> Response {
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
