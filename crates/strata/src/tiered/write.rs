//! The write path: building the envelope once, then writing it by the
//! cache's write policy; and read-through loading with single flight.

use super::BackplaneMessage;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::flight::{Landing, Role, wait};
use super::generation::Stamp;
use super::{CacheError, Shared, TieredCache};
use crate::envelope::{Envelope, encode_value};
use crate::options::{EntryOptions, Ttl};
use crate::tier::TierWrite;

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// Writes `value` under `key` with default options.
    ///
    /// # Errors
    /// As [`set_with`](Self::set_with).
    pub async fn set(&self, key: impl Into<String>, value: V) -> Result<(), CacheError> {
        self.set_with(key, value, EntryOptions::default()).await
    }

    /// Writes `value` under `key` into every tier, by the write policy.
    ///
    /// The TTL applies to every tier ([`Ttl::CacheDefault`] means the memory
    /// tier's default TTL); time to idle applies to the memory tier only.
    ///
    /// # Errors
    /// [`CacheError::Encode`] or [`CacheError::TooLarge`] when the value
    /// cannot be stored (nothing changed); [`CacheError::Tier`] when a lower
    /// tier failed under write-through (the key is then removed from every
    /// tier that can be reached); [`CacheError::Memory`] when there are no
    /// lower tiers and the memory tier refused the entry;
    /// [`CacheError::Closed`] after [`close`](Self::close).
    pub async fn set_with(
        &self,
        key: impl Into<String>,
        value: V,
        options: EntryOptions,
    ) -> Result<(), CacheError> {
        let s = &self.shared;
        s.check_open()?;
        let key = key.into();
        let options = s.resolve_ttl(options);
        let write = if s.tiers.is_empty() {
            None
        } else {
            Some(s.seal(&key, &value, &options).await?)
        };
        // Bump before and after: a promotion overlapping this write sees a
        // change and discards itself (see `generation`).
        s.generations.bump_key(&key);
        // Taken after our own bump: any later change is someone else's.
        let stamp = s.generations.stamp(&key);
        let result = s.store(key.clone(), value, options, write, stamp).await;
        s.generations.bump_key(&key);
        match result {
            // The write-back task publishes it once the lower tiers have it:
            // told now, another instance could re-read the old value from a
            // shared tier and keep it.
            Ok(Stored::Queued) => Ok(()),
            // Other instances drop their copy, whether or not every tier took
            // the new value (on failure the key was removed from the tiers).
            Ok(Stored::Landed) => {
                s.publish(BackplaneMessage::Key(key)).await;
                Ok(())
            }
            Err(error) => {
                s.publish(BackplaneMessage::Key(key)).await;
                Err(error)
            }
        }
    }

    /// The value of `key`; when no tier holds it, awaits `loader`, stores
    /// its value with `options` by the write policy, and returns it.
    ///
    /// Single flight over the whole stack: concurrent callers for one key
    /// share one lower-tier lookup and at most one loader call. A loader
    /// error is returned to every caller waiting on that call and nothing
    /// is stored. A value loaded but not stored (a tier failed) is still
    /// returned; the failure is counted in the tier's `write_errors`.
    ///
    /// # Errors
    /// The loader's error, shared.
    pub async fn get_or_compute<F, Fut, E>(
        &self,
        key: &str,
        options: EntryOptions,
        loader: F,
    ) -> Result<V, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        E: Send + Sync + 'static,
    {
        let s = &self.shared;
        let mut loader = Some(loader);
        loop {
            if let Some(value) = s.memory.get(key) {
                return Ok(value);
            }
            let leader = match s.flights.join_or_lead(key) {
                Role::Follower(slot) => {
                    match wait(slot).await {
                        Some(Landing::Value(value)) => return Ok(value),
                        Some(Landing::Failed(error)) => {
                            if let Ok(error) = error.downcast::<E>() {
                                return Err(error);
                            }
                        }
                        // The leader was cancelled: try to lead.
                        None => {}
                    }
                    continue;
                }
                Role::Leader(leader) => leader,
            };
            // Another leader may have landed between our miss and our lead.
            if let Some(value) = s.memory.get(key) {
                leader.land(Landing::Value(value.clone()));
                return Ok(value);
            }
            if let Some(value) = s.lookup_below(key).await {
                leader.land(Landing::Value(value.clone()));
                return Ok(value);
            }
            s.misses.fetch_add(1, Ordering::Relaxed);
            // We lead at most once: leading always returns below.
            let Some(loader) = loader.take() else {
                unreachable!("the loader is taken only by a leader, which returns")
            };
            let started = Instant::now();
            let loaded = loader().await;
            s.loads.fetch_add(1, Ordering::Relaxed);
            return match loaded {
                Ok(value) => {
                    let options = options.or_cost(started.elapsed());
                    // Stored or not, the loaded value is the answer; a
                    // failed store is counted per tier by `store`.
                    let _ = self.set_with(key, value.clone(), options).await;
                    leader.land(Landing::Value(value.clone()));
                    Ok(value)
                }
                Err(error) => {
                    let error = Arc::new(error);
                    leader.land(Landing::Failed(error.clone()));
                    Err(error)
                }
            };
        }
    }
}

