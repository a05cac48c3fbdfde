//! [`Tier`] for [`DiskTier`]: reads of the latest committed state, every
//! change through the writer thread.

use async_trait::async_trait;

use super::builder::MAX_KEY_BYTES;
use super::read::{self, Lookup};
use super::request::{Ack, Op};
use super::shard::Shard;
use super::tables::TIER;
use super::txn::{Record, entry_size};
use crate::tier::{KeyFilter, Tier, TierError, TierHealth, TierStats, TierWrite};

impl Shard {
    /// Looks up `keys` (several in one snapshot). Hits are recorded for the
    /// eviction order; expired entries are misses, queued for deletion
    /// without waiting for it. A key too long to be stored is a miss.
    async fn lookup(&self, keys: Vec<String>) -> Result<Vec<Option<Vec<u8>>>, TierError> {
        let shared = &self.inner.shared;
        let now_ms = shared.clock.unix_millis();
        let (keys, found) = self
            .read(move |db| {
                let found = read::lookup(db, keys.iter().map(String::as_str), now_ms)?;
                Ok((keys, found))
            })
            .await?;
        let mut out = Vec::with_capacity(found.len());
        for (key, lookup) in keys.into_iter().zip(found) {
            out.push(match lookup {
                Lookup::Hit(envelope) => {
                    shared.touches.record(&key);
                    Some(envelope)
                }
                Lookup::Miss => None,
                Lookup::Expired(expires_at_ms) => {
                    // Fire and forget: the read does not wait for the
                    // delete, and a closed tier needs no cleanup.
                    let _ = self.send(Op::Expire(key, expires_at_ms), Ack::None);
                    None
                }
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl Tier for Shard {
    fn name(&self) -> &str {
        TIER
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        Ok(self.lookup(vec![key.to_owned()]).await?.pop().flatten())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, TierError> {
        self.lookup(keys.to_vec()).await
    }

    /// Refuses the whole batch with [`TierError::TooLarge`], storing
    /// nothing, if any entry exceeds `max_entry_bytes` or any key exceeds
    /// [`MAX_KEY_BYTES`]; otherwise returns once the
    /// batch is committed to disk.
    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError> {
        if writes.is_empty() {
            // Nothing to commit: no fsync for an empty batch.
            return self.check_open();
        }
        if let Some(write) = writes.iter().find(|write| write.key.len() > MAX_KEY_BYTES) {
            return Err(TierError::TooLarge {
                tier: TIER.to_owned(),
                size: write.key.len() as u64,
                limit: MAX_KEY_BYTES as u64,
            });
        }
        let limit = self.inner.max_entry_bytes;
        if let Some(size) = writes.iter().map(entry_size).find(|&size| size > limit) {
            return Err(TierError::TooLarge {
                tier: TIER.to_owned(),
                size,
                limit,
            });
        }
        // Framing each record here, on the caller's thread, keeps the copy
        // of every envelope off the writer thread, which bounds put rates.
        let records = writes.into_iter().map(Record::new).collect();
        self.request_unit(Op::Put(records)).await
    }

    /// Counts every stored entry removed, expired or not.
    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError> {
        // A key too long to be stored cannot be present.
        let keys: Vec<String> = keys
            .iter()
            .filter(|key| key.len() <= MAX_KEY_BYTES)
            .cloned()
            .collect();
        if keys.is_empty() {
            return self.check_open().map(|()| 0);
        }
        self.request_count(Op::Delete(keys)).await
    }

    /// Reads keys only, from the `index` keyspace, starting at the filter's
    /// literal prefix: a `Prefix` or a pattern with a literal start costs
    /// the matching range, `All` or a pattern starting with a wildcard costs
    /// every key. Keys of expired entries are left out.
    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError> {
        let filter = filter.clone();
        let now_ms = self.inner.shared.clock.unix_millis();
        self.read(move |db| read::scan(db, &filter, now_ms)).await
    }

    /// Runs on the writer thread, in atomic steps of a few thousand keys;
    /// no write lands between the steps (the writer serves nothing else
    /// meanwhile), but a crash between two steps leaves the later keys.
    async fn delete_matching(&self, filter: &KeyFilter) -> Result<u64, TierError> {
        self.request_count(Op::DeleteMatching(filter.clone())).await
    }

    async fn clear(&self) -> Result<u64, TierError> {
        self.request_count(Op::Clear).await
    }

    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError> {
        let tags = tags.to_vec();
        self.read(move |db| read::tag_epochs(db, &tags)).await
    }

    /// Atomic because one thread applies every bump, each in a committed
    /// transaction before it answers.
    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        self.request_count(Op::BumpTag(tag.to_owned())).await
    }

    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError> {
        self.request_unit(Op::RaiseTag(tag.to_owned(), epoch)).await
    }

    /// Every acknowledged write is already durable; this commits at once
    /// (without waiting for the flush interval) whatever is queued, and the
    /// reads recorded for the eviction order.
    async fn flush(&self) -> Result<(), TierError> {
        self.request_unit(Op::Flush).await
    }

    fn stats(&self) -> TierStats {
        self.inner.shared.stats.snapshot()
    }

    /// `Down` after [`close`](Shard::close) and while the last commit
    /// failed with an I/O error; `Degraded` while it failed otherwise. Back
    /// to `Healthy` after the next successful commit (after a failed journal
    /// write fjall refuses writes until the store is closed and reopened).
    async fn health(&self) -> TierHealth {
        self.inner.shared.health()
    }
}
