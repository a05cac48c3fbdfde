//! Closed → open: error rate, failures in a row, latency; and what open means.

use std::time::Duration;

use super::*;
use crate::tier::TierHealth;

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
