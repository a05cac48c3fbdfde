//! [`DiskTierBuilder`]: the settings of a disk tier, validated when it opens.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::DiskTier;
use super::store::StoreOptions;
use super::tables::TIER;
use crate::tier::TierError;
use crate::{SystemClock, WallClock};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The largest `max_entry_bytes` accepted: fjall stores a value of less than
/// 4 GiB, and an entry this large in a cache tier is a mistake anyway.
pub const MAX_ENTRY_LIMIT: u64 = GIB;

/// The longest key the tier stores, in bytes. fjall keys are limited to
/// 64 KiB and the `expiry` keyspace adds 8 bytes to each; a cache key of
/// more than a few hundred bytes is almost always a mistake, so the limit
/// is well inside the engine's. A longer key is refused on `put` with
/// [`TierError::TooLarge`] and is a miss on `get`.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

/// The most shards accepted: each is a database with its own writer thread,
/// fjall worker and journal.
pub const MAX_SHARDS: usize = 64;

/// The smallest `max_journal_bytes` fjall accepts.
const MIN_JOURNAL: u64 = 64 * MIB;

/// The longest `flush_interval` accepted: every `put` waits up to this long,
/// so anything above a second is surely a unit mistake.
const MAX_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Where the tier runs its reads (`get`, `get_many`, `scan`, `tag_epochs`).
///
/// A read of a cached block takes microseconds; one that misses fjall's
/// cache and the OS page cache is a blocking disk read. The [`Tier`](crate::Tier)
/// contract forbids blocking the executor, which `Auto` and `Blocking`
/// honour. Single-task random `get`s of 1 KiB values from a warm 1 GB store
/// (see `docs/disk-tier.md`; measured when the tier ran on redb, but the
/// cost of the hand-off to the blocking pool does not depend on the engine): `Inline` ~175,000/s, `Auto` ~165,000/s,
/// `Blocking` ~50,000/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReadPath {
    /// On a multi-thread tokio runtime, `block_in_place`: the read runs on
    /// the calling thread while the runtime moves that worker's other tasks
    /// to another thread, so nothing waits behind a slow read. On a
    /// current-thread runtime, as `Blocking`. Outside tokio, inline.
    #[default]
    Auto,
    /// Always on tokio's blocking pool (`spawn_blocking`): a thread hand-off
    /// per read, several times the cost of `Auto`, but the calling task's
    /// worker thread never runs engine code.
    Blocking,
    /// On the calling task, always. The fastest, but a read that goes to
    /// disk stalls an executor thread for the length of a disk read: for
    /// stores that stay in memory, or callers with a runtime of their own.
    Inline,
}

/// What opening does with a store whose files are damaged: a checksum that
/// does not match in the journal or a table, a record that does not decode.
/// (A bit flipped inside one envelope is caught later, per entry, by the
/// envelope's own checksum; this is about the engine's files.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnDamage {
    /// Renames the directory to `<name>.damaged-<unix ms>` next to it, keeps
    /// it there for inspection, and opens a new, empty store in its place;
    /// [`DiskTier::recovery`] says so. A cache that cannot read its disk
    /// tier starts cold rather than keeping its service from starting, and
    /// nothing is deleted. Also applies to a store written in a format this
    /// build's fjall does not read (a different major version): for a
    /// cache, starting cold is the migration.
    #[default]
    MoveAside,
    /// Fails the open with the engine's error.
    Fail,
}

/// Why a [`DiskTierBuilder`] configuration was refused. Returned inside
/// [`TierError::Config`] by [`DiskTierBuilder::open`]; downcast the source to
/// tell which setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiskConfigError {
    /// A setting that must be positive was zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// `max_entry_bytes` is above one shard's share of `max_bytes` or above
    /// [`MAX_ENTRY_LIMIT`].
    #[error(
        "max_entry_bytes ({entry}) must be at most max_bytes / shards ({max}) and at most {MAX_ENTRY_LIMIT}"
    )]
    EntryLimit {
        /// The `max_entry_bytes` given.
        entry: u64,
        /// One shard's share of `max_bytes`.
        max: u64,
    },
    /// `flush_interval` is above one second.
    #[error("flush_interval ({0:?}) must be at most one second")]
    FlushInterval(Duration),
    /// `shards` is above [`MAX_SHARDS`].
    #[error("shards ({0}) must be at most {MAX_SHARDS}")]
    Shards(usize),
    /// `max_journal_bytes` is below fjall's minimum of 64 MiB.
    #[error("max_journal_bytes ({0}) must be at least 64 MiB")]
    Journal(u64),
}

