//! The reference rows of `../shared/traces/README.md`, and the scorecard
//! that holds a policy to the hit-ratio targets on them.
//!
//! The targets (the hit-ratio lab issue): on every row the candidate is
//! at most 0.5 point behind the best of the peers and exact LRU; averaged
//! over the rows, its distance to OPT is at most 0.75 × the smallest
//! average distance of any single peer; and on each trace its hit ratio
//! does not fall as the capacity grows.

use std::fmt::Write as _;
use std::time::Duration;

use strata::Policy;

use crate::lab::{Contender, Results};

/// One reference row: trace file (relative to the traces directory),
/// capacity, and the README's OPT, LRU and best-peer hit ratios (percent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// The trace file, relative to the traces directory.
    pub file: &'static str,
    /// Capacity in entries.
    pub capacity: u64,
    /// Belady's optimum, percent.
    pub opt: f64,
    /// Exact LRU, percent.
    pub lru: f64,
    /// The best peer the README measured, percent (for orientation only:
    /// the scorecard compares with the peers of the same run).
    pub best_peer: f64,
}

const fn row(file: &'static str, capacity: u64, opt: f64, lru: f64, best_peer: f64) -> Row {
    Row {
        file,
        capacity,
        opt,
        lru,
        best_peer,
    }
}

/// The table "Reference values" of `../shared/traces/README.md`.
pub const ROWS: &[Row] = &[
    row("arc/OLTP.lis.zst", 256, 38.72, 16.69, 23.52),
    row("arc/OLTP.lis.zst", 1_000, 53.61, 32.83, 39.24),
    row("arc/OLTP.lis.zst", 2_000, 60.40, 42.47, 46.08),
    row("arc/OLTP.lis.zst", 5_000, 68.27, 53.65, 54.29),
    row("arc/P3.lis.zst", 20_000, 21.95, 2.28, 12.08),
    row("arc/P3.lis.zst", 160_000, 70.83, 51.58, 55.52),
    row("arc/P6.lis.zst", 20_000, 25.60, 2.05, 16.96),
    row("arc/P6.lis.zst", 160_000, 90.34, 83.27, 84.63),
    row("cloud_physics/w106.trace.xz", 1_000, 81.24, 74.51, 76.20),
    row("cloud_physics/w106.trace.xz", 10_000, 90.02, 83.81, 85.80),
    row("cloud_physics/w106.trace.xz", 50_000, 94.71, 93.34, 94.14),
    row("cloud_physics/w106.trace.xz", 100_000, 94.80, 93.75, 94.22),
    row("lirs/gli.trace.gz", 250, 17.64, 0.91, 15.58),
    row("lirs/gli.trace.gz", 500, 34.26, 0.95, 31.74),
    row("lirs/gli.trace.gz", 1_000, 53.13, 11.21, 48.93),
    row("lirs/gli.trace.gz", 2_000, 57.96, 57.41, 57.96),
    row("lirs/loop.trace.gz", 256, 25.22, 0.00, 25.21),
    row("lirs/loop.trace.gz", 512, 50.54, 0.00, 50.54),
    row("lirs/multi2.trace.gz", 250, 46.60, 24.10, 38.70),
    row("lirs/multi2.trace.gz", 500, 53.60, 35.98, 50.62),
    row("lirs/multi2.trace.gz", 1_000, 62.16, 47.80, 57.92),
    row("lirs/multi2.trace.gz", 2_000, 74.65, 49.00, 70.35),
    row("lirs/sprite.trace.gz", 100, 50.80, 21.58, 34.88),
    row("lirs/sprite.trace.gz", 200, 68.86, 39.88, 51.32),
    row("lirs/sprite.trace.gz", 500, 87.88, 78.30, 78.85),
    row("lirs/sprite.trace.gz", 1_000, 93.24, 90.64, 90.68),
];

/// The reference rows grouped by trace file, in table order.
pub fn by_trace() -> Vec<(&'static str, Vec<&'static Row>)> {
    let mut out: Vec<(&str, Vec<&Row>)> = Vec::new();
    for r in ROWS {
        match out.last_mut() {
            Some((file, rows)) if *file == r.file => rows.push(r),
            _ => out.push((r.file, vec![r])),
        }
    }
    out
}

/// How far behind the best peer a row may be, in percentage points.
pub const ROW_TOLERANCE: f64 = 0.5;
/// The candidate's average distance to OPT, as a share of the best single
/// peer's.
pub const DISTANCE_SHARE: f64 = 0.75;
/// The candidate's replay rate over all rows, one thread, requests per
/// second.
pub const RATE_TARGET: f64 = 10e6;

