//! The server's configuration: a TOML file, `STRATA_*` environment
//! variables and command-line flags, in that order of precedence (a flag
//! beats the environment, which beats the file), on top of a named
//! [`Profile`]'s presets. Unknown keys are errors, not silently ignored:
//! a misspelt limit must not leave the default in force unnoticed.

mod load;
mod profile;
pub mod units;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata::Policy;

pub use load::{ConfigError, Overrides, load, validate};
pub use profile::Profile;

/// The whole configuration of one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The preset this configuration starts from.
    pub profile: Profile,
    /// Where to listen. Default: `127.0.0.1:7070`.
    pub listen: SocketAddr,
    /// Where namespaces keep their disk tiers. Default: `strata-data`.
    pub data_dir: PathBuf,
    /// Allow listening on a non-loopback address without tokens. Default:
    /// false — an open cache on a network is a data leak waiting to happen.
    pub insecure: bool,
    /// Bearer tokens.
    pub auth: AuthConfig,
    /// Request limits.
    pub limits: Limits,
    /// The process's memory budget and pressure thresholds, applied to
    /// every namespace's memory tier.
    pub memory: MemoryConfig,
    /// What an undeclared namespace gets, and whether one may be created on
    /// first write.
    pub namespace_defaults: NamespaceSettings,
    /// Create a namespace on its first write. Default: true in
    /// `development` and `ci`, false in `production`.
    pub create_on_demand: bool,
    /// Declared namespaces: name → settings (each unset field falls back to
    /// `namespace_defaults`).
    pub namespaces: BTreeMap<String, NamespaceOverrides>,
    /// Live analytics (the dashboard's history).
    pub analytics: AnalyticsConfig,
}

/// Bearer tokens and their scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The accepted tokens. Empty: no authentication, and the server binds
    /// to loopback only (unless `insecure`).
    pub tokens: Vec<TokenConfig>,
}

/// One accepted bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs (never the token itself).
    pub name: String,
    /// The token, inline. One of `token` and `token_env` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The environment variable holding the token, so the file can be
    /// shared without the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// What the token may do.
    pub scopes: Vec<Scope>,
}

/// What a token may do. `admin` implies `write`, which implies `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read entries, stats, analytics, export.
    Read,
    /// Also write, invalidate, clear, import, warm up.
    Write,
    /// Also run benchmarks and change a namespace's configuration.
    Admin,
}

impl Scope {
    /// The scope's name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// Request limits, each with a documented default (see [`Profile`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Longest key, in bytes. Default: 1024.
    pub max_key_bytes: usize,
    /// Largest value, in bytes (413 beyond). Default: 1 MiB (`ci`: 64 MiB).
    #[serde(with = "units::size")]
    pub max_value_bytes: u64,
    /// Largest request body, in bytes (413 beyond). Default: 16 MiB (`ci`:
    /// 256 MiB).
    #[serde(with = "units::size")]
    pub max_body_bytes: u64,
    /// A request taking longer gets 503 `timeout`. Default: 30 s.
    #[serde(with = "units::duration")]
    pub request_timeout: Duration,
    /// Requests served at once; more get 503 `overloaded` at once rather
    /// than queue without bound. Default: 1024.
    pub max_concurrent_requests: usize,
    /// Keys or entries in one batch request. Default: 1000.
    pub max_batch: usize,
    /// Namespaces in all. Default: 64.
    pub max_namespaces: usize,
}

/// The process's memory budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// The budget in bytes; `0` means the cgroup's limit when there is one,
    /// else no pressure shedding.
    #[serde(with = "units::size")]
    pub budget: u64,
    /// Fraction of the budget where memory tiers start shedding.
    pub soft: f64,
    /// Fraction where they shed hard.
    pub hard: f64,
}

/// The live analytics kept for the dashboard and `/analytics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// How often each namespace's figures are sampled. Default: 1 s.
    #[serde(with = "units::duration")]
    pub interval: Duration,
    /// How many samples are kept (the span of "over time"). Default: 300.
    pub samples: usize,
}

