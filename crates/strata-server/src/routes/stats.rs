//! Figures: `GET /v1/namespaces`, `/v1/{ns}/stats`, `/analytics`,
//! `/memory`; and the sampler that records each namespace's history.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use strata::{LatencySummary, MemoryGauge, ProcessMemory};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::config::Scope;
use crate::error::{ApiResult, ErrorBody};
use crate::item::now_ms;
use crate::namespace::history::Totals;
use crate::namespace::{Engine, Namespace, Sample};
use crate::state::AppState;

/// Sampled latency in microseconds.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Latency {
    /// Samples behind the figures.
    pub samples: u64,
    /// Median.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
}

impl From<&LatencySummary> for Latency {
    fn from(l: &LatencySummary) -> Self {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        Self {
            samples: l.samples,
            p50_us: us(l.p50),
            p95_us: us(l.p95),
            p99_us: us(l.p99),
            max_us: us(l.max),
        }
    }
}

/// One tier's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TierFigures {
    /// `memory`, `disk`, ….
    pub name: String,
    /// Reads it answered.
    pub hits: u64,
    /// Reads it could not answer.
    pub misses: u64,
    /// Entries it holds.
    pub entries: u64,
    /// Bytes it holds (memory: the entries' weight).
    pub bytes: u64,
    /// Its byte budget.
    pub capacity_bytes: Option<u64>,
    /// Entries it evicted for space.
    pub evictions: u64,
    /// Read latency.
    pub get_latency: Latency,
    /// Whether it is healthy.
    pub healthy: bool,
}

/// `GET /v1/{ns}/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    /// The namespace.
    pub namespace: String,
    /// Its eviction policy.
    pub policy: String,
    /// Reads in all.
    pub reads: u64,
    /// Reads some tier answered.
    pub hits: u64,
    /// Reads no tier answered.
    pub misses: u64,
    /// `hits / reads`; `null` before the first read.
    pub hit_ratio: Option<f64>,
    /// New entries written to the memory tier.
    pub inserts: u64,
    /// Entries overwritten in the memory tier.
    pub updates: u64,
    /// Memory-tier removals by cause.
    pub evictions: Evictions,
    /// Fills dropped because an invalidation raced them.
    pub discarded_fills: u64,
    /// The memory tier, then each lower tier.
    pub tiers: Vec<TierFigures>,
}

/// Removals by cause.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Evictions {
    /// TTL or TTI ran out.
    pub expired: u64,
    /// Evicted for space.
    pub capacity: u64,
    /// Invalidated by tag, prefix, pattern or clear.
    pub invalidated: u64,
    /// Overwritten.
    pub replaced: u64,
    /// Removed by key.
    pub removed: u64,
}

/// Everything `stats` reports, gathered once.
pub async fn gather(name: &str, engine: &Engine) -> StatsResponse {
    let memory = engine.cache.memory().stats();
    let tiered = engine.cache.stats().await;
    let mut tiers = vec![TierFigures {
        name: "memory".into(),
        hits: tiered.memory_hits,
        misses: tiered.memory_misses,
        entries: memory.entries,
        bytes: memory.weight,
        capacity_bytes: memory.max_weight,
        evictions: memory.evictions.capacity,
        get_latency: Latency::from(&memory.get_latency),
        healthy: true,
    }];
    let mut hits = tiered.memory_hits;
    for t in &tiered.tiers {
        hits += t.hits;
        tiers.push(TierFigures {
            name: t.name.clone(),
            hits: t.hits,
            misses: t.misses,
            entries: t.entries,
            bytes: t.bytes,
            capacity_bytes: t.capacity_bytes,
            evictions: t.evictions,
            get_latency: Latency::from(&t.get_latency),
            healthy: t.healthy,
        });
    }
    let reads = tiered.memory_hits + tiered.memory_misses;
    let e = &memory.evictions;
    StatsResponse {
        namespace: name.to_owned(),
        policy: engine.settings.policy.name().to_owned(),
        reads,
        hits,
        misses: reads.saturating_sub(hits),
        hit_ratio: (reads > 0).then(|| hits as f64 / reads as f64),
        inserts: memory.inserts,
        updates: memory.updates,
        evictions: Evictions {
            expired: e.expired,
            capacity: e.capacity,
            invalidated: e.invalidated,
            replaced: e.replaced,
            removed: e.removed,
        },
        discarded_fills: tiered.discarded_fills,
        tiers,
    }
}