/// One row of a scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The trace's name.
    pub trace: String,
    /// Capacity in entries.
    pub capacity: u64,
    /// The candidate's hit ratio, percent.
    pub candidate: f64,
    /// The best of the peers and exact LRU: who, and the hit ratio.
    pub best: (Contender, f64),
    /// OPT's hit ratio, percent.
    pub opt: f64,
}

impl Line {
    /// Whether the candidate is within [`ROW_TOLERANCE`] of the best.
    pub fn passes(&self) -> bool {
        self.candidate >= self.best.1 - ROW_TOLERANCE
    }
}

/// A candidate policy held to the targets over a set of lab results.
#[derive(Debug, Clone)]
pub struct Scorecard {
    candidate: Contender,
    /// Every row, in order.
    pub lines: Vec<Line>,
    /// Each contender's average distance to OPT over the rows, in points.
    pub distances: Vec<(Contender, f64)>,
    /// Each contender's replay rate over all rows, requests per second.
    pub rates: Vec<(Contender, f64)>,
    /// Traces and capacities where the candidate's hit ratio fell as the
    /// capacity grew: (trace, smaller, larger).
    pub falls: Vec<(String, u64, u64)>,
}

impl Scorecard {
    /// Scores `candidate` against the other non-OPT contenders of
    /// `results`; each must hold the candidate, exact LRU and OPT.
    pub fn new(candidate: Contender, results: &[Results]) -> Self {
        let mut lines = Vec::new();
        let mut falls = Vec::new();
        let contenders: Vec<Contender> = results
            .first()
            .map(|r| r.contenders.clone())
            .unwrap_or_default();
        let mut distance = vec![0.0; contenders.len()];
        let mut time = vec![Duration::ZERO; contenders.len()];
        let mut requests = vec![0u64; contenders.len()];
        for r in results {
            let mut previous: Option<(u64, f64)> = None;
            for (row, &capacity) in r.sizes.iter().enumerate() {
                let hit = |c: Contender| r.hit_ratio(row, c).unwrap_or(f64::NAN);
                let (mine, opt) = (hit(candidate), hit(Contender::Opt));
                let best = r
                    .contenders
                    .iter()
                    .filter(|&&c| is_rival(c, candidate))
                    .map(|&c| (c, hit(c)))
                    .fold(
                        (Contender::Opt, f64::MIN),
                        |a, b| if b.1 > a.1 { b } else { a },
                    );
                lines.push(Line {
                    trace: r.trace.clone(),
                    capacity,
                    candidate: mine,
                    best,
                    opt,
                });
                if let Some((smaller, before)) = previous
                    && mine < before
                {
                    falls.push((r.trace.clone(), smaller, capacity));
                }
                previous = Some((capacity, mine));
                for (i, &c) in contenders.iter().enumerate() {
                    distance[i] += opt - hit(c);
                    if let Some(col) = r.contenders.iter().position(|&x| x == c) {
                        time[i] += r.cells[row][col].elapsed;
                        requests[i] += r.cells[row][col].requests;
                    }
                }
            }
        }
        let n = lines.len().max(1) as f64;
        Self {
            candidate,
            distances: contenders
                .iter()
                .zip(&distance)
                .filter(|(c, _)| !c.is_opt())
                .map(|(&c, d)| (c, d / n))
                .collect(),
            rates: contenders
                .iter()
                .zip(time.iter().zip(&requests))
                .map(|(&c, (t, &q))| (c, q as f64 / t.as_secs_f64().max(1e-9)))
                .collect(),
            lines,
            falls,
        }
    }

    /// The rows where the candidate is more than [`ROW_TOLERANCE`] behind.
    pub fn failing(&self) -> Vec<&Line> {
        self.lines.iter().filter(|l| !l.passes()).collect()
    }

    /// The candidate's average distance to OPT.
    pub fn distance(&self) -> f64 {
        self.distance_of(self.candidate).unwrap_or(f64::NAN)
    }

    /// `contender`'s average distance to OPT, if it was run.
    pub fn distance_of(&self, contender: Contender) -> Option<f64> {
        self.distances
            .iter()
            .find(|(c, _)| *c == contender)
            .map(|(_, d)| *d)
    }

