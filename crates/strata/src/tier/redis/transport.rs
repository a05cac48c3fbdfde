//! Which transport a [`RedisBackplane`](super::RedisBackplane) carries key
//! and tag invalidations on: what was asked for, and what was chosen.

use serde::Serialize;

/// The transport a connected [`RedisBackplane`](super::RedisBackplane)
/// uses for key and tag invalidations.
///
/// Prefix, pattern and clear invalidations, sequence numbers and heartbeats
/// travel on pub/sub with either; `docs/backplane.md` says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackplaneTransport {
    /// Every mutation is a pub/sub message from the instance that made it.
    /// Writes to Redis by other programs go unseen.
    PubSub,
    /// Redis's own client tracking (`CLIENT TRACKING on BCAST PREFIX`, RESP3
    /// push): the server reports every change to a value key or to the tags
    /// hash, whoever made it.
    ClientTracking,
}

impl std::fmt::Display for BackplaneTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PubSub => "pub/sub",
            Self::ClientTracking => "client tracking",
        })
    }
}

/// Which transport to use, set with
/// [`RedisBackplaneBuilder::transport`](super::RedisBackplaneBuilder::transport).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportMode {
    /// Client tracking where the server supports it (RESP3 and
    /// `CLIENT TRACKING … BCAST`: Redis 6 and later), pub/sub otherwise.
    #[default]
    Auto,
    /// Pub/sub only, whatever the server supports.
    PubSub,
    /// Client tracking, or fail to connect where the server lacks it.
    ClientTracking,
}
