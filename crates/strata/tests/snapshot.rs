//! Exporting entries with their options and importing them elsewhere.

use std::sync::Arc;
use std::time::Duration;

use strata::{EntryOptions, ManualClock, MemoryCache, SnapshotEntry};

fn cache(clock: &Arc<ManualClock>) -> MemoryCache<String, String> {
    MemoryCache::builder()
        .max_entries(100)
        .clock(clock.clone())
        .build()
        .expect("valid configuration")
}

#[test]
fn a_snapshot_round_trips_every_option_through_json() {
    let clock = Arc::new(ManualClock::new());
    let source = cache(&clock);
    let options = EntryOptions::new()
        .with_ttl(Duration::from_secs(60))
        .with_tti(Duration::from_secs(30))
        .with_tags(["a", "b"])
        .with_priority(3)
        .with_cost(Duration::from_micros(1_500))
        .with_metadata("owner", "billing");
    source
        .insert_with("full".into(), "v1".into(), options)
        .expect("fits");
    source.insert("plain".into(), "v2".into()).expect("fits");
    clock.advance(Duration::from_secs(10));

    let mut snapshot = source.snapshot();
    snapshot.sort_by(|a, b| a.key.cmp(&b.key));
    let full = &snapshot[0];
    assert_eq!(full.expires_in, Some(Duration::from_secs(50)));
    assert_eq!(full.tti, Some(Duration::from_secs(30)));
    assert_eq!(full.tags, ["a", "b"]);
    assert_eq!(full.priority, 3);
    assert_eq!(full.cost, Some(Duration::from_micros(1_500)));
    assert_eq!(full.metadata["owner"], "billing");
    assert_eq!(snapshot[1], SnapshotEntry::new("plain".into(), "v2".into()));

    let json = serde_json::to_string(&snapshot).expect("serializable");
    assert!(json.contains(r#""expires_in_ms":50000"#), "{json}");
    assert!(
        !json.contains("priority\":0"),
        "defaults are omitted: {json}"
    );
    let back: Vec<SnapshotEntry<String, String>> =
        serde_json::from_str(&json).expect("deserializable");
    assert_eq!(back, snapshot);

    let target_clock = Arc::new(ManualClock::new());
    let target = cache(&target_clock);
    let report = target.import(back);
    assert_eq!(
        (report.imported, report.expired, report.rejected),
        (2, 0, 0)
    );
    assert_eq!(target.get("full").as_deref(), Some("v1"));
    assert_eq!(target.invalidate_tag("b"), 1, "tags came along");
    target_clock.advance(Duration::from_secs(1_000_000));
    assert_eq!(target.get("plain").as_deref(), Some("v2"), "never expires");
}

#[test]
fn import_skips_expired_entries_and_counts_refusals() {
    let clock = Arc::new(ManualClock::new());
    let target: MemoryCache<String, String> = MemoryCache::builder()
        .max_weight(10)
        .weigher(|_, v: &String| v.len() as u32)
        .clock(clock)
        .build()
        .expect("valid configuration");
    let mut expired = SnapshotEntry::new("old".to_owned(), "x".to_owned());
    expired.expires_in = Some(Duration::ZERO);
    let entries = vec![
        expired,
        SnapshotEntry::new("big".to_owned(), "x".repeat(11)),
        SnapshotEntry::new("ok".to_owned(), "y".to_owned()),
    ];
    let report = target.import(entries);
    assert_eq!(
        (report.imported, report.expired, report.rejected),
        (1, 1, 1)
    );
    assert_eq!(target.len(), 1);
}

#[test]
fn snapshots_leave_out_expired_entries_and_do_not_count_as_reads() {
    let clock = Arc::new(ManualClock::new());
    let cache = cache(&clock);
    let short = EntryOptions::new().with_ttl(Duration::from_secs(1));
    cache
        .insert_with("gone".into(), "x".into(), short)
        .expect("fits");
    cache.insert("kept".into(), "y".into()).expect("fits");
    clock.advance(Duration::from_secs(1));
    let keys: Vec<_> = cache.snapshot().into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["kept"]);
    assert_eq!(cache.stats().hits + cache.stats().misses, 0);
}
