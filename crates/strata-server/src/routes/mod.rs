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

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post, put};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::limits;
use crate::state::AppState;

/// The routes and their templates, added together so the metric labels
/// (see [`limits::guard`]) name exactly the routes that exist.
struct Table {
    router: Router<AppState>,
    templates: matchit::Router<&'static str>,
}

impl Table {
    fn route(mut self, path: &'static str, method: MethodRouter<AppState>) -> Self {
        // axum routes with matchit, same syntax: a template axum accepts
        // is one matchit accepts (and a duplicate makes axum panic below).
        let _ = self.templates.insert(path, path);
        self.router = self.router.route(path, method);
        self
    }
}

/// The whole API.
///
/// The middleware wraps the router once, outside it, rather than each
/// route (`Router::layer`): a per-route layer is one more boxed service to
/// clone and one more boxed future per layer on every request, about a
/// sixth of a cached `GET`'s cost. The guard therefore runs before routing
/// and finds the route's template for its metrics in `templates`.
pub fn router(state: AppState) -> Router {
    let body_limit = usize::try_from(state.config.limits.max_body_bytes).unwrap_or(usize::MAX);
    let table = Table {
        router: Router::new(),
        templates: matchit::Router::new(),
    }
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
    );
    let routes = table
        .router
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such route; see /openapi.json",
            )
        })
        .with_state(state.clone());
    let guarded = ServiceBuilder::new()
        .layer(from_fn_with_state(
            limits::Guarded {
                state,
                templates: Arc::new(table.templates),
            },
            limits::guard,
        ))
        // Inside the guard: a panic's 500 is measured and bounded like any
        // other answer.
        .layer(CatchPanicLayer::custom(limits::panic_response))
        .layer(DefaultBodyLimit::max(body_limit))
        .service(routes);
    Router::new().fallback_service(guarded)
}
