//! One engine through the disk tier's workload, phase by phase: load, gets,
//! prefix scans, clean and unclean reopen, eviction of the oldest 30%, space
//! reclamation, and churn at a constant live size.
//!
//! Every phase runs on one thread, and every write commits durably, so the
//! engines are compared on the same terms. Keys and values are generated
//! before each timed call, never inside it.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail, ensure};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

use crate::engines::{self, DiskEngine, DiskUsage, EngineKind, EngineOptions, Opened};
use crate::workload::{BatchBuilder, NAMESPACES, key_of};

/// The workload's parameters.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// Entries loaded before the other phases.
    pub entries: u64,
    /// Bytes per value.
    pub value_bytes: usize,
    /// Entries per durable commit, for puts and deletes alike.
    pub batch: usize,
    /// Measured random gets (a warm-up pass of as many runs first).
    pub gets: u64,
    /// Seed of values and key choices, so every engine sees the same ones.
    pub seed: u64,
    /// Settings passed to every engine.
    pub engine: EngineOptions,
}

impl RunConfig {
    /// The entries the eviction phase deletes, and the churn phase writes
    /// and deletes: 30% of the load.
    #[must_use]
    pub fn evicted(&self) -> u64 {
        self.entries * 3 / 10
    }
}

/// A run of a child process that opens the store, commits one batch and
/// ends without closing it. Given the store's directory; returns once the
/// child has exited.
pub type CrashHook<'a> = &'a dyn Fn(&Path) -> anyhow::Result<()>;

/// What one engine measured.
#[derive(Debug, Clone)]
pub struct EngineReport {
    /// The engine.
    pub kind: EngineKind,
    /// Load: entries per second over the time spent in `put_batch`.
    pub load_puts_per_sec: f64,
    /// Load: median latency of one batch commit, in milliseconds.
    pub batch_p50_ms: f64,
    /// Load: 99th percentile latency of one batch commit, in milliseconds.
    pub batch_p99_ms: f64,
    /// Bytes on disk right after the load.
    pub disk_after_load: DiskUsage,
    /// The engine's own account of its space right after the load.
    pub space_after_load: String,
    /// Random gets per second on one thread, page cache warm.
    pub gets_per_sec: f64,
    /// Median get latency, in nanoseconds.
    pub get_p50_ns: u64,
    /// 99th percentile get latency, in nanoseconds.
    pub get_p99_ns: u64,
    /// Prefix scans of the `meta` table: keys found per second.
    pub prefix_keys_per_sec: f64,
    /// The engine's own account of its space just before the clean close
    /// (what the reopen finds).
    pub space_before_close: String,
    /// Time to close the store cleanly after the gets, in milliseconds.
    pub clean_close_ms: f64,
    /// Clean reopen: time for the open call alone, in milliseconds.
    pub clean_open_ms: f64,
    /// Clean reopen: time from the open call to the first get returning a
    /// value, in milliseconds.
    pub clean_first_hit_ms: f64,
    /// The reopen after an unclean end, when one was produced.
    pub unclean: Option<UncleanReopen>,
    /// Eviction: seconds to delete the oldest 30% in durable batches.
    pub evict_secs: f64,
    /// Bytes on disk after the eviction.
    pub disk_after_evict: DiskUsage,
    /// Time to find the oldest entry from the start of the `order` table
    /// after the eviction (no cursor, as after a restart), in microseconds.
    pub oldest_lookup_us: f64,
    /// Seconds the engine's space reclamation took.
    pub reclaim_secs: f64,
    /// Bytes on disk after the reclamation.
    pub disk_after_reclaim: DiskUsage,
    /// Churn at constant live size: puts per second, each put batch followed
    /// by an eviction batch of the same size, both timed.
    pub churn_puts_per_sec: f64,
    /// Bytes on disk after the churn.
    pub disk_after_churn: DiskUsage,
    /// The engine's own account of its space after the churn.
    pub space_after_churn: String,
}

/// The reopen after an unclean end.
#[derive(Debug, Clone, Copy)]
pub struct UncleanReopen {
    /// The open call alone, in milliseconds.
    pub open_ms: f64,
    /// From the open call to the first get returning a value, in
    /// milliseconds.
    pub first_hit_ms: f64,
    /// Whether the engine said it repaired the store (`None`: it does not
    /// say).
    pub repaired: Option<bool>,
    /// Whether the batch the child committed before its unclean end is there.
    pub last_batch_survived: bool,
}

/// Milliseconds since the Unix epoch, for the entries' expiry.
fn now_ms() -> anyhow::Result<u64> {
    Ok(u64::try_from(
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis(),
    )?)
}

/// Expiry of every written entry: an hour from now. The benchmark never
/// reads it back; it is there so the `meta` index has its real size.
fn expiry_ms() -> anyhow::Result<u64> {
    Ok(now_ms()? + 3_600_000)
}

/// A histogram of nanoseconds, from 1 ns to one hour, 3 significant digits.
fn ns_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 3_600_000_000_000, 3)?)
}

