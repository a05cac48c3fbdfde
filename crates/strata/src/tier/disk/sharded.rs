//! [`DiskTier`]: the shards of one store behind one [`Tier`]. Keys go to the
//! shard a hash of the key picks; tag epochs live in shard 0, so every bump
//! of a tag is one atomic write in one place; operations over many keys run
//! on every shard they touch at once.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use async_trait::async_trait;

use super::builder::DiskTierBuilder;
use super::shard::Shard;
use super::tables::TIER;
use super::{DiskTier, Sharded, VerifyReport};
use crate::tier::{KeyFilter, Tier, TierError, TierHealth, TierStats, TierWrite};

/// The file in the store's directory that records its shard count.
const LAYOUT_FILE: &str = "shards";

/// A future of one shard's part of an operation.
type Part<'a, T> = Pin<Box<dyn Future<Output = Result<T, TierError>> + Send + 'a>>;

/// Runs every part concurrently (on the calling task: each part only waits
/// for its shard's writer or runs a read) and returns their outputs in
/// order, or the first error.
async fn join_all<T>(mut parts: Vec<Part<'_, T>>) -> Result<Vec<T>, TierError> {
    let mut outputs: Vec<Option<Result<T, TierError>>> = parts.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (part, output) in parts.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match part.as_mut().poll(cx) {
                    Poll::Ready(result) => *output = Some(result),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

impl DiskTier {
    /// Opens (or creates) every shard, in parallel (each replays its own
    /// journal), after settling the shard count.
    pub(super) fn open(mut builder: DiskTierBuilder) -> Result<Self, TierError> {
        let io = |source| TierError::Io {
            tier: TIER.to_owned(),
            source,
        };
        std::fs::create_dir_all(&builder.path).map_err(io)?;
        let layout = builder.path.join(LAYOUT_FILE);
        match std::fs::read_to_string(&layout) {
            Ok(text) => {
                builder.shards = text.trim().parse().map_err(|_| {
                    TierError::engine(
                        TIER,
                        format!("{} does not hold a shard count: {text:?}", layout.display()),
                    )
                })?;
                // The store's count wins over the configured one; check the
                // other settings against it.
                builder.validate().map_err(|error| TierError::Config {
                    tier: TIER.to_owned(),
                    source: Box::new(error),
                })?;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::write(&layout, format!("{}\n", builder.shards)).map_err(io)?;
            }
            Err(error) => return Err(io(error)),
        }
        let count = builder.shards;
        let opened: Vec<Result<Shard, TierError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|index| {
                    let shard = builder.for_shard(index, count);
                    scope.spawn(move || Shard::open(shard))
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(TierError::engine(TIER, "opening a shard panicked"))
                    })
                })
                .collect()
        });
        // Shards that opened are dropped (closed) if another failed.
        let shards = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
        let recovery = shards.iter().find_map(|shard| shard.recovery().cloned());
        Ok(Self {
            inner: Arc::new(Sharded {
                path: builder.path,
                shards,
                recovery,
            }),
        })
    }

    fn shards(&self) -> &[Shard] {
        &self.inner.shards
    }

    /// The shard that holds `key`: CRC-32 of the key, which is fixed by its
    /// standard, so a store keeps its mapping across builds and platforms.
    fn shard_index(&self, key: &str) -> usize {
        crc32fast::hash(key.as_bytes()) as usize % self.shards().len()
    }

    fn shard(&self, key: &str) -> &Shard {
        &self.shards()[self.shard_index(key)]
    }

    /// The shard that keeps tag epochs.
    fn tags(&self) -> &Shard {
        &self.shards()[0]
    }

    /// Splits `items` by the shard of their key, keeping each item's
    /// position in `items`.
    fn split<T>(&self, items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<(Vec<usize>, Vec<T>)> {
        let mut parts: Vec<(Vec<usize>, Vec<T>)> = self
            .shards()
            .iter()
            .map(|_| (Vec::new(), Vec::new()))
            .collect();
        for (position, item) in items.into_iter().enumerate() {
            let part = &mut parts[self.shard_index(key(&item))];
            part.0.push(position);
            part.1.push(item);
        }
        parts
    }

    /// Commits what is queued, stops every shard's writer thread and sweep,
    /// and closes the store. Later operations on any clone return
    /// [`TierError::Closed`].
    ///
    /// # Errors
    /// [`TierError::Closed`] if the tier was already closed.
    pub async fn close(&self) -> Result<(), TierError> {
        let parts = self
            .shards()
            .iter()
            .map(|s| Box::pin(s.close()) as Part<'_, ()>);
        join_all(parts.collect()).await.map(drop)
    }

    /// Removes every expired entry now, in bounded steps, and returns how
    /// many it removed. The background sweep does the same every
    /// `sweep_interval`.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be written.
    pub async fn sweep_now(&self) -> Result<u64, TierError> {
        let parts = self
            .shards()
            .iter()
            .map(|s| Box::pin(s.sweep_now()) as Part<'_, u64>);
        Ok(join_all(parts.collect()).await?.into_iter().sum())
    }

    /// Recounts the store and checks that its keyspaces and counters agree,
    /// shard by shard: the invariant checker for tests and tools. Reads
    /// every keyspace, values included, one snapshot per shard.
    ///
    /// # Errors
    /// [`TierError`] when the store cannot be read (a corrupt record is a
    /// read error, not a problem in the report).
    pub async fn verify(&self) -> Result<VerifyReport, TierError> {
        let mut total = VerifyReport::default();
        for (index, shard) in self.shards().iter().enumerate() {
            let report = shard.verify().await?;
            total.entries += report.entries;
            total.bytes += report.bytes;
            total.expiring += report.expiring;
            total.problems.extend(
                report
                    .problems
                    .into_iter()
                    .map(|p| format!("shard {index}: {p}")),
            );
            // Keys must live in the shard they hash to; a store reopened with
            // another mapping would hide them.
            for key in shard.scan(&KeyFilter::All).await? {
                if self.shard_index(&key) != index {
                    total
                        .problems
                        .push(format!("shard {index} holds {key:?}, which maps elsewhere"));
                }
            }
        }
        Ok(total)
    }
}

#[async_trait]
impl Tier for DiskTier {
    fn name(&self) -> &str {
        TIER
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TierError> {
        self.shard(key).get(key).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, TierError> {
        let parts = self.split(keys.to_vec(), |key| key.as_str());
        let reads = parts
            .iter()
            .zip(self.shards())
            .filter(|((_, keys), _)| !keys.is_empty())
            .map(|((_, keys), shard)| Box::pin(shard.get_many(keys)) as Part<'_, _>)
            .collect();
        let found = join_all(reads).await?;
        let mut out = vec![None; keys.len()];
        let positions = parts
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(p, _)| p);
        for (positions, values) in positions.zip(found) {
            for (&position, value) in positions.iter().zip(values) {
                out[position] = value;
            }
        }
        Ok(out)
    }

    /// Refuses the whole batch with [`TierError::TooLarge`], storing
    /// nothing, if any entry exceeds `max_entry_bytes` or any key exceeds
    /// [`MAX_KEY_BYTES`](super::MAX_KEY_BYTES); otherwise returns once every
    /// shard's part is committed to disk. The parts commit separately: if
    /// one shard fails, the others' parts may be stored.
    async fn put_many(&self, writes: Vec<TierWrite>) -> Result<(), TierError> {
        // Checked here, for the whole batch, so that a refused entry stores
        // nothing in any shard.
        let limit = self.tags().inner.max_entry_bytes;
        for write in &writes {
            let size = super::txn::entry_size(write);
            let too_large = |size: u64, limit: u64| TierError::TooLarge {
                tier: TIER.to_owned(),
                size,
                limit,
            };
            if write.key.len() > super::MAX_KEY_BYTES {
                return Err(too_large(
                    write.key.len() as u64,
                    super::MAX_KEY_BYTES as u64,
                ));
            }
            if size > limit {
                return Err(too_large(size, limit));
            }
        }
        let parts = self.split(writes, |write| write.key.as_str());
        let puts = parts
            .into_iter()
            .zip(self.shards())
            .filter(|((_, writes), _)| !writes.is_empty())
            .map(|((_, writes), shard)| Box::pin(shard.put_many(writes)) as Part<'_, ()>)
            .collect::<Vec<_>>();
        if puts.is_empty() {
            return self.tags().check_open();
        }
        join_all(puts).await.map(drop)
    }

    /// Counts every stored entry removed, expired or not.
    async fn delete_many(&self, keys: &[String]) -> Result<u64, TierError> {
        let parts = self.split(keys.to_vec(), |key| key.as_str());
        let deletes = parts
            .iter()
            .zip(self.shards())
            .filter(|((_, keys), _)| !keys.is_empty())
            .map(|((_, keys), shard)| Box::pin(shard.delete_many(keys)) as Part<'_, u64>)
            .collect::<Vec<_>>();
        if deletes.is_empty() {
            return self.tags().check_open().map(|()| 0);
        }
        Ok(join_all(deletes).await?.into_iter().sum())
    }

    /// Reads keys only, from each shard's `index` keyspace, starting at the
    /// filter's literal prefix; the keys come back sorted. Keys of expired
    /// entries are left out.
    async fn scan(&self, filter: &KeyFilter) -> Result<Vec<String>, TierError> {
        let parts = self
            .shards()
            .iter()
            .map(|s| Box::pin(s.scan(filter)) as Part<'_, _>);
        let mut keys: Vec<String> = join_all(parts.collect()).await?.concat();
        keys.sort_unstable();
        Ok(keys)
    }

    /// Runs on every shard's writer thread, each in atomic steps of a few
    /// thousand keys; no write lands in a shard between its steps, but a
    /// crash between two steps leaves the later keys.
    async fn delete_matching(&self, filter: &KeyFilter) -> Result<u64, TierError> {
        let parts = self
            .shards()
            .iter()
            .map(|s| Box::pin(s.delete_matching(filter)) as Part<'_, _>);
        Ok(join_all(parts.collect()).await?.into_iter().sum())
    }

    async fn clear(&self) -> Result<u64, TierError> {
        let parts = self
            .shards()
            .iter()
            .map(|s| Box::pin(s.clear()) as Part<'_, _>);
        Ok(join_all(parts.collect()).await?.into_iter().sum())
    }

    async fn tag_epochs(&self, tags: &[String]) -> Result<Vec<u64>, TierError> {
        self.tags().tag_epochs(tags).await
    }

    /// Atomic because one thread (shard 0's writer) applies every bump, each
    /// committed before it answers.
    async fn bump_tag_epoch(&self, tag: &str) -> Result<u64, TierError> {
        self.tags().bump_tag_epoch(tag).await
    }

    async fn raise_tag_epoch(&self, tag: &str, epoch: u64) -> Result<(), TierError> {
        self.tags().raise_tag_epoch(tag, epoch).await
    }

    /// Every acknowledged write is already durable; this commits at once, in
    /// every shard, whatever is queued and the reads recorded for the
    /// eviction order.
    async fn flush(&self) -> Result<(), TierError> {
        let parts = self
            .shards()
            .iter()
            .map(|s| Box::pin(s.flush()) as Part<'_, ()>);
        join_all(parts.collect()).await.map(drop)
    }

    /// The sums over the shards.
    fn stats(&self) -> TierStats {
        let mut total = TierStats {
            capacity_bytes: Some(0),
            ..TierStats::default()
        };
        for shard in self.shards() {
            let stats = shard.stats();
            total.entries += stats.entries;
            total.bytes += stats.bytes;
            total.capacity_bytes = total
                .capacity_bytes
                .zip(stats.capacity_bytes)
                .map(|(a, b)| a + b);
            total.evictions += stats.evictions;
            total.expirations += stats.expirations;
            total.commits += stats.commits;
        }
        total
    }

    /// The worst shard's health: `Down` if any shard is down (its keys
    /// cannot be written), else `Degraded` if any is.
    async fn health(&self) -> TierHealth {
        let mut worst = TierHealth::Healthy;
        for shard in self.shards() {
            match shard.health().await {
                TierHealth::Healthy => {}
                down @ TierHealth::Down(_) => return down,
                degraded => worst = degraded,
            }
        }
        worst
    }
}
