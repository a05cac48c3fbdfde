//! [`Tier`] for [`RedisTier`]: each operation is one round trip (scans: one
//! per page), bounded by the command timeout.

use ::redis::{cmd, pipe};
use async_trait::async_trait;

use super::epochs::{check_raise, epoch_from_redis};
use super::errors::TIER;
use super::scan::Scan;
use super::unless_newer::SLICE;
use super::{Access, RedisTier, Resend};
use crate::tier::{KeyFilter, Tier, TierError, TierHealth, TierScope, TierStats, TierWrite};

/// How an entry's expiry is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// Stored without a TTL.
    Never,
    /// Stored with `PX` this many milliseconds.
    In(u64),
    /// Already expired: not stored, and the key is deleted.
    Passed,
}

/// A TTL this long (146 million years) is sent as no TTL at all: Redis adds
/// its clock to `PX` and refuses a sum beyond `i64::MAX`, and callers write
/// `u64::MAX` to mean "never".
const FOREVER_MS: u64 = 1 << 62;

impl Expiry {
    /// `expires_at_ms` seen at `now_ms`. The deadline itself counts as
    /// expired, as in every other tier.
    fn of(expires_at_ms: Option<u64>, now_ms: u64) -> Self {
        match expires_at_ms {
            None => Self::Never,
            Some(at) if at <= now_ms => Self::Passed,
            Some(at) => match at - now_ms {
                ms if ms > FOREVER_MS => Self::Never,
                ms => Self::In(ms),
            },
        }
    }
}

/// The size a write counts against `max_entry_bytes`: key plus envelope,
/// as in every tier.
fn entry_size(write: &TierWrite) -> u64 {
    (write.key.len() as u64).saturating_add(write.bytes.len() as u64)
}

#[async_trait]
impl Tier for RedisTier {
    fn name(&self) -> &str {
        TIER
    }

    /// Every instance of a service reads and writes the same keys.
    fn scope(&self) -> TierScope {
        TierScope::Shared
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        let mut command = cmd("GET");
        command.arg(self.inner.layout.value_key(key));
        self.query(Access::Read, &command).await
    }

