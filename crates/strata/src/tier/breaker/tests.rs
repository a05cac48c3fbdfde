//! The breaker against a fake tier that fails, is slow or holds its calls
//! on demand. Time is a manual clock: nothing here sleeps.

use std::sync::Arc;
use std::time::Duration;

use super::fake::FakeTier;
use super::*;
use crate::tier::{KeyFilter, TierHealth, TierWrite};
use crate::{KeyPattern, ManualClock};

/// Longer than any test: the background timer (real time) never fires, so
/// recovery happens only when a test moves the clock and asks for it.
const OPEN: Duration = Duration::from_secs(3600);
const BUDGET: Duration = Duration::from_millis(100);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new())
}

fn builder(clock: &Arc<ManualClock>) -> BreakerBuilder {
    BreakerBuilder::new()
        .min_calls(4)
        .failure_rate(0.5)
        .latency_budget(BUDGET)
        .slow_call_rate(0.5)
        .window(Duration::from_secs(10))
        .open_interval(OPEN)
        .half_open_probes(2)
        .clock(clock.clone())
}

fn breaker(clock: &Arc<ManualClock>) -> BreakerTier<FakeTier> {
    builder(clock).build(FakeTier::new(clock.clone())).unwrap()
}

fn write(key: &str) -> TierWrite {
    TierWrite {
        key: key.to_owned(),
        bytes: key.as_bytes().to_vec(),
        expires_at_ms: None,
    }
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

fn is_unavailable(result: &Result<impl std::fmt::Debug, TierError>) -> bool {
    matches!(result, Err(TierError::Unavailable { .. }))
}

/// Opens the breaker with failing calls, and heals the tier.
async fn trip(tier: &BreakerTier<FakeTier>) {
    tier.inner().fail(true);
    for _ in 0..4 {
        let _ = tier.get("k").await;
    }
    assert_eq!(tier.state(), BreakerState::Open);
    tier.inner().fail(false);
}

/// Moves past the open interval and runs the recovery.
async fn recover(tier: &BreakerTier<FakeTier>, clock: &ManualClock) -> BreakerState {
    clock.advance(OPEN);
    tier.recover().await
}

/// Lets spawned tasks run until `done`, or fails.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never happened");
}

#[tokio::test]
async fn the_error_rate_trips_only_over_min_calls_and_at_the_threshold() {
    let clock = clock();
    let few = breaker(&clock);
    few.inner().fail(true);
    for _ in 0..3 {
        assert!(is_unavailable(&few.get("k").await));
    }
    assert_eq!(few.state(), BreakerState::Closed, "3 calls < min_calls");

    let tier = breaker(&clock);
    for _ in 0..4 {
        tier.get("k").await.unwrap();
    }
    tier.inner().fail(true);
    for _ in 0..3 {
        let _ = tier.get("k").await;
    }
    assert_eq!(tier.state(), BreakerState::Closed, "3 of 7 failed");
    let _ = tier.get("k").await;
    assert_eq!(tier.state(), BreakerState::Open, "4 of 8 failed");

    let stats = tier.breaker_stats();
    assert_eq!(stats.transitions, 1);
    let last = stats.last_transition.unwrap();
    assert_eq!(
        (last.from, last.to),
        (BreakerState::Closed, BreakerState::Open)
    );
    assert_eq!(
        last.reason,
        TransitionReason::ErrorRate {
            failures: 4,
            calls: 8
        }
    );
}

#[tokio::test]
async fn failures_in_a_row_trip_whatever_the_window_holds() {
    let clock = clock();
    let tier = builder(&clock)
        .min_calls(1_000)
        .consecutive_failures(3)
        .build(FakeTier::new(clock.clone()))
        .unwrap();
    for _ in 0..50 {
        tier.get("k").await.unwrap();
    }
    tier.inner().fail(true);
    for _ in 0..2 {
        let _ = tier.get("k").await;
    }
    tier.inner().fail(false);
    tier.get("k").await.unwrap();
    tier.inner().fail(true);
    for _ in 0..2 {
        let _ = tier.get("k").await;
    }
    assert_eq!(
        tier.state(),
        BreakerState::Closed,
        "a success broke the run"
    );
    let _ = tier.get("k").await;
    assert_eq!(tier.state(), BreakerState::Open);
    assert_eq!(
        tier.breaker_stats().last_transition.unwrap().reason,
        TransitionReason::ConsecutiveFailures { failures: 3 }
    );
}

#[tokio::test]
async fn failures_older_than_the_window_are_forgotten() {
    let clock = clock();
    let tier = breaker(&clock);
    tier.inner().fail(true);
    for _ in 0..3 {
        let _ = tier.get("k").await;
    }
    clock.advance(Duration::from_secs(11));
    let _ = tier.get("k").await;
    assert_eq!(
        tier.state(),
        BreakerState::Closed,
        "one failure in the window"
    );
}

