//! The [speed] issue's targets (issue 4), checked against a run's figures.
//! They bind the default policy; other policies are shown against them for
//! information only.

use super::contender::Contender;
use super::report::{Figures, Row};

/// One target: a bound on Strata's figure, alone or over a peer's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Target {
    /// Strata's figure over the peer's is at least this (throughput).
    AtLeast(Contender, f64),
    /// Strata's figure over the peer's is at most this (latency).
    AtMost(Contender, f64),
    /// Strata's figure is at most this many bytes (memory).
    BytesAtMost(f64),
}

/// Whether a target was met, or could not be judged (a figure missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The figures meet the target.
    Met,
    /// They do not.
    NotMet,
    /// A figure the target needs is missing.
    Unknown,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "not met",
            Verdict::Unknown => "unknown",
        }
    }
}

/// A ratio target's fate in each round of a run (see [`Target::by_round`]).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ByRound {
    /// Strata's figure over the peer's, round by round.
    pub(super) ratios: Vec<f64>,
    /// In how many of those rounds the target was met.
    pub(super) met: usize,
}

impl ByRound {
    /// Whether the target was met in every round.
    pub(super) fn every(&self) -> bool {
        self.met == self.ratios.len()
    }

    /// "met in 2 of 3 rounds (0.91×, 1.02×, 1.10×)".
    pub(super) fn describe(&self) -> String {
        let ratios: Vec<String> = self.ratios.iter().map(|r| format!("{r:.2}×")).collect();
        format!(
            "met in {} of {} rounds ({})",
            self.met,
            self.ratios.len(),
            ratios.join(", ")
        )
    }
}

/// The targets of `row`, as issue 4 states them.
pub(super) fn of(row: Row) -> &'static [Target] {
    use Contender::{Moka, QuickCache};
    match row {
        Row::Read(_) => &[Target::AtLeast(QuickCache, 1.0), Target::AtLeast(Moka, 3.0)],
        Row::Mixed(_) | Row::Replay => &[Target::AtLeast(QuickCache, 1.0)],
        Row::GetP99 => &[Target::AtMost(QuickCache, 1.0)],
        Row::Memory => &[Target::BytesAtMost(56.0)],
        Row::MemoryTagged => &[Target::BytesAtMost(80.0)],
        Row::GetP50 | Row::GetP999 => &[],
    }
}

impl Target {
    /// Judges the target on `row` from Strata's figures and the peers'.
    pub(super) fn verdict(self, row: Row, strata: &Figures, peers: &[Figures]) -> Verdict {
        match self.measured(row, strata, peers) {
            None => Verdict::Unknown,
            Some(value) if self.meets(value) => Verdict::Met,
            Some(_) => Verdict::NotMet,
        }
    }

    /// Whether `value` (a ratio, or bytes) is within the target's bound.
    fn meets(self, value: f64) -> bool {
        match self {
            Target::AtLeast(_, bound) => value >= bound,
            Target::AtMost(_, bound) | Target::BytesAtMost(bound) => value <= bound,
        }
    }

    /// What the target bounds: Strata's figure over the peer's, or Strata's
    /// bytes; `None` if a figure is missing.
    fn measured(self, row: Row, strata: &Figures, peers: &[Figures]) -> Option<f64> {
        let ours = strata.get(row)?;
        let theirs = |peer: Contender| {
            peers
                .iter()
                .find(|f| f.contender == peer)
                .and_then(|f| f.get(row))
        };
        match self {
            Target::AtLeast(peer, _) | Target::AtMost(peer, _) => Some(ours / theirs(peer)?),
            Target::BytesAtMost(_) => Some(ours),
        }
    }

    /// A ratio target judged in each round on its own: the ratio of
    /// Strata's figure of round `r` to the peer's of the same round, taken
    /// seconds apart (`rounds[r]` holds Strata's figures and the peers').
    /// `None` for a bound on bytes (memory is counted once, not per round)
    /// or when a round lacks a figure.
    ///
    /// Why: a median ratio can pass on the strength of one peer's bad
    /// round. On this shared machine a peer's figure halves in some rounds;
    /// a target met in every round is met despite the noise, one met in
    /// some is not settled.
    pub(super) fn by_round(self, row: Row, rounds: &[(Figures, Vec<Figures>)]) -> Option<ByRound> {
        if matches!(self, Target::BytesAtMost(_)) {
            return None;
        }
        let mut out = ByRound {
            ratios: Vec::with_capacity(rounds.len()),
            met: 0,
        };
        for (strata, peers) in rounds {
            let ratio = self.measured(row, strata, peers)?;
            out.met += usize::from(self.meets(ratio));
            out.ratios.push(ratio);
        }
        Some(out)
    }

