//! `Adaptive` on every reference row of `../shared/traces/README.md`, with
//! the peers in the same run: what it must hold whatever the workload.
//!
//! Every contender here is deterministic (Strata and the peers hash with
//! fixed seeds), so these are exact checks of one reproducible run, not
//! statistics.
//!
//! Checked: its hit ratio never falls as the cache grows, never exceeds
//! OPT, and on average is closer to OPT than every peer's; on every row it
//! is at most [`FLOOR`] points behind the best of the peers and exact LRU.
//! The `[sim]` issue's stricter targets (within half a point of the best on
//! every row; 0.75 × the best peer's distance; 10 M requests per second)
//! are scored by `strata sim --reference` and reported in
//! docs/hit-ratio.md, met or not.

mod common;

use common::{by_trace, load};
use strata::Policy;
use strata_sim::reference::Scorecard;
use strata_sim::{Contender, Lab};

/// The furthest `Adaptive` may fall behind the best peer or LRU on any row,
/// in points: the worst row of docs/hit-ratio.md (P3 at 160,000 entries,
/// 1.54 behind foyer's S3-FIFO) with a little room, so that a change that
/// makes any row clearly worse fails here. It was 1.5 until the tuner
/// asked large caches' switches to beat noise (tuner.rs, `NOISY_SHIFT`):
/// that row then stays at the tuner's start, 54.01% (53.97% since an
/// insert's use waits in the stamp), where before it reached 54.21% with
/// this run's hash seed but 53.73% ± 0.34 over eight seeds. The row is a
/// knife edge: fixed windows of 50, 60 and 70% score 53.4, 54.9 and 54.3%
/// on it, and no setting of the grid reaches foyer's 55.5%.
const FLOOR: f64 = 1.6;

#[test]
fn adaptive_is_monotone_bounded_and_closer_to_opt_than_every_peer() {
    let peers = Contender::peers();
    assert!(
        !peers.is_empty(),
        "this test compares with the peer caches: run it with --features peers (or --all-features)"
    );
    let adaptive = Contender::Strata(Policy::Adaptive);
    let lru = Contender::Strata(Policy::Lru);
    let mut contenders = vec![adaptive, lru];
    contenders.extend(peers.iter().copied());
    contenders.push(Contender::Opt);

    let mut all = Vec::new();
    for (file, rows) in by_trace() {
        let trace = load(file);
        let sizes: Vec<u64> = rows.iter().map(|r| r.capacity).collect();
        let lab = Lab::new(trace.name, trace.keys);
        all.push(lab.run_all(&sizes, &contenders, &mut |_| {}).expect("runs"));
    }
    let card = Scorecard::new(adaptive, &all);
    let report = card.markdown();

    assert!(
        card.falls.is_empty(),
        "hit ratio fell as capacity grew:\n{report}"
    );
    for line in &card.lines {
        assert!(
            line.candidate <= line.opt,
            "above OPT on {} at {}:\n{report}",
            line.trace,
            line.capacity
        );
        assert!(
            line.candidate >= line.best.1 - FLOOR,
            "{} at {}: adaptive {:.2} is more than {FLOOR} behind {} {:.2}:\n{report}",
            line.trace,
            line.capacity,
            line.candidate,
            line.best.0,
            line.best.1
        );
    }
    let mine = card.distance();
    for &peer in &peers {
        let theirs = card.distance_of(peer).expect("ran");
        assert!(
            mine < theirs,
            "average distance to OPT: adaptive {mine:.2} >= {peer} {theirs:.2}\n{report}"
        );
    }
}
