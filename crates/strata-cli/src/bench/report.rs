//! The `--compare` report: one Markdown table per Strata policy, with each
//! figure, the ratios Strata / peer and the issue-4 targets, and a table of
//! the hit ratios behind the throughput rows.

use std::fmt::Write as _;

use super::contender::Contender;
use super::targets;

/// A row of the report: one workload and what it measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Row {
    /// `get` on a warmed cache, on this many threads (operations/s).
    Read(usize),
    /// 90% `get`, 10% `insert`, on this many threads (operations/s).
    Mixed(usize),
    /// The P6 trace replayed (requests/s).
    Replay,
    /// Median `get` latency under the 2-thread mixed load (ns).
    GetP50,
    /// 99th percentile of the same (ns).
    GetP99,
    /// 99.9th percentile of the same (ns).
    GetP999,
    /// Heap bytes per `u64 → u64` entry.
    Memory,
    /// Heap bytes per entry with one tag and a TTL.
    MemoryTagged,
}

impl Row {
    /// Every row, in the report's order.
    pub(super) const ALL: [Row; 10] = [
        Row::Read(1),
        Row::Read(2),
        Row::Mixed(1),
        Row::Mixed(2),
        Row::Replay,
        Row::GetP50,
        Row::GetP99,
        Row::GetP999,
        Row::Memory,
        Row::MemoryTagged,
    ];

    fn index(self) -> usize {
        // `ALL` lists every variant (and Read/Mixed at the thread counts
        // measured), so the position always exists for rows the report
        // holds; any other thread count has no slot.
        Row::ALL
            .iter()
            .position(|&r| r == self)
            .unwrap_or(usize::MAX)
    }

    /// The first column: the workload and its unit.
    pub(super) fn label(self) -> String {
        let threads = |n: usize| {
            if n == 1 {
                "1 thread".to_owned()
            } else {
                format!("{n} threads")
            }
        };
        match self {
            Row::Read(n) => format!("read-heavy get, {} (Mops/s)", threads(n)),
            Row::Mixed(n) => format!("mixed 90/10, {} (Mops/s)", threads(n)),
            Row::Replay => "replay P6 (M req/s)".to_owned(),
            Row::GetP50 => "get p50, mixed 2 threads (ns)".to_owned(),
            Row::GetP99 => "get p99, mixed 2 threads (ns)".to_owned(),
            Row::GetP999 => "get p99.9, mixed 2 threads (ns)".to_owned(),
            Row::Memory => "memory, u64 → u64 (B/entry)".to_owned(),
            Row::MemoryTagged => "memory, + tag + TTL (B/entry; moka: TTL only)".to_owned(),
        }
    }

    fn format(self, value: f64) -> String {
        match self {
            Row::Read(_) | Row::Mixed(_) | Row::Replay => format!("{:.3}", value / 1e6),
            Row::GetP50 | Row::GetP99 | Row::GetP999 => format!("{value:.0}"),
            Row::Memory | Row::MemoryTagged => format!("{value:.1}"),
        }
    }

    /// Whether the row has a hit ratio (the throughput rows).
    fn has_hit_ratio(self) -> bool {
        matches!(self, Row::Read(_) | Row::Mixed(_) | Row::Replay)
    }
}

/// One cache's figures, by row; a row it cannot measure has none.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Figures {
    /// Whose figures.
    pub(super) contender: Contender,
    values: [Option<f64>; Row::ALL.len()],
    hit_ratios: [Option<f64>; Row::ALL.len()],
    /// What a reader should know about how a figure was taken.
    pub(super) notes: Vec<String>,
}

impl Figures {
    /// No figures yet.
    pub(super) fn new(contender: Contender) -> Self {
        Self {
            contender,
            values: [None; Row::ALL.len()],
            hit_ratios: [None; Row::ALL.len()],
            notes: Vec::new(),
        }
    }

    /// One cache's figures over several rounds, as one: each row's median
    /// (the upper middle of an even count), each hit ratio and note from
    /// the first round that has it: `out` is the first round, `rest` the
    /// others.
    pub(super) fn median(mut out: Figures, rest: &[Figures]) -> Figures {
        for row in Row::ALL {
            let mut values: Vec<f64> = std::iter::once(out.get(row))
                .chain(rest.iter().map(|f| f.get(row)))
                .flatten()
                .collect();
            values.sort_by(f64::total_cmp);
            if let Some(&middle) = values.get(values.len() / 2) {
                out.set(row, middle);
            }
            let first = out.hit_ratios.get(row.index()).copied().flatten();
            if first.is_none()
                && let Some(ratio) = rest
                    .iter()
                    .find_map(|f| f.hit_ratios.get(row.index()).copied().flatten())
            {
                out.set_hit_ratio(row, ratio);
            }
        }
        out
    }