#[tokio::test]
async fn errors_that_mean_the_tier_answered_do_not_count() {
    let clock = clock();
    let tier = breaker(&clock);
    tier.inner().refuse("big");
    for _ in 0..8 {
        let error = tier.put(write("big")).await.unwrap_err();
        assert!(matches!(error, TierError::TooLarge { .. }), "{error}");
    }
    assert_eq!(tier.state(), BreakerState::Closed);
}

#[tokio::test]
async fn latency_over_the_budget_trips_even_when_calls_succeed() {
    let clock = clock();
    let tier = breaker(&clock);
    tier.get("k").await.unwrap();
    tier.get("k").await.unwrap();
    tier.inner().set_delay(BUDGET + Duration::from_millis(1));
    tier.get("k").await.unwrap();
    assert_eq!(tier.state(), BreakerState::Closed, "3 calls < min_calls");
    tier.get("k").await.unwrap();
    assert_eq!(tier.state(), BreakerState::Open, "2 of 4 slow");
    assert_eq!(
        tier.breaker_stats().last_transition.unwrap().reason,
        TransitionReason::SlowCalls {
            slow: 2,
            calls: 4,
            budget: BUDGET
        }
    );
}

#[tokio::test]
async fn while_open_no_call_reaches_the_tier_and_reads_fail_at_once() {
    let clock = clock();
    let tier = breaker(&clock);
    trip(&tier).await;
    let calls = tier.inner().calls();

    assert!(is_unavailable(&tier.get("k").await));
    assert!(is_unavailable(&tier.get_many(&keys(&["k"])).await));
    assert!(is_unavailable(&tier.scan(&KeyFilter::All).await));
    assert!(is_unavailable(&tier.tag_epochs(&keys(&["never"])).await));
    let error = tier.get("k").await.unwrap_err().to_string();
    assert!(
        error.starts_with(
            "fake tier is unavailable: circuit breaker open (4 of the last 4 calls failed"
        ),
        "{error}"
    );
    match tier.health().await {
        TierHealth::Down(why) => assert!(why.contains("circuit breaker open"), "{why}"),
        other => panic!("{other:?}"),
    }
    tier.put(write("a")).await.unwrap();
    assert_eq!(tier.inner().calls(), calls, "nothing reached the tier");
    assert_eq!(tier.breaker_stats().rejected, 5);
}

#[tokio::test]
async fn half_open_lets_a_bounded_number_of_probes_through_then_closes() {
    let clock = clock();
    let tier = breaker(&clock);
    trip(&tier).await;
    tier.inner().hold();
    clock.advance(OPEN);
    let calls = tier.inner().calls();

    // The first call after the interval is refused, and starts the
    // recovery: the wake-up call, held in the tier.
    let refused = tier.get("k").await.unwrap_err();
    assert!(refused.to_string().contains("waking"), "{refused}");
    until(|| tier.inner().arrived() == 1).await;
    assert_eq!(tier.state(), BreakerState::HalfOpen);
    assert!(matches!(tier.health().await, TierHealth::Degraded(_)));
    tier.inner().release(1);

    // Then five callers at once, and the breaker's own prober: two probes
    // reach the tier, whoever sends them; every other call is refused.
    let mut callers = Vec::new();
    for _ in 0..5 {
        let tier = tier.clone();
        callers.push(tokio::spawn(async move { tier.get("k").await }));
    }
    until(|| tier.inner().arrived() == 3).await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(is_unavailable(&tier.get("k").await), "no third probe");
    assert_eq!(
        tier.inner().calls() - calls,
        3,
        "the wake-up call and 2 probes"
    );

    tier.inner().let_go();
    let mut passed = 0;
    for caller in callers {
        passed += u32::from(caller.await.unwrap().is_ok());
    }
    assert!(passed <= 2, "{passed} callers got through");
    until(|| tier.state() == BreakerState::Closed).await;
    assert_eq!(
        tier.breaker_stats().last_transition.unwrap().reason,
        TransitionReason::Recovered { probes: 2 }
    );
    tier.get("k").await.unwrap();
}

#[tokio::test]
async fn the_first_call_after_an_outage_is_not_judged() {
    let clock = clock();
    let tier = breaker(&clock);
    trip(&tier).await;
    tier.put(write("a")).await.unwrap();
    // Like the Redis tier's first call after a restart, on the connection
    // attempt that failed during the outage.
    tier.inner().fail_next(1);
    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
    assert_eq!(tier.inner().log(), ["put a"]);
}

#[tokio::test]
async fn without_traffic_the_breaker_probes_on_its_own() {
    let clock = clock();
    let tier = breaker(&clock);
    trip(&tier).await;
    let calls = tier.inner().calls();
    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
    assert_eq!(
        tier.inner().calls() - calls,
        3,
        "a wake-up call and two health probes"
    );
    assert_eq!(tier.breaker_stats().transitions, 3);
}

