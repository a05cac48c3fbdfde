//! The named presets a configuration starts from.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata::Policy;

use super::{
    AnalyticsConfig, AuthConfig, CompressionSetting, Config, Limits, MemoryConfig,
    NamespaceOverrides, NamespaceSettings, WritePolicySetting,
};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// A named preset. The table below is the documentation of every default
/// (docs/server.md repeats it).
///
/// | setting | development | production | ci |
/// | --- | --- | --- | --- |
/// | `listen` | 127.0.0.1:7070 | 0.0.0.0:7070 (needs tokens) | 127.0.0.1:7070 |
/// | `limits.max_value_bytes` | 1 MiB | 1 MiB | 64 MiB |
/// | `limits.max_body_bytes` | 16 MiB | 16 MiB | 256 MiB |
/// | `limits.request_timeout` | 30 s | 10 s | 120 s |
/// | `limits.max_concurrent_requests` | 1024 | 4096 | 256 |
/// | `memory.budget` | 0 (cgroup, if any) | 0 (cgroup, if any) | 0 |
/// | `memory.soft` / `hard` | 0.8 / 0.9 | 0.75 / 0.9 | 0.8 / 0.9 |
/// | namespace `max_memory` | 256 MiB | 1 GiB | 512 MiB |
/// | namespace `default_ttl` | none | 1 h | 7 days (retention) |
/// | namespace `disk_max_bytes` | 4 GiB | 16 GiB | 20 GiB |
/// | namespace `write_policy` | write-back | write-through | write-through |
/// | `create_on_demand` | true | false | true |
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A developer's machine: loopback, fast acknowledgement (write-back),
    /// namespaces created on first use.
    #[default]
    Development,
    /// A shared service: all interfaces (so tokens are required), every
    /// write durable before its response, only declared namespaces.
    Production,
    /// A CI cache: large artifacts, a week's retention, durable writes.
    Ci,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 3] = [Profile::Development, Profile::Production, Profile::Ci];

    /// The profile's name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Production => "production",
            Profile::Ci => "ci",
        }
    }

    /// The full configuration this profile presets.
    pub fn preset(self) -> Config {
        let loopback = ([127, 0, 0, 1], 7070).into();
        let namespace = NamespaceSettings {
            policy: Policy::Adaptive,
            max_entries: 1_000_000,
            max_memory: 256 * MIB,
            default_ttl: None,
            compression: CompressionSetting::Lz4,
            disk: true,
            disk_max_bytes: 4 * GIB,
            write_policy: WritePolicySetting::WriteBack,
        };
        let limits = Limits {
            max_key_bytes: 1024,
            max_value_bytes: MIB,
            max_body_bytes: 16 * MIB,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 1024,
            max_batch: 1000,
            max_namespaces: 64,
        };
        let mut config = Config {
            profile: self,
            listen: loopback,
            data_dir: "strata-data".into(),
            insecure: false,
            auth: AuthConfig::default(),
            limits,
            memory: MemoryConfig {
                budget: 0,
                soft: 0.8,
                hard: 0.9,
            },
            namespace_defaults: namespace,
            create_on_demand: true,
            // One namespace always exists, so the first command works on a
            // fresh server in every profile (even without on-demand
            // creation).
            namespaces: BTreeMap::from([("default".to_owned(), NamespaceOverrides::default())]),
            analytics: AnalyticsConfig {
                interval: Duration::from_secs(1),
                samples: 300,
            },
        };
        match self {
            Profile::Development => {}
            Profile::Production => {
                config.listen = ([0, 0, 0, 0], 7070).into();
                config.limits.request_timeout = Duration::from_secs(10);
                config.limits.max_concurrent_requests = 4096;
                config.memory.soft = 0.75;
                config.namespace_defaults.max_memory = GIB;
                config.namespace_defaults.default_ttl = Some(Duration::from_secs(3600));
                config.namespace_defaults.disk_max_bytes = 16 * GIB;
                config.namespace_defaults.write_policy = WritePolicySetting::WriteThrough;
                config.create_on_demand = false;
            }
            Profile::Ci => {
                config.limits.max_value_bytes = 64 * MIB;
                config.limits.max_body_bytes = 256 * MIB;
                config.limits.request_timeout = Duration::from_secs(120);
                config.limits.max_concurrent_requests = 256;
                config.namespace_defaults.max_memory = 512 * MIB;
                config.namespace_defaults.default_ttl = Some(Duration::from_secs(7 * 86_400));
                config.namespace_defaults.disk_max_bytes = 20 * GIB;
                config.namespace_defaults.write_policy = WritePolicySetting::WriteThrough;
            }
        }
        config
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown profile {s:?}; expected development, production or ci"))
    }
}
