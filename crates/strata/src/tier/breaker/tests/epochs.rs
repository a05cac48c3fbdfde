//! Tag epochs the tier cannot give, the builder, and a tiered cache on top.

use std::time::Duration;

use super::*;
use crate::ManualClock;
use std::sync::Arc;

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
