//! `Adaptive` on every reference row of `../shared/traces/README.md`, with
//! the peers in the same run: what it must hold whatever the workload.
//!
//! Checked here: its hit ratio never falls as the cache grows, never exceeds
//! OPT, is never more than half a point behind exact LRU, and on average is
//! closer to OPT than every peer's. The stricter targets (within half a
//! point of the best peer on every row; 0.75 × the best peer's distance) are
//! measured by `strata sim --reference` and reported in docs/hit-ratio.md.

mod common;

use common::{by_trace, load};
use strata::Policy;
use strata_sim::reference::Scorecard;
use strata_sim::{Contender, Lab};

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
    }
    for r in &all {
        for (row, capacity) in r.sizes.iter().enumerate() {
            let (a, l) = (
                r.hit_ratio(row, adaptive).expect("ran"),
                r.hit_ratio(row, lru).expect("ran"),
            );
            assert!(
                a >= l - 0.5,
                "{} at {capacity}: adaptive {a:.2} < lru {l:.2} - 0.5",
                r.trace
            );
        }
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
