//! Moving many entries: `POST /v1/{ns}/warm-up`, `GET /v1/{ns}/export`
//! (streamed NDJSON) and `POST /v1/{ns}/import` (NDJSON).

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use strata::KeyPattern;
use strata::tier::{KeyFilter, Tier};
use utoipa::{IntoParams, ToSchema};

use super::json::check_batch;
use super::keys::live;
use super::options::check_key;
use super::record::{Record, SetBody};
use crate::auth::Caller;
use crate::config::Scope;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// What to preload.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WarmUpBody {
    /// Entries to store where the key has no entry yet (an existing entry
    /// is newer than a preload and is kept).
    pub entries: Vec<SetBody>,
    /// Keys to bring from the lower tiers into the memory tier.
    pub keys: Vec<String>,
}

/// What `warm-up` did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct WarmUpResponse {
    /// Entries stored.
    pub loaded: u64,
    /// Entries skipped because the key already had one.
    pub skipped: u64,
    /// Keys found in a lower tier and now in memory.
    pub promoted: u64,
    /// Keys no tier holds.
    pub missing: u64,
}

/// Preloads entries and promotes keys into the memory tier.
#[utoipa::path(
    post, path = "/v1/{ns}/warm-up", tag = "bulk",
    params(("ns" = String, Path, description = "Namespace")),
    request_body = WarmUpBody,
    responses((status = 200, body = WarmUpResponse), (status = 400, description = "A bad entry; nothing stored", body = ErrorBody), (status = 413, description = "Over limits.max_batch", body = ErrorBody)),
    security(("bearer" = ["write"]))
)]
pub async fn warm_up(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Json(body): Json<WarmUpBody>,
) -> ApiResult<Json<WarmUpResponse>> {
    caller.require(Scope::Write)?;
    check_batch(body.entries.len() + body.keys.len(), &state)?;
    for key in &body.keys {
        check_key(key, state.config.limits.max_key_bytes)?;
    }
    let prepared = SetBody::prepare_all(body.entries, &state.config.limits)?;
    let namespace = state.registry.get_or_create(&ns).await?;
    let engine = namespace.engine();
    let mut report = WarmUpResponse::default();
    for entry in prepared {
        if engine.cache.get(&entry.key).await.is_some() {
            report.skipped += 1;
            continue;
        }
        let (key, item, options) = entry.into_entry(engine.settings.default_ttl);
        engine.cache.set_with(key, item, options).await?;
        report.loaded += 1;
    }
    for key in &body.keys {
        // A read promotes a lower-tier hit into the memory tier.
        if engine.cache.get(key).await.is_some() {
            report.promoted += 1;
        } else {
            report.missing += 1;
        }
    }
    Ok(Json(report))
}

/// Which entries to export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct ExportQuery {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only keys matching this glob.
    pub pattern: Option<String>,
    /// Only entries with this tag.
    pub tag: Option<String>,
    /// At most this many entries.
    pub limit: Option<u64>,
}

/// Streams the namespace's entries as NDJSON, one [`Record`] per line:
/// those in the memory tier, then those only on disk (read through the
/// cache, so they are promoted). The format is what `import` reads.
#[utoipa::path(
    get, path = "/v1/{ns}/export", tag = "bulk",
    params(("ns" = String, Path, description = "Namespace"), ExportQuery),
    responses((status = 200, description = "One JSON record per line", content_type = "application/x-ndjson", body = Record), (status = 400, description = "A bad pattern or an unknown option", body = ErrorBody)),
    security(("bearer" = ["read"]))
)]
pub async fn export(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    caller.require(Scope::Read)?;
    let pattern = query
        .pattern
        .as_deref()
        .map(KeyPattern::new)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("bad pattern: {e}")))?;
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    let selected = move |key: &str| {
        query.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && pattern.as_ref().is_none_or(|p| p.is_match(key))
    };
    // Keys first (memory snapshot, then the disk tier's scan), values as
    // the stream is read, so a large namespace is never held in one piece.
    let mut keys: Vec<String> = engine
        .cache
        .memory()
        .snapshot()
        .into_iter()
        .map(|e| e.key)
        .filter(|k| selected(k))
        .collect();
    if let Some(disk) = namespace.disk() {
        let filter = KeyFilter::Prefix(String::new());
        match disk.scan(&filter).await {
            Ok(on_disk) => {
                let in_memory: std::collections::HashSet<String> = keys.iter().cloned().collect();
                keys.extend(
                    on_disk
                        .into_iter()
                        .filter(|k| selected(k) && !in_memory.contains(k)),
                );
            }
            Err(e) => return Err(ApiError::internal("listing the disk tier for export", &e)),
        }
    }
    let limit = query.limit.unwrap_or(u64::MAX);
    let tag = query.tag;
    let lines = stream::unfold(
        (keys.into_iter(), engine, 0_u64),
        move |(mut keys, engine, mut sent)| {
            let tag = tag.clone();
            async move {
                while sent < limit {
                    let key = keys.next()?;
                    let Some(item) = live(engine.cache.get(&key).await) else {
                        continue;
                    };
                    if tag.as_ref().is_some_and(|t| !item.tags.contains(t)) {
                        continue;
                    }
                    let mut line = serde_json::to_vec(&Record::of(key, &item)).unwrap_or_default();
                    line.push(b'\n');
                    sent += 1;
                    return Some((Ok::<_, Infallible>(Bytes::from(line)), (keys, engine, sent)));
                }
                None
            }
        },
    );
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response())
}

/// What `import` did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportResponse {
    /// Entries stored.
    pub imported: u64,
    /// Lines not stored.
    pub failed: u64,
    /// The first 100 failures: line number (from 1) and why.
    pub errors: Vec<ImportError>,
}

/// One line `import` could not store.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportError {
    /// The line, counting from 1.
    pub line: u64,
    /// Why.
    pub message: String,
}

/// Stores NDJSON records (the format `export` writes). A bad line is
/// reported and skipped; the others are stored.
#[utoipa::path(
    post, path = "/v1/{ns}/import", tag = "bulk",
    params(("ns" = String, Path, description = "Namespace")),
    request_body(content = String, content_type = "application/x-ndjson", description = "One record per line"),
    responses((status = 200, body = ImportResponse), (status = 413, description = "Body over limits.max_body_bytes", body = ErrorBody)),
    security(("bearer" = ["write"]))
)]
pub async fn import(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    body: Bytes,
) -> ApiResult<Json<ImportResponse>> {
    caller.require(Scope::Write)?;
    let namespace = state.registry.get_or_create(&ns).await?;
    let engine = namespace.engine();
    let mut report = ImportResponse::default();
    let fail = |line: u64, message: String, report: &mut ImportResponse| {
        report.failed += 1;
        if report.errors.len() < 100 {
            report.errors.push(ImportError { line, message });
        }
    };
    for (index, line) in body.split(|&b| b == b'\n').enumerate() {
        let number = index as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Record = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                fail(number, format!("not a record: {e}"), &mut report);
                continue;
            }
        };
        let prepared = match record.prepare(&state.config.limits) {
            Ok(p) => p,
            Err(e) => {
                fail(number, e.message, &mut report);
                continue;
            }
        };
        let (key, item, options) = prepared.into_entry(engine.settings.default_ttl);
        match engine.cache.set_with(key, item, options).await {
            Ok(()) => report.imported += 1,
            Err(e) => fail(number, ApiError::from(e).message, &mut report),
        }
    }
    Ok(Json(report))
}
