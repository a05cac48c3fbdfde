//! `/metrics`: Prometheus text, rendered by metrics' Prometheus exporter.
//!
//! Request counts and latency histograms are recorded as requests finish.
//! The cache's own figures (hits, misses, evictions by cause, entries,
//! bytes, tier latency quantiles) are counted by the library already, so
//! they are copied into the recorder at scrape time rather than counted
//! twice. The recorder is this server's own, not the process-global one, so
//! two servers in one process (tests) keep separate figures.

use hashbrown::{Equivalent, HashMap};
use std::time::Duration;

use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::state::AppState;

static META: Metadata<'static> = Metadata::new("strata_server", Level::INFO, None);

/// Request-duration buckets, in seconds: 50 µs to 10 s.
const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

/// A request series: namespace, method, route, status.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Series(String, String, String, u16);

/// A [`Series`] by reference, for lookups. Its `Hash` must match
/// `Series`'s: same fields, same order, `str` hashing as `String` does.
#[derive(Hash)]
struct SeriesRef<'a>(&'a str, &'a str, &'a str, u16);

impl Equivalent<Series> for SeriesRef<'_> {
    fn equivalent(&self, key: &Series) -> bool {
        self.3 == key.3 && self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

/// The server's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Handles of the request series seen so far. Registering a series
    /// builds its key and labels and takes the registry's lock; a request
    /// only looks its handles up here (a read lock, no allocation).
    requests: parking_lot::RwLock<HashMap<Series, (Counter, Histogram)>>,
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, (*v).to_owned()))
        .collect();
    Key::from_parts(name, labels)
}

