//! The state machine alone: time passed in, no tier, no runtime.

use super::*;
use crate::tier::TierWrite;

const OPEN: u64 = 1_000;

/// Opens after one failure; two probes.
fn machine() -> Machine {
    let settings = Settings {
        window_nanos: 10_000,
        min_calls: 1,
        consecutive_failures: 1,
        failure_rate: 0.5,
        budget: Duration::from_nanos(100),
        slow_call_rate: 0.5,
        open_nanos: OPEN,
        probes: 2,
    };
    Machine::new(settings, WriteQueue::new(100, 1 << 20), 0)
}

fn pass(machine: &mut Machine, now: u64) -> Ticket {
    match machine.admit_read(now) {
        ReadDecision::Pass(ticket) => ticket,
        ReadDecision::Refuse(why) => panic!("refused: {why}"),
    }
}

fn refused(machine: &mut Machine, now: u64) -> bool {
    matches!(machine.admit_read(now), ReadDecision::Refuse(_))
}

/// Open, then half-open at `OPEN` and woken: probes may pass.
fn half_open() -> Machine {
    let mut m = machine();
    let ticket = pass(&mut m, 0);
    m.finish(ticket, 0, Some("down".into()));
    assert_eq!(m.state(), BreakerState::Open);
    let Step::Wake { generation } = m.next_step(OPEN) else {
        panic!("the driver wakes the tier first");
    };
    assert!(refused(&mut m, OPEN), "nothing passes before the wake-up");
    m.woke(generation);
    m
}

#[test]
fn probes_are_bounded_and_a_cancelled_one_gives_its_place_back() {
    let mut m = half_open();
    let first = pass(&mut m, OPEN);
    let second = pass(&mut m, OPEN);
    assert!(refused(&mut m, OPEN), "two probes at most");
    m.cancel(second, OPEN);
    let third = pass(&mut m, OPEN);
    m.finish(first, OPEN, None);
    assert_eq!(m.state(), BreakerState::HalfOpen, "one of two");
    m.finish(third, OPEN, None);
    assert_eq!(m.state(), BreakerState::Closed);
}

#[test]
fn an_outcome_from_an_earlier_generation_is_ignored() {
    let mut m = half_open();
    let old = pass(&mut m, OPEN);
    let failing = pass(&mut m, OPEN);
    m.finish(failing, OPEN, Some("still down".into()));
    assert_eq!(m.state(), BreakerState::Open);
    let Step::Wake { generation } = m.next_step(2 * OPEN) else {
        panic!("half-open again");
    };
    m.woke(generation);
    let new = pass(&mut m, 2 * OPEN);
    m.finish(new, 2 * OPEN, None);
    // The probe of the first half-open period says nothing about the
    // tier since: it is not the second probe of this one.
    m.finish(old, 2 * OPEN, None);
    assert_eq!(m.state(), BreakerState::HalfOpen);
}

#[test]
fn writes_queue_while_waking_and_replay_before_any_probe() {
    let mut m = machine();
    let ticket = pass(&mut m, 0);
    m.finish(ticket, 0, Some("down".into()));
    let Step::Wake { generation } = m.next_step(OPEN) else {
        panic!("wake");
    };
    assert!(matches!(m.admit_write(OPEN), WriteDecision::Queue));
    let write = TierWrite {
        key: "k".into(),
        bytes: vec![1],
        expires_at_ms: None,
    };
    m.enqueue(Mutation::Put(vec![write])).unwrap();
    m.woke(generation);
    assert!(refused(&mut m, OPEN), "the queue goes first");
    let Step::Replay { batch, generation } = m.next_step(OPEN) else {
        panic!("replay");
    };
    m.replayed(
        batch.items,
        batch.entries,
        generation,
        Replayed::Applied { refused: 0 },
        OPEN,
    );
    // The replay counts as one probe; one more closes the breaker.
    let probe = pass(&mut m, OPEN);
    m.finish(probe, OPEN, None);
    assert_eq!(m.state(), BreakerState::Closed);
    assert_eq!(m.stats(0).replayed, 1);
}
