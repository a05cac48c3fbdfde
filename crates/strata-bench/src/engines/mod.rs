//! The disk engines compared for Strata's disk tier, behind one small trait
//! so that every engine runs the same workload code.
//!
//! Each engine stores what the disk tier will store, in the layout it will
//! use:
//!
//! | table    | key              | value                          |
//! | -------- | ---------------- | ------------------------------ |
//! | `values` | key (`&str`)     | the envelope bytes             |
//! | `meta`   | key (`&str`)     | (seq, expiry ms, size)         |
//! | `order`  | seq (big-endian) | key, so eviction walks by age  |
//!
//! and every [`put_batch`](DiskEngine::put_batch) or
//! [`evict_oldest`](DiskEngine::evict_oldest) touches all three tables in one
//! atomic, durable (fdatasync) commit. The tag → epoch table of the disk tier
//! is not written per put, so it is left out.

mod fjall;
mod redb;

use std::path::Path;

use anyhow::Context as _;

/// One entry of a put batch: what the disk tier writes for one `put`.
#[derive(Debug, Clone, Copy)]
pub struct PutEntry<'a> {
    /// The cache key.
    pub key: &'a str,
    /// Insertion sequence number: the eviction order.
    pub seq: u64,
    /// Expiry, in milliseconds since the Unix epoch.
    pub expiry_ms: u64,
    /// The envelope bytes.
    pub value: &'a [u8],
}

/// The `meta` index value of an entry, encoded as the engines without typed
/// tables store it: seq, expiry (little-endian `u64`s) and size (`u32`).
#[must_use]
pub fn encode_meta(entry: &PutEntry<'_>) -> [u8; 20] {
    let mut out = [0u8; 20];
    out[..8].copy_from_slice(&entry.seq.to_le_bytes());
    out[8..16].copy_from_slice(&entry.expiry_ms.to_le_bytes());
    out[16..].copy_from_slice(&value_size(entry).to_le_bytes());
    out
}

/// The size of an entry's value as the `meta` index stores it.
///
/// # Panics
/// When the value is 4 GiB or larger, which this benchmark never writes.
#[must_use]
pub fn value_size(entry: &PutEntry<'_>) -> u32 {
    u32::try_from(entry.value.len()).expect("benchmark values are far below 4 GiB")
}

/// What the workload needs of a disk engine.
///
/// Every write method commits durably before it returns: the data is on
/// disk (fdatasync) when `Ok` comes back.
pub trait DiskEngine {
    /// Writes the value and both index entries of every entry, in one atomic
    /// and durable commit (the disk tier's group commit).
    ///
    /// # Errors
    /// When the engine fails to write or sync.
    fn put_batch(&self, entries: &[PutEntry<'_>]) -> anyhow::Result<()>;

    /// Looks `key` up in the value table and returns the length of its value
    /// (after passing the bytes through [`std::hint::black_box`]).
    ///
    /// # Errors
    /// When the engine fails to read.
    fn get(&self, key: &str) -> anyhow::Result<Option<usize>>;

    /// Deletes up to `count` of the oldest entries whose seq is at least
    /// `from_seq` (value and both index entries) in one atomic, durable
    /// commit. Returns how many it deleted and the last seq deleted.
    ///
    /// `from_seq` is the eviction cursor the disk tier keeps in memory, so
    /// that a batch does not walk over the entries the previous batches
    /// deleted (an LSM tree keeps their tombstones until compaction).
    ///
    /// # Errors
    /// When the engine fails to read, write or sync.
    fn evict_oldest(&self, from_seq: u64, count: usize) -> anyhow::Result<(usize, Option<u64>)>;

    /// The seq of the oldest entry, found from the start of the `order`
    /// table (what the disk tier does after a restart, without a cursor).
    ///
    /// # Errors
    /// When the engine fails to read.
    fn oldest_seq(&self) -> anyhow::Result<Option<u64>>;

    /// Counts the keys that start with `prefix`, by a scan of the `meta`
    /// table (the small one, as the disk tier's prefix invalidation would).
    ///
    /// # Errors
    /// When the engine fails to read.
    fn count_prefix(&self, prefix: &str) -> anyhow::Result<usize>;

    /// Gives the space of deleted entries back to the file system, by the
    /// engine's own means; blocks until it is done.
    ///
    /// # Errors
    /// When the engine fails to compact.
    fn reclaim(&mut self) -> anyhow::Result<()>;

    /// A line on where the engine's bytes go, from its own statistics (for
    /// the report's space notes).
    ///
    /// # Errors
    /// When the engine fails to read its statistics.
    fn space_detail(&self) -> anyhow::Result<String>;

    /// Closes the engine cleanly (its normal shutdown path).
    ///
    /// # Errors
    /// When the engine reports an error while closing.
    fn close(self: Box<Self>) -> anyhow::Result<()>;
}

/// The engines this benchmark knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// redb 4: one file of copy-on-write B-trees; default commits
    /// (1-phase, no allocator state saved per commit).
    Redb,
    /// redb 4 with `set_quick_repair(true)` on every write transaction: each
    /// commit saves the allocator state and commits in 2 phases, so that a
    /// reopen after a crash needs no full repair.
    RedbQuickRepair,
    /// fjall 3: an LSM tree per keyspace in one directory, with a shared
    /// write-ahead journal.
    Fjall,
    /// fjall 3 with `max_journaling_size` at its minimum, 64 MiB (default
    /// 512 MiB): memtables are flushed sooner, so a reopen replays less
    /// journal.
    #[value(name = "fjall-journal-64m")]
    FjallJournal64m,
    /// fjall 3 with key-value separation on `values` (lsm-tree's default
    /// blob options: values of 1 KiB and more go to blob files, which
    /// compactions do not rewrite) and the 64 MiB journal cap.
    #[value(name = "fjall-kv")]
    FjallKv,
}

impl EngineKind {
    /// The name used on the command line and in the table.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Redb => "redb",
            Self::RedbQuickRepair => "redb-quick-repair",
            Self::Fjall => "fjall",
            Self::FjallJournal64m => "fjall-journal-64m",
            Self::FjallKv => "fjall-kv",
        }
    }

    /// Opens (or creates) the engine's store in `dir`.
    ///
    /// # Errors
    /// When the directory cannot be created or the engine cannot open it.
    pub fn open(self, dir: &Path, options: &EngineOptions) -> anyhow::Result<Opened> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        match self {
            Self::Redb => redb::RedbEngine::open(dir, options, false),
            Self::RedbQuickRepair => redb::RedbEngine::open(dir, options, true),
            Self::Fjall => fjall::FjallEngine::open(dir, options, None, false),
            Self::FjallJournal64m => fjall::FjallEngine::open(dir, options, Some(64 << 20), false),
            Self::FjallKv => fjall::FjallEngine::open(dir, options, Some(64 << 20), true),
        }
    }
}