/// Nanoseconds of `elapsed`, saturated (an hour is far above any sample).
fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// `elapsed` in milliseconds.
fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e3
}

/// Runs every phase for `kind` in `dir`, which must be empty.
///
/// `crash` produces the unclean end; without it that phase is skipped.
///
/// # Errors
/// When an engine call fails, or a get of a key that must be there misses.
pub fn run_engine(
    kind: EngineKind,
    dir: &Path,
    config: &RunConfig,
    crash: Option<CrashHook<'_>>,
) -> anyhow::Result<EngineReport> {
    ensure!(
        config.entries > 0 && config.batch > 0 && config.gets > 0,
        "entries, batch and gets must be greater than zero"
    );
    let name = kind.name();
    // Key choices come from their own stream ("gets"), so they do not shift
    // when the value generator draws more or fewer bytes.
    let mut picks = StdRng::seed_from_u64(config.seed ^ 0x6765_7473);
    let expiry = expiry_ms()?;

    // 1. Load.
    let mut engine = kind.open(dir, &config.engine)?.engine;
    let mut builder = BatchBuilder::new(config.value_bytes, config.seed);
    let mut batch_hist = ns_histogram()?;
    let mut put_time = Duration::ZERO;
    let mut next = 0;
    let mut reported = 0;
    while next < config.entries {
        let len = usize::try_from(config.entries - next)?.min(config.batch);
        builder.fill(next, len);
        let entries = builder.entries(expiry);
        let start = Instant::now();
        engine.put_batch(&entries)?;
        let elapsed = start.elapsed();
        put_time += elapsed;
        batch_hist.record(nanos(elapsed))?;
        next += len as u64;
        if next * 10 / config.entries > reported {
            reported = next * 10 / config.entries;
            eprintln!("[{name}] loaded {next} entries in {put_time:.1?}");
        }
    }
    let load_puts_per_sec = config.entries as f64 / put_time.as_secs_f64();
    let disk_after_load = engines::dir_usage(dir)?;
    let space_after_load = engine.space_detail()?;

    // 2. Random gets, page cache warm: read every file once, then a warm-up
    // pass of random gets, then the measured pass on other random keys.
    engines::warm_page_cache(dir)?;
    let mut draw_keys = |count| -> Vec<String> {
        (0..count)
            .map(|_| key_of(picks.random_range(0..config.entries)))
            .collect()
    };
    for key in draw_keys(config.gets) {
        engine
            .get(&key)?
            .with_context(|| format!("warm-up get missed {key}"))?;
    }
    let keys = draw_keys(config.gets);
    let mut get_hist = ns_histogram()?;
    let gets_start = Instant::now();
    for key in &keys {
        let start = Instant::now();
        let found = engine.get(key)?;
        get_hist.record(nanos(start.elapsed()))?;
        if found != Some(config.value_bytes) {
            bail!("[{name}] get of {key} returned {found:?}");
        }
    }
    let gets_per_sec = config.gets as f64 / gets_start.elapsed().as_secs_f64();
    eprintln!("[{name}] {gets_per_sec:.0} gets/s");

    // Prefix scans of the `meta` table: one per namespace, each selecting
    // 1/16 of that namespace (the first hex digit of the key's id).
    let scan_start = Instant::now();
    let mut scanned = 0;
    for namespace in 0..NAMESPACES {
        scanned += engine.count_prefix(&format!("ns{namespace:02}/item/0"))?;
    }
    let prefix_keys_per_sec = scanned as f64 / scan_start.elapsed().as_secs_f64();

    // 3a. Clean reopen.
    let probe = key_of(picks.random_range(0..config.entries));
    let space_before_close = engine.space_detail()?;
    let start = Instant::now();
    engine.close()?;
    let clean_close_ms = millis(start.elapsed());
    let (opened, clean_open_ms, clean_first_hit_ms) =
        reopen_to_first_hit(kind, dir, config, &probe)?;
    engine = opened.engine;
    eprintln!("[{name}] clean reopen to first hit: {clean_first_hit_ms:.1} ms");

    // 3b. Unclean end: a child process commits one more batch and exits
    // without closing; the parent times the reopen.
    let mut next = config.entries;
    let unclean = match crash {
        None => None,
        Some(crash) => {
            engine.close()?;
            crash(dir)?;
            let (opened, open_ms, first_hit_ms) = reopen_to_first_hit(kind, dir, config, &probe)?;
            let repaired = opened.repaired;
            engine = opened.engine;
            next += config.batch as u64;
            let last_batch_survived = engine.get(&key_of(next - 1))?.is_some();
            eprintln!(
                "[{name}] unclean reopen to first hit: {first_hit_ms:.1} ms (repaired: {repaired:?})"
            );
            Some(UncleanReopen {
                open_ms,
                first_hit_ms,
                repaired,
                last_batch_survived,
            })
        }
    };

    // 4. Evict the oldest 30%, in durable batches, with a cursor.
    let target = config.evicted();
    let start = Instant::now();
    let cursor = evict(engine.as_ref(), 0, target, config.batch)?;
    let evict_secs = start.elapsed().as_secs_f64();
    let disk_after_evict = engines::dir_usage(dir)?;
    let start = Instant::now();
    let oldest = engine.oldest_seq()?;
    let oldest_lookup_us = start.elapsed().as_secs_f64() * 1e6;
    ensure!(
        oldest == Some(cursor),
        "[{name}] oldest seq {oldest:?} after evicting up to {cursor}"
    );
    eprintln!("[{name}] evicted {target} entries in {evict_secs:.1} s");

    // 5. Reclaim the space of the deleted entries.
    let start = Instant::now();
    engine.reclaim()?;
    let reclaim_secs = start.elapsed().as_secs_f64();
    let disk_after_reclaim = engines::dir_usage(dir)?;
    eprintln!("[{name}] reclaimed in {reclaim_secs:.1} s");

    // 6. Churn at a constant live size: each put batch of new entries is
    // followed by an eviction batch of as many old ones, as a full cache
    // runs. Shows whether freed space is reused without a reclamation.
    // Timed: each put batch and the eviction batch after it (the steady
    // state's cost per put), not the generation of the values.
    let mut churn_time = Duration::ZERO;
    let mut cursor = cursor;
    let churn_end = next + target;
    while next < churn_end {
        let len = usize::try_from(churn_end - next)?.min(config.batch);
        builder.fill(next, len);
        let entries = builder.entries(expiry);
        let start = Instant::now();
        engine.put_batch(&entries)?;
        cursor = evict(engine.as_ref(), cursor, len as u64, config.batch)?;
        churn_time += start.elapsed();
        next += len as u64;
    }
    let churn_puts_per_sec = target as f64 / churn_time.as_secs_f64();
    let disk_after_churn = engines::dir_usage(dir)?;
    let space_after_churn = engine.space_detail()?;
    eprintln!("[{name}] churn: {churn_puts_per_sec:.0} puts/s");
    engine.close()?;

    Ok(EngineReport {
        kind,
        load_puts_per_sec,
        batch_p50_ms: batch_hist.value_at_quantile(0.5) as f64 / 1e6,
        batch_p99_ms: batch_hist.value_at_quantile(0.99) as f64 / 1e6,
        disk_after_load,
        space_after_load,
        gets_per_sec,
        get_p50_ns: get_hist.value_at_quantile(0.5),
        get_p99_ns: get_hist.value_at_quantile(0.99),
        prefix_keys_per_sec,
        space_before_close,
        clean_close_ms,
        clean_open_ms,
        clean_first_hit_ms,
        unclean,
        evict_secs,
        disk_after_evict,
        oldest_lookup_us,
        reclaim_secs,
        disk_after_reclaim,
        churn_puts_per_sec,
        disk_after_churn,
        space_after_churn,
    })
}