/// The namespace's counters and each tier's figures.
#[utoipa::path(
    get, path = "/v1/{ns}/stats", tag = "figures",
    params(("ns" = String, Path, description = "Namespace")),
    responses((status = 200, body = StatsResponse), (status = 404, description = "No such namespace", body = ErrorBody)),
    security(("bearer" = ["read"]))
)]
pub async fn stats(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
) -> ApiResult<Json<StatsResponse>> {
    caller.require(Scope::Read)?;
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    Ok(Json(gather(namespace.name(), &engine).await))
}

/// A frequently read key.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopKey {
    /// The key.
    pub key: String,
    /// Estimated reads (sampled).
    pub reads: u64,
}

/// `GET /v1/{ns}/analytics`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsResponse {
    /// The namespace.
    pub namespace: String,
    /// Milliseconds between samples.
    pub interval_ms: u64,
    /// Figures per interval, oldest first.
    pub samples: Vec<Sample>,
    /// Hit ratio since start; `null` before the first read.
    pub hit_ratio: Option<f64>,
    /// `improving`, `degrading` or `stable`: the hit ratio of the latest
    /// third of the samples against the first third (a change of more
    /// than 2 points), or `unknown` with too few reads.
    pub trend: String,
    /// The most read keys, most first.
    pub top_keys: Vec<TopKey>,
    /// Read latency per tier.
    pub latency: Vec<TierLatency>,
}

/// One tier's read latency.
#[derive(Debug, Serialize, ToSchema)]
pub struct TierLatency {
    /// The tier.
    pub tier: String,
    /// Its latency.
    pub latency: Latency,
}

/// Hit ratio over time, top keys and access-time percentiles.
#[utoipa::path(
    get, path = "/v1/{ns}/analytics", tag = "figures",
    params(("ns" = String, Path, description = "Namespace")),
    responses((status = 200, body = AnalyticsResponse), (status = 404, description = "No such namespace", body = ErrorBody)),
    security(("bearer" = ["read"]))
)]
pub async fn analytics(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
) -> ApiResult<Json<AnalyticsResponse>> {
    caller.require(Scope::Read)?;
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    let figures = gather(namespace.name(), &engine).await;
    let samples = namespace.history().lock().samples();
    let top_keys = engine
        .cache
        .memory()
        .stats()
        .hot_keys
        .into_iter()
        .map(|h| TopKey {
            key: h.key,
            reads: h.estimated_reads,
        })
        .collect();
    Ok(Json(AnalyticsResponse {
        namespace: figures.namespace,
        interval_ms: u64::try_from(state.config.analytics.interval.as_millis()).unwrap_or(u64::MAX),
        trend: trend(&samples).to_owned(),
        samples,
        hit_ratio: figures.hit_ratio,
        top_keys,
        latency: figures
            .tiers
            .into_iter()
            .map(|t| TierLatency {
                tier: t.name,
                latency: t.get_latency,
            })
            .collect(),
    }))
}

/// The trend of the hit ratio over `samples` (see
/// [`AnalyticsResponse::trend`]).
pub fn trend(samples: &[Sample]) -> &'static str {
    let third = samples.len() / 3;
    if third == 0 {
        return "unknown";
    }
    let ratio = |part: &[Sample]| {
        let (hits, reads) = part
            .iter()
            .fold((0, 0), |(h, r), s| (h + s.hits, r + s.reads));
        (reads >= 10).then(|| hits as f64 / reads as f64)
    };
    match (
        ratio(&samples[..third]),
        ratio(&samples[samples.len() - third..]),
    ) {
        (Some(early), Some(late)) if late > early + 0.02 => "improving",
        (Some(early), Some(late)) if late < early - 0.02 => "degrading",
        (Some(_), Some(_)) => "stable",
        _ => "unknown",
    }
}

/// `GET /v1/{ns}/memory`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemoryResponse {
    /// The namespace.
    pub namespace: String,
    /// Entries in the memory tier.
    pub entries: u64,
    /// Its limit.
    pub max_entries: Option<u64>,
    /// Weight of the memory tier: bytes of keys, values and per-entry
    /// bookkeeping as the server counts them.
    pub weight: u64,
    /// Its limit (`max_memory`).
    pub max_weight: Option<u64>,
    /// The larger of entries/max_entries and weight/max_weight.
    pub utilisation: f64,
    /// The disk tier, when there is one.
    pub disk: Option<DiskMemory>,
    /// Resident memory of the whole server process (all namespaces).
    pub process_resident_bytes: Option<u64>,
}

