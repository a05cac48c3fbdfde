//! How the `redis` crate's errors become [`TierError`]s.
//!
//! The rule: what says "Redis cannot be reached or cannot serve now" is
//! [`TierError::Unavailable`] (the circuit breaker will count these), a
//! deadline that passed is [`TierError::Timeout`], and everything else —
//! an error reply to a command, a reply of an unexpected type — is
//! [`TierError::Engine`] with the original error as its source.

use std::time::Duration;

use ::redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::clock::millis;
use crate::tier::TierError;

/// The tier's name, in stats, logs and errors.
pub(super) const TIER: &str = "redis";

/// The error for a request that did not finish within `limit`.
pub(super) fn timeout(limit: Duration) -> TierError {
    TierError::Timeout {
        tier: TIER.to_owned(),
        millis: millis(limit),
    }
}

/// Maps an error of the `redis` crate. `connect_timeout` is the limit that
/// an I/O timeout stands for: the tier sets no response timeout inside the
/// driver (it bounds each request itself), so the driver's only timer is the
/// one on connection attempts.
pub(super) fn from_redis(error: RedisError, connect_timeout: Duration) -> TierError {
    if error.is_timeout() {
        return timeout(connect_timeout);
    }
    match error.kind() {
        // Refused, reset, broken pipe, end of stream, no route: the server
        // or the network is down, or the connection is being re-made.
        ErrorKind::Io => unavailable(&error),
        // The server is up but cannot serve: still loading its data set,
        // or a replica or cluster without a reachable master.
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::TryAgain,
        ) => unavailable(&error),
        _ => TierError::engine(TIER, error),
    }
}

fn unavailable(error: &RedisError) -> TierError {
    TierError::Unavailable {
        tier: TIER.to_owned(),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    const CONNECT: Duration = Duration::from_millis(750);

    fn io_error(kind: io::ErrorKind) -> TierError {
        from_redis(RedisError::from(io::Error::from(kind)), CONNECT)
    }

    #[test]
    fn connection_failures_are_unavailable() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::UnexpectedEof,
        ] {
            assert!(
                matches!(io_error(kind), TierError::Unavailable { ref tier, .. } if tier == TIER),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn an_io_timeout_is_the_connect_timeout() {
        assert!(matches!(
            io_error(io::ErrorKind::TimedOut),
            TierError::Timeout { millis: 750, .. }
        ));
    }

    #[test]
    fn a_loading_server_is_unavailable_and_an_error_reply_is_an_engine_error() {
        let loading =
            RedisError::from((ErrorKind::Server(ServerErrorKind::BusyLoading), "loading"));
        assert!(matches!(
            from_redis(loading, CONNECT),
            TierError::Unavailable { .. }
        ));
        let wrong_type = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "WRONGTYPE",
        ));
        assert!(matches!(
            from_redis(wrong_type, CONNECT),
            TierError::Engine { .. }
        ));
    }
}
