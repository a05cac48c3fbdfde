//! JSON values and batches: `POST /v1/{ns}/set`, `/mget`, `/mset`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::keys::{Stored, live};
use super::options::check_key;
use super::record::{Record, SetBody};
use crate::auth::Caller;
use crate::config::Scope;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// Stores a JSON value with its options.
#[utoipa::path(
    post, path = "/v1/{ns}/set", tag = "json",
    params(("ns" = String, Path, description = "Namespace")),
    request_body = SetBody,
    responses(
        (status = 201, description = "Stored", body = Stored),
        (status = 400, description = "Malformed JSON, a bad TTL or an unknown field", body = ErrorBody),
        (status = 413, description = "Key or value over its limit", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn set(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Json(body): Json<SetBody>,
) -> ApiResult<(StatusCode, Json<Stored>)> {
    caller.require(Scope::Write)?;
    let prepared = body.prepare(&state.config.limits)?;
    let namespace = state.registry.get_or_create(&ns).await?;
    let engine = namespace.engine();
    let (key, item, options) = prepared.into_entry(engine.settings.default_ttl);
    let stored = Stored {
        key: key.clone(),
        etag: item.etag_hex(),
        ttl_ms: item.ttl_left_ms(item.stored_at_ms),
    };
    engine.cache.set_with(key, item, options).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Keys to read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MgetBody {
    /// At most `limits.max_batch` keys.
    pub keys: Vec<String>,
}

/// What `mget` found, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct MgetResponse {
    /// One per key asked; `null` where no tier holds the key.
    pub entries: Vec<Option<Record>>,
    /// How many were found.
    pub found: usize,
}

/// Reads many keys at once.
#[utoipa::path(
    post, path = "/v1/{ns}/mget", tag = "json",
    params(("ns" = String, Path, description = "Namespace")),
    request_body = MgetBody,
    responses(
        (status = 200, description = "The entries found", body = MgetResponse),
        (status = 413, description = "More keys than limits.max_batch", body = ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
pub async fn mget(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Json(body): Json<MgetBody>,
) -> ApiResult<Json<MgetResponse>> {
    caller.require(Scope::Read)?;
    check_batch(body.keys.len(), &state)?;
    for key in &body.keys {
        check_key(key, state.config.limits.max_key_bytes)?;
    }
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    let items = join_all(body.keys.iter().map(|k| engine.cache.get(k))).await;
    let entries: Vec<Option<Record>> = body
        .keys
        .into_iter()
        .zip(items)
        .map(|(key, item)| live(item).map(|i| Record::of(key, &i)))
        .collect();
    let found = entries.iter().flatten().count();
    Ok(Json(MgetResponse { entries, found }))
}

/// Entries to write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MsetBody {
    /// At most `limits.max_batch` entries, each as for `/set`.
    pub entries: Vec<SetBody>,
}

/// What `mset` stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct MsetResponse {
    /// Entries stored.
    pub stored: usize,
    /// Entries a tier refused, with why (the others were stored).
    pub failed: Vec<Failure>,
}

/// One entry that was not stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Failure {
    /// Its key.
    pub key: String,
    /// Why, as the error `code` and `message` a single write would get.
    pub code: String,
    /// See `code`.
    pub message: String,
}

/// Writes many JSON values at once. Every entry is checked first: one bad
/// entry fails the request and nothing is stored.
#[utoipa::path(
    post, path = "/v1/{ns}/mset", tag = "json",
    params(("ns" = String, Path, description = "Namespace")),
    request_body = MsetBody,
    responses(
        (status = 200, description = "What was stored", body = MsetResponse),
        (status = 400, description = "A bad entry; nothing stored", body = ErrorBody),
        (status = 413, description = "More entries than limits.max_batch", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn mset(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Json(body): Json<MsetBody>,
) -> ApiResult<Json<MsetResponse>> {
    caller.require(Scope::Write)?;
    check_batch(body.entries.len(), &state)?;
    let prepared = SetBody::prepare_all(body.entries, &state.config.limits)?;
    let namespace = state.registry.get_or_create(&ns).await?;
    let engine = namespace.engine();
    let mut stored = 0;
    let mut failed = Vec::new();
    for entry in prepared {
        let (key, item, options) = entry.into_entry(engine.settings.default_ttl);
        match engine.cache.set_with(key.clone(), item, options).await {
            Ok(()) => stored += 1,
            Err(e) => {
                let e = ApiError::from(e);
                failed.push(Failure {
                    key,
                    code: e.code.to_owned(),
                    message: e.message,
                });
            }
        }
    }
    Ok(Json(MsetResponse { stored, failed }))
}

/// 413 for a batch over `limits.max_batch`.
///
/// # Errors
/// As described.
pub fn check_batch(len: usize, state: &AppState) -> Result<(), ApiError> {
    let max = state.config.limits.max_batch;
    if len > max {
        return Err(ApiError::too_large(format!(
            "{len} items in one batch, more than limits.max_batch = {max}"
        )));
    }
    Ok(())
}
