//! Writes while open: queued in order, replayed, bounded, dropped and counted.

use super::*;
use crate::KeyPattern;
use crate::tier::{KeyFilter, TierWrite};

#[tokio::test]
async fn writes_while_open_are_acknowledged_queued_and_replayed_in_order() {
    let clock = clock();
    let tier = breaker(&clock);
    tier.put(write("gone")).await.unwrap();
    trip(&tier).await;

    tier.put(write("a")).await.unwrap();
    assert!(
        !tier.delete("a").await.unwrap(),
        "nothing known removed yet"
    );
    tier.put_many(vec![write("b1"), write("b2"), write("c")])
        .await
        .unwrap();
    let pattern = KeyFilter::Pattern(KeyPattern::new("b*").unwrap());
    assert_eq!(tier.delete_matching(&pattern).await.unwrap(), 0);
    tier.raise_tag_epoch("t", 7).await.unwrap();
    let bump = tier.bump_tag_epoch("t").await.unwrap_err();
    assert!(bump.to_string().contains("queued"), "{bump}");
    tier.delete("gone").await.unwrap();
    assert_eq!(tier.inner().value("a"), None);
    assert_eq!(tier.breaker_stats().queued, 9);

    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
    assert_eq!(
        tier.inner().log(),
        [
            "put gone",
            "put a",
            "delete a",
            "put b1",
            "put b2",
            "put c",
            "delete_matching b",
            "raise t 7",
            "bump t",
            "delete gone",
        ]
    );
    assert_eq!(
        tier.get("a").await.unwrap(),
        None,
        "put then delete: absent"
    );
    assert_eq!(tier.get("b1").await.unwrap(), None);
    assert_eq!(tier.get("c").await.unwrap().as_deref(), Some(&b"c"[..]));
    assert_eq!(tier.inner().epoch("t"), 8);
    let stats = tier.breaker_stats();
    assert_eq!((stats.queued, stats.replayed, stats.queued_now), (9, 9, 0));
}

#[tokio::test]
async fn reads_are_refused_until_the_queue_is_replayed() {
    let clock = clock();
    let tier = breaker(&clock);
    tier.put(write("k")).await.unwrap();
    trip(&tier).await;
    let newer = TierWrite {
        bytes: b"newer".to_vec(),
        ..write("k")
    };
    tier.put(newer).await.unwrap();
    clock.advance(OPEN);
    tier.inner().hold();
    // A read starts the recovery: the wake-up call, then the replay, are
    // held in the tier.
    assert!(is_unavailable(&tier.get("k").await));
    until(|| tier.inner().arrived() == 1).await;
    tier.inner().release(1);
    until(|| tier.inner().arrived() == 2).await;
    let refused = tier.get("k").await.unwrap_err();
    assert!(
        refused.to_string().contains("replaying 1 queued"),
        "{refused}"
    );
    let calls = tier.inner().calls();
    tier.put(write("later")).await.unwrap();
    assert_eq!(tier.inner().calls(), calls, "queued behind the replay");

    tier.inner().let_go();
    until(|| tier.state() == BreakerState::Closed).await;
    assert_eq!(tier.get("k").await.unwrap().as_deref(), Some(&b"newer"[..]));
    assert_eq!(
        tier.inner().log().last().map(String::as_str),
        Some("put later")
    );
}

#[tokio::test]
async fn a_full_queue_drops_writes_counts_them_and_fails_their_callers() {
    let clock = clock();
    let tier = builder(&clock)
        .max_queued_writes(3)
        .max_queued_bytes(1_000)
        .build(FakeTier::new(clock.clone()))
        .unwrap();
    trip(&tier).await;
    tier.put_many(vec![write("a"), write("b")]).await.unwrap();
    tier.delete("c").await.unwrap();
    let dropped = tier.put(write("d")).await.unwrap_err();
    assert!(
        matches!(&dropped, TierError::Unavailable { reason, .. } if reason.contains("queue is full (3 writes)")),
        "{dropped}"
    );
    assert!(is_unavailable(&tier.delete_many(&keys(&["e", "f"])).await));
    assert!(is_unavailable(&tier.bump_tag_epoch("t").await));
    let stats = tier.breaker_stats();
    assert_eq!((stats.queued, stats.dropped, stats.queued_now), (3, 4, 3));

    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
    assert_eq!(tier.inner().log(), ["put a", "put b", "delete c"]);

    // The byte bound, on its own.
    trip(&tier).await;
    let heavy = TierWrite {
        bytes: vec![0; 1_000],
        ..write("h")
    };
    assert!(is_unavailable(&tier.put(heavy).await));
    assert_eq!(tier.breaker_stats().dropped, 5);
}

#[tokio::test]
async fn a_failed_replay_keeps_the_queue_and_opens_again() {
    let clock = clock();
    let tier = breaker(&clock);
    trip(&tier).await;
    tier.put(write("a")).await.unwrap();
    tier.delete("a").await.unwrap();
    tier.inner().fail(true);
    assert_eq!(recover(&tier, &clock).await, BreakerState::Open);
    assert!(matches!(
        tier.breaker_stats().last_transition.unwrap().reason,
        TransitionReason::ReplayFailed { .. }
    ));
    assert_eq!(tier.breaker_stats().queued_now, 2);

    tier.inner().fail(false);
    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
    assert_eq!(tier.inner().log(), ["put a", "delete a"]);
}

#[tokio::test]
async fn an_entry_the_tier_refuses_at_replay_is_dropped_and_counted() {
    let clock = clock();
    let tier = breaker(&clock);
    trip(&tier).await;
    tier.put_many(vec![write("a"), write("huge"), write("b")])
        .await
        .unwrap();
    tier.inner().refuse("huge");
    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
    assert_eq!(tier.inner().log(), ["put a", "put b"]);
    let stats = tier.breaker_stats();
    assert_eq!((stats.replayed, stats.refused_at_replay), (2, 1));
}

#[tokio::test]
async fn flush_while_open_names_the_writes_not_yet_applied() {
    let clock = clock();
    let tier = breaker(&clock);
    tier.flush().await.unwrap();
    trip(&tier).await;
    tier.put(write("a")).await.unwrap();
    let error = tier.flush().await.unwrap_err();
    assert!(error.to_string().contains("1 queued writes"), "{error}");
    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
    tier.flush().await.unwrap();
}
