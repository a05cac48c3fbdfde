//! What a write says about its entry (TTL, tags, priority, cost, metadata),
//! from query parameters, headers or a JSON body, checked and turned into
//! the stored [`Item`] and the library's [`EntryOptions`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use strata::EntryOptions;
use utoipa::ToSchema;

use crate::config::units::parse_duration;
use crate::error::ApiError;
use crate::item::{Item, ItemKind, now_ms};

/// Most tags per entry.
pub const MAX_TAGS: usize = 32;
/// Longest tag, in bytes.
pub const MAX_TAG_BYTES: usize = 128;
/// Most metadata pairs per entry.
pub const MAX_METADATA: usize = 32;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE: usize = 1024;
/// The longest TTL: ten years (a longer one is almost surely a unit error).
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 86_400);

/// A TTL as a client writes it: seconds, a duration string, or `"none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtlSpec {
    /// The namespace's default TTL.
    #[default]
    Default,
    /// No expiry.
    Never,
    /// Expire after this long.
    After(Duration),
}

impl TtlSpec {
    /// Parses `"none"`/`"never"`, seconds or a duration.
    ///
    /// # Errors
    /// 400 saying what a TTL looks like.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let text = text.trim();
        if matches!(text, "none" | "never") {
            return Ok(Self::Never);
        }
        let ttl =
            parse_duration(text).map_err(|e| ApiError::bad_request(format!("bad ttl: {e}")))?;
        Self::checked(ttl)
    }

    fn checked(ttl: Duration) -> Result<Self, ApiError> {
        if ttl.is_zero() {
            return Err(ApiError::bad_request(
                "bad ttl: it must be positive; use \"none\" for an entry that never expires",
            ));
        }
        if ttl > MAX_TTL {
            return Err(ApiError::bad_request("bad ttl: longer than ten years"));
        }
        Ok(Self::After(ttl))
    }
}

impl Serialize for TtlSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Default => s.serialize_none(),
            Self::Never => s.serialize_str("none"),
            Self::After(d) => s.serialize_f64(d.as_secs_f64()),
        }
    }
}

impl Serialize for CostSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.as_secs_f64())
    }
}

impl<'de> Deserialize<'de> for TtlSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Seconds(f64),
            Text(String),
        }
        let parsed = match Written::deserialize(d)? {
            Written::Seconds(s) if s.is_finite() && s >= 0.0 => Duration::try_from_secs_f64(s)
                .map_err(|e| ApiError::bad_request(e.to_string()))
                .and_then(Self::checked),
            Written::Seconds(s) => Err(ApiError::bad_request(format!("bad ttl: {s}"))),
            Written::Text(t) => Self::parse(&t),
        };
        parsed.map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// The options of one write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WriteOptions {
    /// Seconds, a duration such as `"90s"` or `"1h"`, or `"none"`; absent:
    /// the namespace's default.
    #[schema(value_type = Option<String>, example = "1h")]
    pub ttl: TtlSpec,
    /// Tags (no commas; at most 32 of at most 128 bytes).
    pub tags: Vec<String>,
    /// Eviction priority: higher stays longer.
    pub priority: i32,
    /// What the entry costs to recreate: seconds or a duration.
    #[schema(value_type = Option<String>, example = "250ms")]
    pub cost: Option<CostSpec>,
    /// String metadata (keys of `A-Z a-z 0-9 _ -`).
    pub metadata: BTreeMap<String, String>,
}

/// A recreation cost as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostSpec(pub Duration);

impl<'de> Deserialize<'de> for CostSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Seconds(f64),
            Text(String),
        }
        match Written::deserialize(d)? {
            Written::Seconds(s) => Duration::try_from_secs_f64(s).map_err(|e| e.to_string()),
            Written::Text(t) => parse_duration(&t),
        }
        .map(CostSpec)
        .map_err(|e| serde::de::Error::custom(format!("bad cost: {e}")))
    }
}

/// The header carrying each option on `PUT /keys/{key}` (and returned by
/// `GET`).
pub mod headers {
    /// TTL (seconds left, on `GET`).
    pub const TTL: &str = "x-strata-ttl";
    /// Comma-separated tags.
    pub const TAGS: &str = "x-strata-tags";
    /// Priority.
    pub const PRIORITY: &str = "x-strata-priority";
    /// Recreation cost.
    pub const COST: &str = "x-strata-cost";
    /// Prefix of one metadata pair per header.
    pub const META_PREFIX: &str = "x-strata-meta-";
}