/// The disk tier's use.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiskMemory {
    /// Entries on disk.
    pub entries: u64,
    /// Bytes on disk (after compression).
    pub bytes: u64,
    /// Its budget.
    pub capacity_bytes: Option<u64>,
    /// Bytes before compression over bytes stored (1.0: nothing saved).
    pub compression_ratio: f64,
    /// Bytes compression saved, estimated from the ratio.
    pub compression_saved_bytes: u64,
}

/// Entries, bytes and weight against their limits; compression savings.
#[utoipa::path(
    get, path = "/v1/{ns}/memory", tag = "figures",
    params(("ns" = String, Path, description = "Namespace")),
    responses((status = 200, body = MemoryResponse), (status = 404, description = "No such namespace", body = ErrorBody)),
    security(("bearer" = ["read"]))
)]
pub async fn memory(
    caller: Caller,
    State(state): State<AppState>,
    Path(ns): Path<String>,
) -> ApiResult<Json<MemoryResponse>> {
    caller.require(Scope::Read)?;
    let namespace = state.registry.get(&ns)?;
    let engine = namespace.engine();
    let m = engine.cache.memory();
    let (entries, weight) = (m.len(), m.weight());
    let fraction =
        |n: u64, max: Option<u64>| max.filter(|&x| x > 0).map_or(0.0, |x| n as f64 / x as f64);
    let tiered = engine.cache.stats().await;
    let disk = tiered.tiers.first().map(|t| DiskMemory {
        entries: t.entries,
        bytes: t.bytes,
        capacity_bytes: t.capacity_bytes,
        compression_ratio: t.compression_ratio,
        compression_saved_bytes: (t.bytes as f64 * (t.compression_ratio - 1.0).max(0.0)) as u64,
    });
    Ok(Json(MemoryResponse {
        namespace: namespace.name().to_owned(),
        entries,
        max_entries: m.max_entries(),
        weight,
        max_weight: m.max_weight(),
        utilisation: fraction(entries, m.max_entries()).max(fraction(weight, m.max_weight())),
        disk,
        process_resident_bytes: ProcessMemory.resident_bytes(),
    }))
}

/// One namespace in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceSummary {
    /// Its name.
    pub name: String,
    /// Its policy.
    pub policy: String,
    /// Entries in its memory tier.
    pub entries: u64,
}

/// The open namespaces.
#[utoipa::path(
    get, path = "/v1/namespaces", tag = "figures",
    responses((status = 200, body = [NamespaceSummary])),
    security(("bearer" = ["read"]))
)]
pub async fn namespaces(
    caller: Caller,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<NamespaceSummary>>> {
    caller.require(Scope::Read)?;
    let mut list = Vec::new();
    for ns in state.registry.all() {
        let engine = ns.engine();
        list.push(NamespaceSummary {
            name: ns.name().to_owned(),
            policy: engine.settings.policy.name().to_owned(),
            entries: engine.cache.memory().len(),
        });
    }
    Ok(Json(list))
}

/// Records one sample of `ns` into its history.
pub async fn sample(ns: &Namespace) {
    let engine = ns.engine();
    let figures = gather(ns.name(), &engine).await;
    let memory = &figures.tiers[0];
    let gauges = Sample {
        memory_entries: memory.entries,
        memory_bytes: memory.bytes,
        memory_p99_us: memory.get_latency.p99_us,
        disk_p99_us: figures.tiers.get(1).map(|t| t.get_latency.p99_us),
        ..Sample::default()
    };
    let e = &figures.evictions;
    let totals = Totals {
        reads: figures.reads,
        hits: figures.hits,
        writes: figures.inserts + figures.updates,
        evicted: [e.expired, e.capacity, e.invalidated],
        at_ms: now_ms(),
    };
    ns.history().lock().record(totals, gauges);
}

/// Samples every namespace each `analytics.interval`; runs until the
/// server aborts it at shutdown.
pub async fn sampler(state: AppState) {
    let mut ticker = tokio::time::interval(state.config.analytics.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        for ns in state.registry.all() {
            sample(&ns).await;
        }
    }
}