#[tokio::test]
async fn a_failed_or_slow_probe_opens_the_breaker_again() {
    let clock = clock();
    let tier = breaker(&clock);
    trip(&tier).await;
    tier.inner().fail(true);
    assert_eq!(recover(&tier, &clock).await, BreakerState::Open);
    assert!(matches!(
        tier.breaker_stats().last_transition.unwrap().reason,
        TransitionReason::ProbeFailed { .. }
    ));

    tier.inner().fail(false);
    tier.inner().set_delay(BUDGET * 2);
    assert_eq!(recover(&tier, &clock).await, BreakerState::Open);
    assert_eq!(
        tier.breaker_stats().last_transition.unwrap().reason,
        TransitionReason::ProbeSlow {
            took: BUDGET * 2,
            budget: BUDGET
        }
    );

    tier.inner().set_delay(Duration::ZERO);
    assert_eq!(recover(&tier, &clock).await, BreakerState::Closed);
}

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
async fn epochs_the_tier_cannot_give_are_the_last_known_or_unavailable() {
    let clock = clock();
    let tier = breaker(&clock);
    tier.inner().raise_tag_epoch("t", 4).await.unwrap();
    assert_eq!(tier.tag_epochs(&keys(&["t"])).await.unwrap(), [4]);
    // Failing while still closed: answered from memory, counted as failed.
    tier.inner().fail(true);
    assert_eq!(tier.tag_epochs(&keys(&["t"])).await.unwrap(), [4]);
    assert!(is_unavailable(&tier.tag_epochs(&keys(&["u"])).await));
    trip(&tier).await;
    let calls = tier.inner().calls();
    let rejected = tier.breaker_stats().rejected;
    assert_eq!(tier.tag_epochs(&keys(&["t"])).await.unwrap(), [4]);
    assert!(is_unavailable(&tier.tag_epochs(&keys(&["t", "u"])).await));
    tier.raise_tag_epoch("u", 2).await.unwrap();
    assert_eq!(tier.tag_epochs(&keys(&["t", "u"])).await.unwrap(), [4, 2]);
    assert_eq!(tier.inner().calls(), calls, "open: nothing asked");
    let stats = tier.breaker_stats();
    assert_eq!(stats.epochs_from_memory, 3);
    assert_eq!(stats.rejected - rejected, 1, "only the unknown tag");

    let strict = builder(&clock)
        .epoch_fallback(EpochFallback::Unavailable)
        .build(FakeTier::new(clock.clone()))
        .unwrap();
    strict.tag_epochs(&keys(&["t"])).await.unwrap();
    trip(&strict).await;
    assert!(is_unavailable(&strict.tag_epochs(&keys(&["t"])).await));
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

#[test]
fn invalid_settings_fail_the_build_with_the_tier_named() {
    let clock = clock();
    let error = BreakerBuilder::new()
        .half_open_probes(0)
        .build(FakeTier::new(clock.clone()))
        .unwrap_err();
    let TierError::Config { tier, source } = error else {
        panic!("expected a config error");
    };
    assert_eq!(tier, "fake");
    assert_eq!(
        source.downcast_ref::<BreakerConfigError>(),
        Some(&BreakerConfigError::Zero("half_open_probes"))
    );
}

/// The point of it all: a tiered cache over a local tier and a broken
/// remote one keeps serving what the local tier holds, tagged entries
/// included, without waiting on the remote one.
#[tokio::test]
async fn a_tiered_cache_serves_from_the_other_tiers_while_the_breaker_is_open() {
    let clock = Arc::new(ManualClock::at_unix_millis(1_700_000_000_000));
    let cache_over = |remote: BreakerTier<FakeTier>| {
        let memory = crate::MemoryCache::builder()
            .max_entries(100)
            .clock(clock.clone())
            .build()
            .unwrap();
        let local = Arc::new(FakeTier::new(clock.clone()));
        let cache: crate::TieredCache<String> = crate::TieredCache::builder(memory)
            .tier(local)
            .tier(Arc::new(remote.clone()))
            .clock(clock.clone())
            .build()
            .unwrap();
        (cache, remote)
    };
    for fallback in [EpochFallback::LastKnown, EpochFallback::Unavailable] {
        let remote = builder(&clock)
            .epoch_fallback(fallback)
            .build(FakeTier::new(clock.clone()))
            .unwrap();
        let (cache, remote) = cache_over(remote);
        let tagged = crate::EntryOptions::new().with_tag("users");
        cache
            .set_with("user:1", "Ada".into(), tagged)
            .await
            .unwrap();
        trip(&remote).await;
        remote.inner().fail(true);
        let calls = remote.inner().calls();

        // Past the cache's epoch refresh, from the local tier (not memory).
        clock.advance(Duration::from_secs(2));
        cache.memory().clear();
        let served = cache.get("user:1").await;
        assert_eq!(cache.get("absent").await, None);
        cache.set("user:2", "Grace".into()).await.unwrap();
        assert_eq!(
            remote.inner().calls(),
            calls,
            "nothing waited on the remote tier"
        );
        match fallback {
            EpochFallback::LastKnown => assert_eq!(served.as_deref(), Some("Ada")),
            _ => assert_eq!(served, None, "consistency over availability"),
        }
        remote.inner().fail(false);
        assert_eq!(recover(&remote, &clock).await, BreakerState::Closed);
        assert!(
            remote.inner().value("user:2").is_some(),
            "the queued write landed"
        );
    }
}