/// Everything one namespace is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSettings {
    /// The memory tier's eviction policy. Default: `adaptive`.
    pub policy: Policy,
    /// Most entries in the memory tier. Default: 1,000,000.
    pub max_entries: u64,
    /// Most bytes (keys and values) in the memory tier. Default: 256 MiB.
    #[serde(with = "units::size")]
    pub max_memory: u64,
    /// TTL of entries written without one; `"none"` for none.
    #[serde(with = "units::opt_duration")]
    pub default_ttl: Option<Duration>,
    /// Compression of entries in the lower tiers.
    pub compression: CompressionSetting,
    /// Keep a persistent disk tier under `data_dir`. Default: true.
    pub disk: bool,
    /// The disk tier's byte budget. Default: 4 GiB.
    #[serde(with = "units::size")]
    pub disk_max_bytes: u64,
    /// How writes reach the disk tier.
    pub write_policy: WritePolicySetting,
}

/// [`NamespaceSettings`] with every field optional, as a declared namespace
/// writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NamespaceOverrides {
    /// See [`NamespaceSettings::policy`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// See [`NamespaceSettings::max_entries`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
    /// See [`NamespaceSettings::max_memory`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<bytesize::ByteSize>,
    /// See [`NamespaceSettings::default_ttl`] (`"none"` for none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<String>,
    /// See [`NamespaceSettings::compression`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<CompressionSetting>,
    /// See [`NamespaceSettings::disk`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<bool>,
    /// See [`NamespaceSettings::disk_max_bytes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_max_bytes: Option<bytesize::ByteSize>,
    /// See [`NamespaceSettings::write_policy`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_policy: Option<WritePolicySetting>,
}

/// Compression of stored entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompressionSetting {
    /// Never.
    None,
    /// LZ4 where it pays (default).
    #[default]
    Lz4,
    /// Zstandard level 3 where it pays.
    Zstd,
}

/// How writes reach the lower tiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WritePolicySetting {
    /// Every write is on disk before the response (default in `production`).
    #[default]
    WriteThrough,
    /// Writes are acknowledged from memory and written to disk in batches;
    /// a graceful shutdown flushes them (default in `development`).
    WriteBack,
}

impl NamespaceOverrides {
    /// These overrides over `defaults`.
    ///
    /// # Errors
    /// A message when `default_ttl` is not a duration.
    pub fn resolve(&self, defaults: &NamespaceSettings) -> Result<NamespaceSettings, String> {
        let default_ttl = match &self.default_ttl {
            None => defaults.default_ttl,
            Some(t) if matches!(t.trim(), "none" | "never") => None,
            Some(t) => Some(units::parse_duration(t)?),
        };
        Ok(NamespaceSettings {
            policy: self.policy.unwrap_or(defaults.policy),
            max_entries: self.max_entries.unwrap_or(defaults.max_entries),
            max_memory: self.max_memory.map_or(defaults.max_memory, |s| s.as_u64()),
            default_ttl,
            compression: self.compression.unwrap_or(defaults.compression),
            disk: self.disk.unwrap_or(defaults.disk),
            disk_max_bytes: self
                .disk_max_bytes
                .map_or(defaults.disk_max_bytes, |s| s.as_u64()),
            write_policy: self.write_policy.unwrap_or(defaults.write_policy),
        })
    }
}

impl Config {
    /// The settings of namespace `name`: its declaration over the defaults,
    /// or the defaults when it is not declared.
    ///
    /// # Errors
    /// A message when the declaration does not resolve.
    pub fn namespace_settings(&self, name: &str) -> Result<NamespaceSettings, String> {
        match self.namespaces.get(name) {
            Some(overrides) => overrides.resolve(&self.namespace_defaults),
            None => Ok(self.namespace_defaults.clone()),
        }
    }
}
