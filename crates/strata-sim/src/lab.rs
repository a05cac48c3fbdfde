//! The lab: every contender (Strata's policies, the peers, OPT) replayed
//! over one trace at several capacities.

use std::fmt;
use std::sync::OnceLock;
use std::time::Instant;

use strata::Policy;

use crate::error::SimError;
use crate::opt::Belady;
use crate::replay::{Outcome, Replayable, StrataCache, replay};

/// Something the lab replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Contender {
    /// A Strata policy, through the production `MemoryCache`.
    Strata(Policy),
    /// Belady's optimum.
    Opt,
    /// moka 0.12, default policy.
    #[cfg(feature = "peers")]
    Moka,
    /// quick_cache.
    #[cfg(feature = "peers")]
    QuickCache,
    /// foyer, W-TinyLFU.
    #[cfg(feature = "peers")]
    FoyerWTinyLfu,
    /// foyer, S3-FIFO.
    #[cfg(feature = "peers")]
    FoyerS3Fifo,
}

impl Contender {
    /// The peers compiled in (none without the `peers` feature).
    pub fn peers() -> Vec<Contender> {
        #[cfg(feature = "peers")]
        {
            vec![
                Contender::Moka,
                Contender::QuickCache,
                Contender::FoyerWTinyLfu,
                Contender::FoyerS3Fifo,
            ]
        }
        #[cfg(not(feature = "peers"))]
        {
            Vec::new()
        }
    }

    /// Whether this is OPT (the bound, not a contender for "best").
    pub fn is_opt(self) -> bool {
        self == Contender::Opt
    }

    /// Whether this contender's hit ratios depend on a hash seed: Strata's
    /// policies, moka and foyer hash with the seed the lab is given; OPT
    /// hashes nothing, and quick_cache keeps its own hasher.
    pub fn takes_seed(self) -> bool {
        match self {
            Contender::Strata(_) => true,
            Contender::Opt => false,
            #[cfg(feature = "peers")]
            Contender::Moka | Contender::FoyerWTinyLfu | Contender::FoyerS3Fifo => true,
            #[cfg(feature = "peers")]
            Contender::QuickCache => false,
        }
    }

    /// The cache of this contender at `capacity`, hashing with `seed` if it
    /// [takes one](Self::takes_seed).
    fn cache(self, capacity: u64, seed: u64) -> Result<Box<dyn Replayable>, SimError> {
        Ok(match self {
            Contender::Strata(policy) => {
                Box::new(StrataCache::with_hash_seed(policy, capacity, seed)?)
            }
            Contender::Opt => unreachable!("OPT is computed, not replayed"),
            #[cfg(feature = "peers")]
            Contender::Moka => Box::new(crate::peers::Moka::new(capacity, seed)),
            #[cfg(feature = "peers")]
            Contender::QuickCache => Box::new(crate::peers::QuickCache::new(capacity)),
            #[cfg(feature = "peers")]
            Contender::FoyerWTinyLfu => Box::new(crate::peers::Foyer::w_tinylfu(capacity, seed)),
            #[cfg(feature = "peers")]
            Contender::FoyerS3Fifo => Box::new(crate::peers::Foyer::s3_fifo(capacity, seed)),
        })
    }
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contender::Strata(policy) => f.write_str(policy.name()),
            Contender::Opt => f.write_str("opt"),
            #[cfg(feature = "peers")]
            Contender::Moka => f.write_str("moka"),
            #[cfg(feature = "peers")]
            Contender::QuickCache => f.write_str("quick_cache"),
            #[cfg(feature = "peers")]
            Contender::FoyerWTinyLfu => f.write_str("foyer-wtinylfu"),
            #[cfg(feature = "peers")]
            Contender::FoyerS3Fifo => f.write_str("foyer-s3fifo"),
        }
    }
}

/// One trace, ready to be replayed.
pub struct Lab {
    name: String,
    keys: Vec<u64>,
    opt: OnceLock<Belady>,
    /// The hash seed of every contender that [takes
    /// one](Contender::takes_seed).
    hash_seed: u64,
}

