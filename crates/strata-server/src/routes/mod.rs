//! The routes, one module per group.

pub mod admin;
pub mod bulk;
pub mod invalidate;
pub mod json;
pub mod keys;
pub mod options;
pub mod record;
pub mod stats;
pub mod system;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::limits;
use crate::state::AppState;

/// The whole API.
pub fn router(state: AppState) -> Router {
    let body_limit = usize::try_from(state.config.limits.max_body_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(crate::dashboard::page))
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi))
        .route("/v1/namespaces", get(stats::namespaces))
        .route(
            "/v1/{ns}/keys/{*key}",
            put(keys::put).get(keys::get).delete(keys::delete),
        )
        .route("/v1/{ns}/set", post(json::set))
        .route("/v1/{ns}/mget", post(json::mget))
        .route("/v1/{ns}/mset", post(json::mset))
        .route("/v1/{ns}/invalidate", post(invalidate::invalidate))
        .route("/v1/{ns}/clear", post(invalidate::clear))
        .route("/v1/{ns}/stats", get(stats::stats))
        .route("/v1/{ns}/analytics", get(stats::analytics))
        .route("/v1/{ns}/memory", get(stats::memory))
        .route("/v1/{ns}/warm-up", post(bulk::warm_up))
        .route("/v1/{ns}/export", get(bulk::export))
        .route("/v1/{ns}/import", post(bulk::import))
        .route("/v1/{ns}/benchmark", post(admin::benchmark))
        .route(
            "/v1/{ns}/config",
            get(admin::get_config).put(admin::put_config),
        )
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such route; see /openapi.json",
            )
        })
        // Outermost last: panics are caught inside the guard, so their
        // 500 is measured and bounded like any other answer.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(limits::panic_response))
        .layer(from_fn_with_state(state.clone(), limits::guard))
        .with_state(state)
}