impl WriteOptions {
    /// The options of a raw `PUT`: query parameters `ttl`, `tags` (comma
    /// separated, repeatable), `priority`, `cost`, `meta.<key>`; or the
    /// `X-Strata-*` headers. A query parameter beats its header.
    ///
    /// # Errors
    /// 400 for an unknown parameter or a bad value.
    pub fn from_request(query: &[(String, String)], headers: &HeaderMap) -> Result<Self, ApiError> {
        let mut options = Self::default();
        let header = |name: &str| -> Result<Option<&str>, ApiError> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str().map_err(|_| {
                        ApiError::bad_request(format!("header {name} is not visible ASCII"))
                    })
                })
                .transpose()
        };
        if let Some(ttl) = header(headers::TTL)? {
            options.ttl = TtlSpec::parse(ttl)?;
        }
        if let Some(tags) = header(headers::TAGS)? {
            options.tags.extend(split_tags(tags));
        }
        if let Some(p) = header(headers::PRIORITY)? {
            options.priority = parse_priority(p)?;
        }
        if let Some(c) = header(headers::COST)? {
            options.cost = Some(parse_cost(c)?);
        }
        for (name, value) in headers {
            if let Some(key) = name.as_str().strip_prefix(headers::META_PREFIX) {
                let value = value.to_str().map_err(|_| {
                    ApiError::bad_request(format!("header {name} is not visible ASCII"))
                })?;
                options.metadata.insert(key.to_owned(), value.to_owned());
            }
        }
        let mut query_tags = Vec::new();
        for (name, value) in query {
            match name.as_str() {
                "ttl" => options.ttl = TtlSpec::parse(value)?,
                "tags" | "tag" => query_tags.extend(split_tags(value)),
                "priority" => options.priority = parse_priority(value)?,
                "cost" => options.cost = Some(parse_cost(value)?),
                other => match other.strip_prefix("meta.") {
                    Some(key) => {
                        options.metadata.insert(key.to_owned(), value.clone());
                    }
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "unknown query parameter {other:?}; expected ttl, tags, priority, cost or meta.<key>"
                        )));
                    }
                },
            }
        }
        if !query_tags.is_empty() {
            options.tags = query_tags;
        }
        Ok(options)
    }

    /// Checks tags and metadata against the limits.
    ///
    /// # Errors
    /// 400 naming the bad tag or metadata key.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.tags.len() > MAX_TAGS {
            return Err(ApiError::bad_request(format!("more than {MAX_TAGS} tags")));
        }
        for tag in &self.tags {
            if tag.is_empty()
                || tag.len() > MAX_TAG_BYTES
                || tag.contains(',')
                || tag.chars().any(char::is_control)
            {
                return Err(ApiError::bad_request(format!(
                    "bad tag {tag:?}: 1 to {MAX_TAG_BYTES} bytes, no commas or control characters"
                )));
            }
        }
        if self.metadata.len() > MAX_METADATA {
            return Err(ApiError::bad_request(format!(
                "more than {MAX_METADATA} metadata pairs"
            )));
        }
        for (key, value) in &self.metadata {
            let key_ok = !key.is_empty()
                && key.len() <= 64
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !key_ok {
                return Err(ApiError::bad_request(format!(
                    "bad metadata key {key:?}: 1 to 64 of A-Z a-z 0-9 _ -"
                )));
            }
            // Metadata comes back in headers, so it must be header-safe.
            if value.len() > MAX_METADATA_VALUE
                || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
            {
                return Err(ApiError::bad_request(format!(
                    "bad metadata value for {key:?}: at most {MAX_METADATA_VALUE} bytes of printable ASCII"
                )));
            }
        }
        Ok(())
    }

    /// The stored item and the library options for `body`.
    pub fn into_entry(
        self,
        body: Bytes,
        kind: ItemKind,
        content_type: String,
        default_ttl: Option<Duration>,
    ) -> (Arc<Item>, EntryOptions) {
        let ttl = match self.ttl {
            TtlSpec::Default => default_ttl,
            TtlSpec::Never => None,
            TtlSpec::After(d) => Some(d),
        };
        let now = now_ms();
        let mut options = EntryOptions::new()
            .with_tags(self.tags.iter().cloned())
            .with_priority(self.priority);
        options = match ttl {
            Some(d) => options.with_ttl(d),
            None => options.with_no_ttl(),
        };
        if let Some(CostSpec(cost)) = self.cost {
            options = options.with_cost(cost);
        }
        for (k, v) in &self.metadata {
            options = options.with_metadata(k.clone(), v.clone());
        }
        // An exact-size copy: a request body's `Bytes` may be a view into
        // a larger read buffer, which the cache would otherwise keep alive
        // for as long as the entry lives.
        let body = Bytes::copy_from_slice(&body);
        let item = Item {
            etag: Item::etag_of(&content_type, &body),
            body,
            kind,
            content_type,
            tags: self.tags,
            metadata: self.metadata,
            priority: self.priority,
            cost_ms: self
                .cost
                .map(|CostSpec(c)| u64::try_from(c.as_millis()).unwrap_or(u64::MAX)),
            expires_at_ms: ttl
                .map(|d| now.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
            stored_at_ms: now,
            headers: std::sync::OnceLock::new(),
        };
        (Arc::new(item), options)
    }
}