impl Lab {
    /// A lab for the trace `keys`, called `name` in reports.
    pub fn new(name: impl Into<String>, keys: Vec<u64>) -> Self {
        Self {
            name: name.into(),
            keys,
            opt: OnceLock::new(),
            hash_seed: 0,
        }
    }

    /// Makes the runs to come hash with `seed` instead of 0 (see
    /// [`StrataCache::with_hash_seed`] and [`Contender::takes_seed`]); OPT,
    /// computed once, is kept.
    pub fn set_hash_seed(&mut self, seed: u64) {
        self.hash_seed = seed;
    }

    /// The trace's requests.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    fn belady(&self) -> Result<&Belady, SimError> {
        if let Some(opt) = self.opt.get() {
            return Ok(opt);
        }
        let opt = Belady::new(&self.keys).map_err(|e| SimError::Cache {
            capacity: 0,
            message: e.to_string(),
        })?;
        Ok(self.opt.get_or_init(|| opt))
    }

    /// Replays the trace through `contender` at `capacity` entries.
    ///
    /// # Errors
    /// [`SimError::Cache`] if the cache cannot be built.
    pub fn run(
        &self,
        contender: Contender,
        capacity: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Outcome, SimError> {
        if contender.is_opt() {
            let started = Instant::now();
            let hits = self
                .belady()?
                .hits(usize::try_from(capacity).unwrap_or(usize::MAX));
            progress(self.keys.len() as u64);
            return Ok(Outcome {
                hits,
                requests: self.keys.len() as u64,
                elapsed: started.elapsed(),
            });
        }
        let mut cache = contender.cache(capacity, self.hash_seed)?;
        Ok(replay(cache.as_mut(), &self.keys, progress))
    }

    /// Replays every contender at every size.
    ///
    /// # Errors
    /// As [`Lab::run`].
    pub fn run_all(
        &self,
        sizes: &[u64],
        contenders: &[Contender],
        progress: &mut dyn FnMut(u64),
    ) -> Result<Results, SimError> {
        let mut cells = Vec::with_capacity(sizes.len());
        for &size in sizes {
            let row = contenders
                .iter()
                .map(|&c| self.run(c, size, progress))
                .collect::<Result<Vec<_>, _>>()?;
            cells.push(row);
        }
        Ok(Results {
            trace: self.name.clone(),
            requests: self.keys.len() as u64,
            sizes: sizes.to_vec(),
            contenders: contenders.to_vec(),
            cells,
        })
    }
}

/// Every outcome of a lab run: `cells[size][contender]`.
#[derive(Debug, Clone)]
pub struct Results {
    /// The trace's name.
    pub trace: String,
    /// Requests in the trace.
    pub requests: u64,
    /// Capacities, in entries.
    pub sizes: Vec<u64>,
    /// Contenders, in column order.
    pub contenders: Vec<Contender>,
    /// Outcomes by size (row) and contender (column).
    pub cells: Vec<Vec<Outcome>>,
}

impl Results {
    /// The hit ratio (percent) of `contender` at row `row`.
    pub fn hit_ratio(&self, row: usize, contender: Contender) -> Option<f64> {
        let col = self.contenders.iter().position(|&c| c == contender)?;
        Some(self.cells.get(row)?.get(col)?.hit_ratio())
    }

    /// Runs of one trace at the same sizes under different hash seeds, as
    /// one: each cell's hits and time are the mean of the runs that hold
    /// its contender (contenders in the first run's order). `None` for no
    /// runs, or runs of different traces or sizes.
    ///
    /// Why a mean: which keys meet in a policy's sketch, sample or table
    /// depends on the seed, and on some rows a policy's hit ratio moves by
    /// a point between seeds. One seed's figure is a draw; the mean is the
    /// policy's.
    pub fn mean(runs: &[Results]) -> Option<Results> {
        let first = runs.first()?;
        if runs
            .iter()
            .any(|r| r.trace != first.trace || r.sizes != first.sizes)
        {
            return None;
        }
        let mut out = first.clone();
        for (row, cells) in out.cells.iter_mut().enumerate() {
            for (col, cell) in cells.iter_mut().enumerate() {
                let contender = first.contenders[col];
                let held: Vec<&Outcome> = runs
                    .iter()
                    .filter_map(|r| {
                        let at = r.contenders.iter().position(|&c| c == contender)?;
                        r.cells.get(row)?.get(at)
                    })
                    .collect();
                let n = held.len().max(1) as u64;
                let hits: u64 = held.iter().map(|o| o.hits).sum();
                let elapsed: std::time::Duration = held.iter().map(|o| o.elapsed).sum();
                // Rounded to the nearest request: within 0.005 point for
                // any trace of 10,000 requests or more.
                cell.hits = (hits + n / 2) / n;
                cell.elapsed = elapsed / u32::try_from(n).unwrap_or(u32::MAX);
            }
        }
        Some(out)
    }