    /// The peer (not a Strata policy) with the smallest average distance.
    pub fn best_peer(&self) -> Option<(Contender, f64)> {
        self.distances
            .iter()
            .filter(|(c, _)| !matches!(c, Contender::Strata(_)))
            .copied()
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Whether every target is met.
    pub fn all_met(&self) -> bool {
        let distance_met = self
            .best_peer()
            .is_some_and(|(_, d)| self.distance() <= DISTANCE_SHARE * d);
        self.failing().is_empty() && distance_met && self.falls.is_empty()
    }

    /// The scorecard as Markdown: the rows, then each target's verdict,
    /// then distances and replay rates.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let me = self.candidate;
        let _ = writeln!(
            out,
            "| trace | size | {me} | best of peers and LRU | {me} − best | OPT | {me} − OPT |"
        );
        let _ = writeln!(out, "|---|---:|---:|---|---:|---:|---:|");
        for l in &self.lines {
            let mark = if l.passes() { "" } else { " ✗" };
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} ({}) | {:+.2}{mark} | {:.2} | {:.2} |",
                l.trace,
                l.capacity,
                l.candidate,
                l.best.1,
                l.best.0,
                l.candidate - l.best.1,
                l.opt,
                l.opt - l.candidate,
            );
        }
        out.push('\n');
        let failing = self.failing();
        let _ = writeln!(
            out,
            "* within {ROW_TOLERANCE} point of the best on every row: {} ({} of {} rows short)",
            verdict(failing.is_empty()),
            failing.len(),
            self.lines.len()
        );
        if let Some((peer, d)) = self.best_peer() {
            let _ = writeln!(
                out,
                "* average distance to OPT {:.2} ≤ {DISTANCE_SHARE} × {d:.2} ({peer}) = {:.2}: {}",
                self.distance(),
                DISTANCE_SHARE * d,
                verdict(self.distance() <= DISTANCE_SHARE * d)
            );
        }
        let falls: Vec<String> = self
            .falls
            .iter()
            .map(|(t, a, b)| format!("{t} {a}→{b}"))
            .collect();
        let _ = writeln!(
            out,
            "* monotone in capacity on every trace: {}{}",
            verdict(falls.is_empty()),
            if falls.is_empty() {
                String::new()
            } else {
                format!(" (falls: {})", falls.join(", "))
            }
        );
        if let Some(&(_, rate)) = self.rates.iter().find(|(c, _)| *c == me) {
            let _ = writeln!(
                out,
                "* replay rate {:.2} M req/s ≥ {:.0} M req/s (one thread, all rows): {}",
                rate / 1e6,
                RATE_TARGET / 1e6,
                verdict(rate >= RATE_TARGET)
            );
        }
        out.push_str(
            "\n| contender | average distance to OPT | replay, Mreq/s |\n|---|---:|---:|\n",
        );
        let mut by_distance = self.distances.clone();
        by_distance.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (c, d) in by_distance {
            let rate = self
                .rates
                .iter()
                .find(|(x, _)| *x == c)
                .map_or(f64::NAN, |(_, r)| r / 1e6);
            let _ = writeln!(out, "| {c} | {d:.2} | {rate:.2} |");
        }
        out
    }
}