/// Settings of a [`DiskTier`]; see each setter for its default.
///
/// ```no_run
/// # async fn run() -> Result<(), strata::TierError> {
/// use std::time::Duration;
/// use strata::tier::disk::DiskTier;
///
/// let tier = DiskTier::builder("/var/cache/app/strata")
///     .max_bytes(4 << 30)
///     .flush_interval(Duration::from_millis(1))
///     .open()?;
/// tier.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `open` is called"]
pub struct DiskTierBuilder {
    pub(super) path: PathBuf,
    pub(super) max_bytes: u64,
    pub(super) max_entry_bytes: Option<u64>,
    pub(super) flush_interval: Duration,
    pub(super) max_batch: usize,
    pub(super) sweep_interval: Duration,
    pub(super) cache_bytes: Option<u64>,
    pub(super) max_journal_bytes: u64,
    pub(super) on_damage: OnDamage,
    pub(super) background_threads: usize,
    pub(super) shards: usize,
    pub(super) read_path: ReadPath,
    pub(super) clock: Arc<dyn WallClock>,
}

impl DiskTierBuilder {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            max_bytes: GIB,
            max_entry_bytes: None,
            flush_interval: Duration::ZERO,
            max_batch: 4096,
            sweep_interval: Duration::from_secs(60),
            cache_bytes: None,
            max_journal_bytes: MIN_JOURNAL,
            on_damage: OnDamage::default(),
            background_threads: 1,
            shards: std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4)),
            read_path: ReadPath::default(),
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// The most bytes the tier stores, counted as the sum of key lengths
    /// plus envelope lengths. The directory is larger than this: the index
    /// keyspaces, up to `max_journal_bytes` of journal, and space of removed
    /// entries until a compaction reclaims it (see `docs/disk-tier.md`);
    /// plan for about 1.5 × `max_bytes` plus the journal.
    ///
    /// Default: 1 GiB.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The largest entry (key plus envelope) accepted; a larger one is
    /// refused with [`TierError::TooLarge`] and the store is left unchanged.
    ///
    /// Default: the smaller of 64 MiB and an eighth of one shard's share of
    /// `max_bytes`, so that one entry never evicts more than an eighth of
    /// its shard.
    pub fn max_entry_bytes(mut self, bytes: u64) -> Self {
        self.max_entry_bytes = Some(bytes);
        self
    }

    /// How long the writer waits, after the first queued write, for more
    /// writes to share its commit. `Duration::ZERO` commits as soon as the
    /// writer is free; writes that queued during the previous commit still
    /// share the next one, so batching happens anyway under concurrency.
    ///
    /// Default: `Duration::ZERO`. Measured on the redb version of the tier
    /// (`docs/disk-tier.md`), a 2 ms
    /// wait lowered throughput at every concurrency from 1 to 256 writers
    /// when `fsync` took 0.2 ms, and raised it by at most a fifth with 256
    /// writers when `fsync` took 4 ms; it always adds its length to each
    /// `put`. Consider 1–2 ms for hundreds of concurrent writers on a disk
    /// with slow `fsync`.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// The most writes (entries put or deleted) in one commit; a single
    /// `put_many` larger than this still commits whole.
    ///
    /// Default: 4096, a few MiB of 1 KiB entries: enough to amortise the
    /// `fsync`, small enough that one commit takes milliseconds.
    pub fn max_batch(mut self, writes: usize) -> Self {
        self.max_batch = writes;
        self
    }

    /// How often the background sweep removes expired entries.
    /// `Duration::ZERO` turns the sweep off (expired entries then leave
    /// lazily, for room, or by [`DiskTier::sweep_now`]).
    ///
    /// Default: 60 s.
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// The size of fjall's block cache, in bytes. It is filled on demand,
    /// so a large value costs memory only as blocks are read.
    ///
    /// Default: `max_bytes / 4`, between 16 MiB and 1 GiB. The memory tier
    /// above already holds the hottest values, and the OS page cache backs
    /// this one, so a quarter of the data keeps the index and the warm part
    /// of the values cached without doubling the process's memory.
    pub fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = Some(bytes);
        self
    }

    /// The most journal kept on disk before fjall flushes memtables to
    /// tables. Opening replays the journal not yet flushed, so this bounds
    /// the time a restart (clean or not) spends before serving: about
    /// 0.1–0.4 s at 64 MiB on this project's test machine.
    ///
    /// Default: 64 MiB, fjall's minimum (its own default is 512 MiB).
    pub fn max_journal_bytes(mut self, bytes: u64) -> Self {
        self.max_journal_bytes = bytes;
        self
    }

    /// How many shards a new store is split into. Each shard is a fjall
    /// database in its own subdirectory, with its own writer thread, fjall
    /// worker, journal, and an equal share of `max_bytes` and `cache_bytes`;
    /// a key's shard is fixed by a hash of the key. More shards write in
    /// parallel; eviction and expiry then run per shard (least recently
    /// used within the key's shard, not across the store).
    ///
    /// The count is recorded when the store is created, and an existing
    /// store keeps its own (see [`DiskTier::shard_count`]): a key must
    /// always map to the shard that holds it.
    ///
    /// Default: the number of cores, between 1 and 4. One writer thread is
    /// CPU-bound at about 90,000 puts/s here; two shards reached about
    /// 120,000 and four about 137,000 on 2 cores (`docs/disk-tier.md`).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// Threads fjall runs for flushing memtables and compacting tables, per
    /// shard.
    ///
    /// Default: 1. The writer thread is the tier's bottleneck on puts, and
    /// fjall's workers poll for work: on this project's 2-core machine two
    /// workers took as much CPU as the writer and batched puts ran at
    /// 68,000/s against 80,000/s with one (`docs/disk-tier.md`). Raise it on
    /// machines with cores to spare and a sustained write load.
    pub fn background_threads(mut self, threads: usize) -> Self {
        self.background_threads = threads;
        self
    }

    /// What opening does with a store whose files are damaged.
    ///
    /// Default: [`OnDamage::MoveAside`].
    pub fn on_damage(mut self, on_damage: OnDamage) -> Self {
        self.on_damage = on_damage;
        self
    }

    /// Where reads run.
    ///
    /// Default: [`ReadPath::Auto`].
    pub fn read_path(mut self, path: ReadPath) -> Self {
        self.read_path = path;
        self
    }

    /// The clock that decides expiry (its
    /// [`unix_millis`](WallClock::unix_millis)).
    ///
    /// Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }

    /// Opens the store, creating the directory if missing, and starts the
    /// writer thread.
    ///
    /// Opening replays the journal not yet flushed to tables (at most
    /// `max_journal_bytes`, after a clean close or a crash alike) and reads a
    /// few counters. It never reads the values. It blocks: call it from a
    /// blocking context or at startup.
    ///
    /// # Errors
    /// [`TierError::Config`] with a [`DiskConfigError`] for an invalid
    /// setting; [`TierError::Io`] when the directory cannot be created or
    /// read; [`TierError::Engine`] when fjall cannot open it (it is open in
    /// another process, it has another layout version, or it is damaged and
    /// [`on_damage`](Self::on_damage) is [`OnDamage::Fail`]).
    pub fn open(self) -> Result<DiskTier, TierError> {
        self.validate().map_err(|error| TierError::Config {
            tier: TIER.to_owned(),
            source: Box::new(error),
        })?;
        DiskTier::open(self)
    }

    pub(super) fn validate(&self) -> Result<(), DiskConfigError> {
        if self.max_bytes == 0 {
            return Err(DiskConfigError::Zero("max_bytes"));
        }
        if self.max_batch == 0 {
            return Err(DiskConfigError::Zero("max_batch"));
        }
        if self.background_threads == 0 {
            return Err(DiskConfigError::Zero("background_threads"));
        }
        if self.shards == 0 {
            return Err(DiskConfigError::Zero("shards"));
        }
        if self.shards > MAX_SHARDS {
            return Err(DiskConfigError::Shards(self.shards));
        }
        if self.max_entry_bytes == Some(0) {
            return Err(DiskConfigError::Zero("max_entry_bytes"));
        }
        if self.cache_bytes == Some(0) {
            return Err(DiskConfigError::Zero("cache_bytes"));
        }
        let entry = self.entry_limit();
        let share = self.max_bytes / self.shards as u64;
        if entry > share || entry > MAX_ENTRY_LIMIT {
            return Err(DiskConfigError::EntryLimit { entry, max: share });
        }
        if self.flush_interval > MAX_FLUSH_INTERVAL {
            return Err(DiskConfigError::FlushInterval(self.flush_interval));
        }
        if self.max_journal_bytes < MIN_JOURNAL {
            return Err(DiskConfigError::Journal(self.max_journal_bytes));
        }
        Ok(())
    }

    /// `max_entry_bytes`, defaulted.
    pub(super) fn entry_limit(&self) -> u64 {
        let share = self.max_bytes / self.shards.max(1) as u64;
        self.max_entry_bytes
            .unwrap_or_else(|| (share / 8).clamp(1, 64 * MIB))
    }

    /// The settings of shard `index` of `count`: its subdirectory, and its
    /// share of the byte budget and the cache. The entry limit stays the
    /// store's.
    pub(super) fn for_shard(&self, index: usize, count: usize) -> Self {
        let count_u64 = count as u64;
        let mut shard = self.clone();
        shard.path = self.path.join(format!("shard-{index}"));
        shard.max_entry_bytes = Some(self.entry_limit());
        shard.max_bytes = self.max_bytes / count_u64;
        shard.cache_bytes = Some((self.cache_size() / count_u64).max(MIB));
        shard
    }

    /// `cache_bytes`, defaulted.
    pub(super) fn cache_size(&self) -> u64 {
        self.cache_bytes
            .unwrap_or_else(|| (self.max_bytes / 4).clamp(16 * MIB, GIB))
    }

    /// What the store is opened with.
    pub(super) fn store_options(&self) -> StoreOptions {
        StoreOptions {
            cache_bytes: self.cache_size(),
            max_journal_bytes: self.max_journal_bytes,
            worker_threads: self.background_threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(builder: DiskTierBuilder) -> DiskConfigError {
        builder.validate().unwrap_err()
    }

    #[test]
    fn invalid_settings_are_refused_with_the_setting_named() {
        let base = || DiskTierBuilder::new(PathBuf::from("unused")).shards(1);
        assert_eq!(
            config_error(base().max_bytes(0)),
            DiskConfigError::Zero("max_bytes")
        );
        assert_eq!(
            config_error(base().max_batch(0)),
            DiskConfigError::Zero("max_batch")
        );
        assert_eq!(
            config_error(base().background_threads(0)),
            DiskConfigError::Zero("background_threads")
        );
        assert_eq!(
            config_error(base().shards(MAX_SHARDS + 1)),
            DiskConfigError::Shards(MAX_SHARDS + 1)
        );
        assert!(matches!(
            config_error(base().shards(4).max_bytes(400).max_entry_bytes(101)),
            DiskConfigError::EntryLimit {
                entry: 101,
                max: 100
            }
        ));
        assert!(matches!(
            config_error(base().max_bytes(100).max_entry_bytes(101)),
            DiskConfigError::EntryLimit {
                entry: 101,
                max: 100
            }
        ));
        assert!(matches!(
            config_error(base().flush_interval(Duration::from_secs(2))),
            DiskConfigError::FlushInterval(_)
        ));
        assert_eq!(
            config_error(base().max_journal_bytes(MIB)),
            DiskConfigError::Journal(MIB)
        );
        assert!(base().validate().is_ok());
    }

    #[test]
    fn defaults_scale_with_max_bytes() {
        let small = DiskTierBuilder::new(PathBuf::from("unused"))
            .shards(1)
            .max_bytes(8 * MIB);
        assert_eq!(small.entry_limit(), MIB);
        assert_eq!(small.cache_size(), 16 << 20);
        let large = DiskTierBuilder::new(PathBuf::from("unused"))
            .shards(1)
            .max_bytes(64 * GIB);
        assert_eq!(large.entry_limit(), 64 * MIB);
        assert_eq!(large.cache_size(), 1 << 30);
        let tiny = DiskTierBuilder::new(PathBuf::from("unused"))
            .shards(1)
            .max_bytes(4);
        assert_eq!(tiny.entry_limit(), 1);
    }
}
