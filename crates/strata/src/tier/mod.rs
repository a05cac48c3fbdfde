//! Lower tiers: the [`Tier`] trait every tier below the memory tier
//! implements, and the types that cross it.
//!
//! # The contract
//!
//! A tier is a key → bytes store that the [`TieredCache`](crate::TieredCache)
//! drives. The bytes are an [envelope](crate::envelope): the tier never
//! decodes them, so a tier knows nothing about values, codecs or tags beyond
//! what [`TierWrite`] tells it.
//!
//! A tier **may**:
//! * drop any entry at any time (it is a cache): evict for space, drop
//!   expired entries lazily or in a sweep, lose unflushed writes in a crash;
//! * return an entry whose expiry has passed (the stack checks expiry again);
//! * return bytes that fail the envelope checksum (the stack treats them as a
//!   miss, counts them and deletes them).
//!
//! A tier **must not**:
//! * return bytes stored under another key, or a mix of two writes;
//! * return a value older than one it has acknowledged for the same key
//!   (after `put` returns `Ok`, a later `get` sees that write or a later one,
//!   or nothing);
//! * lower a tag epoch: [`bump_tag_epoch`](Tier::bump_tag_epoch) and
//!   [`raise_tag_epoch`](Tier::raise_tag_epoch) only move epochs up, and
//!   epochs survive restarts if the tier's entries do;
//! * block the async executor: blocking I/O runs on a blocking thread.
//!
//! **Errors.** Every operation returns [`TierError`]. An error means the
//! operation may or may not have happened; the stack treats a failed read as
//! a miss of that tier and a failed write or delete as a failure of the call
//! (write-through) or a counted failure (write-back). A tier whose store is
//! unusable reports it through [`health`](Tier::health).

pub mod breaker;
#[cfg(feature = "disk")]
pub mod disk;
mod error;
#[cfg(feature = "redis")]
pub mod redis;
mod types;

pub use error::TierError;
pub use types::{KeyFilter, TierHealth, TierScope, TierStats, TierWrite};

use async_trait::async_trait;

/// A lower tier of the cache: a store of envelopes by key, with tag epochs.
///
/// See the [module documentation](self) for what a tier may and may not do.
/// Implementations must be cheap to share (`Arc<dyn Tier>`).
#[async_trait]
pub trait Tier: Send + Sync + 'static {
    /// A short name for stats and logs, such as `"disk"` or `"redis"`.
    fn name(&self) -> &str;

    /// Whether other instances share the tier's store. A tier that other
    /// processes read and write (over the network) must answer
    /// [`TierScope::Shared`], or a [`TieredCache`](crate::TieredCache) with
    /// a backplane applies the other instances' invalidations to it a
    /// second time; a wrapper answers what the tier it wraps answers.
    ///
    /// Default: [`TierScope::Private`], for a store only this process uses.
    fn scope(&self) -> TierScope {
        TierScope::Private
    }

    /// The envelope stored under `key`, if any.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be read.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError>;

    /// The envelopes stored under `keys`, in the same order. The default
    /// calls [`get`](Tier::get) for each key; tiers with a batch path
    /// (one transaction, one pipeline) override it.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be read.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, TierError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    /// Stores `write.bytes` under `write.key`, replacing what was there.
    /// Returns once the write is as durable as the tier promises.
    ///
    /// # Errors
    /// [`TierError::TooLarge`] when the entry cannot fit in the tier at all;
    /// other variants when the store cannot be written.
    async fn put(&self, write: TierWrite) -> Result<(), TierError> {
        self.put_many(vec![write]).await
    }

    /// Stores several entries, in one batch where the tier can (one
    /// transaction, one pipeline). Later writes to the same key win.
    ///
    /// # Errors
    /// As [`put`](Tier::put); on error, any subset may have been stored.
    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError>;

    /// Stores several entries as [`put_many`](Tier::put_many) does, except
    /// that an entry is skipped when the tier holds an envelope of its key
    /// written later (a greater `created_at_ms`, the envelope's version
    /// stamp). For writes that reach the tier late, such as a circuit
    /// breaker's replay after an outage: another process may have written
    /// the key since, and its newer value must stay. Returns how many
    /// entries were skipped.
    ///
    /// Default: [`put_many`](Tier::put_many), skipping nothing. That is
    /// right for a tier no other process writes, where nothing newer than
    /// this process's own writes can be there.
    ///
    /// # Errors
    /// As [`put_many`](Tier::put_many).
    async fn put_many_unless_newer(&self, writes: Vec<TierWrite>) -> Result<u64, TierError> {
        self.put_many(writes).await.map(|()| 0)
    }

    /// Removes `keys`; returns how many were present.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError>;

    /// Removes `key`; returns whether it was present.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    async fn delete(&self, key: &str) -> Result<bool, TierError> {
        Ok(self.delete_many(&[key.to_owned()]).await? > 0)
    }

    /// The keys that match `filter`. Costs a scan of the tier's keys (never
    /// of its values); tiers document their own cost.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be read.
    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError>;

    /// Removes every key that matches `filter`; returns how many.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be read or written.
    async fn delete_matching(&self, filter: &KeyFilter) -> Result<u64, TierError> {
        let keys = self.scan(filter).await?;
        self.delete_many(&keys).await
    }

    /// Removes every entry (tag epochs are kept, so entries written before
    /// the clear can never come back as valid). Returns how many.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    async fn clear(&self) -> Result<u64, TierError> {
        self.delete_matching(&KeyFilter::All).await
    }

    /// The current epochs of `tags`, in the same order; 0 for a tag never
    /// bumped.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be read.
    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError>;

    /// Atomically adds one to the epoch of `tag` and returns the new epoch.
    /// Two concurrent bumps return two different epochs.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError>;

    /// Sets the epoch of `tag` to `epoch` if it is lower; never lowers it.
    /// The stack uses it to bring every tier up to the highest epoch any tier
    /// returned, so one envelope validates the same way in every tier.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError>;

    /// Makes every acknowledged write durable now (for tiers that delay
    /// durability; a no-op for the others).
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    async fn flush(&self) -> Result<(), TierError> {
        Ok(())
    }

    /// Counters and gauges of this tier.
    fn stats(&self) -> TierStats;

    /// Whether the tier can serve requests now.
    async fn health(&self) -> TierHealth;

    /// A counter that moves each time the tier is back after a time in
    /// which it answered without its store (a
    /// [`BreakerTier`](breaker::BreakerTier) answers
    /// [`tag_epochs`](Tier::tag_epochs) from the epochs it last saw while it
    /// is open). What a cache derived from those answers may be out of
    /// date: a [`TieredCache`](crate::TieredCache) forgets its cached tag
    /// epochs and clears its memory tier when the counter moves.
    ///
    /// Default: `None`, for a tier that always answers from its store.
    fn recoveries(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}
