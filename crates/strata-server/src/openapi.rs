//! The OpenAPI description, generated from the handlers' annotations so it
//! cannot drift from the routes (a test checks that every route is in it).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, bulk, invalidate, json, keys, options, record, stats, system};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strata",
        description = "A multi-level cache over HTTP. Errors are always `{\"error\": {\"code\", \"message\"}}`. \
                       With tokens configured, send `Authorization: Bearer <token>`; scopes are read < write < admin."
    ),
    paths(
        keys::put, keys::get, keys::delete,
        json::set, json::mget, json::mset,
        invalidate::invalidate, invalidate::clear,
        stats::namespaces, stats::stats, stats::analytics, stats::memory,
        bulk::warm_up, bulk::export, bulk::import,
        admin::benchmark, admin::get_config, admin::put_config,
        system::health, system::metrics, system::openapi,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::error::ErrorDetail,
        options::WriteOptions, record::SetBody, record::Record,
        keys::Stored, keys::Deleted,
        json::MgetBody, json::MgetResponse, json::MsetBody, json::MsetResponse, json::Failure,
        invalidate::InvalidateBody, invalidate::InvalidateResponse, invalidate::Cleared,
        stats::StatsResponse, stats::TierFigures, stats::Latency, stats::Evictions,
        stats::AnalyticsResponse, stats::TopKey, stats::TierLatency, crate::namespace::Sample,
        stats::MemoryResponse, stats::DiskMemory, stats::NamespaceSummary,
        bulk::WarmUpBody, bulk::WarmUpResponse, bulk::ImportResponse, bulk::ImportError,
        admin::BenchmarkBody, admin::BenchmarkResponse, admin::ConfigResponse, admin::ConfigChange,
        crate::config::CompressionSetting,
        system::Health, system::NamespaceHealth, system::TierHealth,
    )),
    modifiers(&Bearer),
    tags(
        (name = "keys", description = "Raw values by key"),
        (name = "json", description = "JSON values and batches"),
        (name = "invalidation", description = "Invalidate by key, tag, prefix, pattern; clear"),
        (name = "figures", description = "Stats, analytics, memory"),
        (name = "bulk", description = "Warm-up, export, import"),
        (name = "admin", description = "Benchmark and run-time configuration"),
        (name = "system", description = "Health, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer-token security scheme.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