/// Settings shared by every engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    /// The engine's cache size in bytes. Default: `None`, each engine's own
    /// default (redb 1 GiB, fjall 32 MiB).
    pub cache_bytes: Option<u64>,
}

/// An opened engine and what its open had to do.
pub struct Opened {
    /// The engine, ready for reads and writes.
    pub engine: Box<dyn DiskEngine>,
    /// Whether the open had to repair the store after an unclean end: `Some`
    /// for engines that report it (redb's repair callback), `None` for those
    /// that recover without saying (fjall replays its journal on every open).
    pub repaired: Option<bool>,
}

/// What the files of a store take on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// The sum of the files' lengths (`du --apparent-size`). redb grows its
    /// file with `set_len`, so this counts holes never written.
    pub apparent: u64,
    /// The blocks the files occupy (`du`): what the store costs the disk.
    pub allocated: u64,
}

impl std::ops::AddAssign for DiskUsage {
    fn add_assign(&mut self, other: Self) {
        self.apparent += other.apparent;
        self.allocated += other.allocated;
    }
}

/// The blocks a file occupies, in bytes.
#[cfg(unix)]
fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    // st_blocks counts 512-byte units whatever the file system's block size.
    std::os::unix::fs::MetadataExt::blocks(meta) * 512
}

/// The blocks a file occupies, in bytes: without `st_blocks`, its length.
#[cfg(not(unix))]
fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

/// What the files under `dir` take on disk.
///
/// # Errors
/// When a directory or file cannot be read.
pub fn dir_usage(dir: &Path) -> anyhow::Result<DiskUsage> {
    let mut total = DiskUsage::default();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let Some(meta) = unless_vanished(entry.metadata())? else {
            continue;
        };
        if meta.is_dir() {
            total += dir_usage(&entry.path())?;
        } else {
            total += DiskUsage {
                apparent: meta.len(),
                allocated: allocated_bytes(&meta),
            };
        }
    }
    Ok(total)
}

/// Reads every file under `dir` once, so the page cache holds the store
/// before the measured gets (the "page cache warm" condition).
///
/// # Errors
/// When a directory or file cannot be read.
pub fn warm_page_cache(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let Some(meta) = unless_vanished(entry.metadata())? else {
            continue;
        };
        if meta.is_dir() {
            warm_page_cache(&entry.path())?;
        } else if let Some(mut file) = unless_vanished(std::fs::File::open(entry.path()))? {
            std::io::copy(&mut file, &mut std::io::sink())?;
        }
    }
    Ok(())
}

/// `None` when the file is gone: an LSM engine's background compaction
/// deletes table files while the directory is walked.
fn unless_vanished<T>(result: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}
