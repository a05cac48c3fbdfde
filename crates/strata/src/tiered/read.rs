//! The read path: memory, queued writes, then each lower tier in order,
//! with validation and promotion.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::generation::Stamp;
use super::stats::Lookup;
use super::{Shared, TieredCache};
use crate::envelope::{Envelope, decode_value};
use crate::options::EntryOptions;
use crate::tier::TierWrite;

/// A valid entry found below the memory tier.
struct Found<V> {
    value: V,
    envelope: Envelope,
    bytes: Vec<u8>,
}

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// The value of `key`, from the first tier that holds a valid entry.
    /// A lower-tier hit is promoted into the memory tier and the tiers above
    /// it. A tier that fails is a miss of that tier (counted), never an
    /// error of the read.
    pub async fn get(&self, key: &str) -> Option<V> {
        if let Some(value) = self.shared.memory.get(key) {
            return Some(value);
        }
        let found = self.shared.lookup_below(key).await;
        if found.is_none() {
            self.shared.misses.fetch_add(1, Ordering::Relaxed);
        }
        found
    }
}

impl<V> Shared<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// Looks for `key` below the memory tier and promotes what it finds.
    pub(super) async fn lookup_below(&self, key: &str) -> Option<V> {
        let stamp = self.generations.stamp(key);
        if let Some(wb) = &self.write_back
            && let Some(sealed) = wb.pending(key)
        {
            // A queued write is the newest state of the key; if it is no
            // longer valid (expired, tag invalidated), neither is anything
            // older below it.
            let found = self.validate(sealed.write.bytes.clone()).await.ok()?;
            self.promote(key, 0, found.envelope, found.bytes, &found.value, stamp)
                .await;
            return Some(found.value);
        }
        for (index, tier) in self.tiers.iter().enumerate() {
            let started = Instant::now();
            let outcome = match tier.get(key).await {
                Err(_) => Err(Lookup::Error),
                Ok(None) => Err(Lookup::Miss),
                Ok(Some(bytes)) => self.validate(bytes).await,
            };
            let counters = &self.counters[index];
            match outcome {
                Ok(found) => {
                    counters.record_lookup(Lookup::Hit, started);
                    self.promote(key, index, found.envelope, found.bytes, &found.value, stamp)
                        .await;
                    return Some(found.value);
                }
                Err(lookup) => {
                    counters.record_lookup(lookup, started);
                    if matches!(
                        lookup,
                        Lookup::Corrupt | Lookup::Stale | Lookup::Undecodable
                    ) {
                        // The bytes can never become valid again: drop
                        // them now rather than meet them on every read. A
                        // failed delete is retried by the next read.
                        let _ = tier.delete(key).await;
                    }
                }
            }
        }
        None
    }

    /// Checks an envelope read from a tier and decodes its value.
    async fn validate(&self, bytes: Vec<u8>) -> Result<Found<V>, Lookup> {
        let envelope = Envelope::decode(&bytes).map_err(|_| Lookup::Corrupt)?;
        if envelope.is_expired(self.clock.unix_millis()) {
            return Err(Lookup::Expired);
        }
        if !envelope.tags.is_empty() {
            let names: Vec<String> = envelope.tags.iter().map(|(t, _)| t.clone()).collect();
            let current = self
                .epochs
                .current(&self.tiers, &names)
                .await
                .map_err(|_| Lookup::Error)?;
            if envelope
                .tags
                .iter()
                .zip(current)
                .any(|((_, written), now)| *written < now)
            {
                return Err(Lookup::Stale);
            }
        }
        let limit = usize::try_from(self.max_value_bytes).unwrap_or(usize::MAX);
        let raw = envelope.value_bytes(limit).map_err(|e| {
            if e.is_corruption() {
                Lookup::Corrupt
            } else {
                Lookup::Undecodable
            }
        })?;
        // Decode with the codec the envelope was written with, so a cache
        // reconfigured from JSON to binary still reads its old entries.
        let value = decode_value(envelope.codec, &raw).map_err(|_| Lookup::Undecodable)?;
        drop(raw);
        Ok(Found {
            value,
            envelope,
            bytes,
        })
    }

    /// Stores a lower-tier hit in the memory tier and in the tiers above
    /// `found_in`; undoes it if an invalidation raced the read.
    async fn promote(
        &self,
        key: &str,
        found_in: usize,
        envelope: Envelope,
        bytes: Vec<u8>,
        value: &V,
        stamp: Stamp,
    ) {
        let expires_at_ms = envelope.expires_at_ms;
        for (tier, counters) in self.tiers[..found_in].iter().zip(self.counters.iter()) {
            let write = TierWrite {
                key: key.to_owned(),
                bytes: bytes.clone(),
                expires_at_ms,
            };
            if tier.put(write).await.is_err() {
                counters.record_write_error();
            }
        }
        let options = self.options_of(envelope);
        // The memory tier may refuse (an entry heavier than it can hold):
        // the value is still returned and still lives below.
        let _ = self
            .memory
            .insert_with(key.to_owned(), value.clone(), options);
        if self.generations.stamp(key) != stamp {
            self.discarded_fills.fetch_add(1, Ordering::Relaxed);
            self.memory.remove(key);
            for tier in &self.tiers[..found_in] {
                let _ = tier.delete(key).await;
            }
        }
    }

    /// The memory-tier options of an entry read from an envelope: what is
    /// left of its TTL, and everything else as written.
    fn options_of(&self, envelope: Envelope) -> EntryOptions {
        let mut options = EntryOptions::new()
            .with_tags(envelope.tags.into_iter().map(|(tag, _)| tag))
            .with_priority(envelope.priority);
        options = match envelope.expires_at_ms {
            None => options.with_no_ttl(),
            Some(at) => {
                let left = at.saturating_sub(self.clock.unix_millis());
                options.with_ttl(Duration::from_millis(left))
            }
        };
        if let Some(cost) = envelope.cost_micros {
            options = options.with_cost(Duration::from_micros(cost));
        }
        for (k, v) in envelope.metadata {
            options = options.with_metadata(k, v);
        }
        options
    }
}
