//! The breaker against a fake tier that fails, is slow or holds its calls
//! on demand. Time is a manual clock: nothing here sleeps.

mod epochs;
mod recovery;
mod tripping;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use super::fake::FakeTier;
use super::*;
use crate::ManualClock;
use crate::tier::{KeyFilter, TierWrite};

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