    /// The target in words, e.g. "≥ 3× moka".
    pub(super) fn describe(self) -> String {
        match self {
            Target::AtLeast(peer, bound) => format!("≥ {bound}× {}", peer.name()),
            Target::AtMost(peer, bound) => format!("≤ {bound}× {}", peer.name()),
            Target::BytesAtMost(bound) => format!("≤ {bound} B"),
        }
    }

    /// The target, its verdict and the measured figure, e.g.
    /// "≥ 3× moka: not met (2.41×)".
    pub(super) fn judged(self, row: Row, strata: &Figures, peers: &[Figures]) -> String {
        let verdict = self.verdict(row, strata, peers).word();
        match (self.measured(row, strata, peers), self) {
            (None, _) => format!("{}: {verdict}", self.describe()),
            (Some(bytes), Target::BytesAtMost(_)) => {
                format!("{}: {verdict} ({bytes:.1} B)", self.describe())
            }
            (Some(ratio), _) => format!("{}: {verdict} ({ratio:.2}×)", self.describe()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::Policy;

    fn figures(contender: Contender, row: Row, value: f64) -> Figures {
        let mut f = Figures::new(contender);
        f.set(row, value);
        f
    }

    #[test]
    fn ratios_are_judged_against_the_named_peer() {
        let row = Row::Read(1);
        let strata = figures(Contender::Strata(Policy::Adaptive), row, 30.0);
        let peers = [
            figures(Contender::Moka, row, 10.0),
            figures(Contender::QuickCache, row, 31.0),
        ];
        let [qc, moka] = of(row) else {
            panic!("two targets for reads")
        };
        assert_eq!(moka.verdict(row, &strata, &peers), Verdict::Met);
        assert_eq!(qc.verdict(row, &strata, &peers), Verdict::NotMet);
        assert_eq!(moka.judged(row, &strata, &peers), "≥ 3× moka: met (3.00×)");
    }

    #[test]
    fn each_round_is_judged_on_its_own_figures() {
        let row = Row::Read(1);
        // The peer's second round is a bad one. By the medians (30 over 29)
        // the target is met; one round of three is not.
        let rounds: Vec<(Figures, Vec<Figures>)> = [(30.0, 29.0), (30.0, 20.0), (30.0, 32.0)]
            .into_iter()
            .map(|(ours, theirs)| {
                (
                    figures(Contender::Strata(Policy::Adaptive), row, ours),
                    vec![figures(Contender::QuickCache, row, theirs)],
                )
            })
            .collect();
        let qc = of(row)[0];
        let medians = (
            figures(Contender::Strata(Policy::Adaptive), row, 30.0),
            [figures(Contender::QuickCache, row, 29.0)],
        );
        assert_eq!(qc.verdict(row, &medians.0, &medians.1), Verdict::Met);
        let judged = qc.by_round(row, &rounds).expect("a ratio target");
        assert_eq!(judged.met, 2);
        assert!(!judged.every());
        assert_eq!(
            judged.describe(),
            "met in 2 of 3 rounds (1.03×, 1.50×, 0.94×)"
        );
        // Bytes are counted once, not per round.
        assert_eq!(of(Row::Memory)[0].by_round(Row::Memory, &rounds), None);
        // A round without the peer's figure cannot be judged.
        let mut missing = rounds.clone();
        missing[1].1.clear();
        assert_eq!(qc.by_round(row, &missing), None);
        let all = qc.by_round(row, &rounds[1..2]).expect("one round");
        assert!(all.every(), "{all:?}");
    }

    #[test]
    fn latency_and_bytes_are_upper_bounds_and_missing_figures_are_unknown() {
        let strata = figures(Contender::Strata(Policy::Adaptive), Row::GetP99, 90.0);
        let peers = [figures(Contender::QuickCache, Row::GetP99, 100.0)];
        assert_eq!(
            of(Row::GetP99)[0].verdict(Row::GetP99, &strata, &peers),
            Verdict::Met
        );
        assert_eq!(
            of(Row::GetP99)[0].verdict(Row::GetP99, &strata, &[]),
            Verdict::Unknown
        );
        let small = figures(Contender::Strata(Policy::Adaptive), Row::Memory, 56.0);
        assert_eq!(
            of(Row::Memory)[0].verdict(Row::Memory, &small, &[]),
            Verdict::Met
        );
        assert_eq!(
            of(Row::Memory)[0].verdict(Row::Memory, &strata, &[]),
            Verdict::Unknown
        );
    }
}
