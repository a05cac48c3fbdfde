//! Memory pressure: shed entries when the process nears its memory budget.
//!
//! The cache reads the process's resident memory at most once per check
//! interval, on the write path (or on `run_maintenance`). Above the soft
//! threshold it sheds: all expired entries, then the coldest entries of the
//! lowest priority across all shards, until at least `shed_fraction` of the
//! entries and of the weight are gone. Above the hard
//! threshold it also stops growing: every write must first make room for
//! itself, so the cache's size cannot rise until pressure falls (an empty
//! cache therefore admits nothing while pressure is hard).
//!
//! Caveat: freed memory is not always returned to the operating system by the
//! allocator, so resident memory may stay high after shedding; the cache then
//! sheds again at the next check. Keep the interval and fraction moderate.

use std::fmt;
use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Where the memory budget comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryBudget {
    /// A fixed number of bytes.
    Bytes(u64),
    /// The container's cgroup memory limit (v2 `memory.max`, or v1
    /// `memory.limit_in_bytes`); building fails if none is set.
    Cgroup,
    /// The cgroup limit when one is set, else this many bytes.
    CgroupOr(u64),
}

impl MemoryBudget {
    /// The budget in bytes, if it can be resolved on this machine.
    pub fn resolve(self) -> Option<u64> {
        match self {
            MemoryBudget::Bytes(n) => Some(n),
            MemoryBudget::Cgroup => cgroup_memory_limit(),
            MemoryBudget::CgroupOr(n) => Some(cgroup_memory_limit().unwrap_or(n)),
        }
    }
}

/// A reading of the process's memory use. Injected in tests; the default is
/// [`ProcessMemory`].
pub trait MemoryGauge: Send + Sync + fmt::Debug {
    /// Resident memory in bytes, or `None` if it cannot be read (the cache
    /// then stays at [`PressureLevel::Normal`]).
    fn resident_bytes(&self) -> Option<u64>;
}

/// The process's resident set size, from `/proc/self/status` (Linux). On
/// other systems it reads nothing, and pressure never rises.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessMemory;

impl MemoryGauge for ProcessMemory {
    fn resident_bytes(&self) -> Option<u64> {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        parse_vm_rss(&status)
    }
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// The memory limit of this process's cgroup, if one is set.
pub fn cgroup_memory_limit() -> Option<u64> {
    let v2 = fs::read_to_string("/sys/fs/cgroup/memory.max").ok();
    let v1 = || fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes").ok();
    parse_cgroup_limit(&v2.or_else(v1)?)
}

fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    // cgroup v1 reports "no limit" as a huge page-aligned number.
    text.parse().ok().filter(|&n: &u64| n > 0 && n < 1 << 60)
}

/// How close the process is to its memory budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PressureLevel {
    /// Below the soft threshold.
    Normal,
    /// Past the soft threshold: shedding expired, then cold entries.
    Soft,
    /// Past the hard threshold: shedding, and no write grows the cache.
    Hard,
}

impl PressureLevel {
    fn from_u8(v: u8) -> Self {
        match v {
            2 => PressureLevel::Hard,
            1 => PressureLevel::Soft,
            _ => PressureLevel::Normal,
        }
    }
}

/// The memory-pressure part of [`CacheStats`](crate::CacheStats).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PressureStats {
    /// The level at the last check.
    pub level: PressureLevel,
    /// The budget in bytes.
    pub budget_bytes: u64,
    /// Soft threshold, as a fraction of the budget.
    pub soft_threshold: f64,
    /// Hard threshold, as a fraction of the budget.
    pub hard_threshold: f64,
    /// Resident memory at the last check, if it could be read.
    pub resident_bytes: Option<u64>,
    /// How many checks ran.
    pub checks: u64,
    /// Live entries shed for pressure (expired ones count as expired).
    pub shed_entries: u64,
}

/// The pressure settings of a builder.
#[derive(Debug, Clone)]
pub(crate) struct PressureConfig {
    pub(crate) soft: f64,
    pub(crate) hard: f64,
    pub(crate) interval: Duration,
    pub(crate) shed_fraction: f64,
    pub(crate) gauge: Arc<dyn MemoryGauge>,
}

/// The live pressure state of a cache.
#[derive(Debug)]
pub(crate) struct Pressure {
    budget: u64,
    soft: f64,
    hard: f64,
    interval: u64,
    pub(crate) shed_fraction: f64,
    gauge: Arc<dyn MemoryGauge>,
    level: AtomicU8,
    next_check: AtomicU64,
    /// Last reading plus one; 0 means "never read".
    resident: AtomicU64,
    checks: AtomicU64,
    shed: AtomicU64,
}

impl Pressure {
    pub(crate) fn new(config: &PressureConfig, budget: u64) -> Self {
        Self {
            budget,
            soft: config.soft,
            hard: config.hard,
            interval: crate::clock::nanos(config.interval),
            shed_fraction: config.shed_fraction,
            gauge: Arc::clone(&config.gauge),
            level: AtomicU8::new(0),
            next_check: AtomicU64::new(0),
            resident: AtomicU64::new(0),
            checks: AtomicU64::new(0),
            shed: AtomicU64::new(0),
        }
    }

    pub(crate) fn level(&self) -> PressureLevel {
        PressureLevel::from_u8(self.level.load(Ordering::Relaxed))
    }

    /// Claims the next periodic check, if one is due at `now`. Only one of
    /// several racing writers wins it.
    pub(crate) fn claim_check(&self, now: u64) -> bool {
        let next = self.next_check.load(Ordering::Relaxed);
        now >= next
            && self
                .next_check
                .compare_exchange(
                    next,
                    now.saturating_add(self.interval),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Reads the gauge and updates the level.
    pub(crate) fn measure(&self) -> PressureLevel {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let reading = self.gauge.resident_bytes();
        self.resident.store(
            reading.map_or(0, |r| r.saturating_add(1)),
            Ordering::Relaxed,
        );
        let level = match reading {
            Some(r) if r as f64 >= self.hard * self.budget as f64 => PressureLevel::Hard,
            Some(r) if r as f64 >= self.soft * self.budget as f64 => PressureLevel::Soft,
            _ => PressureLevel::Normal,
        };
        self.level.store(level as u8, Ordering::Relaxed);
        level
    }

    pub(crate) fn count_shed(&self, n: u64) {
        self.shed.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> PressureStats {
        let resident = self.resident.load(Ordering::Relaxed);
        PressureStats {
            level: self.level(),
            budget_bytes: self.budget,
            soft_threshold: self.soft,
            hard_threshold: self.hard,
            resident_bytes: resident.checked_sub(1),
            checks: self.checks.load(Ordering::Relaxed),
            shed_entries: self.shed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status_and_cgroup_files() {
        let status = "Name:\tx\nVmRSS:\t   2048 kB\nVmSwap:\t0 kB\n";
        assert_eq!(parse_vm_rss(status), Some(2 * 1024 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("536870912\n"), Some(536_870_912));
        assert_eq!(parse_cgroup_limit("9223372036854771712"), None);
    }

    #[test]
    fn the_process_gauge_reads_something_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(ProcessMemory.resident_bytes().is_some_and(|b| b > 0));
        }
    }
}