/// Where a write stood when [`Shared::store`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Every tier has it (or there are no lower tiers).
    Landed,
    /// In the memory tier and the write-back queue; the lower tiers get it
    /// later.
    Queued,
}

/// One entry ready for the lower tiers.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    /// The envelope and its key.
    pub(crate) write: TierWrite,
    /// The serialized value's size before compression (for the stats).
    pub(crate) raw_len: u64,
}

impl<V> Shared<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// Replaces "the cache's default TTL" by the memory tier's default, so
    /// every tier expires the entry at the same time.
    fn resolve_ttl(&self, options: EntryOptions) -> EntryOptions {
        match (options.ttl(), self.memory.default_ttl()) {
            (Ttl::CacheDefault, Some(ttl)) => options.with_ttl(ttl),
            (Ttl::CacheDefault, None) => options.with_no_ttl(),
            _ => options,
        }
    }

    /// Serializes, compresses and stamps one entry for the lower tiers.
    async fn seal(
        &self,
        key: &str,
        value: &V,
        options: &EntryOptions,
    ) -> Result<Sealed, CacheError> {
        let raw = encode_value(self.codec, value).map_err(CacheError::Encode)?;
        if raw.len() as u64 > self.max_value_bytes {
            return Err(CacheError::TooLarge {
                size: raw.len() as u64,
                limit: self.max_value_bytes,
            });
        }
        let now = self.clock.unix_millis();
        let epochs = self
            .epochs
            .current(&self.tiers, options.tags())
            .await
            .map_err(|(tier, e)| CacheError::tier(&tier, e))?;
        let mut envelope = Envelope {
            codec: self.codec,
            created_at_ms: now,
            expires_at_ms: match options.ttl() {
                Ttl::After(ttl) => Some(now.saturating_add(crate::clock::millis(ttl))),
                Ttl::Never | Ttl::CacheDefault => None,
            },
            tags: options.tags().iter().cloned().zip(epochs).collect(),
            priority: options.priority(),
            cost_micros: options
                .cost()
                .map(|c| u64::try_from(c.as_micros()).unwrap_or(u64::MAX)),
            metadata: options.metadata().clone(),
            ..Envelope::default()
        };
        let raw_len = raw.len() as u64;
        envelope
            .set_value_bytes(raw, self.compression)
            .map_err(CacheError::Encode)?;
        Ok(Sealed {
            write: TierWrite {
                key: key.to_owned(),
                expires_at_ms: envelope.expires_at_ms,
                bytes: envelope.encode(),
            },
            raw_len,
        })
    }

    /// Stores a sealed entry by the write policy.
    async fn store(
        &self,
        key: String,
        value: V,
        options: EntryOptions,
        sealed: Option<Sealed>,
        stamp: Stamp,
    ) -> Result<Stored, CacheError> {
        let Some(sealed) = sealed else {
            self.memory
                .insert_with(key, value, options)
                .map_err(CacheError::Memory)?;
            return Ok(Stored::Landed);
        };
        match &self.write_back {
            Some(wb) => {
                self.put_memory(key, value, options);
                let Some(sealed) = wb.enqueue(sealed) else {
                    return Ok(Stored::Queued);
                };
                // The queue is full: write through ourselves, after any
                // batch in progress so an older write cannot land last.
                let _exclusive = wb.exclusive().await;
                self.write_through(sealed).await?;
            }
            None => {
                self.write_through(sealed).await?;
                self.put_memory(key.clone(), value, options);
                // Another write or invalidation of this key (local, or
                // another instance's through the backplane) overlapped the
                // lower-tier write: which value the shared tiers kept is not
                // known here, so the memory copy goes and the next read takes
                // the tiers'. Checked after the insert, so an invalidation
                // landing between the check and the insert cannot be missed:
                // it bumps before it removes.
                if self.generations.stamp(&key) != stamp {
                    self.memory.remove(key.as_str());
                }
            }
        }
        Ok(Stored::Landed)
    }

    /// Writes every lower tier in order; on a failure, removes the key from
    /// every tier so none keeps the value this write replaced.
    pub(super) async fn write_through(&self, sealed: Sealed) -> Result<(), CacheError> {
        let Sealed { write, raw_len } = sealed;
        let stored = write.bytes.len() as u64;
        for (tier, counters) in self.tiers.iter().zip(self.counters.iter()) {
            match tier.put(write.clone()).await {
                Ok(()) => counters.record_write(raw_len, stored),
                Err(error) => {
                    counters.record_write_error();
                    self.memory.remove(write.key.as_str());
                    for tier in &self.tiers {
                        let _ = tier.delete(&write.key).await;
                    }
                    return Err(CacheError::tier(tier.name(), error));
                }
            }
        }
        Ok(())
    }

    /// Writes the memory tier. A refusal (heavier than the whole memory
    /// tier) still removes the older value, which would otherwise shadow the
    /// new one stored below.
    fn put_memory(&self, key: String, value: V, options: EntryOptions) {
        if self
            .memory
            .insert_with(key.clone(), value, options)
            .is_err()
        {
            self.memory.remove(key.as_str());
        }
    }
}