/// Each seed's verdicts, as Markdown: the rows short, the average distance
/// to OPT against the target's bound, and whether the candidate was
/// monotone, one line per seed; then the rows short under any seed.
///
/// Why: the scorecard of the means says what the policy does on average;
/// this says how far one seed, as a user's process would draw it, can be
/// from that.
pub fn by_seed(cards: &[(u64, Scorecard)]) -> String {
    let mut out = format!(
        "| seed | rows short | average distance to OPT | bound ({DISTANCE_SHARE} × best peer) | monotone |\n|---:|---|---:|---:|---|\n",
    );
    let mut short: Vec<(String, u64, usize)> = Vec::new();
    for (seed, card) in cards {
        let failing = card.failing();
        for l in &failing {
            match short
                .iter_mut()
                .find(|(t, c, _)| *t == l.trace && *c == l.capacity)
            {
                Some(entry) => entry.2 += 1,
                None => short.push((l.trace.clone(), l.capacity, 1)),
            }
        }
        let rows: Vec<String> = failing
            .iter()
            .map(|l| {
                format!(
                    "{} {} ({:+.2})",
                    l.trace,
                    l.capacity,
                    l.candidate - l.best.1
                )
            })
            .collect();
        let bound = card.best_peer().map_or_else(
            || "n/a".to_owned(),
            |(_, d)| format!("{:.2}", DISTANCE_SHARE * d),
        );
        let _ = writeln!(
            out,
            "| {seed} | {} | {:.2} | {bound} | {} |",
            if rows.is_empty() {
                "none".to_owned()
            } else {
                rows.join(", ")
            },
            card.distance(),
            if card.falls.is_empty() {
                "yes"
            } else {
                "**no**"
            },
        );
    }
    let _ = writeln!(
        out,
        "\nRows short under any seed: {}",
        if short.is_empty() {
            "none".to_owned()
        } else {
            short
                .iter()
                .map(|(t, c, n)| format!("{t} {c} ({n} of {} seeds)", cards.len()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    out
}

/// Whether `c` is one of those the candidate is compared with per row: the
/// peers and exact LRU.
fn is_rival(c: Contender, candidate: Contender) -> bool {
    c != candidate
        && !c.is_opt()
        && (c == Contender::Strata(Policy::Lru) || !matches!(c, Contender::Strata(_)))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::Outcome;

    fn outcome(percent: u64) -> Outcome {
        Outcome {
            hits: percent,
            requests: 100,
            elapsed: Duration::from_millis(1),
        }
    }

    fn results(rows: &[[u64; 4]]) -> Results {
        Results {
            trace: "t".into(),
            requests: 100,
            sizes: (1..=rows.len() as u64).map(|s| s * 10).collect(),
            contenders: vec![
                Contender::Strata(Policy::Adaptive),
                Contender::Strata(Policy::Lru),
                Contender::Strata(Policy::Lfu),
                Contender::Opt,
            ],
            cells: rows
                .iter()
                .map(|r| r.iter().map(|&p| outcome(p)).collect())
                .collect(),
        }
    }

    #[test]
    fn rows_compare_with_lru_and_peers_only_and_falls_are_found() {
        // Adaptive, LRU, LFU (not a rival), OPT.
        let r = results(&[[40, 30, 90, 60], [35, 36, 90, 70]]);
        let card = Scorecard::new(Contender::Strata(Policy::Adaptive), &[r]);
        assert_eq!(card.lines[0].best, (Contender::Strata(Policy::Lru), 30.0));
        assert!(card.lines[0].passes());
        assert!(!card.lines[1].passes(), "35 is more than 0.5 behind 36");
        assert_eq!(card.falls, vec![("t".to_string(), 10, 20)]);
        assert!((card.distance() - 27.5).abs() < 1e-9);
        assert!(!card.all_met());
        let md = card.markdown();
        assert!(md.contains("1 of 2 rows short"), "{md}");
        assert!(md.contains("falls: t 10→20"), "{md}");
    }

    #[test]
    fn each_seed_gets_its_verdicts_and_short_rows_are_counted_over_seeds() {
        let adaptive = Contender::Strata(Policy::Adaptive);
        // Adaptive, LRU, LFU, OPT: seed 7 short on the second row, seed 8
        // on none, seed 9 short on the second row and falling.
        let cards: Vec<(u64, Scorecard)> = [
            [[40, 30, 90, 60], [35, 36, 90, 70]],
            [[40, 30, 90, 60], [41, 36, 90, 70]],
            [[40, 30, 90, 60], [30, 36, 90, 70]],
        ]
        .iter()
        .zip(7..)
        .map(|(rows, seed)| (seed, Scorecard::new(adaptive, &[results(rows)])))
        .collect();
        let md = by_seed(&cards);
        let line = |seed: &str| {
            md.lines()
                .find(|l| l.starts_with(&format!("| {seed} |")))
                .unwrap_or_else(|| panic!("no line for seed {seed} in\n{md}"))
        };
        assert!(line("7").contains("t 20 (-1.00)"), "{md}");
        assert!(line("8").contains("| none |"), "{md}");
        assert!(
            line("9").contains("t 20 (-6.00)") && line("9").ends_with("**no** |"),
            "{md}"
        );
        assert!(line("8").ends_with("| yes |"), "{md}");
        assert!(
            md.contains("Rows short under any seed: t 20 (2 of 3 seeds)"),
            "{md}"
        );
    }

    #[test]
    fn the_rows_are_grouped_by_trace_in_order() {
        let groups = by_trace();
        assert_eq!(groups.len(), 8);
        assert_eq!(
            groups.iter().map(|(_, r)| r.len()).sum::<usize>(),
            ROWS.len()
        );
        assert_eq!(groups[0].0, "arc/OLTP.lis.zst");
    }
}