/// Opens the store and gets `probe`, which must be there. Returns the engine,
/// the time of the open call and the time to the first hit, in ms.
fn reopen_to_first_hit(
    kind: EngineKind,
    dir: &Path,
    config: &RunConfig,
    probe: &str,
) -> anyhow::Result<(Opened, f64, f64)> {
    let start = Instant::now();
    let opened = kind.open(dir, &config.engine)?;
    let open_ms = millis(start.elapsed());
    let found = opened.engine.get(probe)?;
    let first_hit_ms = millis(start.elapsed());
    ensure!(
        found.is_some(),
        "[{}] {probe} missing after reopen",
        kind.name()
    );
    Ok((opened, open_ms, first_hit_ms))
}

/// Evicts `count` entries from seq `cursor` on, in batches of `batch`.
/// Returns the new cursor: one past the last seq evicted.
fn evict(
    engine: &dyn DiskEngine,
    mut cursor: u64,
    count: u64,
    batch: usize,
) -> anyhow::Result<u64> {
    let mut left = count;
    while left > 0 {
        let want = usize::try_from(left)?.min(batch);
        let (deleted, last) = engine.evict_oldest(cursor, want)?;
        let Some(last) = last else {
            bail!("nothing left to evict at seq {cursor}");
        };
        cursor = last + 1;
        left -= deleted as u64;
    }
    Ok(cursor)
}

/// The child side of the unclean end: opens the store in `dir`, commits
/// one batch of new entries (indexes `entries .. entries + batch`) durably,
/// and returns the still-open engine. The caller must then end the process
/// without dropping it.
///
/// # Errors
/// When the engine fails to open or write.
pub fn crash_child(kind: EngineKind, dir: &Path, config: &RunConfig) -> anyhow::Result<Opened> {
    let opened = kind.open(dir, &config.engine)?;
    // Its own value stream ("crash"): these entries are new, not a replay.
    let mut builder = BatchBuilder::new(config.value_bytes, config.seed ^ 0x63_7261_7368);
    builder.fill(config.entries, config.batch);
    opened.engine.put_batch(&builder.entries(expiry_ms()?))?;
    Ok(opened)
}
