//! `GET /health`, `GET /metrics`, `GET /openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::auth::Caller;
use crate::config::Scope;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when every required tier is up, else `down`.
    pub status: String,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Each namespace's tiers.
    pub namespaces: Vec<NamespaceHealth>,
}

/// One namespace's tiers.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceHealth {
    /// The namespace.
    pub name: String,
    /// Its tiers (the memory tier is always up).
    pub tiers: Vec<TierHealth>,
}

/// One tier's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct TierHealth {
    /// `memory`, `disk`, ….
    pub name: String,
    /// Whether it serves.
    pub up: bool,
    /// Whether the server needs it (the disk tier is required: without it
    /// acknowledged writes would not survive a restart).
    pub required: bool,
    /// The tier's own account.
    pub detail: String,
}

/// Each tier's health; 503 when a required tier is down. Open to
/// everyone (load balancers probe it), so it names tiers, not data.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, description = "A required tier is down", body = Health))
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let mut all_up = true;
    let mut namespaces = Vec::new();
    for ns in state.registry.all() {
        let engine = ns.engine();
        let mut tiers = vec![TierHealth {
            name: "memory".into(),
            up: true,
            required: true,
            detail: "ok".into(),
        }];
        for (name, health) in engine.cache.health().await {
            let up = health.is_up();
            all_up &= up;
            tiers.push(TierHealth {
                name,
                up,
                required: true,
                detail: format!("{health:?}"),
            });
        }
        namespaces.push(NamespaceHealth {
            name: ns.name().to_owned(),
            tiers,
        });
    }
    let body = Health {
        status: if all_up { "ok" } else { "down" }.into(),
        uptime_s: state.started.elapsed().as_secs(),
        namespaces,
    };
    let status = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus text: per namespace and tier hits, misses, evictions by
/// cause, entries, bytes, latency; per route request counts and latency
/// histograms.
#[utoipa::path(
    get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"), (status = 401, description = "No valid token", body = ErrorBody)),
    security(("bearer" = ["read"]))
)]
pub async fn metrics(caller: Caller, State(state): State<AppState>) -> ApiResult<Response> {
    caller.require(Scope::Read)?;
    let text = state.metrics.render(&state).await;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(
    get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi() -> Response {
    Json(crate::openapi::ApiDoc::openapi()).into_response()
}
