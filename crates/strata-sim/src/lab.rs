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

    /// The cache of this contender at `capacity`; `seed` is the hash seed
    /// of Strata's caches (the peers keep their fixed hashers).
    fn cache(self, capacity: u64, seed: u64) -> Result<Box<dyn Replayable>, SimError> {
        Ok(match self {
            Contender::Strata(policy) => {
                Box::new(StrataCache::with_hash_seed(policy, capacity, seed)?)
            }
            Contender::Opt => unreachable!("OPT is computed, not replayed"),
            #[cfg(feature = "peers")]
            Contender::Moka => Box::new(crate::peers::Moka::new(capacity)),
            #[cfg(feature = "peers")]
            Contender::QuickCache => Box::new(crate::peers::QuickCache::new(capacity)),
            #[cfg(feature = "peers")]
            Contender::FoyerWTinyLfu => Box::new(crate::peers::Foyer::w_tinylfu(capacity)),
            #[cfg(feature = "peers")]
            Contender::FoyerS3Fifo => Box::new(crate::peers::Foyer::s3_fifo(capacity)),
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
    /// The hash seed of Strata's caches.
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

    /// The lab with Strata's caches hashing with `seed` instead of 0 (see
    /// [`StrataCache::with_hash_seed`]).
    pub fn with_hash_seed(mut self, seed: u64) -> Self {
        self.hash_seed = seed;
        self
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
