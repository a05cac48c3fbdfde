//! # strata-sim: the hit-ratio lab
//!
//! Replays real access traces through every Strata eviction policy — the
//! production [`strata::MemoryCache`], never a copy of its code — and through
//! Belady's optimum, and (with the `peers` feature) through other caches, so
//! that hit ratios are compared on one trace, one protocol and one run.
//!
//! * [`trace`]: readers for the ARC, LIRS, binary and text formats, zstd /
//!   gzip / xz compressed or not;
//! * [`opt`]: Belady's optimum, exact, O(n log c);
//! * [`replay`]: the protocol (get; insert on a miss) and its timing;
//! * [`lab`]: contenders × sizes; [`report`]: table, CSV and SVG;
//! * [`mod@reference`]: the reference rows of the shared traces and the
//!   scorecard that holds a policy to the hit-ratio targets;
//! * [`synthetic`]: Zipf, loop and scan generators for tests.
//!
//! The `strata sim` command is the front end.
//!
//! | feature | adds |
//! | --- | --- |
//! | `peers` | moka, quick_cache, foyer W-TinyLFU and foyer S3-FIFO as contenders |

pub mod error;
pub mod lab;
pub mod opt;
#[cfg(feature = "peers")]
pub mod peers;
pub mod reference;
pub mod replay;
pub mod report;
pub mod synthetic;
pub mod trace;

pub use error::SimError;
pub use lab::{Contender, Lab, Results};
pub use opt::Belady;
pub use replay::{Outcome, Replayable, StrataCache};
pub use trace::{Format, Trace};