fn split_tags(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn parse_priority(text: &str) -> Result<i32, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("bad priority {text:?}: a whole number")))
}

fn parse_cost(text: &str) -> Result<CostSpec, ApiError> {
    parse_duration(text)
        .map(CostSpec)
        .map_err(|e| ApiError::bad_request(format!("bad cost: {e}")))
}

/// Checks a key against `max_key_bytes`.
///
/// # Errors
/// 400 for an empty key, 413 for one over the limit.
pub fn check_key(key: &str, max_key_bytes: usize) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::bad_request("the key is empty"));
    }
    if key.len() > max_key_bytes {
        return Err(ApiError::too_large(format!(
            "the key is {} bytes, more than limits.max_key_bytes = {max_key_bytes}",
            key.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn query_beats_headers_and_unknown_parameters_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(headers::TTL, "10".parse().unwrap());
        headers.insert(headers::TAGS, "a, b".parse().unwrap());
        headers.insert("x-strata-meta-owner", "ops".parse().unwrap());
        let o = WriteOptions::from_request(&query(&[("ttl", "2m"), ("priority", "3")]), &headers)
            .unwrap();
        assert_eq!(o.ttl, TtlSpec::After(Duration::from_secs(120)));
        assert_eq!(o.tags, ["a", "b"]);
        assert_eq!(o.priority, 3);
        assert_eq!(o.metadata["owner"], "ops");
        let err =
            WriteOptions::from_request(&query(&[("tll", "5")]), &HeaderMap::new()).unwrap_err();
        assert!(err.message.contains("unknown query parameter"));
    }

    #[test]
    fn bad_ttls_say_what_is_wrong() {
        assert!(
            TtlSpec::parse("0")
                .unwrap_err()
                .message
                .contains("positive")
        );
        assert!(
            TtlSpec::parse("soon")
                .unwrap_err()
                .message
                .contains("bad ttl")
        );
        assert!(
            TtlSpec::parse("20000d")
                .unwrap_err()
                .message
                .contains("ten years")
        );
        assert_eq!(TtlSpec::parse("none").unwrap(), TtlSpec::Never);
        let json: WriteOptions = serde_json::from_str(r#"{"ttl": 1.5}"#).unwrap();
        assert_eq!(json.ttl, TtlSpec::After(Duration::from_millis(1500)));
        assert!(serde_json::from_str::<WriteOptions>(r#"{"ttl": -1}"#).is_err());
    }

    #[test]
    fn tags_and_metadata_are_checked() {
        let mut o = WriteOptions {
            tags: vec!["ok".into()],
            ..WriteOptions::default()
        };
        assert!(o.check().is_ok());
        o.tags.push(String::new());
        assert!(o.check().is_err());
        o.tags.pop();
        o.metadata.insert("bad key".into(), "v".into());
        assert!(o.check().unwrap_err().message.contains("metadata key"));
    }
}
