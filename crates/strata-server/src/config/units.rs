//! Human units in the configuration and the API: durations (`"30s"`,
//! `"1h 30m"`, or a bare number of seconds) and sizes (`"256MiB"`, `"1GB"`,
//! or a bare number of bytes). Parsing is humantime's and bytesize's; this
//! module only adds the bare-number forms and the serde glue.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses a duration: a non-negative number of seconds (`"90"`, `"1.5"`) or
/// humantime's syntax (`"250ms"`, `"1h 30m"`).
///
/// # Errors
/// A message saying what form was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{text:?} is not a non-negative number of seconds"));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!(
            "{text:?} is not a duration ({e}); use seconds or units like 500ms, 30s, 5m, 2h, 7d"
        )
    })
}

/// Parses a size: a number of bytes or bytesize's syntax (`"64KiB"`, `"1GB"`).
///
/// # Errors
/// A message saying what form was expected.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(bytes) = text.parse::<u64>() {
        return Ok(bytes);
    }
    text.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| {
            format!("{text:?} is not a size ({e}); use bytes or units like 64KiB, 256MiB, 2GiB")
        })
}

/// A duration or a size as written in a config file or the environment.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Int(u64),
    Float(f64),
    Text(String),
}

/// serde glue for `Duration` fields.
pub mod duration {
    use super::*;

    /// Writes the duration as humantime text (`"30s"`).
    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }

    /// Reads seconds or humantime text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Written::deserialize(d)? {
            Written::Int(n) => Ok(Duration::from_secs(n)),
            Written::Float(f) => parse_duration(&f.to_string()),
            Written::Text(t) => parse_duration(&t),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// serde glue for `Option<Duration>` fields: `"none"`/`"never"` or absent
/// is `None`.
pub mod opt_duration {
    use super::*;

    /// Writes `None` as `"none"`.
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::duration::serialize(d, s),
            None => s.serialize_str("none"),
        }
    }

    /// Reads `"none"`, `"never"`, seconds or humantime text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Written::deserialize(d)? {
            Written::Int(n) => Ok(Some(Duration::from_secs(n))),
            Written::Float(f) => parse_duration(&f.to_string()).map(Some),
            Written::Text(t) if matches!(t.trim(), "none" | "never" | "") => Ok(None),
            Written::Text(t) => parse_duration(&t).map(Some),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// serde glue for byte sizes.
pub mod size {
    use super::*;

    /// Writes the size as a number of bytes.
    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*value)
    }

    /// Reads bytes or bytesize text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Written::deserialize(d)? {
            Written::Int(n) => Ok(n),
            Written::Float(f) => Err(format!("{f} is not a whole number of bytes")),
            Written::Text(t) => parse_size(&t),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_or_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("-1").is_err());
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn sizes_take_bytes_or_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
    }
}
