//! Raw values: `PUT`, `GET`, `HEAD` and `DELETE /v1/{ns}/keys/{key}`.
//! The body is the value's bytes; options come from query parameters or
//! `X-Strata-*` headers; `GET` answers with the stored `Content-Type`, an
//! `ETag` (and `304` to a matching `If-None-Match`), the TTL left and the
//! tags.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::options::{WriteOptions, check_key, headers as h};
use crate::auth::Caller;
use crate::config::Scope;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::item::{Item, ItemKind, now_ms};
use crate::namespace::Resolved;
use crate::state::AppState;

/// The answer to a write.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    /// The key written.
    pub key: String,
    /// The new ETag.
    pub etag: String,
    /// Milliseconds until expiry; `null` for never.
    pub ttl_ms: Option<u64>,
}

/// The answer to a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Whether some tier held the key.
    pub deleted: bool,
}

/// Stores the request body under `key`.
#[utoipa::path(
    put, path = "/v1/{ns}/keys/{key}", tag = "keys",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Key (may contain slashes)"),
        ("ttl" = Option<String>, Query, description = "Seconds, a duration (90s, 1h) or none; also header X-Strata-TTL"),
        ("tags" = Option<String>, Query, description = "Comma-separated tags; also header X-Strata-Tags"),
        ("priority" = Option<i32>, Query, description = "Eviction priority; also header X-Strata-Priority"),
        ("cost" = Option<String>, Query, description = "Recreation cost; also header X-Strata-Cost"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The value's bytes; its Content-Type is stored and returned"),
    responses(
        (status = 201, description = "Stored", body = Stored),
        (status = 400, description = "A bad option", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks the write scope", body = ErrorBody),
        (status = 413, description = "Key or value over its limit", body = ErrorBody),
        (status = 503, description = "A tier could not take the write", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn put(
    caller: Caller,
    State(state): State<AppState>,
    Path((ns, key)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Scope::Write)?;
    let limits = &state.config.limits;
    check_key(&key, limits.max_key_bytes)?;
    if body.len() as u64 > limits.max_value_bytes {
        return Err(ApiError::too_large(format!(
            "the value is {} bytes, more than limits.max_value_bytes = {}",
            body.len(),
            limits.max_value_bytes
        )));
    }
    let options = WriteOptions::from_request(&query, &headers)?;
    options.check()?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let namespace = state.registry.get_or_create(&ns).await?;
    let engine = namespace.engine();
    let (item, entry) = options.into_entry(
        body,
        ItemKind::Raw,
        content_type,
        engine.settings.default_ttl,
    );
    let stored = Stored {
        key: key.clone(),
        etag: item.etag_hex(),
        ttl_ms: item.ttl_left_ms(item.stored_at_ms),
    };
    engine.cache.set_with(key, item, entry).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// The value stored under `key`, with its metadata in headers.
#[utoipa::path(
    get, path = "/v1/{ns}/keys/{key}", tag = "keys",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Key"),
        ("If-None-Match" = Option<String>, Header, description = "ETags the client holds"),
    ),
    responses(
        (status = 200, description = "The value's bytes, with Content-Type, ETag, X-Strata-TTL (seconds left), X-Strata-Tags, X-Strata-Priority and X-Strata-Meta-* headers", content_type = "application/octet-stream"),
        (status = 304, description = "The client's ETag matches"),
        (status = 404, description = "No such key or namespace", body = ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    Path((ns, key)): Path<(String, String)>,
    IfNoneMatch(if_none_match): IfNoneMatch,
    resolved: Option<Extension<Resolved>>,
) -> ApiResult<Response> {
    caller.require(Scope::Read)?;
    check_key(&key, state.config.limits.max_key_bytes)?;
    let namespace = Resolved::namespace(resolved, &state, &ns)?;
    let item = {
        let engine = namespace.engine();
        engine.cache.get(&key).await
    };
    let item = live(item).ok_or_else(|| ApiError::key_not_found(&key))?;
    let (etag, content_type) = item.header_values();
    if if_none_match.is_some_and(|v| matches_etag(&v, &item.etag_hex())) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag.clone());
        return Ok(response);
    }
    let mut response = item.body.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type.clone());
    headers.insert(header::ETAG, etag.clone());
    describe(&mut response, &item);
    Ok(response)
}

/// Removes `key` from every tier.
#[utoipa::path(
    delete, path = "/v1/{ns}/keys/{key}", tag = "keys",
    params(("ns" = String, Path, description = "Namespace"), ("key" = String, Path, description = "Key")),
    responses(
        (status = 200, description = "Whether a tier held it", body = Deleted),
        (status = 404, description = "No such namespace", body = ErrorBody),
    ),
    security(("bearer" = ["write"]))
)]
pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    Path((ns, key)): Path<(String, String)>,
) -> ApiResult<Json<Deleted>> {
    caller.require(Scope::Write)?;
    check_key(&key, state.config.limits.max_key_bytes)?;
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    let deleted = engine.cache.remove(&key).await?;
    Ok(Json(Deleted { deleted }))
}

/// `item` unless it has expired (a lower tier may hand one back in the
/// instant between its expiry and its sweep).
pub fn live(item: Option<Arc<Item>>) -> Option<Arc<Item>> {
    item.filter(|i| i.expires_at_ms.is_none_or(|at| at > now_ms()))
}

/// The `If-None-Match` header values, if any: extracted alone because the
/// `HeaderMap` extractor would copy every header of every read.
pub struct IfNoneMatch(Option<Vec<HeaderValue>>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let values: Vec<HeaderValue> = parts
            .headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .cloned()
            .collect();
        Ok(Self((!values.is_empty()).then_some(values)))
    }
}

/// Whether the `If-None-Match` values name `etag` (or are `*`).
fn matches_etag(values: &[HeaderValue], etag: &str) -> bool {
    values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

/// Adds the entry's TTL left, tags, priority and metadata as headers.
fn describe(response: &mut Response, item: &Item) {
    if let Some(left) = item.ttl_left_ms(now_ms()) {
        // Whole seconds, rounded up: "0" would read as "expired".
        insert(
            response,
            HeaderName::from_static(h::TTL),
            &left.div_ceil(1000).to_string(),
        );
    }
    if !item.tags.is_empty() {
        insert(
            response,
            HeaderName::from_static(h::TAGS),
            &item.tags.join(","),
        );
    }
    if item.priority != 0 {
        insert(
            response,
            HeaderName::from_static(h::PRIORITY),
            &item.priority.to_string(),
        );
    }
    for (key, value) in &item.metadata {
        if let Ok(name) = HeaderName::try_from(format!("{}{key}", h::META_PREFIX)) {
            insert(response, name, value);
        }
    }
}

fn insert(response: &mut Response, name: HeaderName, value: &str) {
    // Every value was checked to be header-safe when it was written.
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
