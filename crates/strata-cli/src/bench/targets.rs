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
        match (self.measured(row, strata, peers), self) {
            (None, _) => Verdict::Unknown,
            (Some(r), Target::AtLeast(_, bound)) if r >= bound => Verdict::Met,
            (Some(r), Target::AtMost(_, bound) | Target::BytesAtMost(bound)) if r <= bound => {
                Verdict::Met
            }
            (Some(_), _) => Verdict::NotMet,
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
