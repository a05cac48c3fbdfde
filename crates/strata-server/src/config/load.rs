//! Layering the configuration: the profile's preset, then the TOML file,
//! then `STRATA_*` variables, then flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use super::{Config, Profile};

/// What the command line sets; each `Some` beats every other source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Overrides {
    /// `--profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--insecure` (only ever turns it on).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong form.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// The values are well formed but do not make sense together.
    #[error("invalid configuration: {0}")]
    Inconsistent(String),
}

/// The configuration from `file` (if any), the `STRATA_*` environment
/// (nested keys joined by `__`, as in `STRATA_LIMITS__MAX_VALUE_BYTES`) and
/// `flags`, over the preset of the profile those sources name.
///
/// # Errors
/// [`ConfigError`] naming the bad key or value.
pub fn load(file: Option<&std::path::Path>, flags: &Overrides) -> Result<Config, ConfigError> {
    let sources = |base: Figment| {
        let with_file = match file {
            Some(path) => base.merge(Toml::file_exact(path)),
            None => base,
        };
        with_file
            // STRATA_SERVER and STRATA_TOKEN belong to the CLI client, STRATA_LOG
            // to the log filter.
            .merge(
                Env::prefixed("STRATA_")
                    .ignore(&["server", "token", "log"])
                    .split("__"),
            )
            .merge(Serialized::defaults(flags))
    };
    // The profile picks the preset the other sources sit on, so read it
    // from those sources first.
    #[derive(Deserialize)]
    struct Pick {
        #[serde(default)]
        profile: Profile,
    }
    let pick: Pick = sources(Figment::new()).extract().map_err(Box::new)?;
    let config: Config = sources(Figment::from(Serialized::defaults(pick.profile.preset())))
        .extract()
        .map_err(Box::new)?;
    validate(&config)?;
    Ok(config)
}

/// Checks what the types cannot.
///
/// # Errors
/// [`ConfigError::Inconsistent`] saying what to change.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    let bad = |m: String| Err(ConfigError::Inconsistent(m));
    let limits = &config.limits;
    if limits.max_key_bytes == 0 || limits.max_key_bytes > strata::tier::disk::MAX_KEY_BYTES {
        return bad(format!(
            "limits.max_key_bytes must be between 1 and {}",
            strata::tier::disk::MAX_KEY_BYTES
        ));
    }
    if limits.max_value_bytes == 0 || limits.max_value_bytes > limits.max_body_bytes {
        return bad(
            "limits.max_value_bytes must be positive and at most limits.max_body_bytes".into(),
        );
    }
    if limits.max_body_bytes > usize::MAX as u64 {
        return bad("limits.max_body_bytes is larger than this machine can address".into());
    }
    if limits.request_timeout.is_zero() {
        return bad("limits.request_timeout must be positive".into());
    }
    for (what, n) in [
        (
            "limits.max_concurrent_requests",
            limits.max_concurrent_requests,
        ),
        ("limits.max_batch", limits.max_batch),
        ("limits.max_namespaces", limits.max_namespaces),
        ("analytics.samples", config.analytics.samples),
    ] {
        if n == 0 {
            return bad(format!("{what} must be positive"));
        }
    }
    if config.analytics.interval.is_zero() {
        return bad("analytics.interval must be positive".into());
    }
    let m = &config.memory;
    if !(m.soft > 0.0 && m.soft <= m.hard && m.hard <= 1.0) {
        return bad("memory.soft and memory.hard must satisfy 0 < soft <= hard <= 1".into());
    }
    for (name, overrides) in &config.namespaces {
        crate::namespace::check_name(name).map_err(|e| ConfigError::Inconsistent(e.message))?;
        overrides
            .resolve(&config.namespace_defaults)
            .map_err(|e| ConfigError::Inconsistent(format!("namespaces.{name}: {e}")))?;
    }
    if config.namespaces.len() > config.limits.max_namespaces {
        return bad("more namespaces are declared than limits.max_namespaces allows".into());
    }
    for token in &config.auth.tokens {
        if token.token.is_some() == token.token_env.is_some() {
            return bad(format!(
                "auth token {:?}: give exactly one of token and token_env",
                token.name
            ));
        }
        if token.scopes.is_empty() {
            return bad(format!("auth token {:?} has no scopes", token.name));
        }
    }
    Ok(())
}
