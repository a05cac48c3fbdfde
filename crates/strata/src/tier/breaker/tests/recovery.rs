//! Half-open: the wake-up call, bounded probes, closing and reopening.

use std::time::Duration;

use super::*;
use crate::tier::TierHealth;

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