    /// This run, completed with the columns of `base` it lacks (the
    /// contenders that take no seed, replayed once under the first seed).
    /// Rows must match.
    pub fn completed_from(mut self, base: &Results) -> Results {
        let mut cells: Vec<Vec<Outcome>> = Vec::with_capacity(base.cells.len());
        for (row, base_row) in base.cells.iter().enumerate() {
            let row_cells = base
                .contenders
                .iter()
                .enumerate()
                .map(|(col, &c)| {
                    self.contenders
                        .iter()
                        .position(|&x| x == c)
                        .and_then(|at| self.cells.get(row)?.get(at).copied())
                        .unwrap_or(base_row[col])
                })
                .collect();
            cells.push(row_cells);
        }
        self.contenders = base.contenders.clone();
        self.cells = cells;
        self
    }

    /// The column of the best non-OPT hit ratio in row `row`.
    pub fn best(&self, row: usize) -> Option<usize> {
        self.cells[row]
            .iter()
            .enumerate()
            .filter(|(col, _)| !self.contenders[*col].is_opt())
            .max_by(|a, b| a.1.hits.cmp(&b.1.hits))
            .map(|(col, _)| col)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn outcome(hits: u64) -> Outcome {
        Outcome {
            hits,
            requests: 1_000,
            elapsed: Duration::from_millis(hits),
        }
    }

    fn run(contenders: &[Contender], cells: &[&[u64]]) -> Results {
        Results {
            trace: "t".into(),
            requests: 1_000,
            sizes: (1..=cells.len() as u64).map(|s| s * 100).collect(),
            contenders: contenders.to_vec(),
            cells: cells
                .iter()
                .map(|row| row.iter().map(|&h| outcome(h)).collect())
                .collect(),
        }
    }

    #[test]
    fn seeds_average_cell_by_cell_and_unseeded_columns_are_borrowed() {
        let all = [
            Contender::Strata(Policy::Adaptive),
            Contender::Strata(Policy::Lru),
            Contender::Opt,
        ];
        assert!(all[0].takes_seed() && all[1].takes_seed() && !all[2].takes_seed());
        let first = run(&all, &[&[400, 300, 600], &[500, 450, 700]]);
        // A later seed replays only the seeded contenders, here in another
        // order: LRU first.
        let second = run(&[all[1], all[0]], &[&[410, 311], &[520, 451]]).completed_from(&first);
        assert_eq!(second.contenders, all.to_vec());
        assert_eq!(second.hit_ratio(0, Contender::Opt), Some(60.0));
        assert_eq!(second.hit_ratio(0, all[0]), Some(31.1));
        let mean = Results::mean(&[first.clone(), second]).expect("same trace and sizes");
        // (400 + 311) / 2 = 355.5, rounded to 356; OPT is its one run's.
        assert_eq!(mean.cells[0][0].hits, 356);
        assert_eq!(mean.cells[0][1].hits, 355);
        assert_eq!(mean.cells[1][0].hits, 476); // 475.5, rounded half up
        assert_eq!(mean.cells[0][2], first.cells[0][2]);
        assert_eq!(mean.cells[1][1].elapsed, Duration::from_micros(485_000));
        // Runs of another trace or other sizes are not averaged.
        let mut other = first.clone();
        other.sizes[1] = 999;
        assert!(Results::mean(&[first.clone(), other]).is_none());
        assert!(Results::mean(&[]).is_none());
        assert_eq!(
            Results::mean(std::slice::from_ref(&first)).map(|m| m.cells),
            Some(first.cells)
        );
    }
}