impl Metrics {
    /// A recorder with the request histogram's buckets and every metric
    /// described.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("strata_request_duration_seconds".into()),
                &BUCKETS,
            )
            .map(PrometheusBuilder::build_recorder)
            // The buckets are a non-empty constant: `set_buckets_for_metric`
            // only fails on an empty list.
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        for (name, help) in [
            (
                "strata_requests_total",
                "HTTP requests by namespace, method, route and status.",
            ),
            (
                "strata_request_duration_seconds",
                "HTTP request duration by namespace, method and route.",
            ),
            (
                "strata_hits_total",
                "Reads answered by a tier, by namespace and tier.",
            ),
            (
                "strata_misses_total",
                "Reads a tier could not answer, by namespace and tier.",
            ),
            (
                "strata_evictions_total",
                "Entries removed, by namespace, tier and cause.",
            ),
            ("strata_entries", "Entries held, by namespace and tier."),
            (
                "strata_bytes",
                "Bytes held (memory: weight), by namespace and tier.",
            ),
            (
                "strata_capacity_bytes",
                "Byte budget, by namespace and tier.",
            ),
            (
                "strata_tier_get_seconds",
                "Sampled read latency quantiles, by namespace and tier.",
            ),
            (
                "strata_tier_up",
                "1 when a tier is healthy, by namespace and tier.",
            ),
            ("strata_uptime_seconds", "Seconds since the server started."),
        ] {
            recorder.describe_gauge(name.into(), None, help.into());
        }
        let handle = recorder.handle();
        Self {
            recorder,
            handle,
            requests: parking_lot::RwLock::new(HashMap::default()),
        }
    }

    /// Records one finished request.
    pub fn observe_request(
        &self,
        namespace: &str,
        method: &str,
        route: &str,
        status: u16,
        took: Duration,
    ) {
        let record = |(counter, histogram): &(Counter, Histogram)| {
            counter.increment(1);
            histogram.record(took.as_secs_f64());
        };
        // Looked up by borrowed parts: no allocation on the request path,
        // where a registration would build four label strings and take the
        // registry's lock.
        let series = SeriesRef(namespace, method, route, status);
        if let Some(handles) = self.requests.read().get(&series) {
            record(handles);
            return;
        }
        let status_text = status.to_string();
        let handles = (
            self.recorder.register_counter(
                &key(
                    "strata_requests_total",
                    &[
                        ("namespace", namespace),
                        ("method", method),
                        ("route", route),
                        ("status", &status_text),
                    ],
                ),
                &META,
            ),
            self.recorder.register_histogram(
                &key(
                    "strata_request_duration_seconds",
                    &[
                        ("namespace", namespace),
                        ("method", method),
                        ("route", route),
                    ],
                ),
                &META,
            ),
        );
        record(&handles);
        self.requests.write().insert(
            Series(
                namespace.to_owned(),
                method.to_owned(),
                route.to_owned(),
                status,
            ),
            handles,
        );
    }

    fn counter(&self, name: &'static str, labels: &[(&'static str, &str)], value: u64) {
        self.recorder
            .register_counter(&key(name, labels), &META)
            .absolute(value);
    }

    fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        self.recorder
            .register_gauge(&key(name, labels), &META)
            .set(value);
    }

    /// The Prometheus text of every metric, with the cache figures read now.
    pub async fn render(&self, state: &AppState) -> String {
        self.gauge(
            "strata_uptime_seconds",
            &[],
            state.started.elapsed().as_secs_f64(),
        );
        for ns in state.registry.all() {
            let engine = ns.engine();
            let name = ns.name();
            let memory = engine.cache.memory().stats();
            let tiered = engine.cache.stats().await;
            let m = [("namespace", name), ("tier", "memory")];
            self.counter("strata_hits_total", &m, tiered.memory_hits);
            self.counter("strata_misses_total", &m, tiered.memory_misses);
            self.gauge("strata_entries", &m, memory.entries as f64);
            self.gauge("strata_bytes", &m, memory.weight as f64);
            if let Some(max) = memory.max_weight {
                self.gauge("strata_capacity_bytes", &m, max as f64);
            }
            let e = &memory.evictions;
            for (cause, n) in [
                ("expired", e.expired),
                ("capacity", e.capacity),
                ("invalidated", e.invalidated),
                ("replaced", e.replaced),
                ("removed", e.removed),
            ] {
                self.counter(
                    "strata_evictions_total",
                    &[("namespace", name), ("tier", "memory"), ("cause", cause)],
                    n,
                );
            }
            self.quantiles(name, "memory", &memory.get_latency);
            self.gauge("strata_tier_up", &m, 1.0);
            for tier in &tiered.tiers {
                let t = [("namespace", name), ("tier", tier.name.as_str())];
                self.counter("strata_hits_total", &t, tier.hits);
                self.counter("strata_misses_total", &t, tier.misses);
                self.gauge("strata_entries", &t, tier.entries as f64);
                self.gauge("strata_bytes", &t, tier.bytes as f64);
                if let Some(max) = tier.capacity_bytes {
                    self.gauge("strata_capacity_bytes", &t, max as f64);
                }
                self.counter(
                    "strata_evictions_total",
                    &[
                        ("namespace", name),
                        ("tier", tier.name.as_str()),
                        ("cause", "capacity"),
                    ],
                    tier.evictions,
                );
                self.counter(
                    "strata_evictions_total",
                    &[
                        ("namespace", name),
                        ("tier", tier.name.as_str()),
                        ("cause", "expired"),
                    ],
                    tier.expired,
                );
                self.quantiles(name, &tier.name, &tier.get_latency);
                self.gauge("strata_tier_up", &t, if tier.healthy { 1.0 } else { 0.0 });
            }
        }
        self.handle.run_upkeep();
        self.handle.render()
    }

    fn quantiles(&self, namespace: &str, tier: &str, latency: &strata::LatencySummary) {
        for (q, d) in [
            ("0.5", latency.p50),
            ("0.95", latency.p95),
            ("0.99", latency.p99),
        ] {
            self.gauge(
                "strata_tier_get_seconds",
                &[("namespace", namespace), ("tier", tier), ("quantile", q)],
                d.as_secs_f64(),
            );
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
