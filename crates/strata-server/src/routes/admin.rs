//! Admin-only: `POST /v1/{ns}/benchmark` (on a scratch cache, never on live
//! data) and `GET`/`PUT /v1/{ns}/config` (policy, capacity, default TTL at
//! run time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use rand_distr::{Distribution as _, Zipf};
use serde::{Deserialize, Serialize};
use strata::{MemoryCache, Policy};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::config::units::opt_duration;
use crate::config::{CompressionSetting, NamespaceSettings, Scope};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// The most operations one benchmark may run (a few seconds of one core).
pub const MAX_BENCH_OPS: u64 = 5_000_000;

/// A benchmark's workload; every field has a default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BenchmarkBody {
    /// Operations to run. Default 1,000,000; at most 5,000,000.
    pub ops: u64,
    /// Distinct keys. Default 100,000.
    pub keys: u64,
    /// Scratch cache capacity in entries. Default: keys / 10.
    pub capacity: Option<u64>,
    /// Fraction of reads (the rest are inserts). Default 0.9.
    pub read_ratio: f64,
    /// Zipf exponent of key popularity. Default 1.0.
    pub zipf: f64,
    /// Policy; default the namespace's.
    #[schema(value_type = Option<String>)]
    pub policy: Option<Policy>,
}

impl Default for BenchmarkBody {
    fn default() -> Self {
        Self {
            ops: 1_000_000,
            keys: 100_000,
            capacity: None,
            read_ratio: 0.9,
            zipf: 1.0,
            policy: None,
        }
    }
}

/// A benchmark's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct BenchmarkResponse {
    /// The policy measured.
    pub policy: String,
    /// Operations run.
    pub ops: u64,
    /// Operations per second, one thread.
    pub ops_per_sec: f64,
    /// Reads that hit.
    pub hit_ratio: f64,
    /// Median operation time, nanoseconds (every 64th operation sampled).
    pub p50_ns: u64,
    /// 99th percentile, nanoseconds.
    pub p99_ns: u64,
    /// Wall time of the run, milliseconds.
    pub elapsed_ms: u64,
}

/// Runs an in-process benchmark on a scratch `u64 → u64` cache with the
/// namespace's policy: live data is never touched. One at a time.
#[utoipa::path(
    post, path = "/v1/{ns}/benchmark", tag = "admin",
    params(("ns" = String, Path, description = "Namespace (for its default policy)")),
    request_body = BenchmarkBody,
    responses((status = 200, body = BenchmarkResponse), (status = 400, description = "A bad parameter", body = ErrorBody), (status = 403, description = "Not admin", body = ErrorBody), (status = 409, description = "A benchmark is running", body = ErrorBody)),
    security(("bearer" = ["admin"]))
)]
pub async fn benchmark(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Json(body): Json<BenchmarkBody>,
) -> ApiResult<Json<BenchmarkResponse>> {
    caller.require(Scope::Admin)?;
    let namespace = state.registry.get(&ns)?;
    let policy = match body.policy {
        Some(p) => p,
        None => namespace.engine().settings.policy,
    };
    if body.ops == 0 || body.ops > MAX_BENCH_OPS {
        return Err(ApiError::bad_request(format!(
            "ops must be between 1 and {MAX_BENCH_OPS}"
        )));
    }
    if body.keys == 0 || body.keys > 100_000_000 {
        return Err(ApiError::bad_request(
            "keys must be between 1 and 100,000,000",
        ));
    }
    if !(0.0..=1.0).contains(&body.read_ratio) {
        return Err(ApiError::bad_request("read_ratio must be between 0 and 1"));
    }
    let capacity = body.capacity.unwrap_or((body.keys / 10).max(1));
    if capacity == 0 {
        return Err(ApiError::bad_request("capacity must be positive"));
    }
    let zipf = Zipf::new(body.keys as f64, body.zipf)
        .map_err(|e| ApiError::bad_request(format!("bad zipf exponent: {e}")))?;
    let Ok(running) = Arc::clone(&state.benchmark).try_lock_owned() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "busy",
            "a benchmark is already running",
        ));
    };
    let run = move || -> Result<BenchmarkResponse, String> {
        let _running = running;
        let cache: MemoryCache<u64, u64> = MemoryCache::builder()
            .policy(policy)
            .max_entries(capacity)
            .build()
            .map_err(|e| e.to_string())?;
        let mut rng = StdRng::seed_from_u64(42);
        // Keys drawn up front, so the timing is the cache's, not the RNG's.
        let workload: Vec<(u64, bool)> = (0..body.ops)
            .map(|i| {
                let key = zipf.sample(&mut rng) as u64;
                let read = (i % 1000) as f64 / 1000.0 < body.read_ratio;
                (key, read)
            })
            .collect();
        let mut samples = Vec::with_capacity(workload.len() / 64 + 1);
        let (mut reads, mut hits) = (0_u64, 0_u64);
        let started = Instant::now();
        for (i, &(key, read)) in workload.iter().enumerate() {
            let sampled = i % 64 == 0;
            let t = sampled.then(Instant::now);
            if read {
                reads += 1;
                if cache.get(&key).is_some() {
                    hits += 1;
                } else {
                    let _ = cache.insert(key, key);
                }
            } else {
                let _ = cache.insert(key, key);
            }
            if let Some(t) = t {
                samples.push(t.elapsed());
            }
        }
        let elapsed = started.elapsed();
        samples.sort_unstable();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 - 1.0) * q) as usize)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        };
        Ok(BenchmarkResponse {
            policy: policy.name().to_owned(),
            ops: body.ops,
            ops_per_sec: body.ops as f64 / elapsed.as_secs_f64().max(1e-9),
            hit_ratio: if reads == 0 {
                0.0
            } else {
                hits as f64 / reads as f64
            },
            p50_ns: at(0.5),
            p99_ns: at(0.99),
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    };
    let result = tokio::task::spawn_blocking(run)
        .await
        .map_err(|e| ApiError::internal("running the benchmark", &e))?
        .map_err(|e| {
            ApiError::bad_request(format!("the benchmark's cache could not be built: {e}"))
        })?;
    Ok(Json(result))
}