    /// One `MGET`.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, TierError> {
        if keys.is_empty() {
            // MGET with no keys is an error reply, and there is nothing to ask.
            return Ok(Vec::new());
        }
        let mut command = cmd("MGET");
        for key in keys {
            command.arg(self.inner.layout.value_key(key));
        }
        self.query(Access::Read, &command).await
    }

    /// Refuses the whole batch with [`TierError::TooLarge`], sending
    /// nothing, if any entry exceeds `max_entry_bytes`; otherwise sends one
    /// pipeline of `SET … [PX ms]` (and `UNLINK` for entries already
    /// expired) and returns once Redis has applied all of it.
    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError> {
        if writes.is_empty() {
            return Ok(());
        }
        let inner = &*self.inner;
        self.check_sizes(&writes)?;
        let now_ms = inner.clock.unix_millis();
        let mut pipeline = pipe();
        for write in &writes {
            let key = inner.layout.value_key(&write.key);
            // In order: Redis applies a pipeline's commands one after the
            // other, so a later write of the same key wins.
            match Expiry::of(write.expires_at_ms, now_ms) {
                Expiry::Never => pipeline.cmd("SET").arg(key).arg(&write.bytes).ignore(),
                Expiry::In(ms) => pipeline
                    .cmd("SET")
                    .arg(key)
                    .arg(&write.bytes)
                    .arg("PX")
                    .arg(ms)
                    .ignore(),
                // A put replaces what was there; an expired entry replaces
                // it with nothing.
                Expiry::Passed => pipeline.cmd("UNLINK").arg(key).ignore(),
            };
        }
        let pipeline = &pipeline;
        self.bounded(Access::Write, Resend::Safe, |mut connection| async move {
            pipeline.query_async::<()>(&mut connection).await
        })
        .await
    }

    /// A Lua script per slice of 256 writes (`unless_newer.rs`): each
    /// entry is written (or, already expired, deleted) unless Redis holds an
    /// envelope of its key with a later `created_at_ms`. Refused whole, as
    /// `put_many`, if an entry is too large. A failure part-way leaves the
    /// slices before it applied; applying them again changes nothing.
    async fn put_many_unless_newer(&self, writes: Vec<TierWrite>) -> Result<u64, TierError> {
        if writes.is_empty() {
            return Ok(0);
        }
        self.check_sizes(&writes)?;
        let inner = &*self.inner;
        let mut skipped = 0;
        for slice in writes.chunks(SLICE) {
            let now_ms = inner.clock.unix_millis();
            let mut invocation = inner.unless_newer_script.prepare_invoke();
            for write in slice {
                let ttl = match Expiry::of(write.expires_at_ms, now_ms) {
                    Expiry::Never => "0".to_owned(),
                    Expiry::In(ms) => ms.to_string(),
                    Expiry::Passed => "-1".to_owned(),
                };
                invocation
                    .key(inner.layout.value_key(&write.key))
                    .arg(&write.bytes)
                    .arg(ttl);
            }
            let invocation = &invocation;
            let n: u64 = self
                .bounded(Access::Write, Resend::Safe, |mut connection| async move {
                    invocation.invoke_async(&mut connection).await
                })
                .await?;
            skipped += n;
        }
        Ok(skipped)
    }

    /// One `UNLINK` (Redis frees large values in the background).
    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut command = cmd("UNLINK");
        for key in keys {
            command.arg(self.inner.layout.value_key(key));
        }
        self.query(Access::Write, &command).await
    }

    /// `SCAN … MATCH` over this prefix's values; see the
    /// [module documentation](super) for the cost. Sorted, without
    /// duplicates.
    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError> {
        let mut scan = Scan::new(self, filter);
        let mut keys = Vec::new();
        while let Some(page) = self.next_page(&mut scan).await? {
            keys.extend(page);
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// Scans page by page and `UNLINK`s each page's matches before reading
    /// the next, so memory stays one page whatever the number of keys. Not
    /// atomic: keys written during the scan may or may not be deleted (as
    /// with any cache invalidation racing a write; the stack's generations
    /// handle that race). On error, the pages already deleted stay deleted.
    async fn delete_matching(&self, filter: &KeyFilter) -> Result<u64, TierError> {
        let mut scan = Scan::new(self, filter);
        let mut removed = 0;
        while let Some(page) = self.next_page(&mut scan).await? {
            removed += self.delete_many(&page).await?;
        }
        Ok(removed)
    }

    /// Deletes every value of this prefix; the tags hash is not a value key,
    /// so the epochs stay.
    async fn clear(&self) -> Result<u64, TierError> {
        self.delete_matching(&KeyFilter::All).await
    }

    /// One `HMGET`.
    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = cmd("HMGET");
        command.arg(self.inner.layout.tags_key());
        for tag in tags {
            command.arg(tag);
        }
        let epochs: Vec<Option<u64>> = self.query(Access::Read, &command).await?;
        Ok(epochs.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// `HINCRBY … 1`: atomic on the server, so concurrent bumps from any
    /// number of instances return distinct epochs.
    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        let mut command = cmd("HINCRBY");
        command.arg(self.inner.layout.tags_key()).arg(tag).arg(1);
        // Never resent: a bump Redis ran before the connection dropped
        // would be applied twice.
        let epoch: i64 = self.query_once(Access::Write, &command).await?;
        epoch_from_redis(tag, epoch)
    }

    /// A Lua script (`EVALSHA`, or `EVAL` when the server does not know it
    /// yet, as after a restart) that sets the epoch only if it is greater.
    ///
    /// # Errors
    /// [`TierError::Engine`] for an epoch above `i64::MAX`, which Redis
    /// cannot count; otherwise as any request.
    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError> {
        if epoch == 0 {
            // Every epoch is at least zero: nothing to raise.
            return Ok(());
        }
        check_raise(tag, epoch)?;
        let inner = &*self.inner;
        let mut invocation = inner.raise_script.prepare_invoke();
        invocation
            .key(inner.layout.tags_key())
            .arg(tag)
            .arg(epoch.to_string());
        let invocation = &invocation;
        let _raised: i64 = self
            .bounded(Access::Write, Resend::Safe, |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        Ok(())
    }

    /// A no-op: Redis has applied every write `put` acknowledged.
    async fn flush(&self) -> Result<(), TierError> {
        Ok(())
    }

    /// This instance's acknowledged writes as `commits`; entries, bytes,
    /// evictions and expirations are not known to one instance of a shared
    /// store and stay zero. See [`RedisTier::redis_stats`] for the rest.
    fn stats(&self) -> TierStats {
        self.inner.counters.tier_stats()
    }

    /// A `PING` within the command timeout: `Healthy` if Redis answers,
    /// `Down` with the error otherwise.
    async fn health(&self) -> TierHealth {
        match self.ping().await {
            Ok(()) => TierHealth::Healthy,
            Err(error) => TierHealth::Down(error.to_string()),
        }
    }
}

impl RedisTier {
    /// Refuses a batch holding an entry over `max_entry_bytes`, whole.
    fn check_sizes(&self, writes: &[TierWrite]) -> Result<(), TierError> {
        let inner = &*self.inner;
        let limit = inner.max_entry_bytes;
        if let Some(size) = writes.iter().map(entry_size).find(|&size| size > limit) {
            inner.counters.refused_too_large();
            return Err(TierError::TooLarge {
                tier: TIER.to_owned(),
                size,
                limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_relative_to_the_clock_and_the_deadline_is_expired() {
        assert_eq!(Expiry::of(None, 1_000), Expiry::Never);
        assert_eq!(Expiry::of(Some(1_250), 1_000), Expiry::In(250));
        assert_eq!(Expiry::of(Some(1_000), 1_000), Expiry::Passed);
        assert_eq!(Expiry::of(Some(5), 1_000), Expiry::Passed);
        assert_eq!(Expiry::of(Some(u64::MAX), 1_000), Expiry::Never);
        assert_eq!(Expiry::of(Some(i64::MAX as u64), 1_000), Expiry::Never);
        assert_eq!(Expiry::of(Some(FOREVER_MS + 1), 1), Expiry::In(FOREVER_MS));
    }

    #[test]
    fn an_entry_counts_its_key_and_envelope() {
        let write = TierWrite {
            key: "abc".into(),
            bytes: vec![0; 10],
            expires_at_ms: None,
        };
        assert_eq!(entry_size(&write), 13);
    }
}
