//! `POST /v1/{ns}/invalidate` (by keys, tags, prefix, pattern) and
//! `POST /v1/{ns}/clear`.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::check_batch;
use super::options::check_key;
use crate::auth::Caller;
use crate::config::Scope;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

/// What to invalidate; every part is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct InvalidateBody {
    /// Keys to remove.
    pub keys: Vec<String>,
    /// Tags whose entries become invalid in every tier.
    pub tags: Vec<String>,
    /// Remove every key starting with this (empty: none).
    pub prefix: String,
    /// Remove every key matching this glob (`*`, `?`, `[a-z]`; empty: none).
    pub pattern: String,
}

/// How many entries each part removed.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct InvalidateResponse {
    /// Keys that some tier held.
    pub keys: u64,
    /// Entries the tags removed from the memory tier (lower tiers drop
    /// theirs as they are read: their tag epochs were bumped).
    pub tags: u64,
    /// Entries the prefix removed (the most of any one tier).
    pub prefix: u64,
    /// Entries the pattern removed (the most of any one tier).
    pub pattern: u64,
}

/// Invalidates by keys, tags, prefix and pattern, in that order.
#[utoipa::path(
    post, path = "/v1/{ns}/invalidate", tag = "invalidation",
    params(("ns" = String, Path, description = "Namespace")),
    request_body = InvalidateBody,
    responses(
        (status = 200, description = "Counts per part", body = InvalidateResponse),
        (status = 400, description = "A bad pattern or key", body = ErrorBody),
        (status = 404, description = "No such namespace", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn invalidate(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Json(body): Json<InvalidateBody>,
) -> ApiResult<Json<InvalidateResponse>> {
    caller.require(Scope::Write)?;
    check_batch(body.keys.len() + body.tags.len(), &state)?;
    for key in &body.keys {
        check_key(key, state.config.limits.max_key_bytes)?;
    }
    if !body.pattern.is_empty() {
        strata::KeyPattern::new(&body.pattern)
            .map_err(|e| crate::error::ApiError::bad_request(format!("bad pattern: {e}")))?;
    }
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    let cache = &engine.cache;
    let mut counts = InvalidateResponse::default();
    for key in &body.keys {
        counts.keys += u64::from(cache.remove(key).await?);
    }
    for tag in &body.tags {
        counts.tags += cache.invalidate_tag(tag).await?;
    }
    if !body.prefix.is_empty() {
        counts.prefix = cache.invalidate_prefix(&body.prefix).await?.most();
    }
    if !body.pattern.is_empty() {
        counts.pattern = cache.invalidate_pattern(&body.pattern).await?.most();
    }
    Ok(Json(counts))
}

/// What `clear` removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cleared {
    /// Entries removed (the most of any one tier).
    pub removed: u64,
}

/// Removes every entry of the namespace from every tier.
#[utoipa::path(
    post, path = "/v1/{ns}/clear", tag = "invalidation",
    params(("ns" = String, Path, description = "Namespace")),
    responses((status = 200, description = "Entries removed", body = Cleared), (status = 404, description = "No such namespace", body = ErrorBody)),
    security(("bearer" = ["write"]))
)]
pub async fn clear(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
) -> ApiResult<Json<Cleared>> {
    caller.require(Scope::Write)?;
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    let removed = engine.cache.clear().await?.most();
    Ok(Json(Cleared { removed }))
}