/// A namespace's live settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    /// The namespace.
    pub namespace: String,
    /// Eviction policy.
    pub policy: String,
    /// Most entries in memory.
    pub max_entries: u64,
    /// Most bytes in memory.
    pub max_memory: u64,
    /// Default TTL in seconds; `null` for none.
    pub default_ttl_s: Option<f64>,
    /// Compression in the lower tiers.
    pub compression: CompressionSetting,
    /// Whether there is a disk tier.
    pub disk: bool,
}

impl ConfigResponse {
    fn of(name: &str, s: &NamespaceSettings) -> Self {
        Self {
            namespace: name.to_owned(),
            policy: s.policy.name().to_owned(),
            max_entries: s.max_entries,
            max_memory: s.max_memory,
            default_ttl_s: s.default_ttl.map(|d| d.as_secs_f64()),
            compression: s.compression,
            disk: s.disk,
        }
    }
}

/// What a config change sets; absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigChange {
    /// `adaptive`, `lru`, `lfu`, `ttl`, `size` or `hybrid`.
    #[schema(value_type = Option<String>)]
    pub policy: Option<Policy>,
    /// Most entries in memory.
    pub max_entries: Option<u64>,
    /// Most bytes in memory: a number or a size such as `"512MiB"`.
    #[schema(value_type = Option<String>)]
    pub max_memory: Option<bytesize::ByteSize>,
    /// Seconds, a duration, or `"none"`.
    #[serde(default, deserialize_with = "some_duration")]
    #[schema(value_type = Option<String>)]
    pub default_ttl: Option<Option<Duration>>,
    /// `none`, `lz4` or `zstd`.
    pub compression: Option<CompressionSetting>,
}

fn some_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Duration>>, D::Error> {
    opt_duration::deserialize(d).map(Some)
}

/// The namespace's live settings.
#[utoipa::path(
    get, path = "/v1/{ns}/config", tag = "admin",
    params(("ns" = String, Path, description = "Namespace")),
    responses((status = 200, body = ConfigResponse), (status = 404, description = "No such namespace", body = ErrorBody)),
    security(("bearer" = ["read"]))
)]
pub async fn get_config(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
) -> ApiResult<Json<ConfigResponse>> {
    caller.require(Scope::Read)?;
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    Ok(Json(ConfigResponse::of(namespace.name(), &engine.settings)))
}

/// Changes policy, capacity, default TTL or compression at run time. The
/// memory tier is rebuilt empty (after the requests in flight finish);
/// entries on disk stay and come back as they are read. The change lasts
/// until restart: the config file is not rewritten.
#[utoipa::path(
    put, path = "/v1/{ns}/config", tag = "admin",
    params(("ns" = String, Path, description = "Namespace")),
    request_body = ConfigChange,
    responses((status = 200, description = "The new settings", body = ConfigResponse), (status = 400, description = "A bad or unknown setting", body = ErrorBody), (status = 403, description = "Not admin", body = ErrorBody)),
    security(("bearer" = ["admin"]))
)]
pub async fn put_config(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
    Json(change): Json<ConfigChange>,
) -> ApiResult<Json<ConfigResponse>> {
    caller.require(Scope::Admin)?;
    let namespace = state.registry.get(&ns)?;
    let mut settings = namespace.engine().settings.clone();
    if let Some(p) = change.policy {
        settings.policy = p;
    }
    if let Some(n) = change.max_entries {
        settings.max_entries = n;
    }
    if let Some(m) = change.max_memory {
        settings.max_memory = m.as_u64();
    }
    if let Some(ttl) = change.default_ttl {
        settings.default_ttl = ttl;
    }
    if let Some(c) = change.compression {
        settings.compression = c;
    }
    if settings.max_entries == 0 || settings.max_memory == 0 {
        return Err(ApiError::bad_request(
            "max_entries and max_memory must be positive",
        ));
    }
    namespace
        .reconfigure(settings.clone(), &state.config.memory, &state.config.limits)
        .await?;
    tracing::info!(namespace = %ns, by = caller.name(), policy = settings.policy.name(), "namespace reconfigured");
    Ok(Json(ConfigResponse::of(namespace.name(), &settings)))
}
