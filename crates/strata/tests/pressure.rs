//! Memory pressure with an injected memory reading: soft sheds expired then
//! cold entries; hard stops growth; checks run at most once per interval.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::Removed;
use strata::{
    EntryOptions, ManualClock, MemoryBudget, MemoryCache, MemoryGauge, PressureLevel, RemovalCause,
};

const BUDGET: u64 = 1_000_000;

/// A memory reading the test sets by hand.
#[derive(Debug, Default)]
struct Gauge(AtomicU64);

impl Gauge {
    fn set(&self, bytes: u64) {
        self.0.store(bytes, Ordering::SeqCst);
    }
}

impl MemoryGauge for Gauge {
    fn resident_bytes(&self) -> Option<u64> {
        Some(self.0.load(Ordering::SeqCst))
    }
}

struct Setup {
    cache: MemoryCache<u32, u32>,
    gauge: Arc<Gauge>,
    clock: Arc<ManualClock>,
    removed: Removed<u32, u32>,
}

fn setup() -> Setup {
    let gauge = Arc::new(Gauge::default());
    let clock = Arc::new(ManualClock::new());
    let removed = Removed::default();
    let cache = MemoryCache::builder()
        .max_entries(1_000)
        .shards(1)
        .clock(clock.clone())
        .memory_budget(MemoryBudget::Bytes(BUDGET))
        .memory_gauge(gauge.clone())
        .pressure_check_interval(Duration::from_secs(1))
        .removal_listener(removed.listener())
        .build()
        .expect("valid configuration");
    Setup {
        cache,
        gauge,
        clock,
        removed,
    }
}

#[test]
fn soft_pressure_sheds_expired_entries_first_then_the_coldest() {
    let s = setup();
    for k in 0..90 {
        s.cache.insert(k, k).expect("fits");
    }
    for k in 90..100 {
        let short = EntryOptions::new().with_ttl(Duration::from_secs(1));
        s.cache.insert_with(k, k, short).expect("fits");
    }
    s.clock.advance(Duration::from_secs(2)); // 90..100 have expired
    s.gauge.set(BUDGET * 85 / 100);
    s.cache.run_maintenance();
    let first: Vec<_> = s.removed.take();
    assert_eq!(first.len(), 10);
    assert!(
        first
            .iter()
            .all(|r| r.0 >= 90 && r.2 == RemovalCause::Expired)
    );

    // Still under pressure: nothing expired is left, so the coldest go, at
    // least 5% of the weight (90 entries -> 5).
    s.cache.run_maintenance();
    let second: Vec<_> = s.removed.take().into_iter().map(|r| (r.0, r.2)).collect();
    let coldest: Vec<_> = (0..5).map(|k| (k, RemovalCause::Capacity)).collect();
    assert_eq!(second, coldest, "least recently used first");

    let stats = s.cache.stats().pressure.expect("a budget is set");
    assert_eq!(stats.level, PressureLevel::Soft);
    assert_eq!(stats.shed_entries, 5);
    assert_eq!(stats.resident_bytes, Some(BUDGET * 85 / 100));
    assert_eq!((stats.soft_threshold, stats.hard_threshold), (0.8, 0.9));
    assert_eq!(stats.budget_bytes, BUDGET);
    s.cache.validate().expect("consistent");
}

#[test]
fn hard_pressure_makes_room_before_admitting_and_normal_pressure_lets_it_grow() {
    let s = setup();
    for k in 0..100 {
        s.cache.insert(k, k).expect("fits");
    }
    s.gauge.set(BUDGET * 95 / 100);
    s.cache.run_maintenance(); // enters hard pressure, sheds 5
    assert_eq!(
        s.cache.stats().pressure.map(|p| p.level),
        Some(PressureLevel::Hard)
    );
    let settled = s.cache.len();
    assert_eq!(settled, 95);
    s.removed.take();
    for k in 1_000..1_050 {
        s.cache.insert(k, k).expect("admitted after making room");
        assert_eq!(s.cache.len(), settled, "no growth under hard pressure");
        assert!(s.cache.contains(&k), "the new entry is the one kept");
    }
    assert_eq!(s.removed.take().len(), 50);

    s.gauge.set(BUDGET / 2);
    s.cache.run_maintenance();
    assert_eq!(
        s.cache.stats().pressure.map(|p| p.level),
        Some(PressureLevel::Normal)
    );
    s.cache.insert(5_000, 0).expect("fits");
    assert_eq!(s.cache.len(), settled + 1, "growth resumes");
}

#[test]
fn writes_check_at_most_once_per_interval() {
    let s = setup();
    s.cache.insert(0, 0).expect("fits"); // first write: first check (normal)
    let checks = || s.cache.stats().pressure.map(|p| p.checks);
    assert_eq!(checks(), Some(1));
    s.gauge.set(BUDGET); // over the hard threshold
    for k in 1..20 {
        s.cache.insert(k, k).expect("fits");
    }
    assert_eq!(checks(), Some(1), "no check within the interval");
    assert_eq!(s.cache.len(), 20, "pressure not yet seen");
    s.clock.advance(Duration::from_secs(1));
    s.cache.insert(100, 0).expect("fits");
    assert_eq!(checks(), Some(2));
    assert_eq!(
        s.cache.stats().pressure.map(|p| p.level),
        Some(PressureLevel::Hard)
    );
    assert!(s.cache.len() < 20, "the check shed entries");
}

#[test]
fn an_unreadable_gauge_means_no_pressure() {
    #[derive(Debug)]
    struct Blind;
    impl MemoryGauge for Blind {
        fn resident_bytes(&self) -> Option<u64> {
            None
        }
    }
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_entries(10)
        .memory_budget(MemoryBudget::Bytes(1))
        .memory_gauge(Arc::new(Blind))
        .build()
        .expect("valid configuration");
    cache.insert(1, 1).expect("fits");
    cache.run_maintenance();
    let stats = cache.stats().pressure.expect("a budget is set");
    assert_eq!(stats.level, PressureLevel::Normal);
    assert_eq!(stats.resident_bytes, None);
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_cgroup_budget_falls_back_when_no_limit_is_set() {
    let resolved = MemoryBudget::CgroupOr(123).resolve();
    match strata::memory::pressure::cgroup_memory_limit() {
        Some(limit) => assert_eq!(resolved, Some(limit)),
        None => assert_eq!(resolved, Some(123)),
    }
}