    /// The figure of `row`, if measured.
    pub(super) fn get(&self, row: Row) -> Option<f64> {
        self.values.get(row.index()).copied().flatten()
    }

    /// Records the figure of `row`.
    pub(super) fn set(&mut self, row: Row, value: f64) {
        if let Some(slot) = self.values.get_mut(row.index()) {
            *slot = Some(value);
        }
    }

    /// Records the hit ratio seen while measuring `row`.
    pub(super) fn set_hit_ratio(&mut self, row: Row, ratio: f64) {
        if let Some(slot) = self.hit_ratios.get_mut(row.index()) {
            *slot = Some(ratio);
        }
    }

    fn cell(&self, row: Row) -> String {
        self.get(row)
            .map_or_else(|| "n/a".to_owned(), |v| row.format(v))
    }
}

/// Strata's figures beside the peers', the ratios Strata / peer and the
/// targets, as a Markdown table.
pub(super) fn table(strata: &Figures, peers: &[Figures]) -> String {
    let mut out = String::new();
    let mut header = vec!["workload".to_owned(), strata.contender.name()];
    header.extend(peers.iter().map(|p| p.contender.name()));
    header.extend(
        peers
            .iter()
            .map(|p| format!("strata/{}", p.contender.name())),
    );
    header.push("issue-4 target".to_owned());
    line(&mut out, &header);
    let mut rule = vec!["---".to_owned()];
    rule.extend((1..header.len() - 1).map(|_| "---:".to_owned()));
    rule.push("---".to_owned());
    line(&mut out, &rule);
    for row in Row::ALL {
        let mut cells = vec![row.label(), strata.cell(row)];
        cells.extend(peers.iter().map(|p| p.cell(row)));
        cells.extend(peers.iter().map(|p| match (strata.get(row), p.get(row)) {
            (Some(ours), Some(theirs)) => format!("{:.2}", ours / theirs),
            _ => "n/a".to_owned(),
        }));
        let judged: Vec<String> = targets::of(row)
            .iter()
            .map(|t| t.judged(row, strata, peers))
            .collect();
        cells.push(if judged.is_empty() {
            "—".to_owned()
        } else {
            judged.join("; ")
        });
        line(&mut out, &cells);
    }
    out
}

/// The hit ratio each cache saw in each throughput row, as a Markdown table.
pub(super) fn hit_ratios(all: &[&Figures]) -> String {
    let mut out = String::new();
    let mut header = vec!["hit ratio".to_owned()];
    header.extend(all.iter().map(|f| f.contender.name()));
    line(&mut out, &header);
    let mut rule = vec!["---".to_owned()];
    rule.extend(all.iter().map(|_| "---:".to_owned()));
    line(&mut out, &rule);
    for row in Row::ALL.into_iter().filter(|r| r.has_hit_ratio()) {
        let mut cells = vec![
            row.label()
                .replace(" (Mops/s)", "")
                .replace(" (M req/s)", ""),
        ];
        cells.extend(all.iter().map(|f| {
            f.hit_ratios
                .get(row.index())
                .copied()
                .flatten()
                .map_or_else(|| "n/a".to_owned(), |r| format!("{:.2}%", r * 100.0))
        }));
        line(&mut out, &cells);
    }
    out
}

fn line(out: &mut String, cells: &[String]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata::Policy;

    fn figures(read: f64, memory: Option<f64>) -> Figures {
        let mut f = Figures::new(Contender::Strata(Policy::Adaptive));
        f.set(Row::Read(1), read);
        f.set_hit_ratio(Row::Read(1), read / 10.0);
        if let Some(bytes) = memory {
            f.set(Row::Memory, bytes);
        }
        f
    }

    #[test]
    fn the_median_of_rounds_takes_each_rows_middle_and_keeps_rows_measured_once() {
        let rounds = [figures(5.0, None), figures(1.0, None)];
        let out = Figures::median(figures(3.0, Some(50.0)), &rounds);
        assert_eq!(out.get(Row::Read(1)), Some(3.0));
        // Memory is counted in the first round only: its one figure stays.
        assert_eq!(out.get(Row::Memory), Some(50.0));
        assert_eq!(out.get(Row::Mixed(1)), None);
        // An even count takes the upper middle.
        let out = Figures::median(figures(4.0, None), &[figures(2.0, None)]);
        assert_eq!(out.get(Row::Read(1)), Some(4.0));
    }
}
